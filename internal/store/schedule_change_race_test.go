package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// A schedule change that waits for a claim in progress still drops the fires
// that claim inserted ahead.
func TestScheduleChangeDuringClaimDropsItsFires(t *testing.T) {
	for _, op := range []string{"SetEnabled(false)", "UpdateSchedule", "DeleteSchedule"} {
		t.Run(op, func(t *testing.T) {
			db := storetest.Postgres(t)
			ctx := context.Background()
			sc := &store.Schedule{UserID: 1, Name: "s", JobType: "script", Cron: "* * * * * *", Enabled: true, TaskParams: []byte(`{}`)}
			if err := db.CreateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
			future := time.Now().Add(time.Hour).Truncate(time.Second)
			inPlan, proceed := make(chan struct{}), make(chan struct{})
			claimDone := make(chan error, 1)
			go func() { // the engine's claim loop, claiming ahead
				_, _, err := db.ClaimDue(ctx, "n1", time.Now(), future, 10, time.Minute, func(s *store.Schedule) store.Fire {
					close(inPlan)
					<-proceed
					next := future.Add(time.Second)
					return store.Fire{Next: &next, Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: future, Exclusive: true, MaxAttempts: 1}}}
				})
				claimDone <- err
			}()
			<-inPlan
			changeDone := make(chan error, 1)
			go func() { // a user changes the schedule meanwhile
				switch op {
				case "SetEnabled(false)":
					changeDone <- db.SetEnabled(ctx, sc.ID, false)
				case "UpdateSchedule":
					u := *sc
					u.Cron = "0 0 * * *"
					changeDone <- db.UpdateSchedule(ctx, &u)
				default:
					changeDone <- db.DeleteSchedule(ctx, sc.ID)
				}
			}()
			// Wait until the change waits for the claim's row lock.
			deadline := time.Now().Add(5 * time.Second)
			for {
				var n int
				if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&n); err != nil {
					t.Fatal(err)
				}
				if n > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the change never waited for the claim")
				}
				time.Sleep(10 * time.Millisecond)
			}
			close(proceed)
			if err := <-claimDone; err != nil {
				t.Fatal(err)
			}
			if err := <-changeDone; err != nil {
				t.Fatal(err)
			}
			runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: sc.ID})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range runs {
				if r.Status == store.StatusPending && r.ScheduledFor.After(time.Now()) {
					t.Errorf("after %s: fire for %s (an hour ahead) still pending, owner %q", op, r.ScheduledFor, r.LeaseOwner)
				}
			}
		})
	}
}

// A disable that overlaps an instance's shutdown release must not deadlock:
// both lock the schedule row before its fires.
func TestSetEnabledDuringReleaseRunsDoesNotDeadlock(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	sc := &store.Schedule{UserID: 1, Name: "s", JobType: "script", Cron: "* * * * * *", Enabled: true, TaskParams: []byte(`{}`)}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	future := time.Now().Add(time.Hour).Truncate(time.Second)
	if _, _, err := db.ClaimDue(ctx, "n1", time.Now(), future, 10, time.Minute, func(s *store.Schedule) store.Fire {
		next := future.Add(time.Second)
		return store.Fire{Next: &next, Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: future, Exclusive: true, MaxAttempts: 1}}}
	}); err != nil {
		t.Fatal(err)
	}
	waiting := func(n int) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			var w int
			_ = db.SQL().QueryRow(`SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`).Scan(&w)
			if w >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d sessions waiting, want %d", w, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// Only to order the two calls: hold the fire row for a moment.
	x, err := db.SQL().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Exec(`SELECT id FROM job_schedule_runs FOR UPDATE`); err != nil {
		t.Fatal(err)
	}
	setErr, relErr := make(chan error, 1), make(chan error, 1)
	go func() { setErr <- db.SetEnabled(ctx, sc.ID, false) }() // deletes fires first: waits for the row
	waiting(1)
	go func() { _, err := db.ReleaseRuns(ctx, "n1", time.Now()); relErr <- err }() // locks the schedule, then waits for the row
	waiting(2)
	_ = x.Rollback()
	e1, e2 := <-setErr, <-relErr
	if e1 != nil || e2 != nil {
		t.Fatalf("SetEnabled: %v\nReleaseRuns: %v", e1, e2)
	}
}
