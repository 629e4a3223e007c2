// Package store keeps schedules, runs, attempts and the notification outbox in
// SQLite or PostgreSQL; it is the scheduler's memory.
package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// Job types accepted by the job_schedules CHECK constraint.
var JobTypes = []string{"report", "screener", "alert", "notification", "data_processing", "backup", "script", "schedule"}

// Run statuses. The first five are the original service's; skipped and
// missed are recorded by this service so that nothing is dropped silently.
const (
	StatusPending   = "pending"
	StatusRunning   = "running"
	StatusCompleted = "completed"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
	StatusSkipped   = "skipped"
	StatusMissed    = "missed"
)

// RunStatuses are the statuses a run is shown with (and filtered by): the
// five stored ones, and skipped and missed (stored as cancelled with that
// reason).
var RunStatuses = []string{StatusPending, StatusRunning, StatusCompleted, StatusFailed, StatusCancelled, StatusSkipped, StatusMissed}

// Run kinds say why a run row exists.
const (
	KindCron      = "cron"      // a scheduled instant, on time or slightly late
	KindCoalesced = "coalesced" // one run standing for several missed instants
	KindMissed    = "missed"    // record of instants that were not run
	KindManual    = "manual"    // started by a person (CLI, API, web UI)
)

// Schedule is one row of job_schedules.
type Schedule struct {
	ID         int64           `json:"id"`
	UserID     int64           `json:"user_id"`
	Name       string          `json:"name"`
	JobType    string          `json:"job_type"`
	Target     string          `json:"target"`
	TaskParams json.RawMessage `json:"task_params"`
	Cron       string          `json:"cron"`
	Timezone   string          `json:"timezone,omitempty"`
	Enabled    bool            `json:"enabled"`
	NextRunAt  *time.Time      `json:"next_run_at"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	StateJSON  json.RawMessage `json:"state_json,omitempty"`
	LastError  string          `json:"last_error,omitempty"`
}

// Run is one row of job_schedule_runs.
type Run struct {
	ID             int64           `json:"id"`
	JobType        string          `json:"job_type"`
	JobID          string          `json:"job_id"`
	UserID         int64           `json:"user_id"`
	Status         string          `json:"status"`
	Kind           string          `json:"kind"`
	ScheduledFor   time.Time       `json:"scheduled_for"`
	EnqueuedAt     time.Time       `json:"enqueued_at"`
	StartedAt      *time.Time      `json:"started_at,omitempty"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	Snapshot       json.RawMessage `json:"job_snapshot,omitempty"`
	Result         json.RawMessage `json:"result,omitempty"`
	Error          string          `json:"error,omitempty"`
	Attempt        int             `json:"attempt"`
	MaxAttempts    int             `json:"max_attempts"`
	Exclusive      bool            `json:"exclusive"`
	RunAfter       *time.Time      `json:"run_after,omitempty"`
	LeaseOwner     string          `json:"lease_owner,omitempty"`
	LeaseExpiresAt *time.Time      `json:"lease_expires_at,omitempty"`
	// CoversFrom and CoversTo are the instants a coalesced run or a missed
	// record stands for.
	CoversFrom *time.Time `json:"covers_from,omitempty"`
	CoversTo   *time.Time `json:"covers_to,omitempty"`
}

// Snapshot is the copy of a schedule stored with each run (job_snapshot).
type Snapshot struct {
	// ScheduleID and ScheduleName are the keys the framework's web UI
	// matches runs to pipelines and run logs by.
	ScheduleID    int64           `json:"schedule_id"`
	ScheduleName  string          `json:"schedule_name"`
	ID            int64           `json:"id"`
	Name          string          `json:"name"`
	JobType       string          `json:"job_type"`
	Target        string          `json:"target"`
	TaskParams    json.RawMessage `json:"task_params"`
	Cron          string          `json:"cron"`
	ExecutionTime time.Time       `json:"execution_time"`
	UserID        int64           `json:"user_id"`
}

