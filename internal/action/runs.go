package action

import (
	"context"

	"github.com/atf/scheduler/internal/store"
)

// RunDetail is one run with its retried attempts, what `scheduler runs show`
// and GET /api/v1/runs/{id} show. Secrets are redacted.
type RunDetail struct {
	store.Run
	// LagSeconds is started_at − scheduled_for: how late the handler
	// started; absent until the run started.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// DurationSeconds is finished_at − started_at; absent until it
	// finished.
	DurationSeconds *float64 `json:"duration_seconds,omitempty"`
	// Attempts are the failed attempts that were retried, oldest first.
	Attempts []store.Attempt `json:"attempts"`
}

// RunDetail reads run id and its attempts (store.ErrNotFound when there is
// no such run), redacted.
func (a *Actions) RunDetail(ctx context.Context, id int64) (*RunDetail, error) {
	run, err := a.c.Store.GetRun(ctx, id)
	if err != nil {
		return nil, err
	}
	att, err := a.c.Store.ListAttempts(ctx, id)
	if err != nil {
		return nil, err
	}
	d := &RunDetail{Run: RedactedRun(*run), Attempts: RedactedAttempts(att)}
	if d.Attempts == nil {
		d.Attempts = []store.Attempt{}
	}
	if run.StartedAt != nil {
		lag := run.StartedAt.Sub(run.ScheduledFor).Seconds()
		d.LagSeconds = &lag
		if run.FinishedAt != nil {
			took := run.FinishedAt.Sub(*run.StartedAt).Seconds()
			d.DurationSeconds = &took
		}
	}
	return d, nil
}
