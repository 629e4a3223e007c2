package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Two sessions claiming different pending runs of one schedule at once
// conflict on ux_job_schedule_runs_one_running: the claim's NOT EXISTS
// (running exclusive run of the schedule) cannot see the other session's
// uncommitted run, its UPDATE waits on that index entry and, when the other
// session commits, fails with SQLSTATE 23505. The claim must not fail as a
// whole: the run is left pending for later. (Found by the framework tests,
// where it delayed whole batches by a second; fixed on main by claiming one
// by one after such a conflict.)
func TestClaimOfARunWhileAnotherRunOfItsScheduleIsBeingClaimed(t *testing.T) {
	url := storetest.PostgresURL(t) + "&application_name=claim-conflict-test"
	db := storetest.Open(t, "postgres", url)
	ctx := context.Background()
	sc := &store.Schedule{UserID: 1, Name: "s", JobType: "script", Cron: "@hourly", Enabled: true, TaskParams: []byte(`{}`)}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	a, err := db.InsertRun(ctx, sc, now.Add(-2*time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := db.InsertRun(ctx, sc, now.Add(-time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	// Another instance claims run a: running, not yet committed.
	tx, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE job_schedule_runs SET status = 'running', started_at = now(),
		lease_owner = 'other', lease_expires_at = now() + interval '1 minute' WHERE id = $1`, a.ID); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "me", Now: time.Now(), IDs: []int64{b.ID}, Lease: time.Minute})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var waiting int
		if err := db.SQL().QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_stat_activity
			WHERE application_name = 'claim-conflict-test' AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the claim of run b never waited for run a's claim")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("claim of run b failed instead of leaving it for later: %v", err)
	}
	got, err := db.GetRun(ctx, b.ID)
	if err != nil || got.Status != store.StatusPending {
		t.Fatalf("run b after the claim: %+v, %v; want pending (its schedule's run a is running)", got, err)
	}
}
