package store

// Starting runs: pending runs become running under a lease.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

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
