package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Probes: one cheap lookup each, which an idle instance issues instead of
// a whole claim or sweep that would find nothing.

// HasRunnable reports whether an unowned pending run is due at now: what
// ClaimRuns would look at. It is one indexed lookup (the partial index of
// unowned pending runs), so an idle instance checks it instead of running
// the whole claim.
func (s *DB) HasRunnable(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := s.queryRow(ctx, s.db, `SELECT 1 FROM job_schedule_runs WHERE status = 'pending' AND lease_owner IS NULL
		AND (run_after IS NULL OR run_after <= $1) LIMIT 1`, s.ts(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for runnable runs: %w", err)
	}
	return true, nil
}

// HasExpiredLeases reports whether any run's lease expired before now: a
// superset of what ReleaseRuns (owner "") and ExpiredRuns look for, in one
// lookup on the index of leased runs, so that an instance checks it before
// the recovery sweep.
func (s *DB) HasExpiredLeases(ctx context.Context, now time.Time) (bool, error) {
	var one int
	err := s.queryRow(ctx, s.db, `SELECT 1 FROM job_schedule_runs WHERE lease_owner IS NOT NULL AND lease_expires_at < $1 LIMIT 1`,
		s.ts(now)).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("look for expired leases: %w", err)
	}
	return true, nil
}
