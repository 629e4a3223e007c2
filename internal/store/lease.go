package store

// Leases: renewal, expiry and release of runs an instance owns.

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

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
