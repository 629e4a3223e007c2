// Package storetest opens real test databases: a SQLite file always, and
// PostgreSQL when TEST_DATABASE_URL is set, each test in its own schema.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/atf/scheduler/internal/store"
)

// EnvURL names the variable that points the PostgreSQL tests at a server.
const EnvURL = "TEST_DATABASE_URL"

// SQLite opens a migrated SQLite database in a temporary directory.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return open(t, "sqlite", filepath.Join(t.TempDir(), "test.db"))
}

// Postgres opens a migrated PostgreSQL database in a fresh schema that is
// dropped when the test ends; it skips the test with a message when
// TEST_DATABASE_URL is not set.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := PostgresURL(t)
	return open(t, "postgres", dsn)
}

// PostgresURL creates a fresh schema and returns a URL whose search_path
// selects it (several stores may open it, as several instances would).
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		t.Skipf("PostgreSQL test skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", EnvURL)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	admin, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: base})
	if err != nil {
		t.Fatalf("open %s: %v", EnvURL, err)
	}
	if _, err := admin.SQL().Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		_, _ = admin.SQL().Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open opens and migrates a store; the store is closed when the test ends.
func Open(t testing.TB, driver, dsn string) *store.DB { return open(t, driver, dsn) }

func open(t testing.TB, driver, dsn string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Driver: driver, DSN: dsn, MaxConns: 20})
	if err != nil {
		t.Fatalf("open %s: %v", driver, err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate %s: %v", driver, err)
	}
	return db
}

// Each runs fn against SQLite and (when configured) PostgreSQL as subtests.
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}
