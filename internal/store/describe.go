package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Describe returns a short account of a database error fit to show
// outside the process (readiness answers, /status): what kind of failure
// it is, decided by error types and codes, without the driver's text,
// which can name hosts, users, tables and values. The whole error belongs
// in the service's log.
func Describe(err error) string {
	if err == nil {
		return ""
	}
	var pg *pgconn.PgError
	var lite *sqlite.Error
	var ne net.Error
	var connect *pgconn.ConnectError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.As(err, &pg):
		switch {
		case strings.HasPrefix(pg.Code, "28"):
			return "authentication refused (SQLSTATE " + pg.Code + ")"
		case pg.Code == "42P01" || pg.Code == "42703":
			return "tables or columns missing: not migrated? (SQLSTATE " + pg.Code + ")"
		case strings.HasPrefix(pg.Code, "53"):
			return "database out of resources (SQLSTATE " + pg.Code + ")"
		case strings.HasPrefix(pg.Code, "57"):
			return "database shutting down or unavailable (SQLSTATE " + pg.Code + ")"
		case strings.HasPrefix(pg.Code, "08"):
			return "connection failure (SQLSTATE " + pg.Code + ")"
		}
		return "query failed (SQLSTATE " + pg.Code + ")"
	case errors.As(err, &connect), errors.As(err, &ne), errors.Is(err, driver.ErrBadConn):
		return "unreachable"
	case errors.As(err, &lite):
		switch lite.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return "database busy"
		case sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			return "database file unusable"
		}
		return "query failed"
	}
	return "query failed"
}
