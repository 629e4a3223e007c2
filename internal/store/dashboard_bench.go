package store

// Scratch data for the dashboard's render benchmarks.

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// DashboardScratch describes the data a dashboard benchmark loads: Schedules
// schedules named Prefix0, Prefix1, … (report, alert, screener and script
// in turn; every tenth disabled, every 500th invalid; next fires spread over
// the next day) and Runs finished runs spread over them, one every three
// seconds back from Now (every twentieth failed); the schedule Prefix0
// gets HeavyRuns more, one a minute (a schedule with a long history).
type DashboardScratch struct {
	Prefix                     string
	Schedules, Runs, HeavyRuns int
	Now                        time.Time
}

// LoadDashboardScratch inserts the data of d in two statements (the runs in
// time order, as a service writes them) and updates the planner
// statistics. It needs PostgreSQL (generate_series) and a
// database without schedules of that prefix.
func (s *DB) LoadDashboardScratch(ctx context.Context, d DashboardScratch) error {
	if s.d.name != "postgres" {
		return errors.New("dashboard scratch data needs PostgreSQL")
	}
	if d.Schedules < 1 || d.Runs < 0 {
		return fmt.Errorf("dashboard scratch: %d schedules, %d runs: %w", d.Schedules, d.Runs, ErrInvalidInput)
	}
	now := s.ts(d.Now)
	if _, err := s.exec(ctx, s.db, `INSERT INTO job_schedules
		(user_id, name, job_type, target, task_params, cron, enabled, next_run_at, created_at, updated_at, last_error)
		SELECT 1 + g % 50, $1 || g, (ARRAY['report', 'alert', 'screener', 'script'])[1 + g % 4], 'bench', '{}',
			'*/5 * * * *', g % 10 <> 0, $2::timestamptz + (g % 1440) * interval '1 minute', $2, $2,
			CASE WHEN g % 500 = 0 THEN 'cron: bench schedule marked invalid' END
		FROM generate_series(0, $3 - 1) AS g`, d.Prefix, now, d.Schedules); err != nil {
		return fmt.Errorf("dashboard scratch schedules: %w", err)
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO job_schedule_runs
		(job_type, job_id, user_id, status, kind, scheduled_for, enqueued_at, started_at, finished_at, result, error,
		 attempt, max_attempts, exclusive)
		SELECT sc.job_type, `+s.jobIDOf("sc.id")+`, sc.user_id, CASE WHEN g % 20 = 0 THEN 'failed' ELSE 'completed' END, 'cron',
			t, t, t + interval '40 milliseconds', t + interval '900 milliseconds',
			CASE WHEN g % 20 = 0 THEN NULL ELSE '{"success": true, "stdout_preview": "done"}'::jsonb END,
			CASE WHEN g % 20 = 0 THEN 'bench failure' END, 1, 1, TRUE
		FROM generate_series(1, $3) AS g
		CROSS JOIN LATERAL (SELECT $2::timestamptz - g * interval '3 seconds' AS t) AS tt
		JOIN job_schedules sc ON sc.name = $1 || (g % $4)
		ORDER BY g`, d.Prefix, now, d.Runs, d.Schedules); err != nil {
		return fmt.Errorf("dashboard scratch runs: %w", err)
	}
	if _, err := s.exec(ctx, s.db, `INSERT INTO job_schedule_runs
		(job_type, job_id, user_id, status, kind, scheduled_for, enqueued_at, started_at, finished_at, result,
		 attempt, max_attempts, exclusive)
		SELECT sc.job_type, `+s.jobIDOf("sc.id")+`, sc.user_id, 'completed', 'cron', t, t, t, t, '{"success": true}'::jsonb, 1, 1, TRUE
		FROM generate_series(1, $3) AS g
		CROSS JOIN LATERAL (SELECT $2::timestamptz - g * interval '1 minute' - interval '500 milliseconds' AS t) AS tt
		JOIN job_schedules sc ON sc.name = $1 || '0'
		ORDER BY g`, d.Prefix, now, d.HeavyRuns); err != nil {
		return fmt.Errorf("dashboard scratch runs of one schedule: %w", err)
	}
	for _, t := range []string{"job_schedules", "job_schedule_runs"} {
		if _, err := s.exec(ctx, s.db, `ANALYZE `+t); err != nil {
			return fmt.Errorf("analyze %s: %w", t, err)
		}
	}
	return nil
}
