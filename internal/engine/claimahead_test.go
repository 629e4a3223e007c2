package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// describeRuns formats runs compactly for failure messages.
func describeRuns(runs []store.Run) string {
	var b strings.Builder
	for _, r := range runs {
		fmt.Fprintf(&b, "\n  id %d %s/%s at %s owner %q", r.ID, r.Kind, r.Status, r.ScheduledFor.Format("15:04:05.000"), r.LeaseOwner)
	}
	return b.String()
}

// At a graceful shutdown the engine gives back the fires it claimed ahead:
// no pending run stays leased to it, and next_run_at points at the first
// instant that has no run row, right after the last instant with one.
func TestShutdownReleasesFiresClaimedAhead(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	sc := addSchedule(t, db, "every-second", "* * * * * *", `{}`)
	o := testOptions() // ClaimAhead: the default 10 s
	e := New(db, map[string]Handler{"script": noop()}, o)
	if e.o.ClaimAhead != 10*time.Second {
		t.Fatalf("default ClaimAhead = %s, want 10s", e.o.ClaimAhead)
	}
	stop := startEngine(t, e)
	waitFor(t, 10*time.Second, "3 completed runs", func() bool { return countStatus(runsOf(t, db, sc.ID), store.StatusCompleted) >= 3 })
	// Fires several seconds ahead are claimed, leased to this engine until
	// their instant plus the lease.
	waitFor(t, 5*time.Second, "fires claimed ahead", func() bool {
		n, now := 0, time.Now()
		for _, r := range runsOf(t, db, sc.ID) {
			if r.Status == store.StatusPending && r.LeaseOwner == o.NodeID && r.ScheduledFor.After(now.Add(3*time.Second)) {
				if r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(r.ScheduledFor.Add(o.Lease)) {
					t.Fatalf("fire claimed ahead leased until %v, want its instant %s + %s", r.LeaseExpiresAt, r.ScheduledFor, o.Lease)
				}
				n++
			}
		}
		return n >= 3
	}, func() string { return describeRuns(runsOf(t, db, sc.ID)) })

	stop()
	stopped := time.Now()

	runs := runsOf(t, db, sc.ID) // newest first
	if len(runs) == 0 {
		t.Fatal("no runs")
	}
	seen := map[time.Time]bool{}
	last := runs[0].ScheduledFor
	for _, r := range runs {
		if r.LeaseOwner != "" || r.LeaseExpiresAt != nil {
			t.Fatalf("run still leased after shutdown: %s", describeRuns([]store.Run{r}))
		}
		if r.Status == store.StatusRunning {
			t.Fatalf("run still running after shutdown: %s", describeRuns([]store.Run{r}))
		}
		if seen[r.ScheduledFor] {
			t.Fatalf("two runs for %s", r.ScheduledFor)
		}
		seen[r.ScheduledFor] = true
	}
	// Every instant from the first run to the last has its row.
	for at := runs[len(runs)-1].ScheduledFor; !at.After(last); at = at.Add(time.Second) {
		if !seen[at] {
			t.Fatalf("no run for %s, between the first and the last run:%s", at, describeRuns(runs))
		}
	}
	// Only instants that had come before the shutdown have rows: the fires
	// claimed ahead of it were deleted.
	if last.After(stopped) {
		t.Fatalf("a run for %s, after the shutdown at %s, was kept:%s", last, stopped, describeRuns(runs))
	}
	s, err := db.GetSchedule(ctx, sc.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := last.Add(time.Second); s.NextRunAt == nil || !s.NextRunAt.Equal(want) {
		t.Fatalf("next_run_at = %v, want %s (the instant after the last run %s); stopped at %s", s.NextRunAt, want, last, stopped)
	}
}

// A dead instance's fires claimed ahead are released when their lease
// expires and are run by a live instance, once per instant.
func TestDeadInstanceFiresRunElsewhere(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// parallel: no fire is skipped because the previous one is still
		// marked running, so every instant must complete.
		sc := addSchedule(t, db, "orphaned", "* * * * * *", `{"options": {"parallel": true}}`)
		type call struct {
			runID int64
			owner string
		}
		var mu sync.Mutex
		calls := map[time.Time][]call{}
		h := funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			mu.Lock()
			calls[job.Run.ScheduledFor] = append(calls[job.Run.ScheduledFor], call{job.Run.ID, job.Run.LeaseOwner})
			mu.Unlock()
			return &Outcome{Result: "ok"}, nil
		})
		o := testOptions()
		o.NodeID, o.Lease = "live", time.Second
		e := New(db, map[string]Handler{"script": h}, o)

		// The dead instance claimed the next two instants ahead with a 1 s
		// lease, then died.
		now := time.Now()
		horizon := now.Add(2 * time.Second)
		const deadLease = time.Second
		_, queued, err := db.ClaimDue(ctx, "dead", now, horizon, 10, deadLease, e.planner(now, horizon))
		if err != nil {
			t.Fatal(err)
		}
		if len(queued) != 2 {
			t.Fatalf("the dead instance claimed %d fires, want 2 (the instants in (%s, %s])", len(queued), now, horizon)
		}
		deadRuns := map[time.Time]int64{}
		for _, q := range queued {
			r, err := db.GetRun(ctx, q.ID)
			if err != nil {
				t.Fatal(err)
			}
			if r.Status != store.StatusPending || r.LeaseOwner != "dead" || r.LeaseExpiresAt == nil || !r.LeaseExpiresAt.Equal(r.ScheduledFor.Add(deadLease)) {
				t.Fatalf("dead instance's fire = %s (lease until %v)", describeRuns([]store.Run{*r}), r.LeaseExpiresAt)
			}
			deadRuns[r.ScheduledFor] = r.ID
		}

		startEngine(t, e)
		waitFor(t, 8*time.Second, "the dead instance's instants to complete", func() bool {
			runs := runsOf(t, db, sc.ID)
			for at := range deadRuns {
				if !slices.ContainsFunc(runs, func(r store.Run) bool { return r.ScheduledFor.Equal(at) && r.Status == store.StatusCompleted }) {
					return false
				}
			}
			return true
		}, func() string { return describeRuns(runsOf(t, db, sc.ID)) })

		runs := runsOf(t, db, sc.ID)
		mu.Lock()
		defer mu.Unlock()
		for at, deadID := range deadRuns {
			var rows []store.Run
			for _, r := range runs {
				if r.ScheduledFor.Equal(at) {
					rows = append(rows, r)
				}
			}
			if len(rows) != 1 {
				t.Fatalf("%d runs for %s, want exactly 1:%s", len(rows), at, describeRuns(rows))
			}
			r := rows[0]
			// The live instance claimed the instants after them, so the dead
			// instance's fires are not deleted and planned again: they lose
			// their owner and the general claim runs them, each once.
			if r.ID != deadID || r.Kind != store.KindCron || r.Status != store.StatusCompleted {
				t.Fatalf("run for %s = %s; want the dead instance's run %d, completed", at, describeRuns(rows), deadID)
			}
			if c := calls[at]; len(c) != 1 || c[0].runID != r.ID || c[0].owner != "live" {
				t.Fatalf("handler calls for %s = %+v, want one, run %d leased to live", at, c, r.ID)
			}
		}
		for _, r := range runs {
			if r.LeaseOwner == "dead" {
				t.Fatalf("a run is still leased to the dead instance:%s", describeRuns([]store.Run{r}))
			}
		}
	})
}

