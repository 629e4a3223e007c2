package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// A fire claimed ahead stays its owner's while the owner renews its
// liveness, however late the fire is; once the owner stops, its fires are
// released once.
func TestLateFireOfLiveOwnerIsKept(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		sc := newAheadSchedule(t, db, "a")
		if _, err := db.Heartbeat(ctx, "busy", t0.Add(lease)); err != nil {
			t.Fatal(err)
		}
		q := claimAhead(t, db, "busy", t0.Add(2*time.Second), lease, map[int64]store.Fire{
			sc.ID: {Next: ptr(t0.Add(3 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindCron, t0.Add(2*time.Second))}},
		})
		if len(q) != 2 {
			t.Fatalf("queued %d, want 2", len(q))
		}
		// Long after the fires' own leases, the owner is still alive.
		late := t0.Add(time.Minute)
		if _, err := db.Heartbeat(ctx, "busy", late.Add(lease)); err != nil {
			t.Fatal(err)
		}
		if n, err := db.ReleaseRuns(ctx, "", late); err != nil || n != 0 {
			t.Fatalf("ReleaseRuns of a live owner's late fires = %d, %v; want 0", n, err)
		}
		if runs := runsByInstant(t, db, sc.ID); len(runs) != 2 {
			t.Fatalf("runs = %s", show(runs))
		}
		wantNext(t, db, sc.ID, t0.Add(3*time.Second))
		// The owner stops renewing: its fires (the last of the schedule)
		// are deleted once and next_run_at moves back to the first.
		dead := late.Add(lease + time.Second)
		if n, err := db.ReleaseRuns(ctx, "", dead); err != nil || n != 2 {
			t.Fatalf("ReleaseRuns of a dead owner = %d, %v; want 2", n, err)
		}
		wantNext(t, db, sc.ID, t0.Add(time.Second))
		if n, err := db.ReleaseRuns(ctx, "", dead); err != nil || n != 0 {
			t.Fatalf("second ReleaseRuns = %d, %v; want 0", n, err)
		}
	})
}

// A coalesced fire claimed late is not born expired: a sweep right after
// the claim (its owner not registered yet) leaves it alone.
func TestCoalescedFireSurvivesTheNextSweep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 30 * time.Second
		newAheadSchedule(t, db, "late")
		now := t0.Add(5 * time.Minute) // the instant is five minutes old
		_, q, err := db.ClaimDue(ctx, "n1", now, now, 10, lease, func(s *store.Schedule) store.Fire {
			r := pendingRun(store.KindCoalesced, t0)
			return store.Fire{Next: ptr(now.Add(time.Second)), Runs: []store.NewRun{r}}
		})
		if err != nil || len(q) != 1 {
			t.Fatalf("ClaimDue = %v, %v", q, err)
		}
		r := mustRun(t, db, q[0].ID)
		wantLease(t, *r, "n1", ptr(now.Add(lease)))
		if n, err := db.ReleaseRuns(ctx, "", now.Add(time.Second)); err != nil || n != 0 {
			t.Fatalf("sweep right after the claim released %d (%v)", n, err)
		}
		if r := mustRun(t, db, q[0].ID); r.Status != store.StatusPending || r.LeaseOwner != "n1" {
			t.Fatalf("coalesced fire after the sweep = %s", show(r))
		}
	})
}

