package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// funcHandler adapts a function to Handler.
type funcHandler func(ctx context.Context, job *Job) (*Outcome, error)

func (f funcHandler) Validate(json.RawMessage) error { return nil }
func (f funcHandler) Handle(ctx context.Context, job *Job) (*Outcome, error) {
	return f(ctx, job)
}

func noop() funcHandler {
	return func(ctx context.Context, job *Job) (*Outcome, error) {
		return &Outcome{Result: map[string]bool{"ok": true}}, nil
	}
}

func testOptions() Options {
	return Options{NodeID: "test", Workers: 4, RetryDelay: 20 * time.Millisecond, Lease: 3 * time.Second,
		PollInterval: 200 * time.Millisecond, ShutdownGrace: 5 * time.Second, RetryCount: 0,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

func addSchedule(t testing.TB, db store.Store, name, cron, params string) *store.Schedule {
	t.Helper()
	sc := &store.Schedule{UserID: 1, Name: name, JobType: "script", Cron: cron, Enabled: true, TaskParams: json.RawMessage(params)}
	if err := db.CreateSchedule(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

// startEngine runs e until the test ends (or stop is called) and returns stop.
func startEngine(t testing.TB, e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = e.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, d time.Duration, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			msg := ""
			for _, f := range explain {
				msg += f()
			}
			t.Fatalf("timed out after %s waiting for %s %s", d, what, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runsOf(t testing.TB, db store.Store, id int64) []store.Run {
	t.Helper()
	runs, err := db.ListRuns(context.Background(), store.RunFilter{ScheduleID: id, Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	return runs
}

func countStatus(runs []store.Run, status string) int {
	n := 0
	for _, r := range runs {
		if r.Status == status {
			n++
		}
	}
	return n
}

func TestFiresEverySecondExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "every-second", "* * * * * *", `{}`)
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		stop := startEngine(t, e)
		waitFor(t, 10*time.Second, "4 completed runs", func() bool { return countStatus(runsOf(t, db, sc.ID), "completed") >= 4 })
		stop()
		runs := runsOf(t, db, sc.ID)
		seen := map[time.Time]bool{}
		for _, r := range runs {
			if seen[r.ScheduledFor] {
				t.Fatalf("instant %s ran twice", r.ScheduledFor)
			}
			seen[r.ScheduledFor] = true
			if r.ScheduledFor.Nanosecond() != 0 {
				t.Fatalf("scheduled_for %s is not the exact cron instant", r.ScheduledFor)
			}
			if r.Kind != store.KindCron || r.Status == "failed" {
				t.Fatalf("run %+v", r)
			}
		}
		// Instants are consecutive seconds: none is missing in the window.
		for _, r := range runs[:len(runs)-1] {
			if !seen[r.ScheduledFor.Add(-time.Second)] && r.ScheduledFor != runs[len(runs)-1].ScheduledFor {
				t.Fatalf("instant before %s missing", r.ScheduledFor)
			}
		}
	})
}

func TestMisfirePolicyAfterOutage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "minutely", "* * * * *", `{}`)
		now := time.Date(2026, 3, 2, 10, 30, 30, 0, time.UTC)
		last := time.Date(2026, 3, 2, 8, 30, 0, 0, time.UTC) // the scheduler was down for two hours
		if err := db.SetNextRun(ctx, sc.ID, &last); err != nil {
			t.Fatal(err)
		}
		o := testOptions()
		o.Now = func() time.Time { return now }
		o.Coalesce = true
		e := New(db, map[string]Handler{"script": noop()}, o)
		if _, _, err := db.ClaimDue(ctx, "", now, now, 100, 0, e.planner(now, now)); err != nil {
			t.Fatal(err)
		}
		byKind := map[string][]store.Run{}
		for _, r := range runsOf(t, db, sc.ID) {
			byKind[r.Kind] = append(byKind[r.Kind], r)
		}
		// 08:30 … 10:25 are older than the 300 s grace: one record for 116 instants.
		if m := byKind[store.KindMissed]; len(m) != 1 || m[0].Status != store.StatusMissed ||
			!m[0].ScheduledFor.Equal(last) {
			t.Fatalf("missed records = %+v", m)
		}
		var res struct {
			MissedCount int `json:"missed_count"`
		}
		_ = json.Unmarshal(byKind[store.KindMissed][0].Result, &res)
		if res.MissedCount != 116 {
			t.Fatalf("missed_count = %d, want 116", res.MissedCount)
		}
		// 10:26 … 10:29 are within the grace: coalesced into one run at 10:29.
		if c := byKind[store.KindCoalesced]; len(c) != 1 || !c[0].ScheduledFor.Equal(time.Date(2026, 3, 2, 10, 29, 0, 0, time.UTC)) || c[0].Status != "pending" {
			t.Fatalf("coalesced = %+v", c)
		}
		// Each record says which instants it stands for.
		if m := byKind[store.KindMissed][0]; m.CoversFrom == nil || !m.CoversFrom.Equal(last) || m.CoversTo == nil ||
			!m.CoversTo.Equal(time.Date(2026, 3, 2, 10, 25, 0, 0, time.UTC)) {
			t.Fatalf("missed record covers %v … %v", m.CoversFrom, m.CoversTo)
		}
		if c := byKind[store.KindCoalesced][0]; c.CoversFrom == nil || !c.CoversFrom.Equal(time.Date(2026, 3, 2, 10, 26, 0, 0, time.UTC)) ||
			c.CoversTo == nil || !c.CoversTo.Equal(c.ScheduledFor) {
			t.Fatalf("coalesced run covers %v … %v", c.CoversFrom, c.CoversTo)
		}
		// 10:30 is only 30 s late: an ordinary run.
		if c := byKind[store.KindCron]; len(c) != 1 || !c[0].ScheduledFor.Equal(time.Date(2026, 3, 2, 10, 30, 0, 0, time.UTC)) {
			t.Fatalf("on-time runs = %+v", c)
		}
		s, _ := db.GetSchedule(ctx, sc.ID)
		if want := time.Date(2026, 3, 2, 10, 31, 0, 0, time.UTC); !s.NextRunAt.Equal(want) {
			t.Fatalf("next_run_at = %v, want %v", s.NextRunAt, want)
		}
		st, err := db.Stats(ctx, now)
		if err != nil || st.MissedRecords != 1 {
			t.Fatalf("status missed records = %v, %v", st, err)
		}
	})
}

