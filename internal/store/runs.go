package store

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// shownStatus is a run's status as this service shows it: the stored
// status (one of the five the framework's readers accept), or for a
// cancelled fire that was skipped or missed, that reason.
const shownStatus = `CASE WHEN status = 'cancelled' AND reason IN ('skipped', 'missed') THEN reason ELSE COALESCE(status, '') END`

// runCols reads a run; job_id as text whatever its column type (an adopted
// database has int4, bigint or varchar, and rows of other writers may hold
// NULL).
const runCols = `id, job_type, COALESCE(CAST(job_id AS TEXT), ''), COALESCE(user_id, 0), ` + shownStatus + `, kind,
	scheduled_for, enqueued_at, started_at, finished_at, job_snapshot, result, COALESCE(error, ''), attempt,
	max_attempts, exclusive, run_after, COALESCE(lease_owner, ''), lease_expires_at`

func scanRun(sc interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var sched, enq, started, finished, after, lease NullTime
	var snap, res rawJSON
	if err := sc.Scan(&r.ID, &r.JobType, &r.JobID, &r.UserID, &r.Status, &r.Kind, &sched, &enq, &started,
		&finished, &snap, &res, &r.Error, &r.Attempt, &r.MaxAttempts, &r.Exclusive, &after, &r.LeaseOwner, &lease); err != nil {
		return nil, err
	}
	r.ScheduledFor, r.EnqueuedAt = sched.T, enq.T
	r.StartedAt, r.FinishedAt, r.RunAfter, r.LeaseExpiresAt = started.ptr(), finished.ptr(), after.ptr(), lease.ptr()
	r.Snapshot, r.Result = snap.B, res.B
	return &r, nil
}

func collectRuns(rows *sql.Rows, err error) ([]Run, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, rows.Err()
}

// ClaimDue implements Store.
func (s *DB) ClaimDue(ctx context.Context, owner string, until time.Time, limit int, lease time.Duration, plan Planner) (claimed int, queued []Queued, err error) {
	now := time.Now()
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		// Rows to initialise first, then due ones in next_run_at order:
		// two statements so that each is an index scan that stops at
		// limit (one ORDER BY with NULLS FIRST would sort every due row,
		// 100,000 of them in a burst, for each batch).
		var due []*Schedule
		for _, q := range []struct {
			where string
			args  []any
		}{
			{`next_run_at IS NULL LIMIT $1`, nil},
			{`next_run_at <= $2 ORDER BY next_run_at LIMIT $1`, []any{s.ts(until)}},
		} {
			if len(due) == limit {
				break
			}
			rows, err := s.query(ctx, tx, `SELECT `+claimCols+` FROM job_schedules WHERE enabled AND `+q.where+s.d.lock,
				append([]any{limit - len(due)}, q.args...)...)
			if err != nil {
				return fmt.Errorf("select due schedules: %w", err)
			}
			for rows.Next() {
				sc, err := scanSchedule(rows)
				if err != nil {
					rows.Close()
					return fmt.Errorf("scan due schedule: %w", err)
				}
				due = append(due, sc)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("select due schedules: %w", err)
			}
		}
		claimed = len(due)
		if claimed == 0 {
			return nil
		}
		var newRuns []NewRun
		ids := make([]int64, 0, len(due))
		nexts := make([]*time.Time, 0, len(due))
		errs := make([]string, 0, len(due))
		for _, sc := range due {
			f := plan(sc)
			for _, r := range f.Runs {
				r.Schedule = sc
				newRuns = append(newRuns, r)
			}
			ids, nexts, errs = append(ids, sc.ID), append(nexts, f.Next), append(errs, f.Error)
		}
		queued, err = s.insertRuns(ctx, tx, now, newRuns, owner, lease)
		if err != nil {
			return err
		}
		return s.advance(ctx, tx, now, ids, nexts, errs)
	})
	if err != nil {
		return 0, nil, fmt.Errorf("claim due schedules: %w", err)
	}
	return claimed, queued, nil
}

// insertRuns inserts runs, ignoring duplicates of (job_type, job_id,
// scheduled_for): multi-row statements on PostgreSQL (one round trip per
// batch), one prepared statement per row on SQLite (in-process, where large
// statements cost more to prepare than rows cost to step). Pending runs are
// leased to owner until their instant plus lease when owner is set.
func (s *DB) insertRuns(ctx context.Context, tx *sql.Tx, now time.Time, runs []NewRun, owner string, lease time.Duration) ([]Queued, error) {
	rows := make([]insertRow, len(runs))
	for i, r := range runs {
		row, err := s.newInsertRow(r, now, owner, lease)
		if err != nil {
			return nil, err
		}
		rows[i] = row
	}
	if s.d.name == "sqlite" {
		return s.insertRunsSQLite(ctx, tx, now, rows)
	}
	return s.insertRunsPostgres(ctx, tx, now, rows)
}