// deadThenLive creates an every-second schedule whose fire at t0+1s was
// claimed by "dead" (never registered alive) and whose fire at t0+2s was
// claimed by "live" (alive for an hour); next_run_at is t0+3s.
func deadThenLive(t *testing.T, db *store.DB, lease time.Duration) *store.Schedule {
	t.Helper()
	sc := newAheadSchedule(t, db, "s")
	claimAhead(t, db, "dead", t0.Add(time.Second), lease, map[int64]store.Fire{
		sc.ID: {Next: ptr(t0.Add(2 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(time.Second))}},
	})
	if _, err := db.Heartbeat(context.Background(), "live", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	claimAhead(t, db, "live", t0.Add(2*time.Second), lease, map[int64]store.Fire{
		sc.ID: {Next: ptr(t0.Add(3 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(2*time.Second))}},
	})
	return sc
}

// Release never moves next_run_at behind a fire that has a run row: a dead
// owner's fires followed by fires another instance claimed lose their owner
// instead of being deleted, and run once.
func TestReleaseKeepsFiresFollowedByOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		sc := deadThenLive(t, db, lease)
		after := t0.Add(time.Minute)
		if n, err := db.ReleaseRuns(ctx, "", after); err != nil || n != 1 {
			t.Fatalf("ReleaseRuns = %d, %v; want 1", n, err)
		}
		runs := runsByInstant(t, db, sc.ID)
		if len(runs) != 2 {
			t.Fatalf("runs = %s, want both fires kept", show(runs))
		}
		wantLease(t, runs[t0.Add(time.Second)], "", nil)
		wantLease(t, runs[t0.Add(2*time.Second)], "live", ptr(t0.Add(2*time.Second+lease)))
		wantNext(t, db, sc.ID, t0.Add(3*time.Second))
		got, err := db.ClaimRuns(ctx, "live", after, 10, lease, nil)
		if err != nil || len(got) != 1 || !got[0].ScheduledFor.Equal(t0.Add(time.Second)) {
			t.Fatalf("general claim = %s, %v; want the released fire", show(got), err)
		}
	})
}

// A fire whose predecessor finished (its outcome not yet written) waits,
// still owned, instead of being skipped; with a predecessor really running
// it is skipped.
func TestFinishedPredecessorDoesNotSkip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = time.Minute
		sc := newAheadSchedule(t, db, "f")
		q := claimAhead(t, db, "n1", t0.Add(2*time.Second), lease, map[int64]store.Fire{
			sc.ID: {Next: ptr(t0.Add(3 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindCron, t0.Add(2*time.Second))}},
		})
		first, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0.Add(time.Second), IDs: []int64{q[0].ID}, Lease: lease})
		if err != nil || len(first) != 1 {
			t.Fatalf("first claim = %s, %v", show(first), err)
		}
		at := t0.Add(2 * time.Second)
		got, waiting, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{q[1].ID}, Lease: lease, Finishing: []int64{q[0].ID}})
		if err != nil || len(got) != 0 || len(waiting) != 1 || waiting[0] != q[1].ID {
			t.Fatalf("claim behind a finishing run = %s, waiting %v, %v", show(got), waiting, err)
		}
		if r := mustRun(t, db, q[1].ID); r.Status != store.StatusPending || r.LeaseOwner != "n1" {
			t.Fatalf("waiting fire = %s", show(r))
		}
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: q[0].ID, Owner: "n1", Status: store.StatusCompleted, At: at}}); err != nil {
			t.Fatal(err)
		}
		got, waiting, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{q[1].ID}, Lease: lease})
		if err != nil || len(got) != 1 || len(waiting) != 0 {
			t.Fatalf("claim after the outcome = %s, waiting %v, %v", show(got), waiting, err)
		}
		// The next fire, behind a run that is really running: skipped.
		q2 := claimAhead(t, db, "n1", t0.Add(3*time.Second), lease, map[int64]store.Fire{
			sc.ID: {Next: ptr(t0.Add(4 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(3*time.Second))}},
		})
		got, waiting, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0.Add(3 * time.Second), IDs: []int64{q2[0].ID}, Lease: lease})
		if err != nil || len(got) != 0 || len(waiting) != 0 {
			t.Fatalf("claim behind a running run = %s, waiting %v, %v", show(got), waiting, err)
		}
		if r := mustRun(t, db, q2[0].ID); r.Status != store.StatusSkipped {
			t.Fatalf("fire behind a running run = %s, want skipped", show(r))
		}
	})
}

