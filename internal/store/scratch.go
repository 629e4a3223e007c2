package store

// Scratch schedules for capacity measurements (scheduler bench).

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Scratch describes the schedules a capacity measurement loads: N schedules
// named Prefix0, Prefix1, … of JobType, the i-th with Crons[i%len] and its
// first fire Firsts[i%len] as next_run_at.
type Scratch struct {
	Prefix, JobType string
	N               int
	Crons           []string
	Firsts          []time.Time
}

// CountOtherSchedules returns the number of schedules whose name does not
// start with prefix (a database holding any is not a scratch database).
func (s *DB) CountOtherSchedules(ctx context.Context, prefix string) (int, error) {
	var n int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM job_schedules WHERE name NOT LIKE $1 ESCAPE '\'`, likePrefix(prefix)).Scan(&n); err != nil {
		return 0, fmt.Errorf("count schedules: %w", err)
	}
	return n, nil
}

// LoadScratch replaces the scratch schedules of sc (and every run of its
// job type) with sc.N new ones, inserted in batches of 1,000, then updates
// the planner statistics as a table that existed before would have them.
func (s *DB) LoadScratch(ctx context.Context, sc Scratch) error {
	if len(sc.Crons) == 0 || len(sc.Crons) != len(sc.Firsts) {
		return fmt.Errorf("load scratch schedules: %d crons for %d first fires", len(sc.Crons), len(sc.Firsts))
	}
	if _, err := s.exec(ctx, s.db, `DELETE FROM job_schedule_runs WHERE job_type = $1`, sc.JobType); err != nil {
		return fmt.Errorf("clear old scratch runs: %w", err)
	}
	if _, err := s.exec(ctx, s.db, `DELETE FROM job_schedules WHERE name LIKE $1 ESCAPE '\'`, likePrefix(sc.Prefix)); err != nil {
		return fmt.Errorf("clear old scratch schedules: %w", err)
	}
	// Arguments: the prefix, the job type, then each cron and its first fire.
	args := []any{sc.Prefix, sc.JobType}
	for i := range sc.Crons {
		args = append(args, sc.Crons[i], s.ts(sc.Firsts[i]))
	}
	const batch = 1000
	for start := 0; start < sc.N; start += batch {
		var b strings.Builder
		b.WriteString(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled, next_run_at) VALUES `)
		for i := start; i < min(start+batch, sc.N); i++ {
			if i > start {
				b.WriteByte(',')
			}
			k := i % len(sc.Crons)
			fmt.Fprintf(&b, "(1, $1 || '%d', $2, 'bench', '{}', $%d, TRUE, $%d)", i, 2*k+3, 2*k+4)
		}
		if _, err := s.exec(ctx, s.db, b.String(), args...); err != nil {
			return fmt.Errorf("insert scratch schedules: %w", err)
		}
	}
	if _, err := s.exec(ctx, s.db, `ANALYZE job_schedules`); err != nil {
		return fmt.Errorf("analyze scratch schedules: %w", err)
	}
	return nil
}

// likePrefix is a LIKE pattern matching names that start with prefix.
func likePrefix(prefix string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(prefix) + "%"
}
