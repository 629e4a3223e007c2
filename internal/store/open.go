package store

import (
	"bufio"
	"context"
	"database/sql"
	"embed"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// sqliteTimeLayout is how timestamps are written to SQLite: fixed width, UTC,
// so that text comparison orders them correctly.
const sqliteTimeLayout = "2006-01-02 15:04:05.000000+00:00"

// Options configure Open.
type Options struct {
	// Driver is "postgres" or "sqlite"; DSN is a postgres URL or a file path.
	Driver, DSN string
	// MaxConns bounds the PostgreSQL pool (DB_POOL_SIZE + DB_MAX_OVERFLOW).
	MaxConns int
	// Echo logs every statement (SQL_ECHO).
	Echo bool
	// Logger receives echo and warnings; nil uses slog.Default().
	Logger *slog.Logger
}

// dialect holds what differs between the two databases.
type dialect struct {
	name string
	// lock is appended to claim SELECTs.
	lock string
	// scheduleID is job_schedule_runs.job_id as a schedule id (NULL when
	// it is not a number).
	scheduleID string
}

var (
	postgresDialect = dialect{name: "postgres", lock: " FOR UPDATE SKIP LOCKED",
		scheduleID: `CASE WHEN job_schedule_runs.job_id ~ '^[0-9]{1,18}$' THEN CAST(job_schedule_runs.job_id AS BIGINT) END`}
	sqliteDialect = dialect{name: "sqlite", lock: "", scheduleID: `CAST(job_schedule_runs.job_id AS INTEGER)`}
)

// DB is the SQL implementation of Store for both dialects.
type DB struct {
	db   *sql.DB
	pool *pgxpool.Pool // PostgreSQL only: LISTEN/NOTIFY
	d    dialect
	log  *slog.Logger
	echo bool
	path string // SQLite file
}

var _ Store = (*DB)(nil)

// Open connects to the database described by opts. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &DB{log: log, echo: opts.Echo}
	switch opts.Driver {
	case "postgres":
		cfg, err := pgxpool.ParseConfig(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("parse postgres url: %w", err)
		}
		if opts.MaxConns > 0 {
			cfg.MaxConns = int32(opts.MaxConns)
		}
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeCacheStatement
		pool, err := pgxpool.NewWithConfig(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		s.pool = pool
		s.db = stdlib.OpenDBFromPool(pool)
		s.d = postgresDialect
	case "sqlite":
		if dir := filepath.Dir(opts.DSN); dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return nil, fmt.Errorf("create database directory %s: %w", dir, err)
			}
		}
		dsn := "file:" + opts.DSN + "?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)" +
			"&_pragma=synchronous(NORMAL)&_txlock=immediate&_time_format=sqlite"
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			return nil, fmt.Errorf("open sqlite %s: %w", opts.DSN, err)
		}
		// One connection: SQLite has one writer; serialising in-process
		// avoids SQLITE_BUSY between our own goroutines.
		db.SetMaxOpenConns(1)
		db.SetConnMaxIdleTime(0)
		s.db, s.d, s.path = db, sqliteDialect, opts.DSN
	default:
		return nil, fmt.Errorf("unknown database driver %q", opts.Driver)
	}
	return s, nil
}

// Dialect implements Store.
func (s *DB) Dialect() string { return s.d.name }

// Path returns the SQLite file path ("" for PostgreSQL).
func (s *DB) Path() string { return s.path }

// SQL returns the underlying database handle (for maintenance jobs).
func (s *DB) SQL() *sql.DB { return s.db }

// Ping implements Store.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Close implements Store.
func (s *DB) Close() error {
	err := s.db.Close()
	if s.pool != nil {
		s.pool.Close()
	}
	return err
}

// ts converts a time to a query argument.
func (s *DB) ts(t time.Time) any {
	if s.d.name == "sqlite" {
		return t.UTC().Format(sqliteTimeLayout)
	}
	return t.UTC()
}

func (s *DB) tsp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return s.ts(*t)
}

type querier interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func (s *DB) logq(q string, args []any) {
	if s.echo {
		s.log.Info("sql", "stmt", strings.Join(strings.Fields(q), " "), "args", len(args))
	}
}

