package engine

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestCompileRejectsNeverFiringCron(t *testing.T) {
	handlers := map[string]Handler{"script": noop()}
	for expr, want := range map[string]string{
		"0 0 30 2 *":          `cron "0 0 30 2 *" never fires: February has no day 30`,
		"0 0 31 4 *":          `cron "0 0 31 4 *" never fires: April has no day 31`,
		"0 0 31 2,4,6,9,11 *": `cron "0 0 31 2,4,6,9,11 *" never fires: February, April, June, September and November have no day 31`,
	} {
		_, _, err := Compile(&store.Schedule{JobType: "script", Cron: expr, TaskParams: []byte(`{}`)}, time.UTC, handlers)
		if err == nil || err.Error() != want || !errors.Is(err, cronexpr.ErrNeverFires) {
			t.Errorf("Compile(%q) error = %v, want %q", expr, err, want)
		}
	}
	for _, expr := range []string{"0 0 29 2 *", "0 0 31 * *"} {
		if _, _, err := Compile(&store.Schedule{JobType: "script", Cron: expr, TaskParams: []byte(`{}`)}, time.UTC, handlers); err != nil {
			t.Errorf("Compile(%q): %v", expr, err)
		}
	}
}

// claimAt runs one claim as the engine does at now and returns how many
// schedules it took.
func claimAt(t *testing.T, db *store.DB, e *Engine, now time.Time) int {
	t.Helper()
	n, _, err := db.ClaimDue(context.Background(), "", now, now, 100, 0, e.planner(now, now))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func getSchedule(t *testing.T, db *store.DB, id int64) *store.Schedule {
	t.Helper()
	s, err := db.GetSchedule(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A never-firing schedule is parked as invalid (last_error, a recheck a
// minute later), not left with next_run_at NULL, which the claim takes
// again at once. When it is fixed by raw SQL, it fires at its first real
// instant, not at the recheck time.
func TestNeverFiringScheduleIsParked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "feb30", "0 0 30 2 *", `{}`)
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		now := time.Date(2026, 3, 2, 10, 30, 30, 500_000_000, time.UTC)

		if n := claimAt(t, db, e, now); n != 1 {
			t.Fatalf("first claim took %d schedules, want 1", n)
		}
		s := getSchedule(t, db, sc.ID)
		if want := `cron "0 0 30 2 *" never fires: February has no day 30`; s.LastError != want {
			t.Fatalf("last_error = %q, want %q", s.LastError, want)
		}
		if s.NextRunAt == nil || !s.NextRunAt.Equal(now.Add(invalidRecheck)) {
			t.Fatalf("next_run_at = %v, want the recheck %v", s.NextRunAt, now.Add(invalidRecheck))
		}
		// No hot loop: the schedule is not due again until the recheck.
		for _, at := range []time.Time{now, now.Add(time.Second), now.Add(invalidRecheck - time.Second)} {
			if n := claimAt(t, db, e, at); n != 0 {
				t.Fatalf("claim at %v took %d schedules, want 0", at, n)
			}
		}
		if runs := runsOf(t, db, sc.ID); len(runs) != 0 {
			t.Fatalf("never-firing schedule has runs: %v", runs)
		}

		// Fixed by raw SQL: the recheck time is not a fire instant.
		if _, err := db.SQL().Exec(`UPDATE job_schedules SET cron = '0 * * * *' WHERE id = $1`, sc.ID); err != nil {
			t.Fatal(err)
		}
		recheck := now.Add(invalidRecheck)
		if n := claimAt(t, db, e, recheck); n != 1 {
			t.Fatalf("claim at the recheck took %d schedules, want 1", n)
		}
		s = getSchedule(t, db, sc.ID)
		first := time.Date(2026, 3, 2, 11, 0, 0, 0, time.UTC)
		if s.LastError != "" || s.NextRunAt == nil || !s.NextRunAt.Equal(first) {
			t.Fatalf("after the fix: last_error %q, next_run_at %v, want none and %v", s.LastError, s.NextRunAt, first)
		}
		if runs := runsOf(t, db, sc.ID); len(runs) != 0 {
			t.Fatalf("a run at the recheck time: %v", runs)
		}
	})
}

// A valid schedule with no fire within the 5 years Next looks ahead (a
// February 29 that is a Sunday, from 2026 on) is rechecked daily, never
// left NULL, never fired at a recheck time, and fires when its day comes.
func TestScheduleWithoutFireWithinHorizonIsRechecked(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "feb29-sunday", "0 0 29 2 */7", `{}`)
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		now := time.Date(2026, 3, 2, 10, 30, 30, 0, time.UTC)

		for day := range 3 {
			at := now.Add(time.Duration(day) * noFireRecheck)
			if n := claimAt(t, db, e, at); n != 1 {
				t.Fatalf("day %d: claim took %d schedules, want 1", day, n)
			}
			s := getSchedule(t, db, sc.ID)
			if s.LastError != "" || s.NextRunAt == nil || !s.NextRunAt.Equal(at.Add(noFireRecheck)) {
				t.Fatalf("day %d: last_error %q, next_run_at %v, want none and %v", day, s.LastError, s.NextRunAt, at.Add(noFireRecheck))
			}
			if n := claimAt(t, db, e, at.Add(time.Second)); n != 0 {
				t.Fatalf("day %d: claimed again at once (%d schedules)", day, n)
			}
		}
		if runs := runsOf(t, db, sc.ID); len(runs) != 0 {
			t.Fatalf("runs at recheck times: %v", runs)
		}

		// In 2031 the fire (2032-02-29) is within reach.
		later := time.Date(2031, 6, 1, 12, 0, 0, 0, time.UTC)
		if err := db.SetNextRun(context.Background(), sc.ID, &later); err != nil {
			t.Fatal(err)
		}
		claimAt(t, db, e, later)
		fire := time.Date(2032, 2, 29, 0, 0, 0, 0, time.UTC)
		if s := getSchedule(t, db, sc.ID); s.NextRunAt == nil || !s.NextRunAt.Equal(fire) {
			t.Fatalf("next_run_at = %v, want %v", s.NextRunAt, fire)
		}
		claimAt(t, db, e, fire.Add(5*time.Second))
		runs := runsOf(t, db, sc.ID)
		if len(runs) != 1 || !runs[0].ScheduledFor.Equal(fire) || runs[0].Status != store.StatusPending {
			t.Fatalf("runs = %v, want one pending run at %v", runs, fire)
		}
	})
}
