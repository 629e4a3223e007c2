package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// DefaultCleanupBatch is the number of rows one cleanup statement deletes
// when the caller does not say: small enough that the database is never
// locked for long (each batch is its own short transaction).
const DefaultCleanupBatch = 1000

// finishedStatuses are run statuses that cleanup may delete.
const finishedStatuses = `('completed', 'failed', 'cancelled', 'skipped', 'missed')`

// CleanupResult counts what a cleanup deleted.
type CleanupResult struct {
	// Runs is the number of job_schedule_runs rows deleted.
	Runs int64 `json:"runs"`
	// Attempts is the number of job_run_attempts rows of those runs deleted.
	Attempts int64 `json:"attempts"`
	// Notifications is the number of sent or suppressed outbox rows deleted.
	Notifications int64 `json:"notifications"`
	// Batches is the number of delete transactions used.
	Batches int `json:"batches"`
}

// DeleteRunsBefore deletes finished runs (completed, failed, cancelled,
// skipped, missed) whose finished_at is before the given instant, together
// with their job_run_attempts rows. It works in transactions of at most
// batch runs (DefaultCleanupBatch when batch <= 0) so that no statement holds
// the database for long; pending and running runs are never touched. A
// cancelled ctx stops between batches and returns what was deleted so far.
func (s *DB) DeleteRunsBefore(ctx context.Context, before time.Time, batch int) (CleanupResult, error) {
	if batch <= 0 {
		batch = DefaultCleanupBatch
	}
	var out CleanupResult
	for {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("delete runs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		var n int
		err := s.inTx(ctx, func(tx *sql.Tx) error {
			ids, err := collectIDs(s.query(ctx, tx, `SELECT id FROM job_schedule_runs
				WHERE status IN `+finishedStatuses+` AND finished_at IS NOT NULL AND finished_at < $1
				ORDER BY id LIMIT $2`, s.ts(before), batch))
			if err != nil {
				return fmt.Errorf("select old runs: %w", err)
			}
			n = len(ids)
			if n == 0 {
				return nil
			}
			in, args := idList(ids)
			res, err := s.exec(ctx, tx, `DELETE FROM job_run_attempts WHERE run_id IN (`+in+`)`, args...)
			if err != nil {
				return fmt.Errorf("delete attempts of %d runs: %w", n, err)
			}
			a, _ := res.RowsAffected()
			res, err = s.exec(ctx, tx, `DELETE FROM job_schedule_runs WHERE id IN (`+in+`)`, args...)
			if err != nil {
				return fmt.Errorf("delete %d runs: %w", n, err)
			}
			r, _ := res.RowsAffected()
			out.Attempts += a
			out.Runs += r
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("delete runs finished before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		if n == 0 {
			return out, nil
		}
		out.Batches++
		if n < batch {
			return out, nil
		}
	}
}

// DeleteNotificationsBefore deletes outbox rows in status sent or suppressed
// whose updated_at is before the given instant, at most batch rows
// (DefaultCleanupBatch when batch <= 0) per statement. Pending, failed,
// sending and dead rows are kept (dead rows are kept for inspection). It
// returns the number of rows deleted and of statements used.
func (s *DB) DeleteNotificationsBefore(ctx context.Context, before time.Time, batch int) (deleted int64, batches int, err error) {
	if batch <= 0 {
		batch = DefaultCleanupBatch
	}
	for {
		if err := ctx.Err(); err != nil {
			return deleted, batches, fmt.Errorf("delete notifications before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		res, err := s.exec(ctx, s.db, `DELETE FROM notifications WHERE id IN (SELECT id FROM notifications
			WHERE status IN ('sent', 'suppressed') AND updated_at < $1 ORDER BY id LIMIT $2)`, s.ts(before), batch)
		if err != nil {
			return deleted, batches, fmt.Errorf("delete notifications before %s: %w", before.UTC().Format(time.RFC3339), err)
		}
		n, _ := res.RowsAffected()
		if n == 0 {
			return deleted, batches, nil
		}
		deleted += n
		batches++
		if n < int64(batch) {
			return deleted, batches, nil
		}
	}
}

// idList returns "$1,$2,..." and the ids as arguments.
func idList(ids []int64) (string, []any) {
	var b strings.Builder
	args := make([]any, len(ids))
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("$" + strconv.Itoa(i+1))
		args[i] = id
	}
	return b.String(), args
}

// ErrBackupUnsupported is returned by BackupSQLite on a PostgreSQL store;
// PostgreSQL is backed up with pg_dump.
var ErrBackupUnsupported = errors.New("online backup with VACUUM INTO needs SQLite; back up PostgreSQL with pg_dump")

// BackupSQLite writes a consistent copy of the SQLite database to path with
// VACUUM INTO, while the service keeps running. path must not exist and its
// directory must exist; the copy is a complete, compacted SQLite file.
func (s *DB) BackupSQLite(ctx context.Context, path string) error {
	if s.d.name != "sqlite" {
		return ErrBackupUnsupported
	}
	if path == "" {
		return errors.New("backup path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("backup path %q: %w", path, err)
	}
	if _, err := os.Stat(abs); err == nil {
		return fmt.Errorf("backup path %q already exists; choose a new name (a backup never overwrites)", path)
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("backup path %q: %w", path, err)
	}
	dir := filepath.Dir(abs)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("backup directory %q does not exist", dir)
	}
	if _, err := s.exec(ctx, s.db, `VACUUM INTO $1`, abs); err != nil {
		return fmt.Errorf("backup to %q: %w", path, err)
	}
	return nil
}

// Maintain runs the database's housekeeping and returns the statements
// run: on SQLite VACUUM (rebuilds the file, returning free pages), ANALYZE
// and a WAL checkpoint; on PostgreSQL ANALYZE (autovacuum does the rest).
func (s *DB) Maintain(ctx context.Context) ([]string, error) {
	stmts := []string{"ANALYZE"}
	if s.d.name == "sqlite" {
		stmts = []string{"VACUUM", "ANALYZE", "PRAGMA wal_checkpoint(TRUNCATE)"}
	}
	var done []string
	for _, st := range stmts {
		if _, err := s.exec(ctx, s.db, st); err != nil {
			return done, fmt.Errorf("maintenance %s: %w", st, err)
		}
		done = append(done, st)
	}
	return done, nil
}

// RunReport summarises the runs, failures, alert triggers and
// notifications of a period [From, To).
type RunReport struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Runs counts runs finished in the period by status.
	Runs map[string]int `json:"runs"`
	// ByJobType counts runs finished in the period by job type, then status.
	ByJobType map[string]map[string]int `json:"by_job_type"`
	// Failures are the latest failed runs of the period (at most 10).
	Failures []ReportFailure `json:"failures,omitempty"`
	// AlertRuns is the number of alert runs that created an alert
	// notification in the period (a trigger or a pause).
	AlertRuns int `json:"alert_runs_notified"`
	// TopAlerts are the schedules with the most such runs (at most 10).
	TopAlerts []ReportCount `json:"top_alerts,omitempty"`
	// Notifications counts outbox rows created in the period by status.
	Notifications map[string]int `json:"notifications"`
	// Durations holds run-time statistics per job type (seconds).
	Durations map[string]DurationStats `json:"durations,omitempty"`
}

// ReportFailure is one failed run in a RunReport.
type ReportFailure struct {
	RunID      int64     `json:"run_id"`
	ScheduleID string    `json:"schedule_id"`
	Name       string    `json:"name"`
	JobType    string    `json:"job_type"`
	FinishedAt time.Time `json:"finished_at"`
	Error      string    `json:"error"`
}

// ReportCount is a schedule and a count.
type ReportCount struct {
	ScheduleID int64  `json:"schedule_id"`
	Name       string `json:"name"`
	Count      int    `json:"count"`
}

// DurationStats are run durations of one job type.
type DurationStats struct {
	Count int     `json:"count"`
	Avg   float64 `json:"avg_seconds"`
	Max   float64 `json:"max_seconds"`
}

// Total returns the number of runs finished in the period.
func (r *RunReport) Total() int {
	n := 0
	for _, v := range r.Runs {
		n += v
	}
	return n
}

// RunReport computes the report of runs finished in [from, to).
func (s *DB) RunReport(ctx context.Context, from, to time.Time) (*RunReport, error) {
	r := &RunReport{From: from.UTC(), To: to.UTC(), Runs: map[string]int{}, ByJobType: map[string]map[string]int{},
		Notifications: map[string]int{}, Durations: map[string]DurationStats{}}
	wrap := func(what string, err error) error { return fmt.Errorf("run report %s: %w", what, err) }
	rows, err := s.query(ctx, s.db, `SELECT job_type, `+shownStatus+`, COUNT(*) FROM job_schedule_runs
		WHERE finished_at >= $1 AND finished_at < $2 GROUP BY 1, 2`, s.ts(from), s.ts(to))
	if err != nil {
		return nil, wrap("runs", err)
	}
	for rows.Next() {
		var jt, st string
		var n int
		if err := rows.Scan(&jt, &st, &n); err != nil {
			rows.Close()
			return nil, wrap("runs", err)
		}
		r.Runs[st] += n
		if r.ByJobType[jt] == nil {
			r.ByJobType[jt] = map[string]int{}
		}
		r.ByJobType[jt][st] += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("runs", err)
	}

	rows, err = s.query(ctx, s.db, `SELECT r.id, COALESCE(CAST(r.job_id AS TEXT), ''), COALESCE(s.name, ''), r.job_type, r.finished_at, COALESCE(r.error, '')
		FROM job_schedule_runs r LEFT JOIN job_schedules s ON `+s.jobIDOf("s.id")+` = r.job_id
		WHERE r.status = 'failed' AND r.finished_at >= $1 AND r.finished_at < $2
		ORDER BY r.finished_at DESC, r.id DESC LIMIT 10`, s.ts(from), s.ts(to))
	if err != nil {
		return nil, wrap("failures", err)
	}
	for rows.Next() {
		var f ReportFailure
		var fin NullTime
		if err := rows.Scan(&f.RunID, &f.ScheduleID, &f.Name, &f.JobType, &fin, &f.Error); err != nil {
			rows.Close()
			return nil, wrap("failures", err)
		}
		f.FinishedAt = fin.T
		r.Failures = append(r.Failures, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("failures", err)
	}

	if err := s.queryRow(ctx, s.db, `SELECT COUNT(DISTINCT run_id) FROM notifications
		WHERE notification_type = 'ALERT' AND created_at >= $1 AND created_at < $2`, s.ts(from), s.ts(to)).Scan(&r.AlertRuns); err != nil {
		return nil, wrap("alert triggers", err)
	}
	rows, err = s.query(ctx, s.db, `SELECT n.schedule_id, COALESCE(MAX(s.name), ''), COUNT(DISTINCT n.run_id) AS c
		FROM notifications n LEFT JOIN job_schedules s ON s.id = n.schedule_id
		WHERE n.notification_type = 'ALERT' AND n.created_at >= $1 AND n.created_at < $2 AND n.schedule_id IS NOT NULL
		GROUP BY n.schedule_id ORDER BY c DESC, n.schedule_id LIMIT 10`, s.ts(from), s.ts(to))
	if err != nil {
		return nil, wrap("top alerts", err)
	}
	for rows.Next() {
		var c ReportCount
		if err := rows.Scan(&c.ScheduleID, &c.Name, &c.Count); err != nil {
			rows.Close()
			return nil, wrap("top alerts", err)
		}
		r.TopAlerts = append(r.TopAlerts, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("top alerts", err)
	}

	rows, err = s.query(ctx, s.db, `SELECT status, COUNT(*) FROM notifications
		WHERE created_at >= $1 AND created_at < $2 GROUP BY status`, s.ts(from), s.ts(to))
	if err != nil {
		return nil, wrap("notifications", err)
	}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			rows.Close()
			return nil, wrap("notifications", err)
		}
		r.Notifications[st] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("notifications", err)
	}

	dur := `EXTRACT(EPOCH FROM (finished_at - started_at))::float8`
	if s.d.name == "sqlite" {
		dur = `((julianday(finished_at) - julianday(started_at)) * 86400.0)`
	}
	rows, err = s.query(ctx, s.db, `SELECT job_type, COUNT(*), COALESCE(AVG(`+dur+`), 0), COALESCE(MAX(`+dur+`), 0)
		FROM job_schedule_runs WHERE finished_at >= $1 AND finished_at < $2 AND started_at IS NOT NULL
		AND status IN ('completed', 'failed') GROUP BY job_type`, s.ts(from), s.ts(to))
	if err != nil {
		return nil, wrap("durations", err)
	}
	for rows.Next() {
		var jt string
		var d DurationStats
		if err := rows.Scan(&jt, &d.Count, &d.Avg, &d.Max); err != nil {
			rows.Close()
			return nil, wrap("durations", err)
		}
		r.Durations[jt] = d
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, wrap("durations", err)
	}
	return r, nil
}
