package action

import (
	"context"
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// Status is what `scheduler status` and GET /status show from the
// database.
type Status struct {
	// Time is when it was read.
	Time time.Time
	// Dialect is "sqlite" or "postgres".
	Dialect string
	// Stats are the schedules, next fires, running runs, failures,
	// missed-fire records and outbox counts, redacted.
	Stats *store.Stats
	// Outbox holds the outbox's last delivery error per channel; nil when
	// Config.Outbox is not set or could not be read (OutboxError says why).
	Outbox      *notify.OutboxStats
	OutboxError error
}

// Status reads the database's state for status pages; it works with no
// service running. Secrets are redacted (RedactedStats, RedactedOutbox).
func (a *Actions) Status(ctx context.Context) (*Status, error) {
	now := a.c.Now()
	st, err := a.c.Store.Stats(ctx, now)
	if err != nil {
		return nil, fmt.Errorf("status: %w", err)
	}
	out := &Status{Time: now, Dialect: a.c.Store.Dialect(), Stats: RedactedStats(st)}
	if a.c.Outbox != nil {
		ob, err := a.c.Outbox.Stats(ctx, now)
		if err != nil {
			out.OutboxError = err
		} else {
			ob = RedactedOutbox(ob)
			out.Outbox = &ob
		}
	}
	return out, nil
}
