package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/atf/scheduler/internal/store"
)

// Describe names the kind of failure without the driver's text, which
// carries hosts, users and values.
func TestDescribeHidesDriverText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := store.Open(ctx, store.Options{Driver: "postgres",
		DSN: "postgres://secretuser:hunter2@127.0.0.1:1/secretdb?sslmode=disable&connect_timeout=2"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pingErr := db.Ping(ctx)
	if pingErr == nil {
		t.Fatal("ping of a closed port succeeded")
	}
	cases := []struct {
		err  error
		want string
	}{
		{pingErr, "unreachable"},
		{fmt.Errorf("list: %w", &pgconn.PgError{Code: "42P01", Message: `relation "secret_table" does not exist`}), "not migrated"},
		{&pgconn.PgError{Code: "28P01", Message: `password authentication failed for user "secretuser"`}, "authentication refused"},
		{fmt.Errorf("x: %w", context.DeadlineExceeded), "timed out"},
		{fmt.Errorf(`value "secret" is bad`), "query failed"},
	}
	for _, c := range cases {
		got := store.Describe(c.err)
		if !strings.Contains(got, c.want) {
			t.Errorf("Describe(%v) = %q, want it to say %q", c.err, got, c.want)
		}
		for _, leak := range []string{"secret", "hunter2", "127.0.0.1"} {
			if strings.Contains(got, leak) {
				t.Errorf("Describe(%v) = %q shows %q", c.err, got, leak)
			}
		}
	}
	if store.Describe(nil) != "" {
		t.Error("Describe(nil) is not empty")
	}
}

// Describe turns a database error into words fit to show a client.
func ExampleDescribe() {
	err := fmt.Errorf("list schedules: %w", &pgconn.PgError{Code: "42P01", Message: `relation "job_schedules" does not exist`})
	fmt.Println(store.Describe(err))
	fmt.Println(store.Describe(fmt.Errorf("claim: %w", context.DeadlineExceeded)))
	// Output:
	// tables or columns missing: not migrated? (SQLSTATE 42P01)
	// timed out
}