// Attempt is a failed attempt of a run that was retried.
type Attempt struct {
	RunID      int64      `json:"run_id"`
	Attempt    int        `json:"attempt"`
	Owner      string     `json:"owner"`
	StartedAt  *time.Time `json:"started_at,omitempty"`
	FinishedAt time.Time  `json:"finished_at"`
	Error      string     `json:"error"`
}

// NewRun is a run to insert during a claim.
type NewRun struct {
	Schedule     *Schedule
	Status       string // pending, skipped or missed
	Kind         string
	ScheduledFor time.Time
	MaxAttempts  int
	Exclusive    bool
	Result       json.RawMessage // for skipped / missed records
	Error        string
	// CoversFrom and CoversTo, for a coalesced run or a missed record, are
	// the first and last instants it stands for (covers_from, covers_to).
	CoversFrom, CoversTo time.Time
}

// Queued is a pending run inserted by a claim: the claiming instance
// starts it at RunAfter without searching for it.
type Queued struct {
	ID       int64
	RunAfter time.Time
	// Schedule is the run's schedule id.
	Schedule int64
}

// Fire plans what a claim does with one due schedule.
type Fire struct {
	// Runs to insert (pending runs and skipped/missed records).
	Runs []NewRun
	// Next is the new next_run_at; nil disables nothing but leaves it NULL
	// (no future fire exists).
	Next *time.Time
	// Error, when set, is stored as the schedule's last_error (invalid cron
	// or task_params); the schedule keeps its other fields.
	Error string
}

// Planner decides, inside the claim transaction, what to do with each due
// schedule.
type Planner func(s *Schedule) Fire

// Completion is the outcome of one run, written by CompleteRuns.
type Completion struct {
	RunID  int64
	Owner  string
	Status string // completed, failed, or pending (retry / put back)
	Result json.RawMessage
	Error  string
	At     time.Time
	// StartedAt, when set, is when the handler really started (the claim
	// recorded the claim's time); it replaces started_at.
	StartedAt time.Time
	// RetryAt, for Status pending after a failure, is when the next attempt
	// may start; the failed attempt is recorded in job_run_attempts.
	RetryAt *time.Time
	// Retry marks a pending completion as a failed attempt to retry (attempt
	// counter +1); without it, pending means "put back untouched".
	Retry bool
	// ScheduleID and State, when State is non-nil, update the schedule's
	// state_json in the same transaction.
	ScheduleID int64
	State      json.RawMessage
	// Notifications are inserted into the outbox in the same transaction.
	Notifications []notify.Notification
	// Streak, for a run's final outcome, updates its schedule's failure
	// streak and queues the failure, reminder or recovery notice in the
	// same transaction (streaks.go); ScheduleID must be set.
	Streak *StreakUpdate
}

// ClaimByID is a claim of specific pending runs (Store.ClaimRunIDs).
type ClaimByID struct {
	Owner string
	Now   time.Time
	// Until, when after Now, claims fires due by then as well, ahead of
	// their instant: they are running from now on (started_at is their
	// instant) and the caller starts them at their instant. Zero: Now.
	Until time.Time
	IDs   []int64
	Lease time.Duration
	// Finishing are owner's runs that finished and whose outcome is not
	// written yet: a fire is not skipped for them.
	Finishing []int64
	// Done are outcomes to write first, in the claim's transaction (those
	// of the fires' predecessors, so that a fire finds its schedule's
	// previous run finished).
	Done []Completion
}

// ScheduleFilter selects schedules for listing.
type ScheduleFilter struct {
	JobType string
	// Name selects schedules with exactly this name (of any user unless
	// UserID is set).
	Name    string
	Enabled *bool
	UserID  *int64
	Limit   int
	Offset  int
}

// RunFilter selects runs for listing (newest first).
type RunFilter struct {
	ScheduleID int64
	Status     string
	Limit      int
	Offset     int
}

