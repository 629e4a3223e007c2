package engine

// Failure notices: every job type tells its schedule's owner when a run
// fails for good, daily while it keeps failing, and when it recovers
// (store.StreakUpdate does the counting, in the completion transaction),
// and when a schedule is invalid (once per error).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// NoticeOption is the task_params option that turns failure notices off
// for one schedule: "options": {"notify_on_failure": false}.
const NoticeOption = "notify_on_failure"

// NoticeTarget is an optional interface of a Handler whose schedules say
// where their notifications go somewhere else than task_params.notify (the
// framework's bot alerts: telegram_user_id). Failure notices go there.
type NoticeTarget interface {
	// NoticeRecipients sets r's channels, priority and recipients from
	// the schedule's configuration (nothing when it is invalid).
	NoticeRecipients(target string, taskParams json.RawMessage, r *notify.Request)
}

// StripNoticeOption takes options.notify_on_failure out of task_params:
// its value (nil when absent) and the task_params without it, which the
// job type's handler validates and runs (handlers do not know the option).
// A value that is not true or false is an error naming the path.
func StripNoticeOption(raw json.RawMessage) (*bool, json.RawMessage, error) {
	if !bytes.Contains(raw, []byte(NoticeOption)) {
		return nil, raw, nil
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, raw, nil // the handler reports invalid JSON
	}
	opts, ok := m["options"].(map[string]any)
	if !ok {
		return nil, raw, nil
	}
	v, ok := opts[NoticeOption]
	if !ok {
		return nil, raw, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		text, _ := json.Marshal(v)
		return nil, nil, fmt.Errorf("options.%s = %s: want true or false", NoticeOption, text)
	}
	delete(opts, NoticeOption)
	if len(opts) == 0 {
		delete(m, "options")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return nil, nil, fmt.Errorf("task_params: %w", err)
	}
	return &b, out, nil
}

// noticeRecipients sets where a schedule's notices go: the handler's
// NoticeTarget, else task_params.notify (an invalid one: the owner's
// default channel).
func (e *Engine) noticeRecipients(jobType, target string, raw json.RawMessage, r *notify.Request) {
	if nt, ok := e.handlers[jobType].(NoticeTarget); ok {
		nt.NoticeRecipients(target, raw, r)
		return
	}
	notify.ApplyTaskParams(raw, r)
}

// planNotice plans the rows a notice about schedule id goes to.
func (e *Engine) planNotice(ctx context.Context, id, runID, userID int64, jobType, target string, raw json.RawMessage) []notify.Notification {
	req := notify.Request{ScheduleID: id, RunID: runID, UserID: userID, Type: notify.TypeJob, CreatedAt: e.o.Now()}
	e.noticeRecipients(jobType, target, raw, &req)
	req.Template = "" // notices have their own text
	ns, err := e.o.Notices.Plan(ctx, req)
	if err != nil {
		e.log.Error("failure notice not planned; the streak is counted, nothing is sent", "schedule_id", id, "run_id", runID, "err", err)
		return nil
	}
	return ns
}

// streak sets c.Streak for a run's final outcome (failed for good or
// completed), when notices are on.
func (e *Engine) streak(ctx context.Context, job *Job, c *store.Completion, notifyOn *bool) {
	if e.o.Notices == nil || job == nil || c.ScheduleID == 0 {
		return
	}
	if c.Status != store.StatusFailed && c.Status != store.StatusCompleted {
		return
	}
	sc := job.Schedule
	u := &store.StreakUpdate{Name: sc.Name, JobType: sc.JobType, Failed: c.Status == store.StatusFailed,
		Notify: notifyOn == nil || *notifyOn}
	status := "completed"
	if u.Failed {
		status = "failed"
		u.Error = redact.Text(c.Error)
	}
	for _, n := range c.Notifications {
		if notify.TellsJobStatus(n, status) {
			u.Covered = true
		}
	}
	if u.Failed && u.Notify {
		u.Planned = e.planNotice(ctx, c.ScheduleID, c.RunID, sc.UserID, sc.JobType, sc.Target, sc.TaskParams)
	}
	c.Streak = u
}

// recoveredStreak sets c.Streak for a run of a dead owner that failed for
// good (out of attempts).
func (e *Engine) recoveredStreak(ctx context.Context, r store.Run, c *store.Completion) {
	if e.o.Notices == nil || c.Status != store.StatusFailed {
		return
	}
	job, err := e.loadJob(ctx, r)
	if err != nil {
		return
	}
	c.ScheduleID, _ = strconv.ParseInt(r.JobID, 10, 64)
	on, _, _ := StripNoticeOption(job.Schedule.TaskParams)
	e.streak(ctx, job, c, on)
}

// invalidSeen is a schedule the last claim found invalid with a new error
// (err, the schedule as read: sc), or valid again (clear: forget the error
// noted, so that a later breakage is told).
type invalidSeen struct {
	id    int64
	err   string
	clear bool
	sc    store.Schedule
}

// invalidNoter is implemented by stores that keep invalid-schedule
// notices (*store.DB).
type invalidNoter interface {
	NoteInvalid(ctx context.Context, n store.InvalidNotice) (bool, error)
	ClearInvalid(ctx context.Context, scheduleID int64) error
}

// noteInvalid is called by the planner (inside the claim transaction) for
// each schedule it validated; the notices are written after the claim.
func (e *Engine) noteInvalid(s *store.Schedule, err error) {
	if e.o.Notices == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		if s.LastError != "" { // it was invalid
			delete(e.invalidTold, s.ID)
			e.invalidQueue = append(e.invalidQueue, invalidSeen{id: s.ID, clear: true})
		}
		return
	}
	msg := redact.Text(err.Error())
	if e.invalidTold[s.ID] == msg {
		return
	}
	e.invalidTold[s.ID] = msg
	e.invalidQueue = append(e.invalidQueue, invalidSeen{id: s.ID, err: msg, sc: *s})
}

// tellInvalid writes the invalid-schedule notices the last claim found.
func (e *Engine) tellInvalid(ctx context.Context) {
	e.mu.Lock()
	q := e.invalidQueue
	e.invalidQueue = nil
	e.mu.Unlock()
	noter, ok := e.st.(invalidNoter)
	if !ok || len(q) == 0 {
		return
	}
	for _, x := range q {
		if x.clear {
			if err := noter.ClearInvalid(ctx, x.id); err != nil {
				e.log.Warn("invalid-schedule mark not cleared", "schedule_id", x.id, "err", err)
			}
			continue
		}
		on, _, _ := StripNoticeOption(x.sc.TaskParams)
		n := store.InvalidNotice{ScheduleID: x.id, Name: x.sc.Name, JobType: x.sc.JobType, Error: x.err, At: e.o.Now()}
		if on == nil || *on {
			n.Planned = e.planNotice(ctx, x.id, 0, x.sc.UserID, x.sc.JobType, x.sc.Target, x.sc.TaskParams)
		}
		queued, err := noter.NoteInvalid(ctx, n)
		if err != nil {
			e.log.Warn("invalid-schedule notice not written; told at the next recheck", "schedule_id", x.id, "err", err)
			e.mu.Lock()
			delete(e.invalidTold, x.id)
			e.mu.Unlock()
			continue
		}
		if queued && len(n.Planned) > 0 && e.o.Outbox != nil {
			e.o.Outbox.Notify()
		}
	}
}
