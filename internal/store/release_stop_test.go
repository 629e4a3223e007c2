package store_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Three instances stopped by one SIGTERM read their clocks at about the
// same time and release one after the other: the last of them must see the
// others stopped and take back every fire they left, so nothing stays
// pending and next_run_at moves back to the first released instant. (Found
// by the chaos suite: with "stopped" marked as the stopper's own now - 1 ms,
// a later stopper whose now was earlier counted it alive.)
func TestSimultaneousStopsLeaveNothingPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Second)
		next := now.Add(9 * time.Second)
		sc := &store.Schedule{UserID: 1, Name: "x", JobType: "script", Target: "x", TaskParams: []byte(`{}`),
			Cron: "* * * * * *", Enabled: true, NextRunAt: &next}
		if err := db.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		for _, o := range []string{"A", "B", "C"} {
			if _, err := db.Heartbeat(ctx, o, now.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
		}
		// Fires claimed ahead in turns by the three instances.
		for i, o := range []string{"A", "B", "B", "C", "A", "A", "B", "C", "C"} {
			at := now.Add(time.Duration(i) * time.Second)
			if _, err := db.SQL().Exec(`INSERT INTO job_schedule_runs (job_type, job_id, status, kind, scheduled_for,
				run_after, lease_owner, lease_expires_at, attempt, max_attempts)
				VALUES ('script', $1, 'pending', 'cron', $2, $2, $3, $4, 1, 4)`,
				strconv.FormatInt(sc.ID, 10), at, o, at.Add(6*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		// Their clocks, read when the signal came: the first to release
		// read the latest time.
		stops := map[string]time.Duration{"A": 2 * time.Millisecond, "C": time.Millisecond, "B": 0}
		for _, o := range []string{"A", "C", "B"} {
			if _, err := db.ReleaseRuns(ctx, o, now.Add(stops[o])); err != nil {
				t.Fatal(err)
			}
		}
		var left int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM job_schedule_runs`).Scan(&left); err != nil {
			t.Fatal(err)
		}
		got, _ := db.GetSchedule(ctx, sc.ID)
		if left != 0 || got.NextRunAt == nil || !got.NextRunAt.Equal(now) {
			t.Fatalf("after the stops: %d runs left, next_run_at %v; want none and %v", left, got.NextRunAt, now)
		}
	})
}
