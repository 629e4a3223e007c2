package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// Outbox returns the notification outbox of this database; it implements
// notify.Outbox for the dispatcher.
func (s *DB) Outbox() *Outbox { return &Outbox{s: s} }

// Outbox is the notifications table seen as a delivery queue.
type Outbox struct{ s *DB }

var _ notify.Outbox = (*Outbox)(nil)

const outboxCols = `id, idempotency_key, channel, recipient, notification_type, title, body, data, priority, status,
	attempts, next_attempt_at, COALESCE(last_error, ''), COALESCE(claimed_by, ''), claimed_at, created_at, updated_at,
	sent_at, COALESCE(run_id, 0), COALESCE(schedule_id, 0), COALESCE(user_id, 0)`

func scanNotification(sc interface{ Scan(...any) error }) (notify.Notification, error) {
	var n notify.Notification
	var data rawJSON
	var prio, status string
	var next, claimed, created, updated, sent NullTime
	if err := sc.Scan(&n.ID, &n.IdempotencyKey, &n.Channel, &n.Recipient, &n.Type, &n.Title, &n.Body, &data, &prio,
		&status, &n.Attempts, &next, &n.LastError, &n.ClaimedBy, &claimed, &created, &updated, &sent,
		&n.RunID, &n.ScheduleID, &n.UserID); err != nil {
		return n, err
	}
	n.Priority, n.Status = notify.Priority(prio), notify.Status(status)
	n.NextAttemptAt, n.ClaimedAt, n.CreatedAt, n.UpdatedAt, n.SentAt = next.T, claimed.T, created.T, updated.T, sent.T
	if len(data.B) > 0 && string(data.B) != "null" {
		if err := json.Unmarshal(data.B, &n.Data); err != nil {
			return n, fmt.Errorf("notification %d data: %w", n.ID, err)
		}
	}
	return n, nil
}

// Insert adds rows outside a run completion (tests, `notify test`); a
// repeated idempotency key is ignored.
func (o *Outbox) Insert(ctx context.Context, ns []notify.Notification) error {
	return o.s.inTx(ctx, func(tx *sql.Tx) error { return o.s.insertOutbox(ctx, tx, ns) })
}