// insertRow is one run as stored: skipped and missed fires become
// cancelled runs with the reason in the reason column and in result.
type insertRow struct {
	r                     NewRun
	status, reason        string
	snapshot              string
	result, errText       *string
	finished, leaseExpiry *time.Time
	owner                 *string
}

func (s *DB) newInsertRow(r NewRun, now time.Time, owner string, lease time.Duration) (insertRow, error) {
	row := insertRow{r: r, status: r.Status}
	snap, err := json.Marshal(NewSnapshot(r.Schedule, r.ScheduledFor))
	if err != nil {
		return row, fmt.Errorf("snapshot of schedule %d: %w", r.Schedule.ID, err)
	}
	row.snapshot = string(snap)
	result := r.Result
	if r.Status == StatusSkipped || r.Status == StatusMissed {
		row.status, row.reason = StatusCancelled, r.Status
		if result, err = withReason(result, r.Status); err != nil {
			return row, fmt.Errorf("result of a %s fire of schedule %d: %w", r.Status, r.Schedule.ID, err)
		}
	}
	if len(result) > 0 {
		v := string(result)
		row.result = &v
	}
	if r.Error != "" {
		v := r.Error
		row.errText = &v
	}
	if r.Status != StatusPending {
		t := now.UTC()
		row.finished = &t
	} else if owner != "" {
		t := r.ScheduledFor.Add(lease).UTC()
		row.owner, row.leaseExpiry = &owner, &t
	}
	return row, nil
}

// withReason returns the JSON object b (or {}) with its "reason" key set.
func withReason(b json.RawMessage, reason string) (json.RawMessage, error) {
	m := map[string]any{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, err
		}
	}
	m["reason"] = reason
	return json.Marshal(m)
}

// NewSnapshot is the job_snapshot of a run of sc at instant at. It carries
// schedule_id and schedule_name, which the framework's web UI matches runs
// to pipelines by, besides this service's id and name.
func NewSnapshot(sc *Schedule, at time.Time) Snapshot {
	return Snapshot{ScheduleID: sc.ID, ScheduleName: sc.Name, ID: sc.ID, Name: sc.Name, JobType: sc.JobType,
		Target: sc.Target, TaskParams: validJSON(sc.TaskParams), Cron: sc.Cron, ExecutionTime: at.UTC(), UserID: sc.UserID}
}

