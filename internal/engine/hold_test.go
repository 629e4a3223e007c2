package engine

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// A cron fire that comes while its schedule's exclusive run started here
// less than holdExecuting ago waits for that run instead of being skipped
// (under load, two consecutive claims can come moments apart); a run that
// executes longer than that still makes the fire skipped
// (TestSkippedWhileRunning).
func TestFireWaitsForARecentlyStartedRun(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "held", "* * * * * *", `{}`)
	const manualFor = 900 * time.Millisecond // < holdExecuting: every fire during it is held
	e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
		if job.Run.Kind == "manual" {
			select { // the work of the manual run
			case <-time.After(manualFor):
			case <-ctx.Done():
			}
		}
		return &Outcome{Result: map[string]bool{"ok": true}}, nil
	})}, testOptions())
	startEngine(t, e)
	waitFor(t, 10*time.Second, "a completed cron fire", func() bool { return countStatus(runsOf(t, db, sc.ID), "completed") >= 1 })
	var manual []int64
	for range 3 {
		r, err := db.InsertRun(context.Background(), sc, time.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		manual = append(manual, r.ID)
		waitFor(t, 10*time.Second, "the manual run to finish", func() bool {
			got, err := db.GetRun(context.Background(), r.ID)
			return err == nil && got.Status == store.StatusCompleted
		})
	}
	last, err := db.GetRun(context.Background(), manual[len(manual)-1])
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "a cron fire after the manual runs", func() bool {
		for _, r := range runsOf(t, db, sc.ID) {
			if r.Kind == "cron" && r.Status == store.StatusCompleted && r.ScheduledFor.After(*last.FinishedAt) {
				return true
			}
		}
		return false
	})
	runs := runsOf(t, db, sc.ID)
	if n := countStatus(runs, "skipped"); n != 0 {
		t.Fatalf("%d fires skipped for manual runs of %s (they should have waited):\n%+v", n, manualFor, runs)
	}
	// Every fire during a manual run started after it finished.
	for _, id := range manual {
		m, err := db.GetRun(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			if r.Kind == "cron" && r.StartedAt != nil && r.ScheduledFor.After(*m.StartedAt) && r.ScheduledFor.Before(*m.FinishedAt) &&
				r.StartedAt.Before(*m.FinishedAt) {
				t.Fatalf("fire %s started at %s, while manual run %d ran (%s–%s)", r.ScheduledFor, r.StartedAt, id, m.StartedAt, m.FinishedAt)
			}
		}
	}
}