func TestLateButNotMissedFiresEachInstant(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	sc := addSchedule(t, db, "busy", "*/10 * * * * *", `{}`)
	now := time.Date(2026, 3, 2, 10, 0, 45, 0, time.UTC)
	last := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC) // 45 s behind under load
	_ = db.SetNextRun(ctx, sc.ID, &last)
	e := New(db, map[string]Handler{"script": noop()}, testOptions())
	if _, _, err := db.ClaimDue(ctx, "", now, now, 100, 0, e.planner(now, now)); err != nil {
		t.Fatal(err)
	}
	runs := runsOf(t, db, sc.ID)
	if len(runs) != 5 || countStatus(runs, "pending") != 5 {
		t.Fatalf("runs = %d (%v), want 5 pending runs for 0,10,20,30,40 s", len(runs), runs)
	}
}

func TestTimeoutFailsRun(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "slow", "@every 1h", `{"timeout_seconds": 1, "options": {"retry_count": 0}}`)
	e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})}, testOptions())
	r, err := db.InsertRun(context.Background(), sc, time.Now(), 1)
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	waitFor(t, 10*time.Second, "failed run", func() bool {
		got, _ := db.GetRun(context.Background(), r.ID)
		return got.Status == "failed"
	})
	got, _ := db.GetRun(context.Background(), r.ID)
	if got.Error != "timed out after 1 s" {
		t.Fatalf("error = %q", got.Error)
	}
}

func TestRetriesWithBackoffKeepAttempts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		sc := addSchedule(t, db, "flaky", "@every 1h", `{"options": {"retry_count": 3, "retry_delay": 0.01}}`)
		var calls atomic.Int32
		e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			if n := calls.Add(1); n <= 2 {
				return nil, fmt.Errorf("transient failure %d", n)
			}
			return &Outcome{Result: "ok"}, nil
		})}, testOptions())
		r, err := db.InsertRun(context.Background(), sc, time.Now(), 4)
		if err != nil {
			t.Fatal(err)
		}
		startEngine(t, e)
		waitFor(t, 10*time.Second, "completed run", func() bool {
			got, _ := db.GetRun(context.Background(), r.ID)
			return got.Status == "completed"
		})
		got, _ := db.GetRun(context.Background(), r.ID)
		atts, _ := db.ListAttempts(context.Background(), r.ID)
		if got.Attempt != 3 || len(atts) != 2 || atts[0].Error != "transient failure 1" || atts[1].Error != "transient failure 2" {
			t.Fatalf("run attempt %d, attempts %+v", got.Attempt, atts)
		}
	})
}

