package store_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// t0 is the fixed instant the claim-ahead tests are built around.
var t0 = time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)

func newAheadSchedule(t *testing.T, db *store.DB, name string) *store.Schedule {
	t.Helper()
	sc := &store.Schedule{UserID: 1, Name: name, JobType: "script", Cron: "* * * * * *", Enabled: true, TaskParams: []byte(`{}`)}
	if err := db.CreateSchedule(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

func pendingRun(kind string, at time.Time) store.NewRun {
	return store.NewRun{Status: store.StatusPending, Kind: kind, ScheduledFor: at, Exclusive: true, MaxAttempts: 1}
}

// claimAhead runs ClaimDue with a hand-built plan per schedule id; schedules
// without a plan keep their next_run_at and get no runs.
func claimAhead(t *testing.T, db *store.DB, owner string, until time.Time, lease time.Duration, fires map[int64]store.Fire) []store.Queued {
	t.Helper()
	_, queued, err := db.ClaimDue(context.Background(), owner, t0, until, 100, lease, func(s *store.Schedule) store.Fire {
		if f, ok := fires[s.ID]; ok {
			return f
		}
		return store.Fire{Next: s.NextRunAt}
	})
	if err != nil {
		t.Fatalf("ClaimDue(%q): %v", owner, err)
	}
	return queued
}

// runsByInstant returns the runs of a schedule by scheduled_for.
func runsByInstant(t *testing.T, db *store.DB, id int64) map[time.Time]store.Run {
	t.Helper()
	runs, err := db.ListRuns(context.Background(), store.RunFilter{ScheduleID: id, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[time.Time]store.Run{}
	for _, r := range runs {
		if _, dup := out[r.ScheduledFor]; dup {
			t.Fatalf("schedule %d has two runs for %s", id, r.ScheduledFor)
		}
		out[r.ScheduledFor] = r
	}
	return out
}

func mustRun(t *testing.T, db *store.DB, id int64) *store.Run {
	t.Helper()
	r, err := db.GetRun(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func nextRunAt(t *testing.T, db *store.DB, id int64) *time.Time {
	t.Helper()
	s, err := db.GetSchedule(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s.NextRunAt
}

func wantNext(t *testing.T, db *store.DB, id int64, want time.Time) {
	t.Helper()
	if got := nextRunAt(t, db, id); got == nil || !got.Equal(want) {
		t.Fatalf("schedule %d next_run_at = %v, want %v", id, got, want)
	}
}

func wantLease(t *testing.T, r store.Run, owner string, expires *time.Time) {
	t.Helper()
	if r.LeaseOwner != owner {
		t.Fatalf("run %d (%s %s) lease_owner = %q, want %q", r.ID, r.Kind, r.ScheduledFor, r.LeaseOwner, owner)
	}
	switch {
	case expires == nil && r.LeaseExpiresAt != nil:
		t.Fatalf("run %d lease_expires_at = %v, want NULL", r.ID, r.LeaseExpiresAt)
	case expires != nil && (r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(*expires)):
		t.Fatalf("run %d lease_expires_at = %v, want %v", r.ID, r.LeaseExpiresAt, *expires)
	}
}

func ptr(t time.Time) *time.Time { return &t }

// show formats runs compactly for failure messages (no snapshot bytes).
func show(v any) string {
	one := func(r store.Run) string {
		exp := "NULL"
		if r.LeaseExpiresAt != nil {
			exp = r.LeaseExpiresAt.Format(time.RFC3339Nano)
		}
		return fmt.Sprintf("{id %d schedule %s %s/%s at %s attempt %d owner %q until %s}", r.ID, r.JobID, r.Kind, r.Status,
			r.ScheduledFor.Format(time.RFC3339Nano), r.Attempt, r.LeaseOwner, exp)
	}
	var parts []string
	switch x := v.(type) {
	case store.Run:
		return one(x)
	case *store.Run:
		return one(*x)
	case []store.Run:
		for _, r := range x {
			parts = append(parts, one(r))
		}
	case map[time.Time]store.Run:
		for _, r := range x {
			parts = append(parts, one(r))
		}
		slices.Sort(parts)
	default:
		return fmt.Sprintf("%+v", v)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Point 1: ClaimDue with an owner leases the pending runs it inserts to the
// owner until their instant plus the lease; records and ownerless claims
// stay unowned.
func TestClaimDueLeasesPendingRunsToOwner(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		a := newAheadSchedule(t, db, "owned")
		b := newAheadSchedule(t, db, "unowned")
		const lease = 30 * time.Second
		next := t0.Add(3 * time.Second)
		queued := claimAhead(t, db, "n1", t0.Add(2*time.Second), lease, map[int64]store.Fire{
			a.ID: {Next: &next, Runs: []store.NewRun{
				{Status: store.StatusSkipped, Kind: store.KindCron, ScheduledFor: t0.Add(-time.Second), Error: "skipped"},
				{Status: store.StatusMissed, Kind: store.KindMissed, ScheduledFor: t0.Add(-time.Hour), Result: []byte(`{"missed_count":1}`)},
				pendingRun(store.KindCoalesced, t0),
				pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindCron, t0.Add(2*time.Second)),
			}},
			b.ID: {Next: nil}, // claimed again below, without an owner
		})
		if len(queued) != 3 {
			t.Fatalf("queued = %+v, want the 3 pending runs", queued)
		}
		runs := runsByInstant(t, db, a.ID)
		if len(runs) != 5 {
			t.Fatalf("schedule a has %d runs, want 5", len(runs))
		}
		for _, q := range queued {
			r := mustRun(t, db, q.ID)
			if r.Status != store.StatusPending || !q.RunAfter.Equal(r.ScheduledFor) {
				t.Fatalf("queued %+v is run %s", q, show(r))
			}
			wantLease(t, *r, "n1", ptr(r.ScheduledFor.Add(lease)))
			if r.RunAfter == nil || !r.RunAfter.Equal(r.ScheduledFor) {
				t.Fatalf("run %d run_after = %v, want its instant %s", r.ID, r.RunAfter, r.ScheduledFor)
			}
		}
		for _, at := range []time.Time{t0, t0.Add(time.Second), t0.Add(2 * time.Second)} {
			wantLease(t, runs[at], "n1", ptr(at.Add(lease)))
		}
		// Records are not runs to start: never leased.
		if r := runs[t0.Add(-time.Second)]; r.Status != store.StatusSkipped {
			t.Fatalf("skipped record = %s", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		if r := runs[t0.Add(-time.Hour)]; r.Status != store.StatusMissed {
			t.Fatalf("missed record = %s", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		wantNext(t, db, a.ID, next)

		// Without an owner (and with a lease given) the runs are unowned, as before.
		bNext := t0.Add(time.Minute)
		queued = claimAhead(t, db, "", t0, lease, map[int64]store.Fire{
			a.ID: {Next: &next}, // not due: untouched
			b.ID: {Next: &bNext, Runs: []store.NewRun{pendingRun(store.KindCron, t0)}},
		})
		if len(queued) != 1 {
			t.Fatalf("unowned claim queued %+v, want 1 run", queued)
		}
		r := mustRun(t, db, queued[0].ID)
		if r.Status != store.StatusPending || r.JobID != strconv.FormatInt(b.ID, 10) || !r.ScheduledFor.Equal(t0) {
			t.Fatalf("unowned run = %s", show(r))
		}
		wantLease(t, *r, "", nil)
		wantNext(t, db, b.ID, bNext)
		// The owned runs of a are unchanged.
		for at, r := range runsByInstant(t, db, a.ID) {
			if r.Status == store.StatusPending {
				wantLease(t, r, "n1", ptr(at.Add(lease)))
			}
		}
	})
}

// Point 2: the general claim takes only unowned pending runs; owned ones are
// taken by id, and those the claim by id cannot start are skipped (a cron
// fire behind a running run) or handed to the general claim (owner cleared).
func TestClaimRunsLeavesOwnedRunsToClaimByID(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 30 * time.Second
		a := newAheadSchedule(t, db, "a")
		b := newAheadSchedule(t, db, "b")
		manualB, err := db.InsertRun(ctx, b, t0, 1) // unowned
		if err != nil {
			t.Fatal(err)
		}
		queued := claimAhead(t, db, "n1", t0.Add(time.Second), lease, map[int64]store.Fire{
			a.ID: {Next: ptr(t0.Add(2 * time.Second)), Runs: []store.NewRun{pendingRun(store.KindCron, t0), pendingRun(store.KindCron, t0.Add(time.Second))}},
		})
		if len(queued) != 2 {
			t.Fatalf("queued = %+v", queued)
		}
		fireA0, fireA1 := queued[0].ID, queued[1].ID
		if mustRun(t, db, fireA0).ScheduledFor.After(mustRun(t, db, fireA1).ScheduledFor) {
			fireA0, fireA1 = fireA1, fireA0
		}

		// Both of a's fires are due (even past their lease): the general
		// claim takes only b's unowned manual run.
		got, err := db.ClaimRuns(ctx, "n2", t0.Add(time.Hour), 10, lease, nil)
		if err != nil || len(got) != 1 || got[0].ID != manualB.ID || got[0].Status != store.StatusRunning || got[0].LeaseOwner != "n2" {
			t.Fatalf("ClaimRuns = %s, %v; want only run %d", show(got), err, manualB.ID)
		}
		if again, err := db.ClaimRuns(ctx, "n3", t0.Add(time.Hour), 10, lease, nil); err != nil || len(again) != 0 {
			t.Fatalf("second ClaimRuns = %s, %v; want nothing", show(again), err)
		}
		for _, id := range []int64{fireA0, fireA1} {
			r := mustRun(t, db, id)
			if r.Status != store.StatusPending {
				t.Fatalf("owned fire %d = %s, want pending", id, r.Status)
			}
			wantLease(t, *r, "n1", ptr(r.ScheduledFor.Add(lease)))
		}

		// The owner claims its fire by id.
		now := t0.Add(100 * time.Millisecond)
		got, _, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: now, IDs: []int64{fireA0}, Lease: lease})
		if err != nil || len(got) != 1 || got[0].ID != fireA0 || got[0].Status != store.StatusRunning {
			t.Fatalf("ClaimRunIDs = %s, %v", show(got), err)
		}
		wantLease(t, got[0], "n1", ptr(now.Add(lease)))
		if got[0].StartedAt == nil || !got[0].StartedAt.Equal(now) {
			t.Fatalf("started_at = %v, want %v", got[0].StartedAt, now)
		}

		// Schedule c has a running exclusive run; its owned runs claimed by
		// id cannot start: the cron fire is skipped, the manual-kind run
		// loses its owner, the fire not due yet stays owned and waits.
		// Schedule d's fire, in the same claim, starts.
		c := newAheadSchedule(t, db, "c")
		d := newAheadSchedule(t, db, "d")
		runningC, err := db.InsertRun(ctx, c, t0.Add(-time.Minute), 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ClaimRun(ctx, runningC.ID, "n2", t0, lease); err != nil {
			t.Fatal(err)
		}
		queued = claimAhead(t, db, "n1", t0.Add(time.Hour), lease, map[int64]store.Fire{
			c.ID: {Next: ptr(t0.Add(2 * time.Hour)), Runs: []store.NewRun{
				pendingRun(store.KindCron, t0.Add(2*time.Second)),
				pendingRun(store.KindManual, t0.Add(3*time.Second)),
				pendingRun(store.KindCron, t0.Add(time.Hour)),
			}},
			d.ID: {Next: ptr(t0.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(2*time.Second))}},
			a.ID: {Next: ptr(t0.Add(2 * time.Second))}, // unchanged
		})
		if len(queued) != 4 {
			t.Fatalf("queued = %+v, want 4 runs", queued)
		}
		var ids []int64
		for _, q := range queued {
			ids = append(ids, q.ID)
		}
		now = t0.Add(5 * time.Second)
		got, waiting, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: now, IDs: ids, Lease: lease})
		if err != nil || len(got) != 1 || got[0].JobID != strconv.FormatInt(d.ID, 10) || got[0].LeaseOwner != "n1" || got[0].Status != store.StatusRunning {
			t.Fatalf("ClaimRunIDs = %s, %v; want only schedule d's fire", show(got), err)
		}
		cRuns := runsByInstant(t, db, c.ID)
		if r := cRuns[t0.Add(2*time.Second)]; r.Status != store.StatusSkipped || r.Error == "" || r.FinishedAt == nil || !r.FinishedAt.Equal(now) {
			t.Fatalf("cron fire behind a running run = %s, want skipped at %s with a reason", show(r), now)
		}
		if r := cRuns[t0.Add(3*time.Second)]; r.Status != store.StatusPending {
			t.Fatalf("manual-kind run = %s, want pending", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		if r := cRuns[t0.Add(time.Hour)]; r.Status != store.StatusPending || r.LeaseOwner != "n1" || !slices.Equal(waiting, []int64{r.ID}) {
			t.Fatalf("fire not due yet = %s, waiting %v; want pending, owned by n1, waiting", show(r), waiting)
		}
		if r := cRuns[t0.Add(-time.Minute)]; r.Status != store.StatusRunning || r.LeaseOwner != "n2" {
			t.Fatalf("running run of c = %s", show(r))
		}
		// The owned fire of a that was not in the claim keeps its owner.
		wantLease(t, *mustRun(t, db, fireA1), "n1", ptr(t0.Add(time.Second+lease)))

		// Once c's run is done, any instance's general claim takes the
		// released manual run; the released fire waits for its time.
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: runningC.ID, Owner: "n2", Status: store.StatusCompleted, At: now}}); err != nil {
			t.Fatal(err)
		}
		got, err = db.ClaimRuns(ctx, "n3", now, 10, lease, nil)
		if err != nil || len(got) != 1 || got[0].ID != cRuns[t0.Add(3*time.Second)].ID || got[0].LeaseOwner != "n3" {
			t.Fatalf("ClaimRuns after release = %s, %v; want c's manual run", show(got), err)
		}
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: got[0].ID, Owner: "n3", Status: store.StatusCompleted, At: now}}); err != nil {
			t.Fatal(err)
		}
		got, _, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0.Add(time.Hour), IDs: waiting, Lease: lease})
		if err != nil || len(got) != 1 || got[0].ID != cRuns[t0.Add(time.Hour)].ID {
			t.Fatalf("ClaimRunIDs at its time = %s, %v; want c's waiting fire", show(got), err)
		}
	})
}

