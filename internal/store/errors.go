package store

import (
	"errors"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors of the store. Callers branch on them with errors.Is; the
// store decides them by the database's error codes, never by message text.
var (
	// ErrNotFound is returned when a schedule or run does not exist.
	ErrNotFound = errors.New("not found")
	// ErrDuplicate is returned when a row would repeat a unique key: a
	// schedule name already used by its user, or a run of a schedule for
	// an instant that already has one.
	ErrDuplicate = errors.New("already exists")
)

// isUnique reports whether err is a unique-constraint violation
// (PostgreSQL SQLSTATE 23505, SQLite SQLITE_CONSTRAINT_UNIQUE or
// SQLITE_CONSTRAINT_PRIMARYKEY).
func isUnique(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505"
	}
	var lite *sqlite.Error
	if errors.As(err, &lite) {
		return lite.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || lite.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	}
	return false
}

// isConflict reports whether err is a conflict with a concurrent
// transaction that a retry of the conflicting rows resolves: a unique
// violation (another instance started a run of the same schedule), a
// deadlock (SQLSTATE 40P01) or a serialization failure (40001).
func isConflict(err error) bool {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code == "23505" || pg.Code == "40P01" || pg.Code == "40001"
	}
	return isUnique(err)
}
