package notify

// Failure notices: what a schedule's owner is told when its runs fail for
// good, keep failing, recover, or when the schedule cannot run at all.

import (
	"fmt"
	"strings"
	"time"
)

// Kinds of failure notice.
const (
	// NoticeFailure: the first run of a failure streak failed for good
	// (after its retries).
	NoticeFailure = "failure"
	// NoticeReminder: the streak goes on a day after its last message.
	NoticeReminder = "reminder"
	// NoticeRecovery: the first success after a failure streak.
	NoticeRecovery = "recovery"
	// NoticeInvalid: the schedule is invalid (cron, job type, task_params)
	// and is not run.
	NoticeInvalid = "invalid"
)

// ReminderEvery is how long a failure streak goes on before its owner is
// reminded of it (and again after each reminder).
const ReminderEvery = 24 * time.Hour

// Notice is one failure notice about a schedule.
type Notice struct {
	Kind       string // NoticeFailure, NoticeReminder, NoticeRecovery, NoticeInvalid
	ScheduleID int64
	RunID      int64 // the run that caused it (0 for NoticeInvalid)
	Name       string
	JobType    string
	// Streak numbers the schedule's failure streaks (1, 2, …); Failures is
	// the number of failed runs in it (for a recovery: the streak that
	// ended); Reminder numbers the reminders of the streak.
	Streak   int64
	Failures int
	Reminder int
	// FirstFailure is when the streak's first failed run finished.
	FirstFailure time.Time
	// LastError is the error of the streak's last failed run (for
	// NoticeInvalid the configuration error), secrets redacted.
	LastError string
	At        time.Time
}

// Key is the outbox idempotency key of the notice on one channel to one
// recipient: unique per (schedule, streak, kind), so that a notice is
// written once however many instances see the event.
func (n Notice) Key(channel, recipient string) string {
	kind := n.Kind
	switch n.Kind {
	case NoticeReminder:
		kind = fmt.Sprintf("reminder-%d", n.Reminder)
	case NoticeInvalid:
		// Told once per error (the store decides, under the row's lock);
		// the instant keeps a breakage after a fix apart from the last one.
		kind = fmt.Sprintf("invalid-%d-%x", n.At.Unix(), fnv64(n.LastError))
	}
	return fmt.Sprintf("sched:%d:streak:%d:%s:%s:%s", n.ScheduleID, n.Streak, kind, channel, recipient)
}

// fnv64 is the FNV-1a hash of s.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Message renders the notice:
//
//	❌ vix failing: 1 failed run since 2026-12-02 06:00 UTC
//	⏰ vix still failing: 25 failed runs since …
//	✅ vix recovered after 3 failed runs (failing since …)
//	⚠️ vix is invalid and does not run
//
// with the job type, the streak's facts and the last error (its last 500
// characters) in the body.
func (n Notice) Message() (title, body string) {
	name := n.Name
	if name == "" {
		name = fmt.Sprintf("schedule %d", n.ScheduleID)
	}
	since := n.FirstFailure.UTC().Format("2006-01-02 15:04 UTC")
	runs := "1 failed run"
	if n.Failures != 1 {
		runs = fmt.Sprintf("%d failed runs", n.Failures)
	}
	var b strings.Builder
	switch n.Kind {
	case NoticeFailure:
		title = fmt.Sprintf("❌ %s failing", name)
		fmt.Fprintf(&b, "Schedule %d (%s) failed after its retries.\nFailed runs in a row: %d, since %s.", n.ScheduleID, n.JobType, n.Failures, since)
	case NoticeReminder:
		title = fmt.Sprintf("⏰ %s still failing", name)
		fmt.Fprintf(&b, "Schedule %d (%s) keeps failing.\nFailed runs in a row: %d, since %s.", n.ScheduleID, n.JobType, n.Failures, since)
	case NoticeRecovery:
		title = fmt.Sprintf("✅ %s recovered", name)
		fmt.Fprintf(&b, "Schedule %d (%s) ran successfully after %s (failing since %s).", n.ScheduleID, n.JobType, runs, since)
	default:
		title = fmt.Sprintf("⚠️ %s is invalid", name)
		fmt.Fprintf(&b, "Schedule %d (%s) is not run until its configuration is fixed.", n.ScheduleID, n.JobType)
	}
	if e := strings.TrimSpace(n.LastError); e != "" {
		if n.Kind == NoticeRecovery {
			b.WriteString("\nLast error:\n")
		} else {
			b.WriteString("\nError:\n")
		}
		b.WriteString(ErrorTail(e, jobMaxErrorLen))
	}
	if n.Kind == NoticeFailure {
		b.WriteString("\nNo further message until it recovers, but a daily reminder while it keeps failing (opt out: options.notify_on_failure: false).")
	}
	return title, b.String()
}

// Compose turns the notice into outbox rows, one per row of planned (rows
// a [Planner] produced for the schedule: channel, recipient, priority,
// status), with the notice's key, text and data.
func (n Notice) Compose(planned []Notification) []Notification {
	title, body := n.Message()
	out := make([]Notification, 0, len(planned))
	for _, p := range planned {
		x := p
		x.ID = 0
		x.IdempotencyKey = n.Key(p.Channel, p.Recipient)
		x.Type = TypeJob
		x.Title, x.Body = title, body
		x.Data = map[string]any{"event": "schedule_" + n.Kind, "schedule_id": n.ScheduleID, "job_name": n.Name,
			"job_type": n.JobType, "streak": n.Streak, "failures": n.Failures}
		if !n.FirstFailure.IsZero() {
			x.Data["first_failure_at"] = n.FirstFailure.UTC().Format(time.RFC3339)
		}
		if n.LastError != "" {
			x.Data["error"] = ErrorTail(n.LastError, 2000)
		}
		x.RunID, x.ScheduleID = n.RunID, n.ScheduleID
		x.CreatedAt, x.NextAttemptAt, x.UpdatedAt = n.At, n.At, time.Time{}
		x.Attempts = 0
		out = append(out, x)
	}
	return out
}

// TellsJobStatus reports whether n is a job notification about a run's
// status (schedule jobs' notify.on_failure / on_success, scripts'
// notification_rules: tag "job:<status>"): a failure notice of that run
// would say the same again. status is "failed" (also matching "timeout")
// or "completed".
func TellsJobStatus(n Notification, status string) bool {
	if status == "failed" && strings.HasSuffix(n.IdempotencyKey, "#job:timeout") {
		return true
	}
	return strings.HasSuffix(n.IdempotencyKey, "#job:"+status)
}