// Stats summarises the database for status pages.
type Stats struct {
	Schedules int        `json:"schedules"`
	Enabled   int        `json:"enabled"`
	Invalid   []Schedule `json:"invalid"`
	// NextDue are the valid schedules (no last_error: those are in Invalid
	// only) with the earliest upcoming runs, NextRunAt
	// holding that run's instant (a fire claimed ahead comes before the
	// next_run_at column).
	NextDue          []Schedule     `json:"next_due"`
	Running          []Run          `json:"running"`
	RecentFailures   []Run          `json:"recent_failures"`
	RunsByStatus     map[string]int `json:"runs_by_status"`
	MissedRecords    int            `json:"missed_records"`
	OutboxByStatus   map[string]int `json:"outbox_by_status"`
	OldestPendingAge float64        `json:"oldest_pending_notification_seconds"`
}

// Store is the persistence the scheduler needs. It is implemented for SQLite
// and PostgreSQL by one SQL core with a dialect each.
type Store interface {
	// Dialect returns "postgres" or "sqlite".
	Dialect() string
	// Migrate applies the embedded migrations (idempotent).
	Migrate(ctx context.Context) error
	// Ping checks the database connection.
	Ping(ctx context.Context) error
	// Close releases connections.
	Close() error

	CreateSchedule(ctx context.Context, s *Schedule) error
	UpdateSchedule(ctx context.Context, s *Schedule) error
	GetSchedule(ctx context.Context, id int64) (*Schedule, error)
	ListSchedules(ctx context.Context, f ScheduleFilter) ([]Schedule, error)
	DeleteSchedule(ctx context.Context, id int64) error
	// SetEnabled enables or disables a schedule; enabling clears
	// next_run_at so the next claim computes it from now.
	SetEnabled(ctx context.Context, id int64, enabled bool) error
	// SetScheduleError records (or clears, with "") a schedule's last error.
	SetScheduleError(ctx context.Context, id int64, msg string, at time.Time) error
	// SetNextRun sets next_run_at of a schedule.
	SetNextRun(ctx context.Context, id int64, next *time.Time) error
	// CountSchedules returns the number of schedules.
	CountSchedules(ctx context.Context) (int, error)

	// ClaimDue locks up to limit enabled schedules whose next_run_at is NULL
	// or <= until, asks plan what to do with each, inserts the runs (a
	// duplicate (job_type, job_id, scheduled_for) is ignored) and moves
	// next_run_at, all in one transaction. It returns the number of
	// schedules claimed and the pending runs inserted. now is the claim's
	// time (enqueued_at; the lease of a fire whose instant has passed runs
	// from it). With an owner, the pending runs are leased to it until
	// their instant (or now, when later) plus lease: the
	// owner starts them by id (ClaimRunIDs), the general claim leaves them
	// alone, and ReleaseRuns gives them back if the owner stops or dies.
	ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int, lease time.Duration, plan Planner) (claimed int, queued []Queued, err error)
	// NextDue returns the earliest next_run_at of an enabled schedule, and
	// whether any enabled schedule has a NULL next_run_at.
	NextDue(ctx context.Context) (next *time.Time, hasNull bool, err error)
	// ClaimRuns marks up to limit runnable pending runs as running with a
	// lease for owner, never two exclusive runs of one schedule. A due cron
	// fire of a schedule whose previous exclusive run is still running is
	// recorded as skipped instead — unless that run is one of finishing
	// (owner's runs that finished and whose outcome is not written yet):
	// finished work never makes a fire skipped. Retries and manual runs
	// wait.
	ClaimRuns(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration, finishing []int64) ([]Run, error)
	// ClaimRunIDs writes the outcomes c.Done and claims the runs c.IDs that
	// are pending and due by c.Until (or c.Now), in one transaction, like
	// ClaimRuns; runs taken by another instance are left out. Fires whose
	// predecessor is one of c.Finishing, and fires not claimed whose
	// instant is after c.Now, stay owned by c.Owner and are returned in
	// waiting, to be claimed again shortly; the other runs not claimed lose
	// their owner (the general claim of any instance takes them).
	ClaimRunIDs(ctx context.Context, c ClaimByID) (claimed []Run, waiting []int64, err error)
	// ClaimRun claims one specific pending run (manual trigger); it returns
	// ErrNotFound when the run is not pending or is taken.
	ClaimRun(ctx context.Context, id int64, owner string, now time.Time, lease time.Duration) (*Run, error)
	// Heartbeat records that owner is alive until until (its fires
	// claimed ahead stay its own while it is) and extends the leases of
	// its running runs.
	Heartbeat(ctx context.Context, owner string, until time.Time) (int, error)
	// CompleteRuns writes outcomes, schedule states and notifications in
	// one transaction. Rows whose lease was lost are left alone.
	CompleteRuns(ctx context.Context, cs []Completion) error
	// ReleaseRuns gives back pending runs that were claimed ahead but not
	// started: owner's (at shutdown) or, with owner "", those whose lease
	// expired before now and whose owner no longer renews its liveness
	// (Heartbeat): a live owner keeps its fires however late they are. A
	// cron fire after which its schedule has no kept fire is deleted and
	// the schedule's next_run_at moved back to it, so the next claim plans
	// it again under the misfire policy; other runs (fires followed by
	// kept ones, manual runs, retries) lose their owner and wait for the
	// general claim. The last live instance to stop also releases unowned
	// fires, and a stopping owner marks itself stopped. It returns the
	// number of runs released.
	ReleaseRuns(ctx context.Context, owner string, now time.Time) (int, error)
	// ExpiredRuns returns running runs whose lease expired before now and
	// whose owner no longer renews its liveness.
	ExpiredRuns(ctx context.Context, now time.Time, limit int) ([]Run, error)
	// RunningOf returns up to limit running runs leased to owner. At an
	// instance's start, before it has started anything, those are runs of
	// an earlier process under the same node id that died without putting
	// them back: their leases look renewed as soon as the new process
	// heartbeats, so nobody else would ever recover them.
	RunningOf(ctx context.Context, owner string, limit int) ([]Run, error)
	// InsertRun inserts a manual pending run of schedule s and returns it.
	InsertRun(ctx context.Context, s *Schedule, scheduledFor time.Time, maxAttempts int) (*Run, error)
	GetRun(ctx context.Context, id int64) (*Run, error)
	ListRuns(ctx context.Context, f RunFilter) ([]Run, error)
	ListAttempts(ctx context.Context, runID int64) ([]Attempt, error)
	Stats(ctx context.Context, now time.Time) (*Stats, error)
}

