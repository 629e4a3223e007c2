package store

import (
	"bufio"
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migration is one versioned, embedded schema step.
type migration struct {
	version int
	file    string
}

var migrations = []migration{{1, "001_core.sql"}, {2, "002_owned_pending.sql"}, {3, "003_reader_contract.sql"}, {4, "004_nodes.sql"}, {5, "005_bars.sql"},
	{6, "006_dashboard.sql"}, {7, "007_failure_streaks.sql"}, {8, "008_waiting_runs.sql"}}

// StaleRunAge is how old a pending or running run left by the previous
// scheduler must be for adoption to retire it (mark it cancelled).
const StaleRunAge = 10 * time.Minute

// ReasonRetired is the result reason of runs that the previous scheduler
// left pending or running and that adoption cancelled.
const ReasonRetired = "retired"

// ErrRunsInFlight is returned by Migrate when the previous scheduler still
// seems to run: one schedule has several runs marked running, younger than
// StaleRunAge, which the one-running-run index cannot hold. The database is
// left unchanged.
var ErrRunsInFlight = errors.New("runs of the previous scheduler are in flight")

// MigrationReport says what Migrate did or, on a dry run, would do.
type MigrationReport struct {
	// DryRun is set when nothing was changed.
	DryRun bool `json:"dry_run"`
	// Dialect is "postgres" or "sqlite".
	Dialect string `json:"dialect"`
	// Adopted is set when tables of the previous (Python) scheduler were
	// found and adopted by this migration.
	Adopted bool `json:"adopted"`
	// Versions are the migration versions applied.
	Versions []int `json:"versions"`
	// TablesAdded, ColumnsAdded ("table.column type"), IndexesAdded and
	// IndexesDropped describe the schema change.
	TablesAdded    []string `json:"tables_added"`
	ColumnsAdded   []string `json:"columns_added"`
	IndexesAdded   []string `json:"indexes_added"`
	IndexesDropped []string `json:"indexes_dropped"`
	// RunsRetired counts runs left pending or running by the previous
	// scheduler for longer than StaleRunAge, now cancelled.
	RunsRetired int64 `json:"runs_retired"`
	// Warnings are conditions left as they are (for example duplicate
	// schedule names, which keep the unique name index from being added).
	Warnings []string `json:"warnings"`
	// JobIDType is the SQL type of job_schedule_runs.job_id after migration.
	JobIDType string `json:"job_id_type"`
}

// Changed reports whether the migration changes anything.
func (r *MigrationReport) Changed() bool {
	return len(r.Versions)+len(r.TablesAdded)+len(r.ColumnsAdded)+len(r.IndexesAdded)+len(r.IndexesDropped) > 0 ||
		r.RunsRetired > 0
}

// errDryRun rolls back a dry run's transaction.
var errDryRun = errors.New("dry run")

// Migrate implements Store.
func (s *DB) Migrate(ctx context.Context) error {
	_, err := s.MigrateReport(ctx, false)
	return err
}

// MigrateReport applies the embedded migrations and reports what changed;
// with dryRun it does the same work in a transaction that it rolls back, so
// the report is exact and nothing changes. Each migration runs once,
// recorded in scheduler_migrations. Tables of the previous (Python)
// scheduler are adopted as they are: no existing column changes type;
// columns, indexes and tables of this service are added; runs left pending
// or running for longer than StaleRunAge are cancelled first, before any
// index they would violate. Everything happens in one transaction under an
// advisory lock (PostgreSQL), so instances starting together migrate one
// after the other and a failure leaves the database exactly as it was.
func (s *DB) MigrateReport(ctx context.Context, dryRun bool) (*MigrationReport, error) {
	rep := &MigrationReport{DryRun: dryRun, Dialect: s.d.name, Versions: []int{}, TablesAdded: []string{},
		ColumnsAdded: []string{}, IndexesAdded: []string{}, IndexesDropped: []string{}, Warnings: []string{}}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.name == "postgres" {
			if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock(724101)`); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		before, err := s.shape(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := s.exec(ctx, tx, `CREATE TABLE IF NOT EXISTS scheduler_migrations (
			version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
			return fmt.Errorf("create scheduler_migrations: %w", err)
		}
		for _, m := range migrations {
			if err := s.migrateOne(ctx, tx, m, rep); err != nil {
				return fmt.Errorf("migrate to version %d: %w", m.version, err)
			}
		}
		if err := s.ensureUniqueNames(ctx, tx, rep); err != nil {
			return err
		}
		after, err := s.shape(ctx, tx)
		if err != nil {
			return err
		}
		before.diff(after, rep)
		if err := s.detectColumns(ctx, tx); err != nil {
			return err
		}
		rep.JobIDType = s.jobIDType
		if dryRun {
			return errDryRun
		}
		return nil
	})
	if dryRun && errors.Is(err, errDryRun) {
		// The rolled-back schema is the one in place: detect it again.
		if derr := s.detectColumns(ctx, s.db); derr != nil {
			return nil, fmt.Errorf("migrate: %w", derr)
		}
		return rep, nil
	}
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	for _, w := range rep.Warnings {
		s.log.Warn("migration: " + w)
	}
	return rep, nil
}

