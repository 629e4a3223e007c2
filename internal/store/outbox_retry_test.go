package store_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// outboxRow is a pending telegram row for recipient created at created.
func outboxRow(i int, recipient string, created time.Time) notify.Notification {
	return notify.Notification{
		IdempotencyKey: notify.IdempotencyKey(1, int64(i), "telegram", recipient),
		Channel:        "telegram", Recipient: recipient, Type: notify.TypeAlert,
		Title: fmt.Sprintf("t%d", i), Body: fmt.Sprintf("b%d", i), Priority: notify.PriorityNormal,
		CreatedAt: created, RunID: int64(i), ScheduleID: 1,
	}
}

// waitUntil polls cond until it holds or 10 s pass.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

func statuses(t *testing.T, ob *store.Outbox, ids ...int64) []notify.Status {
	t.Helper()
	out := make([]notify.Status, len(ids))
	for i, id := range ids {
		n, err := ob.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = n.Status
	}
	return out
}

// runOutboxDispatcher runs a dispatcher over ob until the test ends.
func runOutboxDispatcher(t *testing.T, cfg notify.DispatcherConfig) {
	t.Helper()
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if cfg.PollEvery == 0 {
		cfg.PollEvery = 5 * time.Millisecond
	}
	d, err := notify.NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// RetryDead requeues one dead row or all of them, refuses others, and a
// running dispatcher then delivers the requeued rows.
func TestOutboxRetryDead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ob := db.Outbox()
		now := time.Now().UTC().Truncate(time.Second)
		var ns []notify.Notification
		for i := 1; i <= 4; i++ {
			n := outboxRow(i, fmt.Sprint(100+i), now.Add(-time.Hour))
			if i <= 3 {
				n.Status, n.LastError = notify.StatusDead, "gave up after 4 attempts: HTTP 503"
			}
			ns = append(ns, n)
		}
		if err := ob.Insert(ctx, ns); err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for i := int64(1); len(ids) < 4; i++ {
			if _, err := ob.Get(ctx, i); err == nil {
				ids = append(ids, i)
			}
			if i > 1000 {
				t.Fatal("rows not found")
			}
		}
		if n, err := ob.RetryDead(ctx, ids[0], now); err != nil || n != 1 {
			t.Fatalf("RetryDead(%d) = %d, %v; want 1", ids[0], n, err)
		}
		g, _ := ob.Get(ctx, ids[0])
		if g.Status != notify.StatusPending || g.Attempts != 0 || !g.NextAttemptAt.Equal(now) || !strings.HasPrefix(g.LastError, "requeued by an operator; was: gave up") {
			t.Fatalf("requeued row: status %q attempts %d next %s error %q", g.Status, g.Attempts, g.NextAttemptAt, g.LastError)
		}
		if _, err := ob.RetryDead(ctx, ids[0], now); !errors.Is(err, store.ErrNotDead) {
			t.Fatalf("RetryDead of a pending row: %v, want ErrNotDead", err)
		}
		if _, err := ob.RetryDead(ctx, 999999, now); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("RetryDead of a missing row: %v, want ErrNotFound", err)
		}
		if n, err := ob.RetryDead(ctx, 0, now); err != nil || n != 2 {
			t.Fatalf("RetryDead(all) = %d, %v; want the other 2 dead rows", n, err)
		}
		if n, err := ob.RetryDead(ctx, 0, now); err != nil || n != 0 {
			t.Fatalf("RetryDead(all) again = %d, %v; want 0", n, err)
		}
		var sent atomic.Int32
		runOutboxDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"telegram": notify.SinkFunc(
			func(context.Context, notify.Notification) error { sent.Add(1); return nil })}})
		waitUntil(t, "all four rows sent", func() bool {
			st := statuses(t, ob, ids...)
			return st[0] == notify.StatusSent && st[1] == notify.StatusSent && st[2] == notify.StatusSent && st[3] == notify.StatusSent
		})
		if sent.Load() != 4 {
			t.Errorf("sink called %d times, want 4", sent.Load())
		}
	})
}

// A crash during a send leaves a row in sending with an old claimed_at:
// the dispatcher takes it over once NOTIFICATION_TIMEOUT + grace has passed
// since the claim, and the recipient's younger rows follow in order.
func TestOutboxCrashedSendTakenOverWithinBound(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ob := db.Outbox()
		const timeout = 2 * time.Second
		now := time.Now().UTC()
		var ns []notify.Notification
		for i := 1; i <= 4; i++ {
			ns = append(ns, outboxRow(i, "42", now.Add(-time.Minute+time.Duration(i)*time.Second)))
		}
		if err := ob.Insert(ctx, ns); err != nil {
			t.Fatal(err)
		}
		crashed, err := ob.Claim(ctx, notify.ClaimRequest{Owner: "crashed", Now: now.Add(-timeout - notify.StuckGrace - 2*time.Second), Limit: 1})
		if err != nil || len(crashed) != 1 {
			t.Fatalf("crash claim: %v %v", crashed, err)
		}
		var mu sync.Mutex
		var order []string
		start := time.Now()
		runOutboxDispatcher(t, notify.DispatcherConfig{Outbox: ob, Timeout: timeout, Retries: 3, Sinks: notify.Sinks{"telegram": notify.SinkFunc(
			func(_ context.Context, n notify.Notification) error {
				mu.Lock()
				order = append(order, n.Body)
				mu.Unlock()
				return nil
			})}})
		waitUntil(t, "all four sent", func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) == 4
		})
		if took := time.Since(start); took > 2*time.Second {
			t.Errorf("the stale row was taken over after %s, want within a poll interval", took)
		}
		mu.Lock()
		defer mu.Unlock()
		if strings.Join(order, ",") != "b1,b2,b3,b4" {
			t.Errorf("delivery order %v, want creation order", order)
		}
		if g, _ := ob.Get(ctx, crashed[0].ID); g.Attempts != 2 || g.Status != notify.StatusSent {
			t.Errorf("crashed row: status %q attempts %d, want sent with 2", g.Status, g.Attempts)
		}
	})
}

// A slow recipient next to a fast one on the same channel: the fast one's
// rows are delivered while the slow one's send hangs.
func TestOutboxSlowRecipientBesideFastOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ob := db.Outbox()
		now := time.Now().UTC()
		var ns []notify.Notification
		for i := 1; i <= 30; i++ {
			r := "fast"
			if i%3 == 1 {
				r = "slow"
			}
			ns = append(ns, outboxRow(i, r, now.Add(-time.Minute)))
		}
		if err := ob.Insert(ctx, ns); err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var fast atomic.Int32
		runOutboxDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"telegram": notify.SinkFunc(
			func(ctx context.Context, n notify.Notification) error {
				if n.Recipient == "fast" {
					fast.Add(1)
					return nil
				}
				select {
				case <-release:
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})}})
		// Sent and recorded: the sink counts a send before its outcome is marked.
		waitUntil(t, "the fast recipient's 20 rows while the slow one hangs", func() bool {
			st, err := ob.Stats(ctx, time.Now())
			return fast.Load() == 20 && err == nil && st.Sent == 20
		})
		st, err := ob.Stats(ctx, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if st.Sent != 20 || st.Sending != 1 || st.Pending != 9 {
			t.Errorf("stats sent %d sending %d pending %d, want 20 1 9 (one slow send in flight)", st.Sent, st.Sending, st.Pending)
		}
		close(release)
		waitUntil(t, "all sent after release", func() bool {
			st, err := ob.Stats(ctx, time.Now())
			return err == nil && st.Sent == 30
		})
	})
}