// Point 3: ReleaseRuns deletes released cron fires (attempt 1) and moves
// next_run_at back to the earliest of them when it is later; other pending
// runs lose their owner. With owner "", only runs whose lease expired
// before now are released.
func TestReleaseRunsDeletesFiresAndMovesNextRunBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		a := newAheadSchedule(t, db, "a") // n1: a started fire, released fires, a manual run
		b := newAheadSchedule(t, db, "b") // n2: not released by n1
		c := newAheadSchedule(t, db, "c") // n1: a retry (attempt 2) is not deleted
		d := newAheadSchedule(t, db, "d") // n1: next_run_at already earlier than the fire
		queued := claimAhead(t, db, "n1", t0.Add(time.Hour), lease, map[int64]store.Fire{
			a.ID: {Next: ptr(t0.Add(4 * time.Second)), Runs: []store.NewRun{
				pendingRun(store.KindCoalesced, t0),
				pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindCoalesced, t0.Add(2*time.Second)),
				pendingRun(store.KindManual, t0.Add(3*time.Second)),
			}},
			c.ID: {Next: ptr(t0.Add(time.Minute)), Runs: []store.NewRun{pendingRun(store.KindCron, t0)}},
			d.ID: {Next: ptr(t0.Add(time.Minute)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(5*time.Second))}},
		})
		if len(queued) != 6 {
			t.Fatalf("n1 queued %d runs, want 6", len(queued))
		}
		queued = claimAhead(t, db, "n2", t0.Add(time.Hour), lease, map[int64]store.Fire{
			b.ID: {Next: ptr(t0.Add(2 * time.Second)), Runs: []store.NewRun{
				pendingRun(store.KindCron, t0.Add(time.Second)),
				pendingRun(store.KindManual, t0.Add(1500*time.Millisecond)),
			}},
			a.ID: {Next: ptr(t0.Add(4 * time.Second))},
			c.ID: {Next: ptr(t0.Add(time.Minute))},
			d.ID: {Next: ptr(t0.Add(time.Minute))},
		})
		if len(queued) != 2 {
			t.Fatalf("n2 queued %d runs, want 2", len(queued))
		}
		aRuns, cRuns := runsByInstant(t, db, a.ID), runsByInstant(t, db, c.ID)
		// a's first fire was started; c's fire is a retry.
		started, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0, IDs: []int64{aRuns[t0].ID}, Lease: lease})
		if err != nil || len(started) != 1 {
			t.Fatalf("ClaimRunIDs = %s, %v", show(started), err)
		}
		if _, err := db.SQL().Exec(`UPDATE job_schedule_runs SET attempt = 2 WHERE id = $1`, cRuns[t0].ID); err != nil {
			t.Fatal(err)
		}
		if err := db.SetNextRun(ctx, d.ID, ptr(t0)); err != nil {
			t.Fatal(err)
		}

		if n, err := db.ReleaseRuns(ctx, "nobody", t0); err != nil || n != 0 {
			t.Fatalf("ReleaseRuns(nobody) = %d, %v; want 0", n, err)
		}
		// n1 stops: a's two unstarted fires and d's fire are deleted, a's
		// manual run and c's retry lose their owner.
		n, err := db.ReleaseRuns(ctx, "n1", t0.Add(500*time.Millisecond))
		if err != nil || n != 5 {
			t.Fatalf("ReleaseRuns(n1) = %d, %v; want 5", n, err)
		}
		aAfter := runsByInstant(t, db, a.ID)
		if len(aAfter) != 2 {
			t.Fatalf("schedule a has %d runs after release, want 2 (started, manual): %s", len(aAfter), show(aAfter))
		}
		if r := aAfter[t0]; r.Status != store.StatusRunning || r.LeaseOwner != "n1" {
			t.Fatalf("started fire after release = %s", show(r))
		}
		if r := aAfter[t0.Add(3*time.Second)]; r.Status != store.StatusPending || r.Kind != store.KindManual {
			t.Fatalf("manual run after release = %s", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		wantNext(t, db, a.ID, t0.Add(time.Second))
		if r := runsByInstant(t, db, c.ID)[t0]; r.Status != store.StatusPending || r.Attempt != 2 || r.ID != cRuns[t0].ID {
			t.Fatalf("retry after release = %s", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		wantNext(t, db, c.ID, t0.Add(time.Minute))
		if dRuns := runsByInstant(t, db, d.ID); len(dRuns) != 0 {
			t.Fatalf("d's fire not deleted: %s", show(dRuns))
		}
		wantNext(t, db, d.ID, t0) // already earlier: kept
		bRuns := runsByInstant(t, db, b.ID)
		for at, r := range bRuns {
			if r.Status != store.StatusPending {
				t.Fatalf("b's run %s = %s", at, r.Status)
			}
			wantLease(t, r, "n2", ptr(at.Add(lease)))
		}
		wantNext(t, db, b.ID, t0.Add(2*time.Second))
		if n, err := db.ReleaseRuns(ctx, "n1", t0.Add(time.Second)); err != nil || n != 0 {
			t.Fatalf("second ReleaseRuns(n1) = %d, %v; want 0", n, err)
		}

		// n2 dies: its runs are released one by one as their leases expire
		// (strictly before now).
		if n, err := db.ReleaseRuns(ctx, "", t0.Add(time.Second+lease)); err != nil || n != 0 {
			t.Fatalf("ReleaseRuns(\"\") at the expiry = %d, %v; want 0", n, err)
		}
		if n, err := db.ReleaseRuns(ctx, "", t0.Add(time.Second+lease+time.Millisecond)); err != nil || n != 1 {
			t.Fatalf("ReleaseRuns(\"\") after the fire's expiry = %d, %v; want 1", n, err)
		}
		bAfter := runsByInstant(t, db, b.ID)
		if _, ok := bAfter[t0.Add(time.Second)]; ok || len(bAfter) != 1 {
			t.Fatalf("b's runs after its fire expired = %s, want only the manual run", show(bAfter))
		}
		wantLease(t, bAfter[t0.Add(1500*time.Millisecond)], "n2", ptr(t0.Add(1500*time.Millisecond+lease)))
		wantNext(t, db, b.ID, t0.Add(time.Second))
		if n, err := db.ReleaseRuns(ctx, "", t0.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("ReleaseRuns(\"\") after the manual run's expiry = %d, %v; want 1", n, err)
		}
		if r := runsByInstant(t, db, b.ID)[t0.Add(1500*time.Millisecond)]; r.Status != store.StatusPending {
			t.Fatalf("b's manual run = %s", show(r))
		} else {
			wantLease(t, r, "", nil)
		}
		wantNext(t, db, b.ID, t0.Add(time.Second))
		// A running run with an expired lease is not ReleaseRuns' business.
		if r := mustRun(t, db, started[0].ID); r.Status != store.StatusRunning || r.LeaseOwner != "n1" {
			t.Fatalf("running run after release of expired leases = %s", show(r))
		}
		// The released runs are now the general claim's.
		got, err := db.ClaimRuns(ctx, "n3", t0.Add(time.Hour), 10, lease, nil)
		if err != nil || len(got) != 2 {
			t.Fatalf("ClaimRuns after release = %s, %v; want c's retry and b's manual run", show(got), err)
		}
		for _, r := range got {
			if r.JobID == strconv.FormatInt(a.ID, 10) {
				t.Fatalf("a's manual run was claimed while a's fire is running: %s", show(r))
			}
		}
	})
}

// Point 4: changing, disabling or deleting a schedule deletes its pending
// cron fires (attempt 1) that are not due yet; due fires, other kinds,
// retries, records and other schedules' fires stay.
func TestScheduleChangesDropFutureFires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// Relative to the wall clock, which these methods read: far past and
		// far future.
		past := time.Date(2000, 1, 1, 10, 0, 0, 0, time.UTC)
		future := time.Date(2100, 1, 1, 10, 0, 0, 0, time.UTC)
		const lease = time.Minute
		names := []string{"updated", "disabled", "deleted", "enabled", "untouched"}
		var scs []*store.Schedule
		fires := map[int64]store.Fire{}
		for _, name := range names {
			sc := newAheadSchedule(t, db, name)
			scs = append(scs, sc)
			fires[sc.ID] = store.Fire{Next: ptr(future.Add(time.Hour)), Runs: []store.NewRun{
				pendingRun(store.KindCron, past),                         // due: stays
				pendingRun(store.KindCron, future),                       // dropped
				pendingRun(store.KindCoalesced, future.Add(time.Second)), // dropped
				pendingRun(store.KindCron, future.Add(2*time.Second)),    // retry below: stays
				pendingRun(store.KindManual, future.Add(3*time.Second)),  // stays
				{Status: store.StatusSkipped, Kind: store.KindCron, ScheduledFor: future.Add(4 * time.Second), Error: "skipped"}, // stays
			}}
		}
		claimAhead(t, db, "n1", future, lease, fires)
		// An unowned future fire (claimed without an owner) is dropped too.
		for _, sc := range scs {
			fires[sc.ID] = store.Fire{Next: ptr(future.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, future.Add(5*time.Second))}}
			if r := runsByInstant(t, db, sc.ID)[future.Add(2*time.Second)]; r.ID == 0 {
				t.Fatalf("no run for %s", future.Add(2*time.Second))
			} else if _, err := db.SQL().Exec(`UPDATE job_schedule_runs SET attempt = 2 WHERE id = $1`, r.ID); err != nil {
				t.Fatal(err)
			}
		}
		claimAhead(t, db, "", future.Add(time.Hour), lease, fires)
		for _, sc := range scs {
			if n := len(runsByInstant(t, db, sc.ID)); n != 7 {
				t.Fatalf("schedule %s has %d runs before the change, want 7", sc.Name, n)
			}
		}

		upd := *scs[0]
		upd.JobType, upd.Cron = "report", "0 * * * *" // the fires have the old job type
		if err := db.UpdateSchedule(ctx, &upd); err != nil {
			t.Fatal(err)
		}
		if err := db.SetEnabled(ctx, scs[1].ID, false); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteSchedule(ctx, scs[2].ID); err != nil {
			t.Fatal(err)
		}
		if err := db.SetEnabled(ctx, scs[3].ID, true); err != nil {
			t.Fatal(err)
		}

		kept := []time.Time{past, future.Add(2 * time.Second), future.Add(3 * time.Second), future.Add(4 * time.Second)}
		for i, sc := range scs {
			runs := runsByInstant(t, db, sc.ID)
			if sc.Name == "untouched" {
				if len(runs) != 7 {
					t.Fatalf("untouched schedule has %d runs, want 7", len(runs))
				}
				for _, at := range []time.Time{future, future.Add(time.Second)} {
					if r := runs[at]; r.Status != store.StatusPending {
						t.Fatalf("untouched fire %s = %s", at, show(r))
					} else {
						wantLease(t, r, "n1", ptr(at.Add(lease)))
					}
				}
				wantNext(t, db, sc.ID, future.Add(time.Hour))
				continue
			}
			if len(runs) != len(kept) {
				t.Fatalf("schedule %s has %d runs after the change, want %d: %s", sc.Name, len(runs), len(kept), show(runs))
			}
			for _, at := range kept {
				if _, ok := runs[at]; !ok {
					t.Fatalf("schedule %s lost its run for %s", sc.Name, at)
				}
			}
			if r := runs[past]; r.Status != store.StatusPending || r.Kind != store.KindCron {
				t.Fatalf("due fire of %s = %s, want it pending", sc.Name, show(r))
			} else {
				wantLease(t, r, "n1", ptr(t0.Add(lease))) // a late fire's lease runs from the claim
			}
			if i == 2 {
				if _, err := db.GetSchedule(ctx, sc.ID); err == nil {
					t.Fatalf("schedule %s still exists", sc.Name)
				}
				continue
			}
			if next := nextRunAt(t, db, sc.ID); next != nil {
				t.Fatalf("schedule %s next_run_at = %v, want NULL", sc.Name, next)
			}
		}
		if s, _ := db.GetSchedule(ctx, scs[1].ID); s.Enabled {
			t.Fatal("disabled schedule is enabled")
		}
	})
}

