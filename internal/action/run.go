package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
)

// RunOptions choose where a manual run executes.
type RunOptions struct {
	// Here, when set, executes the run in this process at once (the CLI's
	// --local, or no service running on the SQLite file) instead of
	// announcing it to the running instances.
	Here Executor
}

// Started is the outcome of RunNow.
type Started struct {
	// Run is the manual run: as inserted (pending), or as it ended when
	// executed here.
	Run *store.Run
	// Schedule is the schedule it runs.
	Schedule *store.Schedule
	// Executed reports whether RunOptions.Here executed it (false when
	// another instance took it first).
	Executed bool
}

// manualPayload is the scheduler_manual_trigger payload of the framework's
// web UI protocol.
type manualPayload struct {
	RunID      int64 `json:"run_id"`
	ScheduleID int64 `json:"schedule_id"`
}

// MaxAttempts returns the attempts a manual run of s gets: 1 +
// options.retry_count from its task_params, else 1 + Config.RetryCount.
func (a *Actions) MaxAttempts(s *store.Schedule) int {
	if rc := engine.ParseJobOptions(s.TaskParams).RetryCount; rc != nil {
		return 1 + *rc
	}
	return 1 + a.c.RetryCount
}

// manualInstant returns now truncated to the stores' microsecond precision,
// strictly after every instant handed out before, so that two requests
// never collide on (job_type, job_id, scheduled_for).
func (a *Actions) manualInstant() time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	t := a.c.Now().UTC().Truncate(time.Microsecond)
	if !t.After(a.lastManual) {
		t = a.lastManual.Add(time.Microsecond)
	}
	a.lastManual = t
	return t
}

// RunNow inserts a pending manual run of schedule id, exactly once. An
// invalid schedule is refused with an *InvalidError. Without
// RunOptions.Here the run is announced on store.ChannelManualTrigger
// (payload {"run_id": N, "schedule_id": M}, which running instances and the
// framework's web UI understand) and the local engine is woken; with it,
// the run is executed here and returned as it ended.
func (a *Actions) RunNow(ctx context.Context, id int64, o RunOptions) (*Started, error) {
	s, err := a.c.Store.GetSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	if p := a.problems(s, true); len(p) > 0 {
		return nil, &InvalidError{ScheduleID: id, Problems: p}
	}
	maxAttempts := a.MaxAttempts(s)
	var run *store.Run
	// Another instance may have used the same microsecond: take the next.
	for range 5 {
		run, err = a.c.Store.InsertRun(ctx, s, a.manualInstant(), maxAttempts)
		if !errors.Is(err, store.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("run schedule %d: %w", id, err)
	}
	a.log.Info("manual run requested", "schedule_id", id, "run_id", run.ID, "max_attempts", maxAttempts, "here", o.Here != nil)
	st := &Started{Run: run, Schedule: s}
	if o.Here == nil {
		payload, _ := json.Marshal(manualPayload{RunID: run.ID, ScheduleID: id})
		a.changed(ctx, store.ChannelManualTrigger, string(payload))
		return st, nil
	}
	err = o.Here.TriggerRun(ctx, run.ID)
	switch {
	case err == nil:
		st.Executed = true
	case errors.Is(err, store.ErrNotFound):
		a.log.Info("manual run taken by another instance", "schedule_id", id, "run_id", run.ID)
	default:
		return nil, fmt.Errorf("run %d of schedule %d: %w", run.ID, id, err)
	}
	if st.Run, err = a.c.Store.GetRun(ctx, run.ID); err != nil {
		return nil, err
	}
	return st, nil
}
