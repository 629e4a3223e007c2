package action_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// TestLookupByName resolves names on both databases: unique, shared by two
// users, unknown, and a name that looks like SQL.
func TestLookupByName(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a, _ := setup(t, db, time.Now())
		ctx := context.Background()
		mk := func(user int64, name string) int64 {
			sp := spec(name, "0 3 * * *", `{}`)
			sp.UserID = ptr(user)
			s, err := a.Create(ctx, sp)
			if err != nil {
				t.Fatal(err)
			}
			return s.ID
		}
		hello := mk(1, "hello")
		n1, n2 := mk(1, "nightly"), mk(2, "nightly")
		if id, err := a.Lookup(ctx, "hello"); err != nil || id != hello {
			t.Fatalf("Lookup(hello) = %d, %v; want %d", id, err, hello)
		}
		var amb *action.AmbiguousNameError
		if _, err := a.Lookup(ctx, "nightly"); !errors.As(err, &amb) || len(amb.IDs) != 2 || amb.IDs[0] != n1 || amb.IDs[1] != n2 {
			t.Fatalf("Lookup(nightly) = %v; want AmbiguousNameError with %d, %d", err, n1, n2)
		}
		for _, name := range []string{"nosuch", "hello' OR '1'='1", "HELLO"} {
			if _, err := a.Lookup(ctx, name); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("Lookup(%q) = %v; want ErrNotFound", name, err)
			}
		}
	})
}
