// Package notify delivers notifications from a transactional outbox to their
// channels (notify API, Telegram, webhook, email, log) exactly in order per
// recipient, with retries, and never loses or silently drops one.
//
// The flow is:
//
//  1. A [Planner] turns a request (schedule, run, user, channels, text) into
//     [Notification] rows with resolved recipients.
//  2. The store inserts those rows in the same transaction as the run's
//     completion (the outbox table lives in internal/store).
//  3. A [Dispatcher] claims due rows through the [Outbox] interface, sends
//     them through a [Sink] per channel and records the outcome.
//
// The package notifytest holds an in-memory [Outbox] and a conformance suite
// that every Outbox implementation must pass.
package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Status is the delivery state of one outbox row.
type Status string

// Delivery states. Rows start pending; Claim moves them to sending; the
// outcome moves them to sent, failed (waiting for a retry at NextAttemptAt),
// dead (gave up, LastError says why) or suppressed (NOTIFICATION_ENABLED=false).
const (
	StatusPending    Status = "pending"
	StatusSending    Status = "sending"
	StatusSent       Status = "sent"
	StatusFailed     Status = "failed"
	StatusDead       Status = "dead"
	StatusSuppressed Status = "suppressed"
)

// Valid reports whether s is one of the defined statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusPending, StatusSending, StatusSent, StatusFailed, StatusDead, StatusSuppressed:
		return true
	}
	return false
}

// Active reports whether a row in status s still waits for delivery
// (pending, failed or sending). Active rows block younger rows of the same
// (channel, recipient); see [Outbox].
func (s Status) Active() bool {
	return s == StatusPending || s == StatusFailed || s == StatusSending
}

// Priority is the urgency of a notification, as the notify API spells it.
type Priority string

// Priorities of ORIGINAL-SYSTEM.md §6.
const (
	PriorityLow      Priority = "LOW"
	PriorityNormal   Priority = "NORMAL"
	PriorityHigh     Priority = "HIGH"
	PriorityCritical Priority = "CRITICAL"
)

// ParsePriority parses a priority case-insensitively; "" means NORMAL.
func ParsePriority(s string) (Priority, error) {
	switch p := Priority(strings.ToUpper(strings.TrimSpace(s))); p {
	case "":
		return PriorityNormal, nil
	case PriorityLow, PriorityNormal, PriorityHigh, PriorityCritical:
		return p, nil
	}
	return "", fmt.Errorf("notify priority %q: want one of low, normal, high, critical", s)
}

// Urgent reports whether p is HIGH or CRITICAL (these also go by email).
func (p Priority) Urgent() bool { return p == PriorityHigh || p == PriorityCritical }

// Notification types sent as notification_type to the notify API.
const (
	TypeAlert  = "ALERT"
	TypeJob    = "JOB"
	TypeSystem = "SYSTEM"
)

// Notification is one outbox row: one message to one recipient on one channel.
type Notification struct {
	ID             int64  // assigned by the store, ascending in creation order
	IdempotencyKey string // unique; see IdempotencyKey
	Channel        string // telegram, email, webhook, log
	Recipient      string // chat id, email address, webhook URL, or a label for log
	Type           string // notification_type: ALERT, JOB, SYSTEM
	Title          string
	Body           string
	Data           map[string]any // structured data; stored as JSON
	Priority       Priority
	Status         Status
	Attempts       int       // incremented by every Claim
	NextAttemptAt  time.Time // not claimed before this instant
	LastError      string    // last failure, or the reason for dead / suppressed
	ClaimedBy      string    // owner of the current claim while sending
	ClaimedAt      time.Time // when the current claim was taken
	CreatedAt      time.Time
	UpdatedAt      time.Time
	SentAt         time.Time // zero unless sent
	RunID          int64
	ScheduleID     int64
	UserID         int64
	// QueueRecipient is msg_messages.recipient_id when the notification
	// goes to the framework's queue: as the old service wrote it, the
	// notify config's recipient_id, else its user_id, else the schedule's
	// user id. Not stored in the outbox.
	QueueRecipient string
}