// Disabling a schedule while fires are claimed ahead deletes those that are
// not due yet: none of them starts.
func TestDisableDropsFiresClaimedAhead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "to-disable", "* * * * * *", `{}`)
		o := testOptions()
		e := New(db, map[string]Handler{"script": noop()}, o)
		startEngine(t, e)
		waitFor(t, 10*time.Second, "a completed run", func() bool { return countStatus(runsOf(t, db, sc.ID), store.StatusCompleted) >= 1 })
		waitFor(t, 5*time.Second, "fires claimed ahead", func() bool {
			n, now := 0, time.Now()
			for _, r := range runsOf(t, db, sc.ID) {
				if r.Status == store.StatusPending && r.LeaseOwner == o.NodeID && r.ScheduledFor.After(now.Add(2*time.Second)) {
					n++
				}
			}
			return n >= 3
		})

		if err := db.SetEnabled(ctx, sc.ID, false); err != nil {
			t.Fatal(err)
		}
		disabled := time.Now()
		// The fires for instants after the change are gone at once.
		for _, r := range runsOf(t, db, sc.ID) {
			if r.ScheduledFor.After(disabled) {
				t.Fatalf("a run for %s is left after disabling at %s:%s", r.ScheduledFor, disabled, describeRuns(runsOf(t, db, sc.ID)))
			}
		}
		s, err := db.GetSchedule(ctx, sc.ID)
		if err != nil || s.Enabled || s.NextRunAt != nil {
			t.Fatalf("schedule after disabling = %+v, %v", s, err)
		}

		// None is started later either (the engine still holds their ids).
		// An observation window of 3 s, past several instants claimed ahead.
		limit := disabled.Add(time.Second)
		end := time.Now().Add(3 * time.Second)
		for time.Now().Before(end) {
			for _, r := range runsOf(t, db, sc.ID) {
				if r.ScheduledFor.After(limit) {
					t.Fatalf("run for %s (%s) exists %s after disabling at %s:%s", r.ScheduledFor, r.Status,
						time.Since(disabled).Round(time.Millisecond), disabled, describeRuns(runsOf(t, db, sc.ID)))
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
		for _, r := range runsOf(t, db, sc.ID) {
			if r.ScheduledFor.After(disabled) {
				t.Fatalf("a run for %s appeared after disabling at %s:%s", r.ScheduledFor, disabled, describeRuns(runsOf(t, db, sc.ID)))
			}
		}
	})
}