func (s *DB) migrateOne(ctx context.Context, tx *sql.Tx, m migration, rep *MigrationReport) error {
	var n int
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM scheduler_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if n > 0 {
		return nil
	}
	// Adoption of the Python service's tables happens with the first
	// migration only, and before it: its indexes must find no stale run.
	if m.version == 1 {
		adopting, err := s.tableExists(ctx, tx, "job_schedule_runs")
		if err != nil {
			return err
		}
		if adopting {
			if has, err := s.columnExistsTx(ctx, tx, "job_schedule_runs", "lease_owner"); err != nil {
				return err
			} else if has {
				adopting = false
			}
		}
		if adopting {
			rep.Adopted = true
			if err := s.retireStaleRuns(ctx, tx, rep); err != nil {
				return err
			}
		}
	}
	body, err := migrationFS.ReadFile("migrations/" + s.d.name + "_" + m.file)
	if err != nil {
		return err
	}
	if err := s.runScript(ctx, tx, string(body)); err != nil {
		return err
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO scheduler_migrations (version, applied_at) VALUES ($1, $2)`, m.version, s.ts(time.Now())); err != nil {
		return err
	}
	rep.Versions = append(rep.Versions, m.version)
	s.log.Info("applied migration", "version", m.version, "dialect", s.d.name)
	return nil
}

// retireStaleRuns cancels the runs the previous scheduler left pending or
// running for longer than StaleRunAge (it left them behind on every crash),
// and fails with ErrRunsInFlight when younger running runs would still
// break the one-running-run index.
func (s *DB) retireStaleRuns(ctx context.Context, tx *sql.Tx, rep *MigrationReport) error {
	now := time.Now()
	res, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'cancelled', finished_at = $2,
		error = 'left pending or running by the previous scheduler; not run when this scheduler adopted the database',
		result = $3
		WHERE status IN ('pending', 'running')
		AND (COALESCE(started_at, enqueued_at, scheduled_for) IS NULL OR COALESCE(started_at, enqueued_at, scheduled_for) < $1)`,
		s.ts(now.Add(-StaleRunAge)), s.ts(now), `{"reason": "`+ReasonRetired+`", "detail": "left pending or running by the previous scheduler"}`)
	if err != nil {
		return fmt.Errorf("retire stale runs: %w", err)
	}
	rep.RunsRetired, _ = res.RowsAffected()
	rows, err := s.query(ctx, tx, `SELECT job_type, CAST(job_id AS TEXT), COUNT(*) FROM job_schedule_runs
		WHERE status = 'running' GROUP BY job_type, job_id HAVING COUNT(*) > 1 ORDER BY 3 DESC LIMIT 5`)
	if err != nil {
		return fmt.Errorf("check running runs: %w", err)
	}
	defer rows.Close()
	var busy []string
	for rows.Next() {
		var jt string
		var id sql.NullString
		var n int
		if err := rows.Scan(&jt, &id, &n); err != nil {
			return fmt.Errorf("check running runs: %w", err)
		}
		busy = append(busy, fmt.Sprintf("%s job %s has %d", jt, id.String, n))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check running runs: %w", err)
	}
	if len(busy) > 0 {
		return fmt.Errorf("%w: %s runs marked running within the last %s; stop the previous scheduler, "+
			"then migrate again (runs older than that are retired)", ErrRunsInFlight, strings.Join(busy, ", "), StaleRunAge)
	}
	return nil
}

