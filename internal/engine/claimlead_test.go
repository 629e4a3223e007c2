package engine

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Fires are claimed (set running) up to claimLead before their instant and
// their handlers start at the instant, never before it; the run row's
// started_at is the real start.
func TestFiresClaimedAheadStartAtTheirInstant(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const n = 20
		for i := range n {
			addSchedule(t, db, "lead-"+string(rune('a'+i)), "* * * * * *", `{}`)
		}
		type start struct {
			at      time.Time
			run     store.Run
			claimed bool // the run handed to the handler was running before its instant
		}
		var mu sync.Mutex
		var starts []start
		e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			now := time.Now()
			mu.Lock()
			starts = append(starts, start{at: now, run: job.Run,
				claimed: job.Run.Status == store.StatusRunning && job.Run.StartedAt != nil && job.Run.StartedAt.Equal(job.Run.ScheduledFor)})
			mu.Unlock()
			return nil, nil
		})}, Options{NodeID: "lead", Workers: 2 * n, Lease: 3 * time.Second, PollInterval: 200 * time.Millisecond})
		stop := startEngine(t, e)
		waitFor(t, 15*time.Second, "three seconds of fires", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(starts) >= 3*n
		})
		stop()
		mu.Lock()
		defer mu.Unlock()
		ahead := 0
		for _, s := range starts {
			if s.at.Before(s.run.ScheduledFor) {
				t.Fatalf("run %d for %s started %s early", s.run.ID, s.run.ScheduledFor, s.run.ScheduledFor.Sub(s.at))
			}
			if s.claimed {
				ahead++
			}
			r, err := db.GetRun(context.Background(), s.run.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusCompleted || r.StartedAt == nil || r.StartedAt.Before(r.ScheduledFor) {
				t.Fatalf("run %d = %s started_at %v for %s; want completed, started at or after its instant", r.ID, r.Status, r.StartedAt, r.ScheduledFor)
			}
		}
		if ahead == 0 {
			t.Fatalf("none of %d fires was claimed before its instant", len(starts))
		}
	})
}

// A fire claimed ahead that is still waiting for its instant when the
// shutdown grace ends is put back as pending, unowned and never started,
// for another instance or the next start.
func TestShutdownBeforeTheInstantPutsTheClaimedFireBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "later", "*/5 * * * * *", `{}`)
		var mu sync.Mutex
		handled := map[int64]bool{}
		o := testOptions()
		o.ShutdownGrace = 50 * time.Millisecond
		o.claimLead = 3 * time.Second
		e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			mu.Lock()
			handled[job.Run.ID] = true
			mu.Unlock()
			return nil, nil
		})}, o)
		stop := startEngine(t, e)
		var waiting store.Run
		waitFor(t, 15*time.Second, "a fire claimed ahead, waiting for its instant", func() bool {
			for _, r := range runsOf(t, db, sc.ID) {
				if r.Status == store.StatusRunning && r.StartedAt != nil && time.Until(*r.StartedAt) > time.Second {
					waiting = r
					return true
				}
			}
			return false
		})
		stop()
		r, err := db.GetRun(context.Background(), waiting.ID)
		if err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		ran := handled[waiting.ID]
		mu.Unlock()
		if ran || r.Status != store.StatusPending || r.StartedAt != nil || r.LeaseOwner != "" {
			t.Fatalf("fire for %s after a shutdown before its instant: handled %v, %s started_at %v owner %q; want pending, unstarted, unowned",
				r.ScheduledFor, ran, r.Status, r.StartedAt, r.LeaseOwner)
		}
	})
}

// A manual run of a schedule whose runs keep its running slot taken (each
// run lasts most of the second between fires, and the next fire is claimed
// half a second before its instant) still starts: the next fire yields to
// it.
func TestManualRunIsNotStarvedByBusyFires(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "busy", "* * * * * *", `{}`)
		e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			if job.Run.Kind == store.KindCron {
				select { // most of the second until the next fire
				case <-time.After(700 * time.Millisecond):
				case <-ctx.Done():
				}
			}
			return nil, nil
		})}, testOptions())
		startEngine(t, e)
		waitFor(t, 10*time.Second, "two completed fires", func() bool { return countStatus(runsOf(t, db, sc.ID), "completed") >= 2 })
		manual, err := db.InsertRun(context.Background(), sc, time.Now(), 1)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "the manual run to complete", func() bool {
			r, err := db.GetRun(context.Background(), manual.ID)
			return err == nil && r.Status == store.StatusCompleted
		})
	})
}
