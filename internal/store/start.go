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
func (s *DB) ClaimRuns(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration, finishing []int64) ([]Run, error) {
	if limit <= 0 {
		return nil, nil
	}
	out, _, err := s.claimRuns(ctx, owner, now, now, limit, lease, nil, finishing, nil)
	return out, err
}

// ClaimRunIDs implements Store.
func (s *DB) ClaimRunIDs(ctx context.Context, c ClaimByID) ([]Run, []int64, error) {
	if len(c.IDs) == 0 && len(c.Done) == 0 {
		return nil, nil, nil
	}
	if len(c.IDs) == 0 {
		return nil, nil, s.CompleteRuns(ctx, c.Done)
	}
	until := c.Now
	if c.Until.After(until) {
		until = c.Until
	}
	return s.claimRuns(ctx, c.Owner, c.Now, until, len(c.IDs), c.Lease, c.IDs, c.Finishing, c.Done)
}

// idList is a list of run ids in a statement: an array parameter on
// PostgreSQL (one cached statement), an inline list of integers on SQLite.
// It returns the condition "col is in ids" and the arguments to append.
func (s *DB) idList(col string, ids []int64, argN int) (string, []any) {
	if s.d.name == "postgres" {
		return col + " = ANY($" + strconv.Itoa(argN) + "::bigint[])", []any{ids}
	}
	if len(ids) == 0 {
		return "FALSE", nil
	}
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	return col + " IN (" + b.String() + ")", nil
}

