package action

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// DeadRetrier requeues dead notifications of the outbox (the value of
// (*store.DB).Outbox() implements it). RetryDead requeues the row id, or
// every dead row when id is 0, and returns how many; an unknown id wraps
// store.ErrNotFound, a row that is not dead wraps store.ErrNotDead.
type DeadRetrier interface {
	RetryDead(ctx context.Context, id int64, now time.Time) (int, error)
}

// ErrBadRetry is wrapped by RetryNotifications when the request itself is
// wrong (no target, both targets, an id < 1): HTTP 400, exit status 2.
var ErrBadRetry = errors.New("invalid notification retry request")

// RetryRequest names the dead notifications to requeue: one row by ID, or
// every dead row with AllDead. Exactly one of them must be set.
type RetryRequest struct {
	ID      int64
	AllDead bool
}

// RetryResult is what RetryNotifications did.
type RetryResult struct {
	// ID is the row asked for (0 with AllDead).
	ID int64 `json:"id,omitempty"`
	// Requeued is how many dead rows went back to pending.
	Requeued int `json:"requeued"`
}

// RetryNotifications requeues dead outbox notifications (Config.Outbox must
// implement DeadRetrier): they become pending with their attempts reset and
// a running dispatcher delivers them within its poll interval, before the
// younger rows of their recipients. Bad input wraps ErrBadRetry; an unknown
// id wraps store.ErrNotFound; a row that is not dead wraps store.ErrNotDead.
func (a *Actions) RetryNotifications(ctx context.Context, req RetryRequest) (RetryResult, error) {
	switch {
	case req.AllDead && req.ID != 0:
		return RetryResult{}, fmt.Errorf("%w: give either an id or all dead notifications, not both", ErrBadRetry)
	case !req.AllDead && req.ID == 0:
		return RetryResult{}, fmt.Errorf("%w: name a notification id or ask for all dead notifications", ErrBadRetry)
	case req.ID < 0:
		return RetryResult{}, fmt.Errorf("%w: id %d: must be a positive whole number", ErrBadRetry, req.ID)
	}
	r, ok := a.c.Outbox.(DeadRetrier)
	if !ok {
		return RetryResult{}, errors.New("retry notifications: no notification outbox is configured")
	}
	n, err := r.RetryDead(ctx, req.ID, a.c.Now())
	if err != nil {
		return RetryResult{}, err
	}
	a.log.Info("requeued dead notifications", "id", req.ID, "all_dead", req.AllDead, "count", n)
	if n > 0 {
		a.changed(ctx, store.ChannelOutbox, "") // the dispatchers look now, not at their next poll
	}
	return RetryResult{ID: req.ID, Requeued: n}, nil
}
