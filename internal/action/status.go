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

// OutboxSummary is the outbox's state as /status shows it (snake_case
// keys, redacted delivery errors).
type OutboxSummary struct {
	Pending              int64                          `json:"pending"`
	Failed               int64                          `json:"failed"`
	Sending              int64                          `json:"sending"`
	Sent                 int64                          `json:"sent"`
	Dead                 int64                          `json:"dead"`
	Suppressed           int64                          `json:"suppressed"`
	OldestPendingSeconds float64                        `json:"oldest_pending_seconds"`
	LastErrorByChannel   map[string]ChannelErrorSummary `json:"last_error_by_channel"`
}

// ChannelErrorSummary is a channel's most recent delivery error.
type ChannelErrorSummary struct {
	NotificationID int64     `json:"notification_id"`
	Error          string    `json:"error"`
	At             time.Time `json:"at"`
}

// SummarizeOutbox returns ob redacted (RedactedOutbox) in the form of
// OutboxSummary.
func SummarizeOutbox(ob notify.OutboxStats) OutboxSummary {
	ob = RedactedOutbox(ob)
	out := OutboxSummary{Pending: ob.Pending, Failed: ob.Failed, Sending: ob.Sending, Sent: ob.Sent, Dead: ob.Dead,
		Suppressed: ob.Suppressed, OldestPendingSeconds: ob.OldestPendingAge.Seconds(),
		LastErrorByChannel: make(map[string]ChannelErrorSummary, len(ob.LastErrorByChannel))}
	for ch, e := range ob.LastErrorByChannel {
		out.LastErrorByChannel[ch] = ChannelErrorSummary{NotificationID: e.ID, Error: e.Error, At: e.At.UTC()}
	}
	return out
}