// Claim implements notify.Outbox: due pending/failed rows (and sending rows
// claimed before req.StuckBefore) that no older row of the same (channel,
// recipient) holds back become sending. Such a row is the oldest holding row
// of its recipient — pending, sending, or failed with a retry due by the
// hold limit (notify.HoldLimit) — found by one grouped pass over the active
// rows (index on channel, recipient, id).
func (o *Outbox) Claim(ctx context.Context, req notify.ClaimRequest) ([]notify.Notification, error) {
	if req.Limit <= 0 {
		return nil, fmt.Errorf("claim notifications: limit %d must be > 0", req.Limit)
	}
	s := o.s
	stuck := req.StuckBefore
	if stuck.IsZero() {
		stuck = time.Unix(0, 0)
	}
	var out []notify.Notification
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := s.query(ctx, tx, `UPDATE notifications SET status = 'sending', attempts = attempts + 1,
			claimed_by = $1, claimed_at = $2, updated_at = $2
			WHERE id IN (
				SELECT n.id FROM notifications n
				WHERE ((n.status IN ('pending', 'failed') AND n.next_attempt_at <= $2)
					OR (n.status = 'sending' AND n.claimed_at < $5))
				AND n.id IN (SELECT MIN(id) FROM notifications
					WHERE (status IN ('pending', 'sending') OR (status = 'failed' AND next_attempt_at <= $6))
					AND ($4 = '' OR channel = $4)
					GROUP BY channel, recipient)
				ORDER BY n.id LIMIT $3`+s.d.lock+`)
			RETURNING `+outboxCols, req.Owner, s.ts(req.Now), req.Limit, req.Channel, s.ts(stuck), s.ts(notify.HoldLimit(req)))
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			n, err := scanNotification(rows)
			if err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	// RETURNING order is not guaranteed: hand rows out by id.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// mark moves a sending row to its outcome.
func (o *Outbox) mark(ctx context.Context, id int64, set string, args ...any) error {
	s := o.s
	q := `UPDATE notifications SET ` + set + `, claimed_by = NULL WHERE id = $1 AND status = 'sending'`
	res, err := s.exec(ctx, s.db, q, append([]any{id}, args...)...)
	if err != nil {
		return fmt.Errorf("update notification %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("notification %d: %w", id, notify.ErrNotClaimed)
	}
	return nil
}

// MarkSent implements notify.Outbox.
func (o *Outbox) MarkSent(ctx context.Context, id int64, at time.Time) error {
	return o.mark(ctx, id, `status = 'sent', sent_at = $2, updated_at = $2`, o.s.ts(at))
}

// MarkRetry implements notify.Outbox.
func (o *Outbox) MarkRetry(ctx context.Context, id int64, at, next time.Time, errMsg string) error {
	return o.mark(ctx, id, `status = 'failed', next_attempt_at = $2, last_error = $3, updated_at = $4`,
		o.s.ts(next), errMsg, o.s.ts(at))
}

// MarkDead implements notify.Outbox.
func (o *Outbox) MarkDead(ctx context.Context, id int64, at time.Time, reason string) error {
	return o.mark(ctx, id, `status = 'dead', last_error = $2, updated_at = $3`, reason, o.s.ts(at))
}

// MarkSuppressed implements notify.Outbox.
func (o *Outbox) MarkSuppressed(ctx context.Context, id int64, at time.Time, reason string) error {
	return o.mark(ctx, id, `status = 'suppressed', last_error = $2, updated_at = $3`, reason, o.s.ts(at))
}

// RequeueStuck implements notify.Outbox.
func (o *Outbox) RequeueStuck(ctx context.Context, claimedBefore time.Time) (int, error) {
	s := o.s
	res, err := s.exec(ctx, s.db, `UPDATE notifications SET status = 'pending', claimed_by = NULL
		WHERE status = 'sending' AND claimed_at < $1`, s.ts(claimedBefore))
	if err != nil {
		return 0, fmt.Errorf("requeue stuck notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// Get implements notify.Outbox.
func (o *Outbox) Get(ctx context.Context, id int64) (notify.Notification, error) {
	n, err := scanNotification(o.s.queryRow(ctx, o.s.db, `SELECT `+outboxCols+` FROM notifications WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, fmt.Errorf("notification %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return n, fmt.Errorf("load notification %d: %w", id, err)
	}
	return n, nil
}

// Stats implements notify.Outbox.
func (o *Outbox) Stats(ctx context.Context, now time.Time) (notify.OutboxStats, error) {
	s := o.s
	st := notify.OutboxStats{LastErrorByChannel: map[string]notify.ChannelError{}}
	rows, err := s.query(ctx, s.db, `SELECT status, COUNT(*) FROM notifications GROUP BY status`)
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	for rows.Next() {
		var status string
		var n int64
		if err := rows.Scan(&status, &n); err != nil {
			rows.Close()
			return st, err
		}
		switch notify.Status(status) {
		case notify.StatusPending:
			st.Pending = n
		case notify.StatusFailed:
			st.Failed = n
		case notify.StatusSending:
			st.Sending = n
		case notify.StatusSent:
			st.Sent = n
		case notify.StatusDead:
			st.Dead = n
		case notify.StatusSuppressed:
			st.Suppressed = n
		}
	}
	rows.Close()
	var oldest NullTime
	if err := s.queryRow(ctx, s.db, `SELECT MIN(created_at) FROM notifications WHERE status IN ('pending', 'failed', 'sending')`).Scan(&oldest); err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	if oldest.Valid {
		st.OldestPendingAge = max(now.Sub(oldest.T), 0)
	}
	rows, err = s.query(ctx, s.db, `SELECT channel, id, last_error, updated_at FROM notifications n
		WHERE last_error IS NOT NULL AND last_error <> '' AND NOT EXISTS (
			SELECT 1 FROM notifications m WHERE m.channel = n.channel AND m.last_error IS NOT NULL AND m.last_error <> ''
			AND (m.updated_at > n.updated_at OR (m.updated_at = n.updated_at AND m.id > n.id)))`)
	if err != nil {
		return st, fmt.Errorf("outbox stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch string
		var ce notify.ChannelError
		var at NullTime
		if err := rows.Scan(&ch, &ce.ID, &ce.Error, &at); err != nil {
			return st, err
		}
		ce.At = at.T
		st.LastErrorByChannel[ch] = ce
	}
	return st, rows.Err()
}

// Purge implements notify.Outbox.
func (o *Outbox) Purge(ctx context.Context, before time.Time) (int, error) {
	s := o.s
	res, err := s.exec(ctx, s.db, `DELETE FROM notifications WHERE status IN ('sent', 'suppressed') AND updated_at < $1`, s.ts(before))
	if err != nil {
		return 0, fmt.Errorf("purge notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// ErrNotDead is returned (wrapped) by RetryDead when the notification named
// exists but is not dead: only dead rows are requeued.
var ErrNotDead = errors.New("notification is not dead")

// RetryDead requeues dead notifications for a new round of delivery: the row
// id, or every dead row when id is 0. A requeued row is pending and due at
// now, with its attempts reset to 0 (it gets 1 + NOTIFICATION_RETRIES
// attempts again) and its last error kept behind "requeued by an operator;
// was: ". It keeps its id, so it is delivered before the younger rows of
// its recipient. An unknown id wraps ErrNotFound; a row that is not dead
// wraps ErrNotDead. It returns how many rows were requeued.
func (o *Outbox) RetryDead(ctx context.Context, id int64, now time.Time) (int, error) {
	if id < 0 {
		return 0, fmt.Errorf("retry notification %d: id must be > 0 (or 0 for every dead row)", id)
	}
	s := o.s
	q := `UPDATE notifications SET status = 'pending', attempts = 0, next_attempt_at = $1,
		claimed_by = NULL, claimed_at = NULL, updated_at = $1,
		last_error = 'requeued by an operator; was: ' || COALESCE(last_error, '')
		WHERE status = 'dead'`
	args := []any{s.ts(now)}
	if id != 0 {
		q += ` AND id = $2`
		args = append(args, id)
	}
	res, err := s.exec(ctx, s.db, q, args...)
	if err != nil {
		return 0, fmt.Errorf("retry dead notifications: %w", err)
	}
	n, _ := res.RowsAffected()
	if n == 0 && id != 0 {
		cur, err := o.Get(ctx, id)
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("notification %d is %s: %w", id, cur.Status, ErrNotDead)
	}
	return int(n), nil
}

// Finished returns the ids of the newest notifications that reached a
// final status (sent, dead, suppressed), at most limit, oldest first.
func (o *Outbox) Finished(ctx context.Context, limit int) ([]int64, error) {
	s := o.s
	ids, err := collectIDs(s.query(ctx, s.db, `SELECT id FROM notifications WHERE status IN ('sent', 'dead', 'suppressed')
		ORDER BY id DESC LIMIT $1`, limit))
	if err != nil {
		return nil, fmt.Errorf("finished notifications: %w", err)
	}
	slices.Reverse(ids)
	return ids, nil
}