// claimRuns claims pending runs due by until, all unowned ones or only
// those in ids; until is after now when fires are claimed ahead of their
// instant (they start at it). A run whose exclusive predecessor is running
// waits; a first-attempt cron fire whose instant has come is then recorded
// skipped — unless the predecessor is one of finishing (the caller's runs
// that have finished and whose outcome is being written). A fire that
// waits for a finishing predecessor, or whose instant has not come yet,
// stays owned and is returned in waiting (ids only) for the caller to
// claim again shortly. Finished work never makes a fire skipped, nor does a
// run still going before the instant. The outcomes done are written first,
// in the same transaction.
func (s *DB) claimRuns(ctx context.Context, owner string, now, until time.Time, limit int, lease time.Duration, ids, finishing []int64, done []Completion) ([]Run, []int64, error) {
	// Without ids: unowned pending runs only (runs claimed ahead belong to
	// their claimer until released).
	only := " AND lease_owner IS NULL"
	args := []any{s.ts(now), limit}
	if ids != nil {
		cond, a := s.idList("id", ids, len(args)+1)
		only, args = " AND "+cond, append(args, a...)
	}
	// A running predecessor that is finishing does not make a fire skipped.
	notFinishing, skipArgs := "", args
	if len(finishing) > 0 {
		cond, a := s.idList("r2.id", finishing, len(args)+1)
		notFinishing, skipArgs = " AND NOT "+cond, append(append([]any{}, args...), a...)
	}
	sameSchedule := `r2.job_type = job_schedule_runs.job_type AND r2.job_id = job_schedule_runs.job_id
		AND r2.status = 'running' AND r2.exclusive`
	var out []Run
	var waiting []int64
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.writeCompletions(ctx, tx, done); err != nil {
			return err
		}
		// Fires that came while the previous run is still going (and not
		// merely finishing): skipped.
		skip := func() error {
			if _, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'cancelled', reason = 'skipped',
				finished_at = $1, lease_owner = NULL, lease_expires_at = NULL,
				result = '{"reason": "skipped", "detail": "the previous run of this schedule was still running"}',
				error = 'skipped: the previous run of this schedule was still running'
				WHERE id IN (SELECT id FROM job_schedule_runs WHERE status = 'pending' AND run_after <= $1`+only+`
					ORDER BY run_after, id LIMIT $2)
				AND exclusive AND attempt = 1 AND kind IN ('cron', 'coalesced')
				AND EXISTS (SELECT 1 FROM job_schedule_runs r2 WHERE `+sameSchedule+notFinishing+`)`, skipArgs...); err != nil {
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
		// Runs due by until: the same arguments, with until first.
		dueArgs := append([]any{s.ts(until)}, args[1:]...)
		var err error
		if out, err = s.startRuns(ctx, tx, owner, now, lease, only, dueArgs); err != nil {
			return err
		}
		if ids == nil || len(out) == len(ids) {
			return nil
		}
		// Runs asked for by id and not claimed: cron fires whose instant
		// has come and whose predecessor is running are skipped (checked
		// only now, so the usual case costs one statement); those whose
		// predecessor is finishing, or whose instant has not come, wait,
		// still owned; the others (retries, manual runs) go to the
		// general claim, of any instance.
		if err := cancel(); err != nil {
			return err
		}
		if err := skip(); err != nil {
			return err
		}
		// On PostgreSQL: $1 now, $2 the ids, then the finishing runs;
		// SQLite lists them inline.
		idCond, qargs := s.idList("id", ids, 2)
		qargs = append([]any{s.ts(now)}, qargs...)
		wait := "run_after > $1"
		if len(finishing) > 0 {
			finCond, a := s.idList("r2.id", finishing, len(qargs)+1)
			wait = "(" + wait + " OR EXISTS (SELECT 1 FROM job_schedule_runs r2 WHERE " + sameSchedule + " AND " + finCond + "))"
			qargs = append(qargs, a...)
		}
		if waiting, err = collectIDs(s.query(ctx, tx, `SELECT id FROM job_schedule_runs
			WHERE status = 'pending' AND `+idCond+` AND `+wait, qargs...)); err != nil {
			return fmt.Errorf("runs that wait: %w", err)
		}
		idCond, rest := s.idList("id", ids, 1)
		keep := ""
		if len(waiting) > 0 {
			c, a := s.idList("id", waiting, len(rest)+1)
			keep, rest = " AND NOT "+c, append(rest, a...)
		}
		if _, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET lease_owner = NULL, lease_expires_at = NULL
			WHERE status = 'pending' AND lease_owner IS NOT NULL AND `+idCond+keep, rest...); err != nil {
			return fmt.Errorf("release waiting runs: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("claim runs: %w", err)
	}
	return out, waiting, nil
}

// startRuns sets the pending runs due by $1 and selected by only (up to $2) running
// with owner's lease: at most one exclusive run per schedule, none while
// another exclusive run of its schedule is running, no first-attempt cron
// fire of a disabled schedule, and no first-attempt cron fire while an
// unowned exclusive run of its schedule (a retry, a manual run) is due
// before it: the fire yields, so that the waiting run is not starved by
// fires that keep the schedule's running slot taken (the general claim
// starts it). On PostgreSQL the statement runs under
// a savepoint: when a concurrent claim of another instance conflicts with
// it (both starting a run of one schedule: a unique violation of the
// one-running-run index, or a deadlock), the runs are claimed one by one
// instead and the conflicting ones are left pending, so a batch never
// fails as a whole because of one row.
func (s *DB) startRuns(ctx context.Context, tx *sql.Tx, owner string, now time.Time, lease time.Duration, only string, args []any) ([]Run, error) {
	n := len(args)
	// set starts the runs with owner's lease, owner, lease expiry and now
	// at argument positions o, o+1, o+2. A run claimed ahead of its
	// instant starts at it.
	set := func(o int) string {
		return `UPDATE job_schedule_runs SET status = 'running', lease_owner = $` + strconv.Itoa(o) + `,
		lease_expires_at = $` + strconv.Itoa(o+1) + `,
		started_at = CASE WHEN run_after > $` + strconv.Itoa(o+2) + ` THEN run_after ELSE $` + strconv.Itoa(o+2) + ` END`
	}
	// guard is the condition with now at argument position nowArg.
	guard := func(nowArg int) string {
		now := "$" + strconv.Itoa(nowArg)
		return `
		AND NOT (exclusive AND EXISTS (SELECT 1 FROM job_schedule_runs r2
			WHERE r2.job_type = job_schedule_runs.job_type AND r2.job_id = job_schedule_runs.job_id
			AND r2.status = 'running' AND r2.exclusive))
		AND (attempt > 1 OR kind NOT IN ('cron', 'coalesced') OR EXISTS (SELECT 1 FROM job_schedules s
			WHERE s.id = ` + s.scheduleIDOf("job_schedule_runs.job_id") + ` AND s.enabled))
		AND NOT (exclusive AND attempt = 1 AND kind IN ('cron', 'coalesced') AND EXISTS (SELECT 1 FROM job_schedule_runs w
			WHERE w.job_type = job_schedule_runs.job_type AND w.job_id = job_schedule_runs.job_id
			AND w.status = 'pending' AND w.lease_owner IS NULL AND w.exclusive AND w.id <> job_schedule_runs.id
			AND COALESCE(w.run_after, w.scheduled_for) <= ` + now + `
			AND COALESCE(w.run_after, w.scheduled_for) < COALESCE(job_schedule_runs.run_after, job_schedule_runs.scheduled_for)))
		RETURNING ` + runCols
	}
	full := append(append([]any{}, args...), owner, s.ts(now.Add(lease)), s.ts(now))
	batch := `WITH cand AS (
			SELECT id, job_id, exclusive, run_after FROM job_schedule_runs
			WHERE status = 'pending' AND (run_after IS NULL OR run_after <= $1)` + only + `
			ORDER BY run_after NULLS FIRST, id LIMIT $2` + s.d.lock + `
		), ranked AS (
			SELECT id, exclusive, row_number() OVER (PARTITION BY job_id ORDER BY run_after NULLS FIRST, id) AS rn FROM cand
		)
		` + set(n+1) + `
		WHERE id IN (SELECT id FROM ranked WHERE rn = 1 OR NOT exclusive)` + guard(n+3)
	if s.d.name != "postgres" {
		return collectRuns(s.query(ctx, tx, batch, full...))
	}
	if _, err := s.exec(ctx, tx, `SAVEPOINT claim_batch`); err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	out, err := collectRuns(s.query(ctx, tx, batch, full...))
	if err == nil {
		_, err = s.exec(ctx, tx, `RELEASE SAVEPOINT claim_batch`)
		return out, err
	}
	if !isConflict(err) {
		return nil, err
	}
	s.log.Warn("claim conflicted with another instance; claiming one by one", "err", err)
	if _, err := s.exec(ctx, tx, `ROLLBACK TO SAVEPOINT claim_batch`); err != nil {
		return nil, fmt.Errorf("claim runs: %w", err)
	}
	cand, err := collectIDs(s.query(ctx, tx, `SELECT id FROM job_schedule_runs WHERE status = 'pending'
		AND (run_after IS NULL OR run_after <= $1)`+only+` ORDER BY run_after NULLS FIRST, id LIMIT $2`+s.d.lock, args...))
	if err != nil {
		return nil, fmt.Errorf("claim runs one by one: %w", err)
	}
	out = nil
	one := set(2) + ` WHERE id = $1 AND status = 'pending'` + guard(4)
	for _, id := range cand {
		if _, err := s.exec(ctx, tx, `SAVEPOINT claim_one`); err != nil {
			return nil, fmt.Errorf("claim run %d: %w", id, err)
		}
		r, err := collectRuns(s.query(ctx, tx, one, id, owner, s.ts(now.Add(lease)), s.ts(now)))
		if err != nil {
			if !isConflict(err) {
				return nil, fmt.Errorf("claim run %d: %w", id, err)
			}
			if _, err := s.exec(ctx, tx, `ROLLBACK TO SAVEPOINT claim_one`); err != nil {
				return nil, fmt.Errorf("claim run %d: %w", id, err)
			}
			s.log.Info("run left pending: another instance started a run of its schedule", "run_id", id)
			continue
		}
		if _, err := s.exec(ctx, tx, `RELEASE SAVEPOINT claim_one`); err != nil {
			return nil, fmt.Errorf("claim run %d: %w", id, err)
		}
		out = append(out, r...)
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
