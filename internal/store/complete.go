package store

// Completing runs: outcomes, alert states and notifications in one
// transaction.

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// CompleteRuns implements Store.
func (s *DB) CompleteRuns(ctx context.Context, cs []Completion) error {
	if len(cs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error { return s.writeCompletions(ctx, tx, cs) })
	if err != nil {
		return fmt.Errorf("complete %d runs: %w", len(cs), err)
	}
	return nil
}

// writeCompletions writes outcomes in tx: those with state,
// notifications or a retry one by one, the others in one batch.
func (s *DB) writeCompletions(ctx context.Context, tx *sql.Tx, cs []Completion) error {
	var simple, done []*Completion
	for i := range cs {
		c := &cs[i]
		if c.Status != StatusPending && c.State == nil && len(c.Notifications) == 0 && (c.Streak == nil || !c.Streak.Failed) {
			simple = append(simple, c)
			continue
		}
		applied, err := s.complete(ctx, tx, c)
		if err != nil {
			return err
		}
		if applied {
			done = append(done, c)
		}
	}
	more, err := s.completeSimple(ctx, tx, simple)
	if err != nil {
		return err
	}
	// Successes end their schedules' failure streaks, in one batch.
	return s.recoverStreaks(ctx, tx, append(done, more...))
}

// completeSimple finishes runs that carry no state or notifications: one
// statement for the whole batch on PostgreSQL, one prepared statement
// stepped per row on SQLite. It returns the completions whose run row it
// updated (the others lost their lease).
func (s *DB) completeSimple(ctx context.Context, tx *sql.Tx, cs []*Completion) ([]*Completion, error) {
	if len(cs) == 0 {
		return nil, nil
	}
	var done []*Completion
	// Lock rows in id order, as every other multi-row statement does.
	slices.SortFunc(cs, func(a, b *Completion) int { return cmp.Compare(a.RunID, b.RunID) })
	if s.d.name == "sqlite" {
		stmt, err := tx.PrepareContext(ctx, `UPDATE job_schedule_runs SET status = $1, finished_at = $2, result = $3,
			error = $4, lease_owner = NULL, lease_expires_at = NULL, started_at = COALESCE($7, started_at)
			WHERE id = $5 AND status = 'running' AND lease_owner = $6`)
		if err != nil {
			return nil, fmt.Errorf("complete runs: %w", err)
		}
		defer stmt.Close()
		for _, c := range cs {
			res, err := stmt.ExecContext(ctx, c.Status, s.ts(c.At), jsonArg(c.Result), nullStr(c.Error), c.RunID, c.Owner,
				s.tsp(c.startedAt()))
			if err != nil {
				return nil, fmt.Errorf("complete run %d: %w", c.RunID, err)
			}
			if n, _ := res.RowsAffected(); n > 0 {
				done = append(done, c)
			}
		}
		return done, nil
	}
	ids := make([]int64, len(cs))
	owners := make([]string, len(cs))
	statuses := make([]string, len(cs))
	ats, starts := make([]time.Time, len(cs)), make([]*time.Time, len(cs))
	results := make([]*string, len(cs))
	errs := make([]*string, len(cs))
	for i, c := range cs {
		ids[i], owners[i], statuses[i], ats[i], starts[i] = c.RunID, c.Owner, c.Status, c.At.UTC(), c.startedAt()
		if len(c.Result) > 0 {
			r := string(c.Result)
			results[i] = &r
		}
		if c.Error != "" {
			e := c.Error
			errs[i] = &e
		}
	}
	rows, err := s.query(ctx, tx, `UPDATE job_schedule_runs r SET status = v.status, finished_at = v.at,
		result = v.result::jsonb, error = v.err, lease_owner = NULL, lease_expires_at = NULL,
		started_at = COALESCE(v.started, r.started_at)
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
			AS v(id, owner, status, at, result, err, started)
		WHERE r.id = v.id AND r.status = 'running' AND r.lease_owner = v.owner
		RETURNING r.id`,
		ids, owners, statuses, ats, results, errs, starts)
	if err != nil {
		return nil, fmt.Errorf("complete runs: %w", err)
	}
	defer rows.Close()
	byID := make(map[int64]*Completion, len(cs))
	for _, c := range cs {
		byID[c.RunID] = c
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("complete runs: %w", err)
		}
		done = append(done, byID[id])
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("complete runs: %w", err)
	}
	return done, nil
}