// Two instances starting runs of one schedule at once: the claim that
// loses the race on the one-running-run index claims its other runs one by
// one instead of failing as a whole.
func TestClaimConflictIsHandledRowByRow(t *testing.T) {
	ctx := context.Background()
	db := storetest.Postgres(t)
	a, b := newAheadSchedule(t, db, "a"), newAheadSchedule(t, db, "b")
	var ids []int64
	for _, sc := range []*store.Schedule{a, a, b} {
		r, err := db.InsertRun(ctx, sc, time.Now().Add(-time.Duration(len(ids)+1)*time.Second), 1)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	// Another instance starts a's first run and has not committed yet.
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`UPDATE job_schedule_runs SET status = 'running', lease_owner = 'other' WHERE id = $1`, ids[0]); err != nil {
		t.Fatal(err)
	}
	type result struct {
		runs []store.Run
		err  error
	}
	done := make(chan result, 1)
	go func() {
		runs, err := db.ClaimRuns(ctx, "me", time.Now(), 10, time.Minute, nil)
		done <- result{runs, err}
	}()
	// Wait until the claim blocks on the other instance's index entry.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
			AND query LIKE '%ranked%'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the claim never waited for the other instance")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res.err != nil {
		t.Fatalf("claim failed as a whole: %v", res.err)
	}
	if len(res.runs) != 1 || res.runs[0].ID != ids[2] {
		t.Fatalf("claimed %s, want only b's run %d", show(res.runs), ids[2])
	}
	if r := mustRun(t, db, ids[1]); r.Status != store.StatusPending {
		t.Fatalf("a's second run = %s, want pending", show(r))
	}
}

// The last live instance to stop takes back the fires other instances
// released and nobody started: nothing stays pending, next_run_at moves
// back to the first of them; it marks itself stopped.
func TestLastInstanceStoppingLeavesNothingPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		sc := deadThenLive(t, db, lease)
		if n, err := db.ReleaseRuns(ctx, "", t0.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("dead owner's release = %d, %v", n, err)
		}
		if n, err := db.ReleaseRuns(ctx, "live", t0.Add(time.Minute)); err != nil || n != 2 {
			t.Fatalf("last instance's release = %d, %v; want 2", n, err)
		}
		if runs := runsByInstant(t, db, sc.ID); len(runs) != 0 {
			t.Fatalf("left pending: %s", show(runs))
		}
		wantNext(t, db, sc.ID, t0.Add(time.Second))
		var live int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM scheduler_nodes WHERE expires_at >= $1`, db.TimeArg(t0.Add(time.Minute))).Scan(&live); err != nil || live != 0 {
			t.Fatalf("live nodes after the stop = %d, %v", live, err)
		}
	})
}

// A claim by id writes the predecessors' outcomes it carries first, in its
// transaction: the fire is claimed, not skipped, and the outcome is there.
func TestClaimWritesOutcomesFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = time.Minute
		sc := newAheadSchedule(t, db, "w")
		q := claimAhead(t, db, "n1", t0.Add(2*time.Second), lease, map[int64]store.Fire{
			sc.ID: {Next: ptr(t0.Add(3 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindCron, t0.Add(2*time.Second))}},
		})
		if got, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0.Add(time.Second), IDs: []int64{q[0].ID}, Lease: lease}); err != nil || len(got) != 1 {
			t.Fatalf("first claim = %s, %v", show(got), err)
		}
		at := t0.Add(2 * time.Second)
		done := store.Completion{RunID: q[0].ID, Owner: "n1", Status: store.StatusCompleted, At: at, Result: []byte(`{"n": 1}`)}
		got, waiting, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{q[1].ID}, Lease: lease,
			Finishing: []int64{q[0].ID}, Done: []store.Completion{done}})
		if err != nil || len(got) != 1 || len(waiting) != 0 {
			t.Fatalf("claim with the outcome = %s, waiting %v, %v", show(got), waiting, err)
		}
		if r := mustRun(t, db, q[0].ID); r.Status != store.StatusCompleted || string(r.Result) == "" {
			t.Fatalf("predecessor after the claim = %s", show(r))
		}
	})
}