// ensureUniqueNames adds the unique (user_id, name) index that the
// framework's live job_schedules lacks (its SQL scripts rely on ON CONFLICT
// (user_id, name)), unless one exists or names are already duplicated.
func (s *DB) ensureUniqueNames(ctx context.Context, tx *sql.Tx, rep *MigrationReport) error {
	if s.d.name != "postgres" {
		return nil // SQLite tables are always ours, with the constraint
	}
	var n int
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM pg_index i
		JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace ns ON ns.oid = c.relnamespace
		WHERE ns.nspname = current_schema() AND c.relname = 'job_schedules' AND i.indisunique AND i.indnatts = 2
		AND (SELECT array_agg(a.attname::text ORDER BY a.attname::text) FROM pg_attribute a
			WHERE a.attrelid = c.oid AND a.attnum = ANY(i.indkey)) = ARRAY['name', 'user_id']`).Scan(&n); err != nil {
		return fmt.Errorf("check unique schedule names: %w", err)
	}
	if n > 0 {
		return nil
	}
	rows, err := s.query(ctx, tx, `SELECT user_id, name, COUNT(*) FROM job_schedules GROUP BY user_id, name
		HAVING COUNT(*) > 1 ORDER BY user_id, name LIMIT 5`)
	if err != nil {
		return fmt.Errorf("check duplicate schedule names: %w", err)
	}
	defer rows.Close()
	var dups []string
	for rows.Next() {
		var uid int64
		var name string
		var c int
		if err := rows.Scan(&uid, &name, &c); err != nil {
			return fmt.Errorf("check duplicate schedule names: %w", err)
		}
		dups = append(dups, fmt.Sprintf("user %d has %d schedules named %q", uid, c, name))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check duplicate schedule names: %w", err)
	}
	if len(dups) > 0 {
		rep.Warnings = append(rep.Warnings, "unique index on job_schedules (user_id, name) not added: "+strings.Join(dups, "; ")+
			"; rename or delete the duplicates and migrate again")
		return nil
	}
	if _, err := s.exec(ctx, tx, `CREATE UNIQUE INDEX ux_job_schedules_user_name ON job_schedules (user_id, name)`); err != nil {
		return fmt.Errorf("add unique index on schedule names: %w", err)
	}
	return nil
}

// schemaShape is what a migration can change: tables, columns and indexes.
type schemaShape struct {
	tables  map[string]bool
	columns map[string]string // "table.column" → type
	indexes map[string]bool
}

func (s *DB) shape(ctx context.Context, q querier) (*schemaShape, error) {
	sh := &schemaShape{tables: map[string]bool{}, columns: map[string]string{}, indexes: map[string]bool{}}
	collect := func(query string, fn func(a, b, c string)) error {
		rows, err := s.query(ctx, q, query)
		if err != nil {
			return fmt.Errorf("read schema: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var a, b, c string
			if err := rows.Scan(&a, &b, &c); err != nil {
				return fmt.Errorf("read schema: %w", err)
			}
			fn(a, b, c)
		}
		return rows.Err()
	}
	var tq, cq, iq string
	if s.d.name == "postgres" {
		tq = `SELECT table_name, '', '' FROM information_schema.tables WHERE table_schema = current_schema()`
		cq = `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()`
		iq = `SELECT indexname, '', '' FROM pg_indexes WHERE schemaname = current_schema()`
	} else {
		tq = `SELECT name, '', '' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
		cq = `SELECT m.name, p.name, p.type FROM sqlite_master m JOIN pragma_table_info(m.name) p
			WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`
		iq = `SELECT name, '', '' FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex%'`
	}
	if err := collect(tq, func(t, _, _ string) { sh.tables[t] = true }); err != nil {
		return nil, err
	}
	if err := collect(cq, func(t, c, typ string) { sh.columns[t+"."+c] = typ }); err != nil {
		return nil, err
	}
	if err := collect(iq, func(i, _, _ string) { sh.indexes[i] = true }); err != nil {
		return nil, err
	}
	return sh, nil
}

// diff records in rep what after has that sh has not (and dropped indexes).
func (sh *schemaShape) diff(after *schemaShape, rep *MigrationReport) {
	for t := range after.tables {
		if !sh.tables[t] {
			rep.TablesAdded = append(rep.TablesAdded, t)
		}
	}
	for c, typ := range after.columns {
		table, _, _ := strings.Cut(c, ".")
		if _, ok := sh.columns[c]; !ok && sh.tables[table] {
			rep.ColumnsAdded = append(rep.ColumnsAdded, c+" "+typ)
		}
	}
	for i := range after.indexes {
		if !sh.indexes[i] {
			rep.IndexesAdded = append(rep.IndexesAdded, i)
		}
	}
	for i := range sh.indexes {
		if !after.indexes[i] {
			rep.IndexesDropped = append(rep.IndexesDropped, i)
		}
	}
	for _, l := range [][]string{rep.TablesAdded, rep.ColumnsAdded, rep.IndexesAdded, rep.IndexesDropped} {
		slices.Sort(l)
	}
}

