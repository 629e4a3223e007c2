package store

// Claiming due schedules: the misfire plan is turned into run rows and
// next_run_at moves on, in one transaction.

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ClaimDue implements Store.
func (s *DB) ClaimDue(ctx context.Context, owner string, now, until time.Time, limit int, lease time.Duration, plan Planner) (claimed int, queued []Queued, err error) {
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
	coversFrom, coversTo  *time.Time
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
	if !r.CoversFrom.IsZero() && !r.CoversTo.IsZero() {
		from, to := r.CoversFrom.UTC(), r.CoversTo.UTC()
		row.coversFrom, row.coversTo = &from, &to
	}
	if r.Status != StatusPending {
		t := now.UTC()
		row.finished = &t
	} else if owner != "" {
		// A late (coalesced) fire is not born expired: its lease runs from
		// now when its instant has passed.
		t := r.ScheduledFor
		if t.Before(now) {
			t = now
		}
		t = t.Add(lease).UTC()
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
		lease_owner, lease_expires_at, covers_from, covers_to)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $7, $14, $15, $16, $17, $18)
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
			max(r.MaxAttempts, 1), r.Exclusive, s.tsp(w.finished), w.owner, s.tsp(w.leaseExpiry), s.tsp(w.coversFrom), s.tsp(w.coversTo))
		if err != nil {
			return nil, fmt.Errorf("insert run of schedule %d: %w", r.Schedule.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 && r.Status == StatusPending {
			id, err := res.LastInsertId()
			if err != nil {
				return nil, fmt.Errorf("insert run of schedule %d: %w", r.Schedule.ID, err)
			}
			queued = append(queued, Queued{ID: id, RunAfter: r.ScheduledFor, Schedule: r.Schedule.ID})
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
	coversFrom, coversTo := make([]*time.Time, n), make([]*time.Time, n)
	reasons, results, errs, owners := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	excl := make([]bool, n)
	for i, w := range rows {
		r, sc := w.r, w.r.Schedule
		jobTypes[i], jobIDs[i], statuses[i], kinds[i], snaps[i] = sc.JobType, sc.ID, w.status, r.Kind, w.snapshot
		userIDs[i], maxAtt[i], sched[i], excl[i] = sc.UserID, int32(max(r.MaxAttempts, 1)), r.ScheduledFor.UTC(), r.Exclusive
		finished[i], expires[i], owners[i], results[i], errs[i] = w.finished, w.leaseExpiry, w.owner, w.result, w.errText
		coversFrom[i], coversTo[i] = w.coversFrom, w.coversTo
		if w.reason != "" {
			v := w.reason
			reasons[i] = &v
		}
	}
	res, err := s.query(ctx, tx, `INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, reason, kind,
		scheduled_for, enqueued_at, job_snapshot, result, error, attempt, max_attempts, exclusive, run_after, finished_at,
		lease_owner, lease_expires_at, covers_from, covers_to)
		SELECT v.job_type, `+s.jobIDOf("v.job_id")+`, v.user_id, v.status, v.reason, v.kind, v.at, $12, v.snap::jsonb,
			v.result::jsonb, v.err, 1, v.max_att, v.excl, v.at, v.fin, v.owner, v.exp, v.cfrom, v.cto
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::text[],
			$8::text[], $9::text[], $10::int[], $11::bool[], $13::timestamptz[], $14::text[], $15::timestamptz[], $16::text[],
			$17::timestamptz[], $18::timestamptz[])
			AS v(job_type, job_id, user_id, status, kind, at, snap, result, err, max_att, excl, fin, owner, exp, reason, cfrom, cto)
		ON CONFLICT (job_type, job_id, scheduled_for) DO NOTHING
		RETURNING id, run_after, status, COALESCE(`+s.scheduleIDOf("job_id")+`, 0)`,
		jobTypes, jobIDs, userIDs, statuses, kinds, sched, snaps, results, errs, maxAtt, excl, now.UTC(), finished,
		owners, expires, reasons, coversFrom, coversTo)
	if err != nil {
		return nil, fmt.Errorf("insert runs: %w", err)
	}
	defer res.Close()
	var queued []Queued
	for res.Next() {
		var q Queued
		var at NullTime
		var status string
		if err := res.Scan(&q.ID, &at, &status, &q.Schedule); err != nil {
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