func (s *DB) exec(ctx context.Context, db querier, q string, args ...any) (sql.Result, error) {
	s.logq(q, args)
	return db.ExecContext(ctx, q, args...)
}

func (s *DB) query(ctx context.Context, db querier, q string, args ...any) (*sql.Rows, error) {
	s.logq(q, args)
	return db.QueryContext(ctx, q, args...)
}

func (s *DB) queryRow(ctx context.Context, db querier, q string, args ...any) *sql.Row {
	s.logq(q, args)
	return db.QueryRowContext(ctx, q, args...)
}

// inTx runs fn in a transaction, committing when it returns nil.
func (s *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// migration is one versioned, embedded schema step.
type migration struct {
	version int
	file    string
}

var migrations = []migration{{1, "001_core.sql"}, {2, "002_owned_pending.sql"}}

// Migrate implements Store. Each migration runs once, recorded in
// scheduler_migrations. Tables created by the original Python service are
// adopted: they are kept, missing columns and indexes are added, and runs it
// left pending or running long ago are marked cancelled.
func (s *DB) Migrate(ctx context.Context) error {
	// One transaction for everything: on PostgreSQL an advisory lock makes
	// instances that start together migrate one after the other; SQLite
	// transactions take the write lock at BEGIN.
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if s.d.name == "postgres" {
			if _, err := s.exec(ctx, tx, `SELECT pg_advisory_xact_lock(724101)`); err != nil {
				return fmt.Errorf("migration lock: %w", err)
			}
		}
		if _, err := s.exec(ctx, tx, `CREATE TABLE IF NOT EXISTS scheduler_migrations (
			version INTEGER PRIMARY KEY, applied_at TIMESTAMP NOT NULL)`); err != nil {
			return fmt.Errorf("create scheduler_migrations: %w", err)
		}
		for _, m := range migrations {
			if err := s.migrateOne(ctx, tx, m); err != nil {
				return fmt.Errorf("migrate to version %d: %w", m.version, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	return nil
}

func (s *DB) migrateOne(ctx context.Context, tx *sql.Tx, m migration) error {
	var n int
	if err := s.queryRow(ctx, tx, `SELECT COUNT(*) FROM scheduler_migrations WHERE version = $1`, m.version).Scan(&n); err != nil {
		return fmt.Errorf("read version: %w", err)
	}
	if n > 0 {
		return nil
	}
	// Adoption of the Python service's tables happens with the first
	// migration only.
	adopting := false
	if m.version == 1 {
		var err error
		if adopting, err = s.tableExists(ctx, tx, "job_schedule_runs"); err != nil {
			return err
		}
	}
	if adopting {
		if has, err := s.columnExistsTx(ctx, tx, "job_schedule_runs", "lease_owner"); err != nil {
			return err
		} else if has {
			adopting = false
		}
	}
	body, err := migrationFS.ReadFile("migrations/" + s.d.name + "_" + m.file)
	if err != nil {
		return err
	}
	if err := s.runScript(ctx, tx, string(body)); err != nil {
		return err
	}
	if adopting {
		res, err := s.exec(ctx, tx, `UPDATE job_schedule_runs SET status = 'cancelled',
			error = 'left pending or running by the previous scheduler; not run when this scheduler adopted the database'
			WHERE status IN ('pending', 'running') AND enqueued_at < $1`, s.ts(time.Now().Add(-10*time.Minute)))
		if err != nil {
			return fmt.Errorf("adopt old runs: %w", err)
		}
		n, _ := res.RowsAffected()
		s.log.Warn("adopted a database created by the previous scheduler", "stale_runs_cancelled", n)
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO scheduler_migrations (version, applied_at) VALUES ($1, $2)`, m.version, s.ts(time.Now())); err != nil {
		return err
	}
	s.log.Info("applied migration", "version", m.version, "dialect", s.d.name)
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

// TimeArg converts t into a query argument for this database (fixed-width
// UTC text on SQLite, timestamptz on PostgreSQL).
func (s *DB) TimeArg(t time.Time) any { return s.ts(t) }
