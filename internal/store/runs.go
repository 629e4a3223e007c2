package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
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
	max_attempts, exclusive, run_after, COALESCE(lease_owner, ''), lease_expires_at, covers_from, covers_to`

func scanRun(sc interface{ Scan(...any) error }) (*Run, error) {
	var r Run
	var sched, enq, started, finished, after, lease, cfrom, cto NullTime
	var snap, res rawJSON
	if err := sc.Scan(&r.ID, &r.JobType, &r.JobID, &r.UserID, &r.Status, &r.Kind, &sched, &enq, &started,
		&finished, &snap, &res, &r.Error, &r.Attempt, &r.MaxAttempts, &r.Exclusive, &after, &r.LeaseOwner, &lease, &cfrom, &cto); err != nil {
		return nil, err
	}
	r.ScheduledFor, r.EnqueuedAt = sched.T, enq.T
	r.StartedAt, r.FinishedAt, r.RunAfter, r.LeaseExpiresAt = started.ptr(), finished.ptr(), after.ptr(), lease.ptr()
	r.Snapshot, r.Result = snap.B, res.B
	r.CoversFrom, r.CoversTo = cfrom.ptr(), cto.ptr()
	return &r, nil
}

// collectIDs reads a query's single int64 column (ids) and closes rows.
func collectIDs(rows *sql.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
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

// InsertRun implements Store.
// The run is returned as inserted (pending), read in the inserting
// transaction: a running engine may start it the moment it is committed.
func (s *DB) InsertRun(ctx context.Context, sc *Schedule, scheduledFor time.Time, maxAttempts int) (*Run, error) {
	var run *Run
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		q, err := s.insertRuns(ctx, tx, time.Now(), []NewRun{{Schedule: sc, Status: StatusPending, Kind: KindManual,
			ScheduledFor: scheduledFor, MaxAttempts: maxAttempts, Exclusive: true}}, "", 0)
		if err != nil {
			return err
		}
		if len(q) == 0 {
			return fmt.Errorf("a run of schedule %d for %s: %w", sc.ID, scheduledFor.Format(time.RFC3339Nano), ErrDuplicate)
		}
		run, err = scanRun(s.queryRow(ctx, tx, `SELECT `+runCols+` FROM job_schedule_runs WHERE id = $1`, q[0].ID))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("insert run of schedule %d: %w", sc.ID, err)
	}
	return run, nil
}

// GetRun implements Store.
func (s *DB) GetRun(ctx context.Context, id int64) (*Run, error) {
	if err := s.checkID(colRunID, "id", id); err != nil {
		return nil, fmt.Errorf("load run: %w", err)
	}
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
		if err := s.checkID(colScheduleID, "schedule_id", f.ScheduleID); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		if err := s.checkID(colJobID, "schedule_id", f.ScheduleID); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
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
	if err := s.checkID(colRunID, "run id", runID); err != nil {
		return nil, fmt.Errorf("list attempts: %w", err)
	}
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