// NullTime scans a timestamp from either driver (time.Time, or SQLite text).
type NullTime struct {
	T     time.Time
	Valid bool
}

// Scan implements sql.Scanner.
func (n *NullTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		n.Valid = false
		return nil
	case time.Time:
		n.T, n.Valid = x.UTC(), true
		return nil
	case string:
		return n.parse(x)
	case []byte:
		return n.parse(string(x))
	case int64:
		n.T, n.Valid = time.Unix(x, 0).UTC(), true
		return nil
	}
	return fmt.Errorf("timestamp: unsupported type %T", v)
}

var timeLayouts = []string{
	sqliteTimeLayout,
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02",
}

func (n *NullTime) parse(s string) error {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			n.T, n.Valid = t.UTC(), true
			return nil
		}
	}
	return fmt.Errorf("timestamp: cannot parse %q", s)
}

func (n NullTime) ptr() *time.Time {
	if !n.Valid {
		return nil
	}
	t := n.T
	return &t
}

// rawJSON scans JSON stored as JSONB or text.
type rawJSON struct{ B json.RawMessage }

// Scan implements sql.Scanner.
func (r *rawJSON) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		r.B = nil
	case []byte:
		r.B = append(json.RawMessage(nil), x...)
	case string:
		r.B = json.RawMessage(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return fmt.Errorf("json column: %w", err)
		}
		r.B = b
	}
	return nil
}

// jsonArg returns a JSON value as a query argument (NULL when empty).
func jsonArg(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return string(b)
}

func nullStr(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