// detectColumns reads the type of job_schedule_runs.job_id, which adopted
// databases have as int4, bigint or varchar; the statements adapt to it.
// It also looks for the framework's notification queue tables.
func (s *DB) detectColumns(ctx context.Context, q querier) error {
	if s.d.name != "postgres" {
		s.jobIDType, s.jobIDNumeric = "text", false
		return s.detectFrameworkQueue(ctx, q)
	}
	var typ string
	err := s.queryRow(ctx, q, `SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()
		AND table_name = 'job_schedule_runs' AND column_name = 'job_id'`).Scan(&typ)
	if errors.Is(err, sql.ErrNoRows) {
		s.jobIDType, s.jobIDNumeric = "", false // not created yet
		return s.detectFrameworkQueue(ctx, q)
	}
	if err != nil {
		return fmt.Errorf("read type of job_schedule_runs.job_id: %w", err)
	}
	s.jobIDType = typ
	s.jobIDNumeric = typ == "integer" || typ == "bigint" || typ == "smallint"
	if err := s.detectLimits(ctx, q); err != nil {
		return err
	}
	return s.detectFrameworkQueue(ctx, q)
}

// detectLimits reads the types of the id columns (PostgreSQL): ids beyond
// them are refused before a query with an *InputError.
func (s *DB) detectLimits(ctx context.Context, q querier) error {
	rows, err := s.query(ctx, q, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND (table_name, column_name) IN
		(('job_schedules', 'id'), ('job_schedules', 'user_id'), ('job_schedule_runs', 'id'), ('job_schedule_runs', 'job_id'))`)
	if err != nil {
		return fmt.Errorf("read types of the id columns: %w", err)
	}
	defer rows.Close()
	l := defaultLimits
	for rows.Next() {
		var table, col, typ string
		if err := rows.Scan(&table, &col, &typ); err != nil {
			return fmt.Errorf("read types of the id columns: %w", err)
		}
		switch table + "." + col {
		case "job_schedules.id":
			l.scheduleID = limitOf(typ, maxInt4)
		case "job_schedules.user_id":
			l.userID = limitOf(typ, maxInt4)
		case "job_schedule_runs.id":
			l.runID = limitOf(typ, maxInt8)
		case "job_schedule_runs.job_id":
			l.jobID = limitOf(typ, maxInt8)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read types of the id columns: %w", err)
	}
	s.limits = l
	return nil
}

// runScript executes a migration file. Lines "-- +columns TABLE COLUMN DEF"
// add a column when it is missing (SQLite has no ADD COLUMN IF NOT EXISTS).
func (s *DB) runScript(ctx context.Context, tx *sql.Tx, body string) error {
	var buf strings.Builder
	flush := func() error {
		stmts := strings.Split(buf.String(), ";\n")
		buf.Reset()
		for _, st := range stmts {
			if strings.TrimSpace(stripComments(st)) == "" {
				continue
			}
			if _, err := s.exec(ctx, tx, st); err != nil {
				return fmt.Errorf("%s: %w", firstLine(st), err)
			}
		}
		return nil
	}
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "-- +columns "); ok {
			if err := flush(); err != nil {
				return err
			}
			f := strings.Fields(rest)
			if len(f) < 3 {
				return fmt.Errorf("bad +columns line %q", line)
			}
			has, err := s.columnExistsTx(ctx, tx, f[0], f[1])
			if err != nil {
				return err
			}
			if !has {
				if _, err := s.exec(ctx, tx, fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s", f[0], strings.Join(f[1:], " "))); err != nil {
					return fmt.Errorf("add column %s.%s: %w", f[0], f[1], err)
				}
			}
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
	}
	return flush()
}

func stripComments(st string) string {
	var b strings.Builder
	for _, l := range strings.Split(st, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			b.WriteString(l)
		}
	}
	return b.String()
}

func firstLine(st string) string {
	for _, l := range strings.Split(strings.TrimSpace(stripComments(st)), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return ""
}

func (s *DB) tableExists(ctx context.Context, q querier, table string) (bool, error) {
	var n int
	var err error
	if s.d.name == "sqlite" {
		err = s.queryRow(ctx, q, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = $1`, table).Scan(&n)
	} else {
		err = s.queryRow(ctx, q, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = $1`, table).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("check table %s: %w", table, err)
	}
	return n > 0, nil
}

func (s *DB) columnExistsTx(ctx context.Context, q querier, table, col string) (bool, error) {
	var n int
	var err error
	if s.d.name == "sqlite" {
		err = s.queryRow(ctx, q, `SELECT COUNT(*) FROM pragma_table_info($1) WHERE name = $2`, table, col).Scan(&n)
	} else {
		err = s.queryRow(ctx, q, `SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2`, table, col).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("check column %s.%s: %w", table, col, err)
	}
	return n > 0, nil
}