func TestExpiredLeaseIsRetried(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "orphan", "@every 1h", `{}`)
		r, _ := db.InsertRun(ctx, sc, time.Now().Add(-time.Minute), 2)
		// A process claimed it and died: its lease runs out.
		if _, err := db.ClaimRun(ctx, r.ID, "dead-node", time.Now().Add(-time.Minute), time.Second); err != nil {
			t.Fatal(err)
		}
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		if err := e.RecoverExpired(ctx); err != nil {
			t.Fatal(err)
		}
		got, _ := db.GetRun(ctx, r.ID)
		if got.Status != "pending" || got.Attempt != 2 {
			t.Fatalf("after recovery: %s attempt %d", got.Status, got.Attempt)
		}
		startEngine(t, e)
		waitFor(t, 10*time.Second, "completed", func() bool { g, _ := db.GetRun(ctx, r.ID); return g.Status == "completed" })
		atts, _ := db.ListAttempts(ctx, r.ID)
		if len(atts) != 1 || atts[0].Owner != "dead-node" {
			t.Fatalf("attempts = %+v", atts)
		}
	})
}

func TestShutdownPutsRunsBack(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "long", "@every 1h", `{}`)
		started := make(chan struct{}, 1)
		o := testOptions()
		o.ShutdownGrace = 50 * time.Millisecond
		e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		})}, o)
		r, _ := db.InsertRun(ctx, sc, time.Now(), 1)
		stop := startEngine(t, e)
		<-started
		stop()
		got, _ := db.GetRun(ctx, r.ID)
		if got.Status != "pending" || got.Attempt != 1 || got.LeaseOwner != "" {
			t.Fatalf("after shutdown: %+v", got)
		}
	})
}

