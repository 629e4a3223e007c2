package action

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// ReloadResult is what Reload did.
type ReloadResult struct {
	// Report counts the enabled schedules checked and lists the invalid.
	Report
	// NextRunSet is the number of schedules whose next_run_at was set
	// (it was NULL, or a future value other than the next fire).
	NextRunSet int `json:"next_run_set"`
}

// Reload re-validates every enabled schedule with engine.Compile, records
// or clears its last_error, and sets next_run_at of every valid one that is
// NULL or in the future to its next fire after now (after the fires
// already claimed ahead), so that status shows the next fire with no
// service running. A next_run_at already due is left alone: that instant
// belongs to the running engine's misfire policy. A schedule found newly
// invalid is made due now, so that the engine tells its owner at once.
// Then it NOTIFYs
// store.ChannelUpdates and wakes the local engine.
func (a *Actions) Reload(ctx context.Context) (*ReloadResult, error) {
	now := a.c.Now()
	res := &ReloadResult{Report: Report{Problems: []ScheduleReport{}}}
	on := true
	err := a.eachSchedule(ctx, store.ScheduleFilter{Enabled: &on}, func(s *store.Schedule) error {
		res.Schedules++
		sched, _, cerr := a.compile(s)
		if cerr != nil {
			res.Invalid++
			res.Problems = append(res.Problems, ScheduleReport{ID: s.ID, Name: s.Name, Error: redact.Text(cleanProblem(cerr.Error()))})
			if s.LastError != cerr.Error() {
				a.log.Warn("schedule is invalid", "schedule_id", s.ID, "name", s.Name, "err", redact.Text(cerr.Error()))
				if err := a.c.Store.SetScheduleError(ctx, s.ID, cerr.Error(), now); err != nil {
					return err
				}
				// Due now (an invalid schedule never fires): the engine
				// looks at it at once and tells its owner, instead of at
				// its next fire, which may be a day away.
				if s.NextRunAt != nil && s.NextRunAt.After(now) {
					return a.c.Store.SetNextRun(ctx, s.ID, &now)
				}
			}
			return nil
		}
		res.Valid++
		if s.LastError != "" {
			if err := a.c.Store.SetScheduleError(ctx, s.ID, "", now); err != nil {
				return err
			}
		}
		if s.NextRunAt != nil && !s.NextRunAt.After(now) {
			return nil // due: the engine's misfire policy decides
		}
		next, err := a.nextFire(ctx, s, sched, now)
		if err != nil || next.IsZero() || (s.NextRunAt != nil && next.Equal(*s.NextRunAt)) {
			return err
		}
		res.NextRunSet++
		a.log.Debug("next_run_at set", "schedule_id", s.ID, "next_run_at", next, "was", s.NextRunAt)
		return a.c.Store.SetNextRun(ctx, s.ID, &next)
	})
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	a.changed(ctx, store.ChannelUpdates, "reload")
	a.log.Info("schedules reloaded", "schedules", res.Schedules, "valid", res.Valid, "invalid", res.Invalid, "next_run_set", res.NextRunSet)
	return res, nil
}

// nextFire is the next fire of s after now that no instance has claimed:
// when a running engine claimed fires ahead (pending cron runs after now),
// it is the fire after the last of them, so the claim never plans them
// twice.
func (a *Actions) nextFire(ctx context.Context, s *store.Schedule, sched *cronexpr.Schedule, now time.Time) (time.Time, error) {
	next := sched.Next(now)
	if s.NextRunAt == nil || next.IsZero() || !s.NextRunAt.After(next) {
		return next, nil
	}
	// The stored value is later than the next fire: fires may be claimed
	// ahead. Look at the schedule's pending runs.
	runs, err := a.c.Store.ListRuns(ctx, store.RunFilter{ScheduleID: s.ID, Status: store.StatusPending, Limit: 100})
	if err != nil {
		return time.Time{}, err
	}
	id := strconv.FormatInt(s.ID, 10)
	last := time.Time{}
	for _, r := range runs {
		if r.JobID == id && r.JobType == s.JobType && r.ScheduledFor.After(now) &&
			slices.Contains([]string{store.KindCron, store.KindCoalesced}, r.Kind) && r.ScheduledFor.After(last) {
			last = r.ScheduledFor
		}
	}
	if !last.IsZero() && !last.Before(next) {
		next = sched.Next(last)
	}
	return next, nil
}
