package engine

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// stmtCounter is a slog handler counting the statements a store logs with
// Echo (every statement it issues), by the loop that issues them.
type stmtCounter struct {
	mu    sync.Mutex
	on    bool
	by    map[string]int
	stmts []string
}

func (c *stmtCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *stmtCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *stmtCounter) WithGroup(string) slog.Handler            { return c }
func (c *stmtCounter) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "sql" {
		return nil
	}
	var stmt string
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "stmt" {
			stmt = a.Value.String()
		}
		return true
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.on {
		return nil
	}
	c.by[loopOf(stmt)]++
	c.stmts = append(c.stmts, stmt)
	return nil
}

// loopOf names the loop that issues a statement.
func loopOf(stmt string) string {
	switch {
	case strings.Contains(stmt, "notifications"):
		return "outbox"
	case strings.Contains(stmt, "scheduler_nodes") || strings.Contains(stmt, "lease_expires_at = $1") ||
		strings.Contains(stmt, "lease_expires_at < $1") || strings.Contains(stmt, "COUNT(*) FROM job_schedules"):
		return "lease"
	case strings.Contains(stmt, "FROM job_schedules"):
		return "claim"
	case strings.Contains(stmt, "job_schedule_runs"):
		return "work"
	}
	return "other"
}

func (c *stmtCounter) start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on, c.by, c.stmts = true, map[string]int{}, nil
}

func (c *stmtCounter) stop() (map[string]int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.on = false
	return c.by, c.stmts
}

// An idle service (engine and notification dispatcher) on SQLite with 50
// hourly schedules and no fire due issues at most one statement per poll
// interval per loop (claim, general claim, outbox), and three per lease
// tick.
func TestIdleServiceStatements(t *testing.T) {
	ctx := context.Background()
	counter := &stmtCounter{}
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(t.TempDir(), "idle.db"), Echo: true,
		Logger: slog.New(counter)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		addSchedule(t, db, fmt.Sprintf("hourly-%d", i), "0 * * * *", `{}`)
	}
	// 10:20: the next fires are 40 minutes away.
	now := time.Date(2026, 3, 2, 10, 20, 0, 0, time.UTC)
	const poll = 100 * time.Millisecond
	o := testOptions()
	o.Now = func() time.Time { return now }
	// The lease loop ticks every Lease/3: here once per poll interval.
	o.PollInterval, o.Lease = poll, 3*poll
	disp, err := notify.NewDispatcher(notify.DispatcherConfig{Outbox: db.Outbox(),
		Sinks:     notify.NewSinks(notify.DefaultOptions(), nil, slog.New(slog.DiscardHandler)),
		PollEvery: poll, Now: func() time.Time { return now }, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	o.Outbox = disp
	e := New(db, map[string]Handler{"script": noop()}, o)
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = disp.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-done })
	startEngine(t, e)
	// Started: every schedule has its next fire.
	waitFor(t, 10*time.Second, "next fires of the 50 schedules", func() bool {
		next, hasNull, err := db.NextDue(ctx)
		return err == nil && !hasNull && next != nil
	})
	time.Sleep(3 * poll) // let the start-up round end (not a synchronisation: the window below is measured)

	const window = 30 * poll
	counter.start()
	began := time.Now()
	time.Sleep(window)
	by, stmts := counter.stop()
	intervals := int(time.Since(began)/poll) + 1
	t.Logf("%d poll intervals: statements by loop %v", intervals, by)
	for _, loop := range []string{"claim", "work", "outbox"} {
		if by[loop] > intervals {
			t.Errorf("%s loop: %d statements in %d poll intervals: %q", loop, by[loop], intervals, stmts)
		}
	}
	// A lease tick renews this instance (its node row and its running
	// runs' leases) and looks for an expired lease: three statements.
	if by["lease"] > 3*intervals {
		t.Errorf("lease loop: %d statements in %d ticks: %q", by["lease"], intervals, stmts)
	}
	if by["other"] > 0 {
		t.Errorf("unexpected statements: %q", stmts)
	}
}
