package store_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// A run's script process is recorded, replaced by the next attempt's and
// read back; a run without one reads nil, a missing run ErrNotFound.
func TestScriptProcessRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := newAheadSchedule(t, db, "p")
		r, err := db.InsertRun(ctx, sc, t0, 2)
		if err != nil {
			t.Fatal(err)
		}
		if p, err := db.ScriptProcess(ctx, r.ID); err != nil || p != nil {
			t.Fatalf("before recording: %+v, %v", p, err)
		}
		for _, pgid := range []int{4242, 4343} {
			want := script.Process{PID: pgid, PGID: pgid, Host: "h1", BootID: "b", StartedAt: t0.Add(time.Duration(pgid))}
			if err := db.RecordScriptProcess(ctx, r.ID, want); err != nil {
				t.Fatal(err)
			}
			got, err := db.ScriptProcess(ctx, r.ID)
			if err != nil || got == nil || got.PGID != pgid || got.Host != "h1" || !got.StartedAt.Equal(want.StartedAt) {
				t.Fatalf("read back %+v, %v; want %+v", got, err, want)
			}
		}
		if _, err := db.ScriptProcess(ctx, r.ID+100); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("missing run: %v", err)
		}
	})
}