func TestNullNextRunAtPickedUpWithoutRestart(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		startEngine(t, e)
		// Inserted by raw SQL while the engine runs; no wake-up is sent.
		if _, err := db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
			VALUES (1, 'raw', 'script', 't', '{}', '* * * * * *', true)`); err != nil {
			t.Fatal(err)
		}
		waitFor(t, 10*time.Second, "a completed run of the raw schedule", func() bool {
			return countStatus(runsOf(t, db, 1), "completed") >= 1
		})
	})
}

func TestSkippedWhileRunning(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "overlap", "* * * * * *", `{}`)
	release := make(chan struct{})
	e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
		select {
		case <-release:
		case <-ctx.Done():
		}
		return nil, nil
	})}, testOptions())
	startEngine(t, e)
	waitFor(t, 10*time.Second, "a skipped fire", func() bool { return countStatus(runsOf(t, db, sc.ID), "skipped") >= 1 })
	close(release)
	runs := runsOf(t, db, sc.ID)
	for _, r := range runs {
		if r.Status == "skipped" && r.Error == "" {
			t.Fatalf("skipped run without reason: %+v", r)
		}
	}
}

func TestInvalidScheduleDoesNotStopOthers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		bad := addSchedule(t, db, "bad", "* * * * 8", `{}`)
		good := addSchedule(t, db, "good", "* * * * * *", `{}`)
		e := New(db, map[string]Handler{"script": noop()}, testOptions())
		startEngine(t, e)
		waitFor(t, 10*time.Second, "good schedule runs", func() bool { return countStatus(runsOf(t, db, good.ID), "completed") >= 1 })
		s, _ := db.GetSchedule(context.Background(), bad.ID)
		if s.LastError == "" || !contains(s.LastError, "day-of-week: 8 out of range 0-7") {
			t.Fatalf("last_error = %q", s.LastError)
		}
		if len(runsOf(t, db, bad.ID)) != 0 {
			t.Fatal("invalid schedule ran")
		}
	})
}

func TestUnknownJobTypeFailsLoudly(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "rep", "@every 1h", `{}`)
	e := New(db, map[string]Handler{}, testOptions())
	if err := e.Validate(sc); err == nil || !contains(err.Error(), `unknown job type "script"`) {
		t.Fatalf("Validate = %v", err)
	}
	r, _ := db.InsertRun(context.Background(), sc, time.Now(), 3)
	startEngine(t, e)
	waitFor(t, 10*time.Second, "failed", func() bool { g, _ := db.GetRun(context.Background(), r.ID); return g.Status == "failed" })
	g, _ := db.GetRun(context.Background(), r.ID)
	if g.Attempt != 1 || !contains(g.Error, "unknown job_type") {
		t.Fatalf("run = %+v (a permanent error must not be retried)", g)
	}
}

func TestPanicIsAFailure(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "p", "@every 1h", `{}`)
	e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) { panic("boom") })}, testOptions())
	r, _ := db.InsertRun(context.Background(), sc, time.Now(), 1)
	if err := e.TriggerRun(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	g, _ := db.GetRun(context.Background(), r.ID)
	if g.Status != "failed" || !contains(g.Error, "panicked: boom") {
		t.Fatalf("run = %+v", g)
	}
	if err := e.TriggerRun(context.Background(), r.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second trigger of the same run = %v, want ErrNotFound", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestJobTypeTimeout(t *testing.T) {
	db := storetest.SQLite(t)
	sc := addSchedule(t, db, "slow-alert", "@every 1h", `{"options": {"retry_count": 0}}`)
	o := testOptions()
	o.TypeTimeouts = map[string]time.Duration{"script": time.Second}
	e := New(db, map[string]Handler{"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	})}, o)
	r, _ := db.InsertRun(context.Background(), sc, time.Now(), 1)
	if err := e.TriggerRun(context.Background(), r.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := db.GetRun(context.Background(), r.ID)
	if got.Status != "failed" || got.Error != "timed out after 1 s" {
		t.Fatalf("run = %s %q; want failed, timed out after 1 s", got.Status, got.Error)
	}
}

func TestCacheForgetsDeletedSchedules(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	e := New(db, map[string]Handler{"script": noop()}, testOptions())
	for i := range 200 {
		sc := addSchedule(t, db, fmt.Sprintf("s%d", i), "@hourly", `{}`)
		if err := e.Validate(sc); err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			if err := db.DeleteSchedule(ctx, sc.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.pruneCache(ctx)
	e.mu.Lock()
	n := len(e.cache)
	e.mu.Unlock()
	if n != 0 {
		t.Fatalf("cache holds %d entries for 1 schedule after pruning", n)
	}
}

// Recovery runs the fence first: a run whose leftovers survive it stays
// running for the next sweep; once the fence passes, it is retried.
func TestRecoveryWaitsForTheFence(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "fenced", "@every 1h", `{}`)
		r, _ := db.InsertRun(ctx, sc, time.Now().Add(-time.Minute), 2)
		if _, err := db.ClaimRun(ctx, r.ID, "dead-node", time.Now().Add(-time.Minute), time.Second); err != nil {
			t.Fatal(err)
		}
		o := testOptions()
		var fenced []int64
		survive := true
		o.Fence = func(ctx context.Context, got store.Run) error {
			fenced = append(fenced, got.ID)
			if survive {
				return errors.New("still running")
			}
			return nil
		}
		e := New(db, map[string]Handler{"script": noop()}, o)
		if err := e.RecoverExpired(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetRun(ctx, r.ID); got.Status != store.StatusRunning || got.LeaseOwner != "dead-node" {
			t.Fatalf("recovered although the fence failed: %+v", got)
		}
		survive = false
		if err := e.RecoverExpired(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.GetRun(ctx, r.ID); got.Status != store.StatusPending || got.Attempt != 2 {
			t.Fatalf("after the fence passed: %s attempt %d", got.Status, got.Attempt)
		}
		if len(fenced) != 2 || fenced[0] != r.ID {
			t.Fatalf("fence calls = %v", fenced)
		}
	})
}

// A process killed while it owned runs, restarted under the same node id
// before their leases ran out (systemd restarts it at once): the new
// process takes them over at start. Without that, its heartbeats would keep
// the dead process's leases alive and nobody would ever finish the running
// run (blocking its schedule) or start the fire claimed ahead.
func TestRestartTakesOverRunsOfTheDeadProcess(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "restarted", "@every 1h", `{}`)
		now := time.Now()
		running, _ := db.InsertRun(ctx, sc, now.Add(-2*time.Second), 2)
		if _, err := db.ClaimRun(ctx, running.ID, "n1", now, time.Minute); err != nil {
			t.Fatal(err)
		}
		other := addSchedule(t, db, "claimed-ahead", "@every 1h", `{}`)
		ahead, _ := db.InsertRun(ctx, other, now.Add(-time.Second), 1)
		if _, err := db.SQL().Exec(`UPDATE job_schedule_runs SET lease_owner = 'n1', lease_expires_at = $1 WHERE id = $2`,
			now.Add(time.Minute), ahead.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Heartbeat(ctx, "n1", now.Add(time.Minute)); err != nil { // the dead process's last heartbeat
			t.Fatal(err)
		}
		o := testOptions()
		o.NodeID = "n1"
		startEngine(t, New(db, map[string]Handler{"script": noop()}, o))
		waitFor(t, 10*time.Second, "both runs completed", func() bool {
			a, _ := db.GetRun(ctx, running.ID)
			b, _ := db.GetRun(ctx, ahead.ID)
			return a.Status == "completed" && b.Status == "completed"
		}, func() string {
			a, _ := db.GetRun(ctx, running.ID)
			b, _ := db.GetRun(ctx, ahead.ID)
			return fmt.Sprintf("running one: %s attempt %d owner %q; claimed ahead: %s owner %q", a.Status, a.Attempt, a.LeaseOwner, b.Status, b.LeaseOwner)
		})
		if got, _ := db.GetRun(ctx, running.ID); got.Attempt != 2 {
			t.Fatalf("the dead process's run completed as attempt %d, want 2", got.Attempt)
		}
	})
}