// Stats lists a schedule's fire claimed ahead as its next fire, not the
// next_run_at after it.
func TestStatsNextDueCountsFiresClaimedAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mk := func(name string) *store.Schedule {
			sc := &store.Schedule{UserID: 1, Name: name, JobType: "script", Cron: "0 * * * *", Enabled: true, TaskParams: []byte(`{}`)}
			if err := db.CreateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
			return sc
		}
		a, b := mk("a"), mk("b")
		now := time.Now().UTC().Truncate(time.Second)
		fire, later := now.Add(time.Hour), now.Add(2*time.Hour)
		bNext := now.Add(90 * time.Minute)
		if _, _, err := db.ClaimDue(ctx, "n1", now, now, 10, time.Minute, func(s *store.Schedule) store.Fire {
			if s.ID == a.ID {
				return store.Fire{Next: &later, Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: fire, Exclusive: true, MaxAttempts: 1}}}
			}
			return store.Fire{Next: &bNext}
		}); err != nil {
			t.Fatal(err)
		}
		st, err := db.Stats(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.NextDue) != 2 || st.NextDue[0].ID != a.ID || !st.NextDue[0].NextRunAt.Equal(fire) ||
			st.NextDue[1].ID != b.ID || !st.NextDue[1].NextRunAt.Equal(bNext) {
			var got []string
			for _, s := range st.NextDue {
				got = append(got, s.Name+"@"+s.NextRunAt.String())
			}
			t.Fatalf("next due = %v; want a@%s, b@%s", got, fire, bNext)
		}
	})
}