// complete writes one outcome with its state and notifications (and, for
// a failure, its schedule's failure streak); it reports whether the run
// row was updated (false: the lease was lost).
func (s *DB) complete(ctx context.Context, tx *sql.Tx, c *Completion) (bool, error) {
	var res sql.Result
	var err error
	switch {
	case c.Status == StatusPending && c.Retry:
		var started NullTime
		var attempt int
		err = s.queryRow(ctx, tx, `SELECT started_at, attempt FROM job_schedule_runs
			WHERE id = $1 AND status = 'running' AND lease_owner = $2`, c.RunID, c.Owner).Scan(&started, &attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil // lease lost: another instance owns the outcome
		}
		if err != nil {
			return false, fmt.Errorf("run %d: %w", c.RunID, err)
		}
		if st := c.startedAt(); st != nil {
			started = NullTime{T: *st, Valid: true}
		}
		if _, err = s.exec(ctx, tx, `INSERT INTO job_run_attempts (run_id, attempt, owner, started_at, finished_at, error)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, attempt) DO NOTHING`,
			c.RunID, attempt, c.Owner, s.tsp(started.ptr()), s.ts(c.At), c.Error); err != nil {
			return false, fmt.Errorf("record attempt %d of run %d: %w", attempt, c.RunID, err)
		}
		res, err = s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'pending', attempt = attempt + 1,
			run_after = $1, started_at = NULL, lease_owner = NULL, lease_expires_at = NULL, error = $2, result = $3
			WHERE id = $4 AND status = 'running' AND lease_owner = $5`,
			s.tsp(c.RetryAt), c.Error, jsonArg(c.Result), c.RunID, c.Owner)
	case c.Status == StatusPending:
		res, err = s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'pending', started_at = NULL,
			lease_owner = NULL, lease_expires_at = NULL WHERE id = $1 AND status = 'running' AND lease_owner = $2`,
			c.RunID, c.Owner)
	default:
		res, err = s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = $1, finished_at = $2, result = $3,
			error = $4, lease_owner = NULL, lease_expires_at = NULL, started_at = COALESCE($7, started_at)
			WHERE id = $5 AND status = 'running' AND lease_owner = $6`,
			c.Status, s.ts(c.At), jsonArg(c.Result), nullStr(c.Error), c.RunID, c.Owner, s.tsp(c.startedAt()))
	}
	if err != nil {
		return false, fmt.Errorf("update run %d: %w", c.RunID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil // lease lost: do not write state or notifications twice
	}
	if c.State != nil && c.ScheduleID != 0 {
		if _, err := s.exec(ctx, tx, `UPDATE job_schedules SET state_json = $1 WHERE id = $2`, string(c.State), c.ScheduleID); err != nil {
			return false, fmt.Errorf("save state of schedule %d: %w", c.ScheduleID, err)
		}
	}
	ns := c.Notifications
	if c.Streak != nil && c.Streak.Failed && c.ScheduleID != 0 && c.Status == StatusFailed {
		more, err := s.failStreak(ctx, tx, c)
		if err != nil {
			return false, err
		}
		ns = append(ns[:len(ns):len(ns)], more...)
	}
	// The framework's queue (when in use) or the outbox, in this transaction.
	return true, s.insertNotifications(ctx, tx, ns)
}

// insertOutbox inserts notifications; a repeated idempotency key is ignored.
func (s *DB) insertOutbox(ctx context.Context, tx querier, ns []notify.Notification) error {
	for _, n := range ns {
		status := n.Status
		if status == "" {
			status = notify.StatusPending
		}
		prio := n.Priority
		if prio == "" {
			prio = notify.PriorityNormal
		}
		typ := n.Type
		if typ == "" {
			typ = notify.TypeAlert
		}
		at := n.CreatedAt
		if at.IsZero() {
			at = time.Now()
		}
		next := n.NextAttemptAt
		if next.IsZero() {
			next = at
		}
		var data any
		if n.Data != nil {
			b, err := json.Marshal(n.Data)
			if err != nil {
				return fmt.Errorf("notification %s data: %w", n.IdempotencyKey, err)
			}
			data = string(b)
		}
		if _, err := s.exec(ctx, tx, `INSERT INTO notifications (idempotency_key, channel, recipient, notification_type,
			title, body, data, priority, status, last_error, run_id, schedule_id, user_id, created_at, updated_at, next_attempt_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, $15)
			ON CONFLICT (idempotency_key) DO NOTHING`,
			n.IdempotencyKey, n.Channel, n.Recipient, typ, n.Title, n.Body, data, string(prio), string(status),
			nullStr(n.LastError), n.RunID, n.ScheduleID, n.UserID, s.ts(at), s.ts(next)); err != nil {
			return fmt.Errorf("insert notification %s: %w", n.IdempotencyKey, err)
		}
	}
	if len(ns) > 0 && s.pool != nil {
		// Delivered at commit (once per transaction): other instances'
		// dispatchers look at once instead of at their next poll.
		if _, err := s.exec(ctx, tx, `SELECT pg_notify($1, '')`, ChannelOutbox); err != nil {
			return fmt.Errorf("notify %s: %w", ChannelOutbox, err)
		}
	}
	return nil
}

// startedAt is c.StartedAt in UTC, or nil when unset.
func (c *Completion) startedAt() *time.Time {
	if c.StartedAt.IsZero() {
		return nil
	}
	t := c.StartedAt.UTC()
	return &t
}
