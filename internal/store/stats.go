package store

// Status figures for status pages.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

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
	st.NextDue = load(`WHERE enabled AND last_error IS NULL AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 10`)
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
		if sc.LastError != "" {
			continue // invalid schedules are listed in st.Invalid only
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

// Window describes the runs of one job type scheduled inside [From, To):
// what a capacity measurement reports.
type Window struct {
	// Lags are started_at − scheduled_for of the runs that started, in
	// milliseconds, unsorted.
	Lags []float64
	// First is the earliest scheduled_for (zero when there is none).
	First time.Time
	// ByStatus counts the runs by shown status (skipped and missed are
	// their own).
	ByStatus map[string]int
}

// RunWindow reads the runs of jobType scheduled inside [from, to).
func (s *DB) RunWindow(ctx context.Context, jobType string, from, to time.Time) (*Window, error) {
	w := &Window{ByStatus: map[string]int{}}
	rows, err := s.query(ctx, s.db, `SELECT scheduled_for, started_at, `+shownStatus+` FROM job_schedule_runs
		WHERE job_type = $1 AND scheduled_for >= $2 AND scheduled_for < $3`, jobType, s.ts(from), s.ts(to))
	if err != nil {
		return nil, fmt.Errorf("runs in window: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var at, started NullTime
		var st string
		if err := rows.Scan(&at, &started, &st); err != nil {
			return nil, fmt.Errorf("runs in window: %w", err)
		}
		w.ByStatus[st]++
		if w.First.IsZero() || at.T.Before(w.First) {
			w.First = at.T
		}
		if started.Valid {
			w.Lags = append(w.Lags, float64(started.T.Sub(at.T).Microseconds())/1000)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("runs in window: %w", err)
	}
	return w, nil
}