// Fires claimed ahead of a schedule disabled or deleted by raw SQL (as the
// old web UI does) are cancelled when they come due, by the claim by id and
// by the general claim alike; an enabled schedule's fire still runs.
func TestFiresOfRawSQLDisabledSchedulesAreCancelled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		var ids []int64
		for _, name := range []string{"kept", "disabled", "deleted", "unowned-disabled"} {
			sc := &store.Schedule{UserID: 1, Name: name, JobType: "script", Cron: "* * * * * *", Enabled: true, TaskParams: []byte(`{}`)}
			if err := db.CreateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, sc.ID)
		}
		plan := func(s *store.Schedule) store.Fire {
			next := at.Add(time.Second)
			return store.Fire{Next: &next, Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: at, Exclusive: true, MaxAttempts: 1}}}
		}
		if _, _, err := db.ClaimDue(ctx, "n1", at, at, 3, time.Minute, plan); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ClaimDue(ctx, "", at, at, 1, time.Minute, plan); err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql string
			id  int64
		}{
			{`UPDATE job_schedules SET enabled = FALSE WHERE id = $1`, ids[1]},
			{`DELETE FROM job_schedules WHERE id = $1`, ids[2]},
			{`UPDATE job_schedules SET enabled = FALSE WHERE id = $1`, ids[3]},
		} {
			if _, err := db.SQL().ExecContext(ctx, q.sql, q.id); err != nil {
				t.Fatal(err)
			}
		}
		runOf := func(id int64) store.Run {
			t.Helper()
			runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: id})
			if err != nil || len(runs) != 1 {
				t.Fatalf("runs of schedule %d = %+v, %v; want one", id, runs, err)
			}
			return runs[0]
		}
		queued := []int64{runOf(ids[0]).ID, runOf(ids[1]).ID, runOf(ids[2]).ID}
		got, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: queued, Lease: time.Minute})
		if err != nil || len(got) != 1 || got[0].ID != queued[0] {
			t.Fatalf("ClaimRunIDs = %+v, %v; want only the enabled schedule's fire", got, err)
		}
		general, err := db.ClaimRuns(ctx, "n2", at, 10, time.Minute, nil)
		if err != nil || len(general) != 0 {
			t.Fatalf("ClaimRuns = %+v, %v; want nothing to run", general, err)
		}
		for _, id := range ids[1:] {
			r := runOf(id)
			if r.Status != store.StatusCancelled || !strings.Contains(r.Error, "disabled or deleted") || r.FinishedAt == nil || r.LeaseOwner != "" {
				t.Errorf("fire of schedule %d = %s %q owner %q; want cancelled with the reason", id, r.Status, r.Error, r.LeaseOwner)
			}
		}
	})
}