// IdempotencyKey derives the unique key of the notification a run sends on
// one channel to one recipient, e.g. "sched:7:run:123:telegram:859865894".
// A crash between sending and recording the outcome makes the receiver see
// the same key again; receivers that deduplicate on it see each message once.
func IdempotencyKey(scheduleID, runID int64, channel, recipient string) string {
	return fmt.Sprintf("sched:%d:run:%d:%s:%s", scheduleID, runID, channel, recipient)
}

// ErrNotClaimed is returned (wrapped) by the Mark methods of an [Outbox] when
// the row does not exist or is not in status sending, for example because a
// requeue took it back after its claim went stale.
var ErrNotClaimed = errors.New("notification is not claimed (not in status sending)")

// ClaimRequest selects the rows one Claim call hands out.
type ClaimRequest struct {
	Owner   string    // recorded as ClaimedBy, e.g. "host:pid"
	Now     time.Time // rows with NextAttemptAt <= Now are due; recorded as ClaimedAt
	Limit   int       // at most this many rows (must be > 0)
	Channel string    // only this channel; "" means any channel
	// StuckBefore: a row in sending whose ClaimedAt is strictly before this
	// instant is taken over by Claim like a due pending row (its sender died
	// or hung past NOTIFICATION_TIMEOUT plus a grace). Zero: never.
	StuckBefore time.Time
	// HoldUntil: a failed row holds back the younger rows of its (channel,
	// recipient) only while its NextAttemptAt is at or before this instant,
	// so a row waiting long for its retry does not block its recipient.
	// Zero: failed rows always hold back (strict order).
	HoldUntil time.Time
}

// HoldLimit is the instant up to which a failed row's retry holds back the
// younger rows of its recipient in a Claim of req: req.HoldUntil, at least
// req.Now (a due row always holds back), or the far future when HoldUntil
// is zero (strict order).
func HoldLimit(req ClaimRequest) time.Time {
	if req.HoldUntil.IsZero() {
		return time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	}
	if req.HoldUntil.Before(req.Now) {
		return req.Now
	}
	return req.HoldUntil
}

