package store

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

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
}

var (
	postgresDialect = dialect{name: "postgres", lock: " FOR UPDATE SKIP LOCKED"}
	sqliteDialect   = dialect{name: "sqlite", lock: ""}
)

// DB is the SQL implementation of Store for both dialects.
type DB struct {
	db   *sql.DB
	pool *pgxpool.Pool // PostgreSQL only: LISTEN/NOTIFY
	// ping is a one-connection pool of its own (PostgreSQL): readiness
	// answers within seconds of the database's return even when every
	// connection of the main pool is busy with claims and completions.
	ping *pgxpool.Pool
	d    dialect
	log  *slog.Logger
	echo bool
	path string // SQLite file
	// jobIDType is the SQL type of job_schedule_runs.job_id, which differs
	// between databases adopted from the framework (int4 live, bigint after
	// its alembic head, varchar in its ORM) and ours (varchar; text on
	// SQLite); jobIDNumeric is set for the integer types. Detected at Open
	// and by Migrate.
	jobIDType    string
	jobIDNumeric bool
	// limits are the largest values of the id columns, read with jobIDType
	// (defaultLimits until then and on SQLite).
	limits limits
	// fq is the framework's notification queue (framework_queue.go).
	fq frameworkQueue
}

var _ Store = (*DB)(nil)

// Open connects to the database described by opts. It does not migrate.
func Open(ctx context.Context, opts Options) (*DB, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	s := &DB{log: log, echo: opts.Echo, limits: defaultLimits}
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
		pcfg := cfg.Copy()
		pcfg.MaxConns, pcfg.MinConns = 1, 0
		if s.ping, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
			pool.Close()
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		s.d = postgresDialect
		// Best effort: the server may be down now; Migrate detects again.
		if err := s.detectColumns(ctx, s.db); err != nil {
			log.Debug("job_id type not detected at open", "err", err)
		}
	case "sqlite":
		// The database holds schedules' parameters and scripts' output:
		// only this user may read it (the folder when we create it, the
		// file, and SQLite's -wal and -shm files, which take the file's
		// mode).
		if dir := filepath.Dir(opts.DSN); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("create database directory %s: %w", dir, err)
			}
		}
		if opts.DSN != ":memory:" {
			f, err := os.OpenFile(opts.DSN, os.O_RDWR|os.O_CREATE, 0o600)
			if err != nil {
				return nil, fmt.Errorf("open sqlite %s: %w", opts.DSN, err)
			}
			f.Close()
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
func (s *DB) Ping(ctx context.Context) error {
	if s.ping != nil {
		return s.ping.Ping(ctx)
	}
	return s.db.PingContext(ctx)
}

// Close implements Store.
func (s *DB) Close() error {
	err := s.db.Close()
	if s.ping != nil {
		s.ping.Close()
	}
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

// jobIDArg is a schedule id as a query argument compared with or stored in
// job_schedule_runs.job_id.
func (s *DB) jobIDArg(id int64) any {
	if s.jobIDNumeric {
		return id
	}
	return strconv.FormatInt(id, 10)
}

// jobIDOf is the SQL expression of a schedule id expression as a
// job_schedule_runs.job_id value.
func (s *DB) jobIDOf(expr string) string {
	if s.jobIDNumeric {
		return expr
	}
	return "CAST(" + expr + " AS TEXT)"
}

// scheduleIDOf is the SQL expression of a job_schedule_runs.job_id column
// as a schedule id: NULL when a text job_id is not a number.
func (s *DB) scheduleIDOf(col string) string {
	switch {
	case s.jobIDNumeric:
		return col
	case s.d.name == "postgres":
		return "CASE WHEN " + col + " ~ '^[0-9]{1,18}$' THEN CAST(" + col + " AS BIGINT) END"
	default:
		return "CAST(" + col + " AS INTEGER)"
	}
}

// TimeArg converts t into a query argument for this database (fixed-width
// UTC text on SQLite, timestamptz on PostgreSQL).
func (s *DB) TimeArg(t time.Time) any { return s.ts(t) }
