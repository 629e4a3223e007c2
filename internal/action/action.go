// Package action holds the scheduler's schedule actions — create, update,
// validate, enable, disable, delete, run now, reload and status — once.
// The CLI (cmd/scheduler) and the HTTP API (internal/api) only translate
// flags and requests into calls of this package, and its results and errors
// into output, exit codes and HTTP statuses.
//
// Errors are values: bad input is an [*InvalidError] listing every problem
// with its field and value, a name already used is a [*DuplicateError]
// (errors.Is(err, store.ErrDuplicate)), a missing schedule wraps
// store.ErrNotFound. Anything else is a failure of the database.
package action

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// Waker is a scheduling engine in this process that should look at the
// schedules and runs now (*engine.Engine implements it).
type Waker interface {
	// Wake makes the engine look at the schedules and runs now.
	Wake()
}

// Notifier sends a notification to other processes on a channel
// (*store.DB implements it: pg_notify on PostgreSQL, nothing on SQLite).
type Notifier interface {
	// Notify sends payload on channel.
	Notify(ctx context.Context, channel, payload string) error
}

// Executor executes one pending run in this process (*engine.Engine
// implements it). It returns an error wrapping store.ErrNotFound when the
// run is no longer pending (another instance took it).
type Executor interface {
	// TriggerRun claims and executes the run now.
	TriggerRun(ctx context.Context, runID int64) error
}

// OutboxStatter reads the notification outbox's counters and last errors
// (the value of (*store.DB).Outbox() implements it).
type OutboxStatter interface {
	// Stats returns the outbox's counters at now.
	Stats(ctx context.Context, now time.Time) (notify.OutboxStats, error)
}

// Config holds what the actions work with.
type Config struct {
	// Store holds schedules and runs (required).
	Store store.Store
	// Handlers are the job handlers by job type; a schedule is valid when
	// engine.Compile accepts it with these handlers.
	Handlers map[string]engine.Handler
	// Location is the default time zone of cron expressions
	// (SCHEDULER_TIMEZONE; UTC when nil).
	Location *time.Location
	// RetryCount is the number of retries of a manual run whose schedule
	// sets no options.retry_count (SCHEDULER_RETRY_COUNT).
	RetryCount int
	// Engine, when set, is woken after every change.
	Engine Waker
	// Notifier tells other processes about changes (NOTIFY on PostgreSQL).
	// When nil, Store is used if it implements Notifier.
	Notifier Notifier
	// Outbox, when set, adds the outbox's last delivery errors to Status.
	Outbox OutboxStatter
	// Logger receives one line per change (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Actions performs the schedule actions over one store. It is safe for
// concurrent use.
type Actions struct {
	c   Config
	log *slog.Logger

	mu         sync.Mutex
	lastManual time.Time // last manual scheduled_for handed out (strictly increasing)
}

// New returns the actions over c.Store.
func New(c Config) *Actions {
	if c.Location == nil {
		c.Location = time.UTC
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Notifier == nil {
		if n, ok := c.Store.(Notifier); ok {
			c.Notifier = n
		}
	}
	return &Actions{c: c, log: c.Logger}
}

// changed tells running instances (NOTIFY payload) and the local engine
// that schedules changed. A failed NOTIFY is logged, not returned: the
// change is saved and every instance sees it within its poll interval.
func (a *Actions) changed(ctx context.Context, channel, payload string) {
	if a.c.Notifier != nil {
		if err := a.c.Notifier.Notify(ctx, channel, payload); err != nil {
			a.log.Warn("notify failed; running instances see the change within SCHEDULER_POLL_INTERVAL",
				"channel", channel, "payload", payload, "err", err)
		}
	}
	if a.c.Engine != nil {
		a.c.Engine.Wake()
	}
}