// Fires claimed by id ahead of their instant (ClaimByID.Until) are running
// from the claim with started_at = their instant; a fire whose predecessor
// is still running before its instant is not skipped but waits, still
// owned, and is skipped only when the predecessor still runs at its
// instant; a fire due after Until is not claimed.
func TestClaimRunIDsAheadOfTheInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		a := newAheadSchedule(t, db, "a")
		b := newAheadSchedule(t, db, "b")
		// b has a running run of another instance.
		runningB, err := db.InsertRun(ctx, b, t0.Add(-time.Minute), 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.ClaimRun(ctx, runningB.ID, "n2", t0, lease); err != nil {
			t.Fatal(err)
		}
		at := t0.Add(2 * time.Second)
		queued := claimAhead(t, db, "n1", t0.Add(10*time.Second), lease, map[int64]store.Fire{
			a.ID: {Next: ptr(t0.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, at), pendingRun(store.KindCron, at.Add(2*time.Second))}},
			b.ID: {Next: ptr(t0.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, at)}},
		})
		if len(queued) != 3 {
			t.Fatalf("queued = %+v, want 3 runs", queued)
		}
		aRuns, bRuns := runsByInstant(t, db, a.ID), runsByInstant(t, db, b.ID)
		ids := []int64{aRuns[at].ID, aRuns[at.Add(2*time.Second)].ID, bRuns[at].ID}

		now := at.Add(-300 * time.Millisecond)
		got, waiting, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: now, Until: now.Add(500 * time.Millisecond),
			IDs: ids, Lease: lease})
		if err != nil || len(got) != 1 || got[0].ID != aRuns[at].ID {
			t.Fatalf("ClaimRunIDs ahead = %s, %v; want a's fire at %s only", show(got), err, at)
		}
		if got[0].Status != store.StatusRunning || got[0].StartedAt == nil || !got[0].StartedAt.Equal(at) {
			t.Fatalf("fire claimed ahead = %s; want running with started_at = its instant %s", show(got[0]), at)
		}
		wantLease(t, got[0], "n1", ptr(now.Add(lease)))
		slices.Sort(waiting)
		want := []int64{aRuns[at.Add(2*time.Second)].ID, bRuns[at].ID}
		slices.Sort(want)
		if !slices.Equal(waiting, want) {
			t.Fatalf("waiting = %v, want %v (a's later fire, b's fire behind a running run)", waiting, want)
		}
		for _, id := range want {
			if r := mustRun(t, db, id); r.Status != store.StatusPending || r.LeaseOwner != "n1" {
				t.Fatalf("run %d = %s; want pending and still owned by n1", id, show(r))
			}
		}

		// At its instant b's run still runs: b's fire is skipped now.
		got, waiting, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, Until: at.Add(500 * time.Millisecond),
			IDs: []int64{bRuns[at].ID}, Lease: lease})
		if err != nil || len(got) != 0 || len(waiting) != 0 {
			t.Fatalf("ClaimRunIDs at the instant = %s, %v, waiting %v; want nothing", show(got), err, waiting)
		}
		if r := mustRun(t, db, bRuns[at].ID); r.Status != store.StatusSkipped {
			t.Fatalf("b's fire at its instant behind a running run = %s, want skipped", show(r))
		}
	})
}

