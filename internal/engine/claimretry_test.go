package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// failingClaims fails the next armed claims, as a claim that conflicted
// with a concurrent claim of the same schedule does (SQLSTATE 23505 on the
// one-running-run index; see store's claim_conflict_test.go).
type failingClaims struct {
	store.Store
	byID, general atomic.Int32
}

var errConflict = errors.New(`claim runs: duplicate key value violates unique constraint "ux_job_schedule_runs_one_running"`)

func (f *failingClaims) ClaimRunIDs(ctx context.Context, owner string, now time.Time, ids []int64, lease time.Duration) ([]store.Run, error) {
	if f.byID.Add(-1) >= 0 {
		return nil, errConflict
	}
	return f.Store.ClaimRunIDs(ctx, owner, now, ids, lease)
}

func (f *failingClaims) ClaimRuns(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]store.Run, error) {
	if f.general.Add(-1) >= 0 {
		return nil, errConflict
	}
	return f.Store.ClaimRuns(ctx, owner, now, limit, lease)
}

// A claim that fails once is tried again at once: neither the fires in a
// batch claimed by id nor a manual run wait out the one-second pause that
// a lasting database error gets.
func TestFailedClaimIsRetriedAtOnce(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	sc := addSchedule(t, db, "tick", "* * * * * *", `{}`)
	st := &failingClaims{Store: db}
	st.byID.Store(1) // the first claim by id fails
	o := testOptions()
	o.PollInterval = 10 * time.Second
	e := New(st, map[string]Handler{"script": noop()}, o)
	startEngine(t, e)
	// The first fire is the one whose claim by id failed.
	var first store.Run
	waitFor(t, 10*time.Second, "the first fire to finish", func() bool {
		runs := runsOf(t, db, sc.ID) // newest first
		if len(runs) == 0 {
			return false
		}
		first = runs[len(runs)-1]
		return first.Status != store.StatusPending && first.Status != store.StatusRunning
	})
	if first.Status != store.StatusCompleted {
		t.Fatalf("first fire %s (%s), want completed", first.Status, first.Error)
	}
	if st.byID.Load() >= 0 {
		t.Fatal("the claim by id never failed")
	}
	if lag := first.StartedAt.Sub(first.ScheduledFor); lag >= 500*time.Millisecond {
		t.Errorf("the fire whose claim failed once started %s after its instant, want < 500 ms", lag)
	}

	st.general.Store(1) // the next general claim fails
	r, err := db.InsertRun(ctx, sc, time.Now().Add(-time.Hour), 1)
	if err != nil {
		t.Fatal(err)
	}
	asked := time.Now()
	e.Wake()
	waitFor(t, 5*time.Second, "the manual run to complete", func() bool {
		got, err := db.GetRun(ctx, r.ID)
		if err == nil && got.Status == store.StatusCompleted {
			r = got
			return true
		}
		return false
	})
	if st.general.Load() >= 0 {
		t.Fatal("the general claim never failed")
	}
	if lag := r.StartedAt.Sub(asked); lag >= 500*time.Millisecond {
		t.Errorf("the manual run whose claim failed once started %s after the wake-up, want < 500 ms", lag)
	}
}
