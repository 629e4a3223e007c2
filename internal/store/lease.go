package store

// Leases: instance liveness, renewal, expiry and release of the runs an
// instance owns.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"
)

// Heartbeat implements Store. It records that owner is alive until until
// (scheduler_nodes) and extends the leases of its running runs.
func (s *DB) Heartbeat(ctx context.Context, owner string, until time.Time) (int, error) {
	host, _ := os.Hostname()
	now := time.Now()
	if _, err := s.exec(ctx, s.db, `INSERT INTO scheduler_nodes (node_id, host, pid, started_at, heartbeat_at, expires_at)
		VALUES ($1, $2, $3, $4, $4, $5)
		ON CONFLICT (node_id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at, expires_at = excluded.expires_at,
			host = excluded.host, pid = excluded.pid`,
		owner, host, os.Getpid(), s.ts(now), s.ts(until)); err != nil {
		return 0, fmt.Errorf("heartbeat %s: %w", owner, err)
	}
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

// ownerDead is the SQL condition that the owner of the run aliased p (a
// prefix such as "r.") renews no liveness beyond $1: it stopped, died, or
// never registered.
func ownerDead(p string) string {
	return `NOT EXISTS (SELECT 1 FROM scheduler_nodes n WHERE n.node_id = ` + p + `lease_owner AND n.expires_at >= $1)`
}

// ExpiredRuns implements Store: running runs whose lease expired before
// now and whose owner no longer renews its liveness.
func (s *DB) ExpiredRuns(ctx context.Context, now time.Time, limit int) ([]Run, error) {
	out, err := collectRuns(s.query(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs
		WHERE status = 'running' AND lease_owner IS NOT NULL AND lease_expires_at < $1 AND `+ownerDead("")+`
		ORDER BY lease_expires_at LIMIT $2`, s.ts(now), limit))
	if err != nil {
		return nil, fmt.Errorf("expired runs: %w", err)
	}
	return out, nil
}

// RunningOf implements Store.
func (s *DB) RunningOf(ctx context.Context, owner string, limit int) ([]Run, error) {
	out, err := collectRuns(s.query(ctx, s.db, `SELECT `+runCols+` FROM job_schedule_runs
		WHERE status = 'running' AND lease_owner = $1 ORDER BY id LIMIT $2`, owner, limit))
	if err != nil {
		return nil, fmt.Errorf("running runs of %s: %w", owner, err)
	}
	return out, nil
}

// stoppedMark is the expires_at of an instance that stopped: before every
// clock reading.
var stoppedMark = time.Unix(0, 0).UTC()

// ReleaseRuns implements Store.
//
// A released cron fire (first attempt) that is the last of its schedule's
// fires — no cron, coalesced or missed run of that schedule after it is
// kept — is deleted and the
// schedule's next_run_at moves back to the first such fire, so the next
// claim plans those instants again under the misfire policy; next_run_at
// never moves behind a run that exists. Every other released run (a fire
// followed by kept runs, a retry, a manual run, a fire of a schedule whose
// next_run_at is NULL) stays and loses its owner: the general claim of any
// instance starts it. The last live instance to stop (no other renews its
// liveness) releases unowned fires the same way, and an instance that
// stops marks itself stopped.
func (s *DB) ReleaseRuns(ctx context.Context, owner string, now time.Time) (int, error) {
	// released selects the releasable runs of the table aliased p: pending
	// and owned by owner, or (owner "") owned by an instance that stopped
	// renewing its liveness, once their own lease expired as well.
	last := false // the last live instance stopping: unowned runs are released too
	released := func(p string) string {
		if last {
			return p + `status = 'pending' AND (` + p + `lease_owner = $1 OR ` + p + `lease_owner IS NULL)`
		}
		if owner != "" {
			return p + `status = 'pending' AND ` + p + `lease_owner = $1`
		}
		return p + `status = 'pending' AND ` + p + `lease_owner IS NOT NULL AND ` + p + `lease_expires_at < $1 AND ` + ownerDead(p)
	}
	cron := func(p string) string { return p + `kind IN ('cron', 'coalesced') AND ` + p + `attempt = 1` }
	// deletable: a released cron fire with no kept run of its schedule
	// after it, of a schedule whose next_run_at can move back to it.
	deletable := func(p string) string {
		return released(p) + ` AND ` + cron(p) + ` AND NOT EXISTS (SELECT 1 FROM job_schedule_runs o
			WHERE o.job_type = ` + p + `job_type AND o.job_id = ` + p + `job_id AND o.scheduled_for > ` + p + `scheduled_for
			AND o.kind IN ('cron', 'coalesced', 'missed') AND NOT (` + released("o.") + ` AND ` + cron("o.") + `))
			AND EXISTS (SELECT 1 FROM job_schedules sc WHERE sc.id = ` + s.scheduleIDOf(p+"job_id") + ` AND sc.next_run_at IS NOT NULL)`
	}
	args := []any{owner}
	if owner == "" {
		args = []any{s.ts(now)}
	}
	var n int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if owner != "" {
			// The last instance to stop also takes back fires that other
			// instances released and nobody started: nothing stays
			// pending that a start would have to run late. Instances
			// stopping at the same time take turns (the node rows'
			// locks), so that the last of them sees the others stopped:
			// without it each counted the others alive and none took
			// back the fires the others left unowned.
			if s.d.name == "postgres" {
				if _, err := s.exec(ctx, tx, `SELECT node_id FROM scheduler_nodes ORDER BY node_id FOR UPDATE`); err != nil {
					return fmt.Errorf("lock instances: %w", err)
				}
			}
			var others int
			if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM scheduler_nodes WHERE node_id <> $1 AND expires_at >= $2`,
				owner, s.ts(now)).Scan(&others); err != nil {
				return fmt.Errorf("live instances: %w", err)
			}
			last = others == 0
		}
		// Schedules first (the lock order of claims and schedule changes).
		first := `(SELECT MIN(r.scheduled_for) FROM job_schedule_runs r WHERE r.job_type = job_schedules.job_type
			AND r.job_id = ` + s.jobIDOf("job_schedules.id") + ` AND ` + deletable("r.") + `)`
		if _, err := s.exec(ctx, tx, `UPDATE job_schedules SET next_run_at = `+first+`
			WHERE id IN (SELECT `+s.scheduleIDOf("job_id")+` FROM job_schedule_runs WHERE `+released("")+` AND `+cron("")+`)
			AND next_run_at > `+first, args...); err != nil {
			return fmt.Errorf("move next_run_at back: %w", err)
		}
		res, err := s.exec(ctx, tx, `DELETE FROM job_schedule_runs WHERE id IN (SELECT r.id FROM job_schedule_runs r
			WHERE `+deletable("r.")+`)`, args...)
		if err != nil {
			return fmt.Errorf("delete unstarted fires: %w", err)
		}
		d, _ := res.RowsAffected()
		res, err = s.exec(ctx, tx, `UPDATE job_schedule_runs SET lease_owner = NULL, lease_expires_at = NULL
			WHERE `+released("")+` AND lease_owner IS NOT NULL`, args...)
		if err != nil {
			return fmt.Errorf("release runs: %w", err)
		}
		u, _ := res.RowsAffected()
		n = d + u
		if owner != "" {
			// Stopped: the others need not wait for this instance's lease.
			// The mark lies before any instant another instance may
			// compare it with: instances stopped together read their
			// clocks at about the same time, before they took turns, so
			// "now" of this one may well be later than theirs.
			if _, err := s.exec(ctx, tx, `UPDATE scheduler_nodes SET expires_at = $2 WHERE node_id = $1`,
				owner, s.ts(stoppedMark)); err != nil {
				return fmt.Errorf("mark %s stopped: %w", owner, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("release runs of %q: %w", owner, err)
	}
	return int(n), nil
}