// A cron fire yields to an unowned run of its schedule (a retry, a manual
// run) that is due before it: claimed by id, ahead of its instant or at
// it, it is not started while that run waits, and the general claim starts
// the waiting run instead. Without this, fires claimed half a second ahead
// could keep a schedule's running slot taken so that the waiting run never
// starts.
func TestCronFireYieldsToAWaitingRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const lease = 10 * time.Second
		a := newAheadSchedule(t, db, "a")
		manual, err := db.InsertRun(ctx, a, t0.Add(time.Second), 1)
		if err != nil {
			t.Fatal(err)
		}
		at := t0.Add(2 * time.Second)
		queued := claimAhead(t, db, "n1", t0.Add(10*time.Second), lease, map[int64]store.Fire{
			a.ID: {Next: ptr(t0.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, at)}},
		})
		if len(queued) != 1 {
			t.Fatalf("queued = %+v", queued)
		}
		fire := queued[0].ID

		now := at.Add(-300 * time.Millisecond)
		got, waiting, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: now, Until: now.Add(500 * time.Millisecond),
			IDs: []int64{fire}, Lease: lease})
		if err != nil || len(got) != 0 || !slices.Equal(waiting, []int64{fire}) {
			t.Fatalf("claim of the fire ahead = %s, waiting %v, %v; want nothing claimed, the fire waiting", show(got), waiting, err)
		}
		got, err = db.ClaimRuns(ctx, "n2", now, 10, lease, nil)
		if err != nil || len(got) != 1 || got[0].ID != manual.ID {
			t.Fatalf("general claim = %s, %v; want the waiting manual run %d", show(got), err, manual.ID)
		}
		// At its instant the manual run still runs: the fire is skipped.
		got, _, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{fire}, Lease: lease})
		if err != nil || len(got) != 0 {
			t.Fatalf("claim at the instant = %s, %v; want nothing", show(got), err)
		}
		if r := mustRun(t, db, fire); r.Status != store.StatusSkipped {
			t.Fatalf("fire behind the running manual run = %s, want skipped", show(r))
		}

		// A fire due before the waiting run does not yield to it.
		b := newAheadSchedule(t, db, "b")
		queued = claimAhead(t, db, "n1", t0.Add(10*time.Second), lease, map[int64]store.Fire{
			b.ID: {Next: ptr(t0.Add(time.Hour)), Runs: []store.NewRun{pendingRun(store.KindCron, t0.Add(3*time.Second))}},
		})
		if _, err := db.InsertRun(ctx, b, t0.Add(4*time.Second), 1); err != nil {
			t.Fatal(err)
		}
		got, _, err = db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: t0.Add(5 * time.Second), IDs: []int64{queued[0].ID}, Lease: lease})
		if err != nil || len(got) != 1 {
			t.Fatalf("claim of an older fire = %s, %v; want it claimed", show(got), err)
		}
	})
}