// Outbox is the storage side of delivery. internal/store implements it on
// SQLite and PostgreSQL; notifytest.MemOutbox implements it in memory, and
// notifytest.TestOutbox is the conformance suite every implementation passes.
//
// Rows are inserted by the store, inside the run-completion transaction, with
// INSERT ... ON CONFLICT (idempotency_key) DO NOTHING: a second row with the
// same key is ignored. IDs ascend in insertion order; that order is the
// creation order. An inserted row with empty Status is pending, with zero
// NextAttemptAt is due at CreatedAt.
//
// Ordering rule: Claim never hands out a row while an older row (smaller ID)
// of the same (Channel, Recipient) holds it back: a pending row, a sending
// row, or a failed row whose retry is due at or before req.HoldUntil (any
// failed row when HoldUntil is zero). So at most one row per (channel,
// recipient) is in flight, a row waiting for a near retry holds back the
// younger ones, and rows of one recipient are delivered in creation order;
// only a row whose retry is further away than HoldUntil lets younger rows
// pass. Dead, sent and suppressed rows block nothing. A sending row claimed
// before req.StuckBefore is claimable again (and is then the one handed out).
//
// Claim must be safe with several concurrent claimers, in one process or many
// (PostgreSQL: FOR UPDATE SKIP LOCKED; SQLite: one write transaction): no row
// is handed to two claimers.
//
// A possible PostgreSQL statement for Claim ($5 = StuckBefore, $6 =
// HoldLimit(req)):
//
//	UPDATE notifications SET status='sending', attempts=attempts+1,
//	       claimed_by=$1, claimed_at=$2, updated_at=$2
//	WHERE id IN (
//	  SELECT n.id FROM notifications n
//	  WHERE ((n.status IN ('pending','failed') AND n.next_attempt_at <= $2)
//	         OR (n.status = 'sending' AND n.claimed_at < $5))
//	    AND ($4 = '' OR n.channel = $4)
//	    AND NOT EXISTS (SELECT 1 FROM notifications o
//	        WHERE o.channel = n.channel AND o.recipient = n.recipient AND o.id < n.id
//	          AND (o.status IN ('pending','sending')
//	               OR (o.status = 'failed' AND o.next_attempt_at <= $6)))
//	  ORDER BY n.id LIMIT $3 FOR UPDATE SKIP LOCKED)
//	RETURNING *
type Outbox interface {
	// Claim moves up to req.Limit due, claimable rows (see the ordering rule)
	// from pending/failed (or stale sending, see req.StuckBefore) to sending, increments Attempts, sets ClaimedBy,
	// ClaimedAt and UpdatedAt, and returns them (with those new values) in
	// ascending ID order.
	Claim(ctx context.Context, req ClaimRequest) ([]Notification, error)
	// MarkSent records a successful delivery: status sent, SentAt = at.
	MarkSent(ctx context.Context, id int64, at time.Time) error
	// MarkRetry records a failed attempt that will be retried: status failed,
	// NextAttemptAt = next, LastError = errMsg.
	MarkRetry(ctx context.Context, id int64, at, next time.Time, errMsg string) error
	// MarkDead records that delivery was given up: status dead, LastError = reason.
	MarkDead(ctx context.Context, id int64, at time.Time, reason string) error
	// MarkSuppressed records that the row was not sent on purpose (for example
	// NOTIFICATION_ENABLED=false): status suppressed, LastError = reason.
	MarkSuppressed(ctx context.Context, id int64, at time.Time, reason string) error
	// RequeueStuck moves rows in status sending whose ClaimedAt is strictly
	// before claimedBefore back to pending (their process died while sending)
	// and returns how many. Attempts is kept.
	RequeueStuck(ctx context.Context, claimedBefore time.Time) (int, error)
	// Get returns one row; an unknown id is an error.
	Get(ctx context.Context, id int64) (Notification, error)
	// Stats summarises the outbox as of now.
	Stats(ctx context.Context, now time.Time) (OutboxStats, error)
	// Purge deletes sent and suppressed rows whose UpdatedAt is before the
	// given instant and returns how many. Dead rows are kept for inspection.
	Purge(ctx context.Context, before time.Time) (int, error)
}

// DueOutbox is an optional interface of an [Outbox]: when its rows still
// to deliver become claimable, by channel, in one query. A [Dispatcher]
// over a DueOutbox asks it once per PollEvery (and at the earliest retry
// time it reports) instead of claiming on every channel's lane, so an idle
// dispatcher costs one query per poll.
type DueOutbox interface {
	// NextDue returns, for each channel with rows in pending, failed or
	// sending, the earliest instant one of them may be claimed: its
	// NextAttemptAt (pending, failed) or ClaimedAt + stuckAfter (sending).
	NextDue(ctx context.Context, stuckAfter time.Duration) (map[string]time.Time, error)
}

// The Mark methods apply only to rows in status sending; otherwise they
// return an error wrapping ErrNotClaimed. Each sets UpdatedAt = at and clears
// ClaimedBy.

// OutboxStats is what `status` and /status show about the outbox.
type OutboxStats struct {
	Pending    int64 // status pending
	Failed     int64 // status failed: waiting for a retry
	Sending    int64
	Sent       int64
	Dead       int64
	Suppressed int64
	// OldestPendingAge is now minus the CreatedAt of the oldest active row
	// (pending, failed or sending); 0 when there is none.
	OldestPendingAge time.Duration
	// LastErrorByChannel holds, per channel, the LastError of the row with a
	// non-empty LastError and the latest UpdatedAt (ties: highest ID).
	LastErrorByChannel map[string]ChannelError
}

// Undelivered is the number of rows still waiting: pending, failed and sending.
func (s OutboxStats) Undelivered() int64 { return s.Pending + s.Failed + s.Sending }

// ChannelError is the most recent error recorded on a channel.
type ChannelError struct {
	ID    int64 // the row that carries it
	Error string
	At    time.Time // that row's UpdatedAt
}
