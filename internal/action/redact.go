package action

import (
	"maps"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// Redacted returns a copy of s to show: secrets in task_params replaced by
// redact.JSON, URLs in last_error by redact.Text. s is not changed.
func Redacted(s store.Schedule) store.Schedule {
	s.TaskParams = redact.JSON(s.TaskParams)
	s.LastError = redact.Text(s.LastError)
	return s
}

// RedactedSchedules returns Redacted of each schedule (never nil).
func RedactedSchedules(list []store.Schedule) []store.Schedule { return each(list, Redacted) }

// each returns f of every element of list in a new slice (never nil).
func each[T any](list []T, f func(T) T) []T {
	out := make([]T, len(list))
	for i, v := range list {
		out[i] = f(v)
	}
	return out
}

// RedactedRun returns a copy of r to show: secrets in job_snapshot (its
// task_params) and result redacted by key and URL shape, URLs in error by
// redact.Text. Scripts' stdout_preview and stderr_preview are kept as
// written except for URLs with user information: a script that prints a
// secret shows it to whoever may read runs (API_TOKEN guards every read).
func RedactedRun(r store.Run) store.Run {
	r.Snapshot = redact.JSON(r.Snapshot)
	r.Result = redact.JSON(r.Result)
	r.Error = redact.Text(r.Error)
	return r
}

// RedactedRuns returns RedactedRun of each run (never nil).
func RedactedRuns(list []store.Run) []store.Run { return each(list, RedactedRun) }

// RedactedAttempts returns the attempts with URLs in their errors redacted.
func RedactedAttempts(list []store.Attempt) []store.Attempt {
	return each(list, func(at store.Attempt) store.Attempt { at.Error = redact.Text(at.Error); return at })
}

// RedactedStats returns a copy of st to show (the schedules' task_params
// and errors, the runs' snapshots and errors).
func RedactedStats(st *store.Stats) *store.Stats {
	if st == nil {
		return nil
	}
	c := *st
	c.Invalid = RedactedSchedules(st.Invalid)
	c.NextDue = RedactedSchedules(st.NextDue)
	c.Running = RedactedRuns(st.Running)
	c.RecentFailures = RedactedRuns(st.RecentFailures)
	return &c
}

// RedactedOutbox returns a copy of ob with URLs in the channels' last
// delivery errors redacted (an HTTP client's error quotes the webhook URL,
// whose path carries its secret).
func RedactedOutbox(ob notify.OutboxStats) notify.OutboxStats {
	if ob.LastErrorByChannel != nil {
		m := maps.Clone(ob.LastErrorByChannel)
		for ch, e := range m {
			e.Error = redact.Text(e.Error)
			m[ch] = e
		}
		ob.LastErrorByChannel = m
	}
	return ob
}