func (s *DB) insertRunsSQLite(ctx context.Context, tx *sql.Tx, now time.Time, rows []insertRow) ([]Queued, error) {
	if len(rows) == 0 {
		return nil, nil
	}
	stmt, err := tx.PrepareContext(ctx, `INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, reason, kind,
		scheduled_for, enqueued_at, job_snapshot, result, error, attempt, max_attempts, exclusive, run_after, finished_at,
		lease_owner, lease_expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $7, $14, $15, $16)
		ON CONFLICT (job_type, job_id, scheduled_for) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("insert runs: %w", err)
	}
	defer stmt.Close()
	var queued []Queued
	for _, w := range rows {
		r := w.r
		res, err := stmt.ExecContext(ctx, r.Schedule.JobType, s.jobIDArg(r.Schedule.ID), r.Schedule.UserID, w.status,
			nullStr(w.reason), r.Kind, s.ts(r.ScheduledFor), s.ts(now), w.snapshot, w.result, w.errText,
			max(r.MaxAttempts, 1), r.Exclusive, s.tsp(w.finished), w.owner, s.tsp(w.leaseExpiry))
		if err != nil {
			return nil, fmt.Errorf("insert run of schedule %d: %w", r.Schedule.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 && r.Status == StatusPending {
			id, err := res.LastInsertId()
			if err != nil {
				return nil, fmt.Errorf("insert run of schedule %d: %w", r.Schedule.ID, err)
			}
			queued = append(queued, Queued{ID: id, RunAfter: r.ScheduledFor})
		}
	}
	return queued, nil
}

// insertRunsPostgres inserts all rows in one statement with one array per
// column, whatever the count.
func (s *DB) insertRunsPostgres(ctx context.Context, tx *sql.Tx, now time.Time, rows []insertRow) ([]Queued, error) {
	n := len(rows)
	jobTypes, statuses, kinds, snaps := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	jobIDs, userIDs, maxAtt := make([]int64, n), make([]int64, n), make([]int32, n)
	sched, finished, expires := make([]time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
	reasons, results, errs, owners := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	excl := make([]bool, n)
	for i, w := range rows {
		r, sc := w.r, w.r.Schedule
		jobTypes[i], jobIDs[i], statuses[i], kinds[i], snaps[i] = sc.JobType, sc.ID, w.status, r.Kind, w.snapshot
		userIDs[i], maxAtt[i], sched[i], excl[i] = sc.UserID, int32(max(r.MaxAttempts, 1)), r.ScheduledFor.UTC(), r.Exclusive
		finished[i], expires[i], owners[i], results[i], errs[i] = w.finished, w.leaseExpiry, w.owner, w.result, w.errText
		if w.reason != "" {
			v := w.reason
			reasons[i] = &v
		}
	}
	res, err := s.query(ctx, tx, `INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, reason, kind,
		scheduled_for, enqueued_at, job_snapshot, result, error, attempt, max_attempts, exclusive, run_after, finished_at,
		lease_owner, lease_expires_at)
		SELECT v.job_type, `+s.jobIDOf("v.job_id")+`, v.user_id, v.status, v.reason, v.kind, v.at, $12, v.snap::jsonb,
			v.result::jsonb, v.err, 1, v.max_att, v.excl, v.at, v.fin, v.owner, v.exp
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
			$8::text[], $9::text[], $10::int[], $11::bool[], $13::timestamptz[], $14::text[], $15::timestamptz[], $16::text[])
			AS v(job_type, job_id, user_id, status, kind, at, snap, result, err, max_att, excl, fin, owner, exp, reason)
		ON CONFLICT (job_type, job_id, scheduled_for) DO NOTHING
		RETURNING id, run_after, status`,
		jobTypes, jobIDs, userIDs, statuses, kinds, sched, snaps, results, errs, maxAtt, excl, now.UTC(), finished,
		owners, expires, reasons)
	if err != nil {
		return nil, fmt.Errorf("insert runs: %w", err)
	}
	defer res.Close()
	var queued []Queued
	for res.Next() {
		var q Queued
		var at NullTime
		var status string
		if err := res.Scan(&q.ID, &at, &status); err != nil {
			return nil, fmt.Errorf("insert runs: %w", err)
		}
		if status == StatusPending {
			q.RunAfter = at.T
			queued = append(queued, q)
		}
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("insert runs: %w", err)
	}
	return queued, nil
}

// validJSON returns b when it is valid JSON, else b as a JSON string, so a
// corrupt task_params cannot break the snapshot of every other schedule.
func validJSON(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	if json.Valid(b) {
		return b
	}
	q, _ := json.Marshal(string(b))
	return q
}

// advance writes next_run_at and last_error of claimed schedules.
func (s *DB) advance(ctx context.Context, tx *sql.Tx, now time.Time, ids []int64, nexts []*time.Time, errs []string) error {
	if s.d.name == "postgres" {
		ts := make([]*time.Time, len(nexts))
		es := make([]*string, len(errs))
		for i := range nexts {
			ts[i] = nexts[i]
			if errs[i] != "" {
				es[i] = &errs[i]
			}
		}
		_, err := s.exec(ctx, tx, `UPDATE job_schedules s SET next_run_at = v.next, last_error = v.err,
			last_error_at = CASE WHEN v.err IS NULL THEN NULL ELSE $4::timestamptz END
			FROM unnest($1::bigint[], $2::timestamptz[], $3::text[]) AS v(id, next, err) WHERE s.id = v.id`,
			ids, ts, es, now.UTC())
		if err != nil {
			return fmt.Errorf("advance next_run_at: %w", err)
		}
		return nil
	}
	// SQLite: one statement per distinct (next, error); schedules claimed
	// together usually share both.
	type key struct {
		next int64
		has  bool
		err  string
	}
	groups := map[key][]int64{}
	var order []key
	for i, id := range ids {
		k := key{err: errs[i]}
		if nexts[i] != nil {
			k.next, k.has = nexts[i].UnixNano(), true
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], id)
	}
	for _, k := range order {
		var next any
		if k.has {
			next = s.ts(time.Unix(0, k.next))
		}
		members := groups[k]
		args := []any{next, nullStr(k.err), s.ts(now)}
		ph := make([]string, len(members))
		for i, id := range members {
			args = append(args, id)
			ph[i] = "$" + strconv.Itoa(i+4)
		}
		if _, err := s.exec(ctx, tx, `UPDATE job_schedules SET next_run_at = $1, last_error = $2,
			last_error_at = CASE WHEN $2 IS NULL THEN NULL ELSE $3 END WHERE id IN (`+strings.Join(ph, ",")+`)`, args...); err != nil {
			return fmt.Errorf("advance next_run_at: %w", err)
		}
	}
	return nil
}

// NextDue implements Store.
func (s *DB) NextDue(ctx context.Context) (*time.Time, bool, error) {
	var next NullTime
	var nulls int
	err := s.queryRow(ctx, s.db, `SELECT (SELECT MIN(next_run_at) FROM job_schedules WHERE enabled),
		(SELECT COUNT(*) FROM (SELECT 1 FROM job_schedules WHERE enabled AND next_run_at IS NULL LIMIT 1) x)`).Scan(&next, &nulls)
	if err != nil {
		return nil, false, fmt.Errorf("next due: %w", err)
	}
	return next.ptr(), nulls > 0, nil
}

// ClaimRuns implements Store.
func (s *DB) ClaimRuns(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	return s.claimRuns(ctx, owner, now, limit, lease, nil)
}

// ClaimRunIDs implements Store.
func (s *DB) ClaimRunIDs(ctx context.Context, owner string, now time.Time, ids []int64, lease time.Duration) ([]Run, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	return s.claimRuns(ctx, owner, now, len(ids), lease, ids)
}

// claimRuns claims due pending runs, all of them or only those in ids.
func (s *DB) claimRuns(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration, ids []int64) ([]Run, error) {
	// The id filter: an array parameter on PostgreSQL (one cached
	// statement), an inline list of integers on SQLite.
	// Without ids: unowned pending runs only (runs claimed ahead belong to
	// their claimer until released).
	only := " AND lease_owner IS NULL"
	args := []any{s.ts(now), limit}
	if ids != nil {
		if s.d.name == "postgres" {
			args = append(args, ids)
			only = " AND id = ANY($3::bigint[])"
		} else {
			var b strings.Builder
			for i, id := range ids {
				if i > 0 {
					b.WriteByte(',')
				}
				b.WriteString(strconv.FormatInt(id, 10))
			}
			only = " AND id IN (" + b.String() + ")"
		}
	}
	var out []Run
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Fires that came while the previous run is still going: skipped.
		skip := func() error {
			if _, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'cancelled', reason = 'skipped',
				finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
				result = '{"reason": "skipped", "detail": "the previous run of this schedule was still running"}',
				error = 'skipped: the previous run of this schedule was still running'
				WHERE id IN (SELECT id FROM job_schedule_runs WHERE status = 'pending' AND run_after <= $1`+only+`
					ORDER BY run_after, id LIMIT $2)
				AND exclusive AND attempt = 1 AND kind IN ('cron', 'coalesced')
				AND EXISTS (SELECT 1 FROM job_schedule_runs r2 WHERE r2.job_type = job_schedule_runs.job_type
					AND r2.job_id = job_schedule_runs.job_id AND r2.status = 'running' AND r2.exclusive)`, args...); err != nil {
				return fmt.Errorf("skip overlapping fires: %w", err)
			}
			return nil
		}
		// Cron fires of a schedule disabled or deleted (by raw SQL, say)
		// after they were claimed ahead: cancelled, not run.
		orphan := `attempt = 1 AND kind IN ('cron', 'coalesced') AND NOT EXISTS (SELECT 1 FROM job_schedules s
			WHERE s.id = ` + s.scheduleIDOf("job_schedule_runs.job_id") + ` AND s.enabled)`
		cancel := func() error {
			if _, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'cancelled', reason = 'schedule_disabled',
				finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
				result = '{"reason": "schedule_disabled", "detail": "the schedule was disabled or deleted before this fire"}',
				error = 'cancelled: the schedule was disabled or deleted before this fire'
				WHERE id IN (SELECT id FROM job_schedule_runs WHERE status = 'pending' AND run_after <= $1`+only+`
					ORDER BY run_after, id LIMIT $2) AND `+orphan, args...); err != nil {
				return fmt.Errorf("cancel fires of disabled schedules: %w", err)
			}
			return nil
		}
		if ids == nil {
			if err := cancel(); err != nil {
				return err
			}
			if err := skip(); err != nil {
				return err
			}
		}
		n := len(args)
		var err error
		out, err = collectRuns(s.query(ctx, tx, `WITH cand AS (
				SELECT id, job_id, exclusive, run_after FROM job_schedule_runs
				WHERE status = 'pending' AND (run_after IS NULL OR run_after <= $1)`+only+`
				ORDER BY run_after NULLS FIRST, id LIMIT $2`+s.d.lock+`
			), ranked AS (
				SELECT id, exclusive, row_number() OVER (PARTITION BY job_id ORDER BY run_after NULLS FIRST, id) AS rn FROM cand
			)
			UPDATE job_schedule_runs SET status = 'running', started_at = $1, lease_owner = $`+strconv.Itoa(n+1)+`,
				lease_expires_at = $`+strconv.Itoa(n+2)+`
			WHERE id IN (SELECT id FROM ranked WHERE rn = 1 OR NOT exclusive)
			AND NOT (exclusive AND EXISTS (SELECT 1 FROM job_schedule_runs r2
				WHERE r2.job_type = job_schedule_runs.job_type AND r2.job_id = job_schedule_runs.job_id
				AND r2.status = 'running' AND r2.exclusive))
			AND (attempt > 1 OR kind NOT IN ('cron', 'coalesced') OR EXISTS (SELECT 1 FROM job_schedules s
				WHERE s.id = `+s.scheduleIDOf("job_schedule_runs.job_id")+` AND s.enabled))
			RETURNING `+runCols, append(args, owner, s.ts(now.Add(lease)))...))
		if err != nil || ids == nil || len(out) == len(ids) {
			return err
		}
		// Runs asked for by id and not claimed: cron fires whose
		// predecessor is running are skipped (checked only now, so the
		// usual case costs one statement); the others (retries, manual
		// runs, not yet due) go to the general claim, of any instance.
		if err := cancel(); err != nil {
			return err
		}
		if err := skip(); err != nil {
			return err
		}
		var rest []any
		if s.d.name == "postgres" {
			only, rest = " AND id = ANY($1::bigint[])", []any{ids}
		}
		if _, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET lease_owner = NULL, lease_expires_at = NULL
			WHERE status = 'pending' AND lease_owner IS NOT NULL`+only, rest...); err != nil {
			return fmt.Errorf("release waiting runs: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	return out, nil
}

// ClaimRun implements Store.
func (s *DB) ClaimRun(ctx context.Context, id int64, owner string, now time.Time, lease time.Duration) (*Run, error) {
	r, err := scanRun(s.queryRow(ctx, s.db, `UPDATE job_schedule_runs SET status = 'running', started_at = $1,
		lease_owner = $2, lease_expires_at = $3 WHERE id = $4 AND status = 'pending'
		AND NOT (exclusive AND EXISTS (SELECT 1 FROM job_schedule_runs r2
			WHERE r2.job_type = job_schedule_runs.job_type AND r2.job_id = job_schedule_runs.job_id
			AND r2.status = 'running' AND r2.exclusive))
		RETURNING `+runCols, s.ts(now), owner, s.ts(now.Add(lease)), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("claim run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("claim run %d: %w", id, err)
	}
	return r, nil
}

// Heartbeat implements Store.
func (s *DB) Heartbeat(ctx context.Context, owner string, until time.Time) (int, error) {
	// Rows being completed right now are skipped (their lease no longer
	// matters), so a heartbeat never waits for or deadlocks with a completion.
	res, err := s.exec(ctx, s.db, `UPDATE job_schedule_runs SET lease_expires_at = $1
		WHERE id IN (SELECT id FROM job_schedule_runs WHERE status = 'running' AND lease_owner = $2
			ORDER BY id`+s.d.lock+`)`, s.ts(until), owner)
	if err != nil {
		return 0, fmt.Errorf("heartbeat %s: %w", owner, err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// CompleteRuns implements Store.
func (s *DB) CompleteRuns(ctx context.Context, cs []Completion) error {
	if len(cs) == 0 {
		return nil
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		var simple []*Completion
		for i := range cs {
			c := &cs[i]
			if c.Status != StatusPending && c.State == nil && len(c.Notifications) == 0 {
				simple = append(simple, c)
				continue
			}
			if err := s.complete(ctx, tx, c); err != nil {
				return err
			}
		}
		return s.completeSimple(ctx, tx, simple)
	})
	if err != nil {
		return fmt.Errorf("complete %d runs: %w", len(cs), err)
	}
	return nil
}

// completeSimple finishes runs that carry no state or notifications: one
// statement for the whole batch on PostgreSQL, one prepared statement
// stepped per row on SQLite.
func (s *DB) completeSimple(ctx context.Context, tx *sql.Tx, cs []*Completion) error {
	if len(cs) == 0 {
		return nil
	}
	// Lock rows in id order, as every other multi-row statement does.
	slices.SortFunc(cs, func(a, b *Completion) int { return cmp.Compare(a.RunID, b.RunID) })
	if s.d.name == "sqlite" {
		stmt, err := tx.PrepareContext(ctx, `UPDATE job_schedule_runs SET status = $1, finished_at = $2, result = $3,
			error = $4, lease_owner = NULL, lease_expires_at = NULL, started_at = COALESCE($7, started_at)
			WHERE id = $5 AND status = 'running' AND lease_owner = $6`)
		if err != nil {
			return fmt.Errorf("complete runs: %w", err)
		}
		defer stmt.Close()
		for _, c := range cs {
			if _, err := stmt.ExecContext(ctx, c.Status, s.ts(c.At), jsonArg(c.Result), nullStr(c.Error), c.RunID, c.Owner,
				s.tsp(c.startedAt())); err != nil {
				return fmt.Errorf("complete run %d: %w", c.RunID, err)
			}
		}
		return nil
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
	_, err := s.exec(ctx, tx, `UPDATE job_schedule_runs r SET status = v.status, finished_at = v.at,
		result = v.result::jsonb, error = v.err, lease_owner = NULL, lease_expires_at = NULL,
		started_at = COALESCE(v.started, r.started_at)
		FROM unnest($1::bigint[], $2::text[], $3::text[], $4::timestamptz[], $5::text[], $6::text[], $7::timestamptz[])
			AS v(id, owner, status, at, result, err, started)
		WHERE r.id = v.id AND r.status = 'running' AND r.lease_owner = v.owner`,
		ids, owners, statuses, ats, results, errs, starts)
	if err != nil {
		return fmt.Errorf("complete runs: %w", err)
	}
	return nil
}

func (s *DB) complete(ctx context.Context, tx *sql.Tx, c *Completion) error {
	var res sql.Result
	var err error
	switch {
	case c.Status == StatusPending && c.Retry:
		var started NullTime
		var attempt int
		err = s.queryRow(ctx, tx, `SELECT started_at, attempt FROM job_schedule_runs
			WHERE id = $1 AND status = 'running' AND lease_owner = $2`, c.RunID, c.Owner).Scan(&started, &attempt)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // lease lost: another instance owns the outcome
		}
		if err != nil {
			return fmt.Errorf("run %d: %w", c.RunID, err)
		}
		if st := c.startedAt(); st != nil {
			started = NullTime{T: *st, Valid: true}
		}
		if _, err = s.exec(ctx, tx, `INSERT INTO job_run_attempts (run_id, attempt, owner, started_at, finished_at, error)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (run_id, attempt) DO NOTHING`,
			c.RunID, attempt, c.Owner, s.tsp(started.ptr()), s.ts(c.At), c.Error); err != nil {
			return fmt.Errorf("record attempt %d of run %d: %w", attempt, c.RunID, err)
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
		return fmt.Errorf("update run %d: %w", c.RunID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // lease lost: do not write state or notifications twice
	}
	if c.State != nil && c.ScheduleID != 0 {
		if _, err := s.exec(ctx, tx, `UPDATE job_schedules SET state_json = $1 WHERE id = $2`, string(c.State), c.ScheduleID); err != nil {
			return fmt.Errorf("save state of schedule %d: %w", c.ScheduleID, err)
		}
	}
	return s.insertOutbox(ctx, tx, c.Notifications)
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
	return nil
}

// ExpiredRuns implements Store.
func (s *DB) ExpiredRuns(ctx context.Context, now time.Time, limit int) ([]Run, error) {
	out, err := collectRuns(s.query(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs
		WHERE status = 'running' AND lease_owner IS NOT NULL AND lease_expires_at < $1
		ORDER BY lease_expires_at LIMIT $2`, s.ts(now), limit))
	if err != nil {
		return nil, fmt.Errorf("expired runs: %w", err)
	}
	return out, nil
}

// InsertRun implements Store.
func (s *DB) InsertRun(ctx context.Context, sc *Schedule, scheduledFor time.Time, maxAttempts int) (*Run, error) {
	var id int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q, err := s.insertRuns(ctx, tx, time.Now(), []NewRun{{Schedule: sc, Status: StatusPending, Kind: KindManual,
			ScheduledFor: scheduledFor, MaxAttempts: maxAttempts, Exclusive: true}}, "", 0)
		if err != nil {
			return err
		}
		if len(q) == 0 {
			return fmt.Errorf("a run of schedule %d for %s: %w", sc.ID, scheduledFor.Format(time.RFC3339Nano), ErrDuplicate)
		}
		return s.queryRow(ctx, tx, `SELECT id FROM job_schedule_runs WHERE job_type = $1 AND job_id = $2 AND scheduled_for = $3`,
			sc.JobType, s.jobIDArg(sc.ID), s.ts(scheduledFor)).Scan(&id)
	})
	if err != nil {
		return nil, fmt.Errorf("insert run of schedule %d: %w", sc.ID, err)
	}
	return s.GetRun(ctx, id)
}

// GetRun implements Store.
func (s *DB) GetRun(ctx context.Context, id int64) (*Run, error) {
	r, err := scanRun(s.queryRow(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("run %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load run %d: %w", id, err)
	}
	return r, nil
}

// ListRuns implements Store.
func (s *DB) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	var where []string
	var args []any
	if f.ScheduleID != 0 {
		args = append(args, s.jobIDArg(f.ScheduleID))
		// job_type IN (...) lets the unique (job_type, job_id, scheduled_for)
		// index serve the lookup; no separate job_id index is kept.
		types := make([]string, len(JobTypes))
		for i, t := range JobTypes {
			types[i] = "'" + t + "'"
		}
		where = append(where, fmt.Sprintf("job_type IN (%s) AND job_id = $%d", strings.Join(types, ","), len(args)))
	}
	if f.Status != "" {
		args = append(args, f.Status)
		where = append(where, fmt.Sprintf(shownStatus+" = $%d", len(args)))
	}
	q := `SELECT ` + runCols + ` FROM job_schedule_runs`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	limit := f.Limit
	if limit <= 0 {
		limit = 50
	}
	q += fmt.Sprintf(" ORDER BY scheduled_for DESC, id DESC LIMIT %d OFFSET %d", limit, f.Offset)
	out, err := collectRuns(s.query(ctx, s.db, q, args...))
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// ListAttempts implements Store.
func (s *DB) ListAttempts(ctx context.Context, runID int64) ([]Attempt, error) {
	rows, err := s.query(ctx, s.db, `SELECT run_id, attempt, COALESCE(owner, ''), started_at, finished_at, COALESCE(error, '')
		FROM job_run_attempts WHERE run_id = $1 ORDER BY attempt`, runID)
	if err != nil {
		return nil, fmt.Errorf("list attempts of run %d: %w", runID, err)
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var st, fin NullTime
		if err := rows.Scan(&a.RunID, &a.Attempt, &a.Owner, &st, &fin, &a.Error); err != nil {
			return nil, err
		}
		a.StartedAt, a.FinishedAt = st.ptr(), fin.T
		out = append(out, a)
	}
	return out, rows.Err()
}

// Stats implements Store.
func (s *DB) Stats(ctx context.Context, now time.Time) (*Stats, error) {
	st := &Stats{RunsByStatus: map[string]int{}, OutboxByStatus: map[string]int{}}
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN enabled THEN 1 ELSE 0 END), 0) FROM job_schedules`).
		Scan(&st.Schedules, &st.Enabled); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	var err error
	load := func(q string, args ...any) []Schedule {
		if err != nil {
			return nil
		}
		var rows *sql.Rows
		rows, err = s.query(ctx, s.db, `SELECT `+scheduleCols+` FROM job_schedules `+q, args...)
		if err != nil {
			return nil
		}
		defer rows.Close()
		var out []Schedule
		for rows.Next() {
			var sc *Schedule
			if sc, err = scanSchedule(rows); err != nil {
				return nil
			}
			out = append(out, *sc)
		}
		err = rows.Err()
		return out
	}
	st.Invalid = load(`WHERE last_error IS NOT NULL ORDER BY id LIMIT 100`)
	st.NextDue = load(`WHERE enabled AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 10`)
	if err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if err := s.nextFires(ctx, st); err != nil {
		return nil, fmt.Errorf("stats: %w", err)
	}
	if st.Running, err = collectRuns(s.query(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs WHERE status = 'running' ORDER BY started_at LIMIT 50`)); err != nil {
		return nil, fmt.Errorf("stats running: %w", err)
	}
	if st.RecentFailures, err = collectRuns(s.query(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs WHERE status = 'failed' ORDER BY finished_at DESC LIMIT 10`)); err != nil {
		return nil, fmt.Errorf("stats failures: %w", err)
	}
	counts := func(q string, into map[string]int) {
		if err != nil {
			return
		}
		var rows *sql.Rows
		if rows, err = s.query(ctx, s.db, q); err != nil {
			return
		}
		defer rows.Close()
		for rows.Next() {
			var k string
			var n int
			if err = rows.Scan(&k, &n); err != nil {
				return
			}
			into[k] = n
		}
		err = rows.Err()
	}
	counts(`SELECT `+shownStatus+`, COUNT(*) FROM job_schedule_runs GROUP BY 1`, st.RunsByStatus)
	counts(`SELECT status, COUNT(*) FROM notifications GROUP BY status`, st.OutboxByStatus)
	if err != nil {
		return nil, fmt.Errorf("stats counts: %w", err)
	}
	st.MissedRecords = st.RunsByStatus[StatusMissed]
	var oldest NullTime
	if err := s.queryRow(ctx, s.db, `SELECT MIN(created_at) FROM notifications WHERE status IN ('pending', 'failed', 'sending')`).Scan(&oldest); err != nil {
		return nil, fmt.Errorf("stats outbox: %w", err)
	}
	if oldest.Valid {
		st.OldestPendingAge = now.Sub(oldest.T).Seconds()
	}
	return st, nil
}

// ReleaseRuns implements Store.
func (s *DB) ReleaseRuns(ctx context.Context, owner string, now time.Time) (int, error) {
	// cond selects the releasable runs; in the correlated subquery the run
	// table is aliased r.
	cond := func(p string) string {
		if owner != "" {
			return p + `status = 'pending' AND ` + p + `lease_owner = $1`
		}
		return p + `status = 'pending' AND ` + p + `lease_owner IS NOT NULL AND ` + p + `lease_expires_at < $1`
	}
	cron := func(p string) string { return ` AND ` + p + `kind IN ('cron', 'coalesced') AND ` + p + `attempt = 1` }
	arg := any(owner)
	if owner == "" {
		arg = s.ts(now)
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		first := `(SELECT MIN(r.scheduled_for) FROM job_schedule_runs r WHERE r.job_type = job_schedules.job_type
			AND r.job_id = ` + s.jobIDOf("job_schedules.id") + ` AND ` + cond("r.") + cron("r.") + `)`
		if _, err := s.exec(ctx, tx, `UPDATE job_schedules SET next_run_at = `+first+`
			WHERE id IN (SELECT `+s.scheduleIDOf("job_id")+` FROM job_schedule_runs WHERE `+cond("")+cron("")+`)
			AND next_run_at > `+first, arg); err != nil {
			return fmt.Errorf("move next_run_at back: %w", err)
		}
		res, err := s.exec(ctx, tx, `DELETE FROM job_schedule_runs WHERE `+cond("")+cron(""), arg)
		if err != nil {
			return fmt.Errorf("delete unstarted fires: %w", err)
		}
		d, _ := res.RowsAffected()
		res, err = s.exec(ctx, tx, `UPDATE job_schedule_runs SET lease_owner = NULL, lease_expires_at = NULL
			WHERE `+cond(""), arg)
		if err != nil {
			return fmt.Errorf("release runs: %w", err)
		}
		u, _ := res.RowsAffected()
		n = d + u
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("release runs of %q: %w", owner, err)
	}
	return int(n), nil
}

// startedAt is c.StartedAt in UTC, or nil when unset.
func (c *Completion) startedAt() *time.Time {
	if c.StartedAt.IsZero() {
		return nil
	}
	t := c.StartedAt.UTC()
	return &t
}

// nextFires corrects st.NextDue for runs already inserted and waiting:
// fires claimed ahead (next_run_at is then the first fire after them),
// retries and manual runs. Each schedule's NextRunAt becomes its earliest
// upcoming run; the ten earliest are kept.
func (s *DB) nextFires(ctx context.Context, st *Stats) error {
	first := map[int64]time.Time{}
	for _, q := range []string{
		// Both use a partial index: owned runs by lease expiry (instant +
		// the owner's lease), unowned ones by run_after.
		`SELECT COALESCE(CAST(job_id AS TEXT), ''), run_after FROM job_schedule_runs WHERE status = 'pending' AND lease_owner IS NOT NULL
			ORDER BY lease_expires_at LIMIT 50`,
		`SELECT COALESCE(CAST(job_id AS TEXT), ''), run_after FROM job_schedule_runs WHERE status = 'pending' AND lease_owner IS NULL
			ORDER BY run_after LIMIT 50`,
	} {
		rows, err := s.query(ctx, s.db, q)
		if err != nil {
			return fmt.Errorf("pending runs: %w", err)
		}
		for rows.Next() {
			var jobID string
			var at NullTime
			if err := rows.Scan(&jobID, &at); err != nil {
				rows.Close()
				return fmt.Errorf("pending runs: %w", err)
			}
			id, perr := strconv.ParseInt(jobID, 10, 64)
			if perr != nil || !at.Valid {
				continue
			}
			if t, ok := first[id]; !ok || at.T.Before(t) {
				first[id] = at.T
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("pending runs: %w", err)
		}
	}
	if len(first) == 0 {
		return nil
	}
	listed := map[int64]bool{}
	for _, sc := range st.NextDue {
		listed[sc.ID] = true
	}
	for id := range first {
		if listed[id] {
			continue
		}
		sc, err := s.GetSchedule(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		st.NextDue = append(st.NextDue, *sc)
	}
	for i := range st.NextDue {
		sc := &st.NextDue[i]
		if t, ok := first[sc.ID]; ok && (sc.NextRunAt == nil || t.Before(*sc.NextRunAt)) {
			t := t
			sc.NextRunAt = &t
		}
	}
	slices.SortStableFunc(st.NextDue, func(a, b Schedule) int {
		switch {
		case a.NextRunAt == nil:
			return 1
		case b.NextRunAt == nil:
			return -1
		}
		return a.NextRunAt.Compare(*b.NextRunAt)
	})
	st.NextDue = st.NextDue[:min(len(st.NextDue), 10)]
	return nil
}
