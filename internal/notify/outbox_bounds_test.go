package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
)

// countingOutbox counts Claim calls, so that a test can wait for the
// dispatcher to have looked several times instead of sleeping.
type countingOutbox struct {
	*notifytest.MemOutbox
	claims atomic.Int64
}

func (o *countingOutbox) Claim(ctx context.Context, req notify.ClaimRequest) ([]notify.Notification, error) {
	defer o.claims.Add(1)
	return o.MemOutbox.Claim(ctx, req)
}

// waitClaims waits until the dispatcher has claimed n more times.
func (o *countingOutbox) waitClaims(t *testing.T, n int64) {
	t.Helper()
	target := o.claims.Load() + n
	waitFor(t, "the dispatcher to claim again", func() bool { return o.claims.Load() >= target })
}

// A slow recipient next to a fast one on the same channel: the fast one's
// rows are all delivered while the slow one's first send hangs, and only
// one send of the slow recipient is ever in flight.
func TestDispatcherSlowRecipientDoesNotDelayFastOne(t *testing.T) {
	release := make(chan struct{})
	var slowInFlight, slowMax atomic.Int32
	sink := notify.SinkFunc(func(ctx context.Context, n notify.Notification) error {
		if n.Recipient != "slow" {
			return nil
		}
		cur := slowInFlight.Add(1)
		defer slowInFlight.Add(-1)
		for {
			m := slowMax.Load()
			if cur <= m || slowMax.CompareAndSwap(m, cur) {
				break
			}
		}
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	ob := notifytest.NewMemOutbox()
	var ns []notify.Notification
	for i, r := range rows("telegram", 60, 1) {
		r.Recipient = "fast"
		if i%3 == 0 {
			r.Recipient = "slow"
		}
		r.IdempotencyKey = notify.IdempotencyKey(1, r.RunID, r.Channel, r.Recipient)
		ns = append(ns, r)
	}
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"telegram": sink}, PollEvery: 10 * time.Millisecond})
	runDispatcher(t, d)
	waitFor(t, "the fast recipient's 40 rows sent while the slow one hangs", func() bool {
		n := 0
		for _, r := range ob.All() {
			if r.Recipient == "fast" && r.Status == notify.StatusSent {
				n++
			}
		}
		return n == 40
	})
	var lastFast time.Time
	for _, r := range ob.All() {
		if r.Recipient == "slow" && r.Status == notify.StatusSent {
			t.Fatalf("a slow row was sent before release")
		}
		if r.Recipient == "fast" {
			if r.SentAt.Before(lastFast) {
				t.Fatalf("fast recipient's row %d sent before an older one", r.ID)
			}
			lastFast = r.SentAt
		}
	}
	close(release)
	waitFor(t, "the slow recipient's rows sent after release", func() bool { return statusCount(ob, notify.StatusSent) == 60 })
	if m := slowMax.Load(); m != 1 {
		t.Errorf("%d sends to the slow recipient in flight at once, want 1 (creation order)", m)
	}
}

// A row left in sending by a crashed process (old claimed_at) is taken over
// once NOTIFICATION_TIMEOUT + StuckGrace has passed since its claim, not
// before, and its recipient's younger rows follow it in order.
func TestDispatcherTakesOverCrashedSendWithinBound(t *testing.T) {
	clock := newFakeClock(time.Now())
	ob := &countingOutbox{MemOutbox: notifytest.NewMemOutbox()}
	ns := rows("telegram", 5, 1)
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	const timeout = 30 * time.Second
	crashedAt := clock.Now().Add(-timeout) // the dead process claimed the head 30 s ago
	if got, err := ob.Claim(context.Background(), notify.ClaimRequest{Owner: "crashed", Now: crashedAt, Limit: 1}); err != nil || len(got) != 1 {
		t.Fatalf("crash claim: %v %v", got, err)
	}
	var mu sync.Mutex
	var order []string
	sink := notify.SinkFunc(func(_ context.Context, n notify.Notification) error {
		mu.Lock()
		order = append(order, n.IdempotencyKey)
		mu.Unlock()
		return nil
	})
	d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"telegram": sink}, Timeout: timeout,
		Now: clock.Now, PollEvery: 5 * time.Millisecond, Retries: 3})
	runDispatcher(t, d)

	// claimed_at + timeout + grace is 5 s away: the recipient waits.
	clock.Advance(notify.StuckGrace - time.Millisecond)
	ob.waitClaims(t, 5)
	if n := statusCount(ob.MemOutbox, notify.StatusSent); n != 0 {
		t.Fatalf("%d rows sent while the crashed claim is younger than the bound", n)
	}
	clock.Advance(2 * time.Millisecond) // past claimed_at + NOTIFICATION_TIMEOUT + grace
	waitFor(t, "all five sent", func() bool { return statusCount(ob.MemOutbox, notify.StatusSent) == 5 })
	mu.Lock()
	defer mu.Unlock()
	for i, n := range ns {
		if order[i] != n.IdempotencyKey {
			t.Fatalf("delivery order %v, want creation order", order)
		}
	}
	if r := ob.All()[0]; r.Attempts != 2 {
		t.Errorf("taken-over row has %d attempts, want 2", r.Attempts)
	}
}

// A head row waiting for a retry further away than the bound lets its
// recipient's younger rows through; one due soon holds them back.
func TestDispatcherLongRetryDoesNotBlockRecipient(t *testing.T) {
	var headCalls atomic.Int32
	ns := rows("webhook", 4, 1)
	head := ns[0].IdempotencyKey
	sink := notify.SinkFunc(func(_ context.Context, n notify.Notification) error {
		if n.IdempotencyKey == head {
			headCalls.Add(1)
			return errors.New("HTTP 500: still broken")
		}
		return nil
	})
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"webhook": sink}, Retries: 3,
		PollEvery: 5 * time.Millisecond, Backoff: func(int) time.Duration { return time.Hour }})
	runDispatcher(t, d)
	waitFor(t, "the younger rows sent past the failing head", func() bool { return statusCount(ob, notify.StatusSent) == 3 })
	if r := ob.All()[0]; r.Status != notify.StatusFailed || headCalls.Load() != 1 {
		t.Fatalf("head: status %q after %d sends, want failed after 1 (waiting an hour)", r.Status, headCalls.Load())
	}
}

// Retries continue past NOTIFICATION_RETRIES until the row is
// NOTIFICATION_RETRY_MAX_AGE old, then it goes dead naming both.
func TestDispatcherRetriesUntilMaxAge(t *testing.T) {
	clock := newFakeClock(time.Now())
	var calls atomic.Int32
	sink := notify.SinkFunc(func(context.Context, notify.Notification) error {
		calls.Add(1)
		return errors.New("HTTP 503: receiver down")
	})
	ob := &countingOutbox{MemOutbox: notifytest.NewMemOutbox()}
	ns := rows("webhook", 1, 1)
	ns[0].CreatedAt = clock.Now()
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"webhook": sink}, Retries: 1,
		RetryMaxAge: 3 * time.Hour, Now: clock.Now, PollEvery: 5 * time.Millisecond,
		Backoff: func(int) time.Duration { return time.Hour }})
	runDispatcher(t, d)
	for i := 1; i <= 3; i++ {
		waitFor(t, "attempt recorded as a retry", func() bool {
			r := ob.All()[0]
			return r.Status == notify.StatusFailed && r.Attempts == i
		})
		clock.Advance(time.Hour)
	}
	waitFor(t, "dead after 3 h", func() bool { return statusCount(ob.MemOutbox, notify.StatusDead) == 1 })
	r := ob.All()[0]
	if r.Attempts != 4 || !strings.Contains(r.LastError, "gave up after 4 attempts over 3h0m0s") {
		t.Fatalf("attempts %d, reason %q; want 4 attempts over 3h", r.Attempts, r.LastError)
	}
}

// The default backoff doubles to a 1 h cap, so that the default
// NOTIFICATION_RETRY_MAX_AGE spans hours; the 49 s outage that killed rows
// before is covered many times over.
func TestDefaultRetryScheduleSpansHours(t *testing.T) {
	o := notify.DefaultOptions()
	if o.RetryMaxAge < 3*time.Hour {
		t.Fatalf("default NOTIFICATION_RETRY_MAX_AGE %s, want hours", o.RetryMaxAge)
	}
	b := notify.ExponentialBackoff(2*time.Second, time.Hour)
	if d := b(30); d < 30*time.Minute || d > time.Hour {
		t.Errorf("backoff of attempt 30 = %s, want within [30m, 1h]", d)
	}
}

func TestRetryMaxAgeFromEnv(t *testing.T) {
	for v, want := range map[string]time.Duration{"": notify.DefaultRetryMaxAge, "6h": 6 * time.Hour, "90m": 90 * time.Minute, "3600": time.Hour, "0": 0} {
		o, err := notify.OptionsFromEnv(func(k string) string {
			if k == "NOTIFICATION_RETRY_MAX_AGE" {
				return v
			}
			return ""
		})
		if err != nil || o.RetryMaxAge != want {
			t.Errorf("NOTIFICATION_RETRY_MAX_AGE=%q: %s, %v; want %s", v, o.RetryMaxAge, err, want)
		}
	}
	for _, v := range []string{"-1", "-1h", "abc", "169h", "NaN", "1e12"} {
		_, err := notify.OptionsFromEnv(func(k string) string {
			if k == "NOTIFICATION_RETRY_MAX_AGE" {
				return v
			}
			return ""
		})
		if err == nil || !strings.Contains(err.Error(), "NOTIFICATION_RETRY_MAX_AGE") {
			t.Errorf("NOTIFICATION_RETRY_MAX_AGE=%q accepted or error does not name it: %v", v, err)
		}
	}
}

// The idempotency key is in the body (data.idempotency_key) of the bot's
// /api/notify and of webhooks, besides the Idempotency-Key header; the
// notification's own data is not changed.
func TestIdempotencyKeyInBody(t *testing.T) {
	var mu sync.Mutex
	got := map[string]string{} // path → data.idempotency_key
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var body struct {
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("%s: body %s: %v", r.URL.Path, b, err)
		}
		key, _ := body.Data["idempotency_key"].(string)
		if key != r.Header.Get(notify.IdempotencyHeader) || body.Data["symbol"] != "BTCUSDT" {
			t.Errorf("%s: data %v, header key %q", r.URL.Path, body.Data, r.Header.Get(notify.IdempotencyHeader))
		}
		mu.Lock()
		got[r.URL.Path] = key
		mu.Unlock()
		w.Write([]byte(`{"success": true}`))
	}))
	t.Cleanup(srv.Close)
	n := notify.Notification{ID: 1, IdempotencyKey: "sched:7:run:123:telegram:42", Recipient: "42", Title: "t", Body: "b",
		Data: map[string]any{"symbol": "BTCUSDT"}}
	if err := (&notify.NotifyAPISink{BaseURL: srv.URL}).Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	wn := n
	wn.IdempotencyKey, wn.Recipient = "sched:7:run:123:webhook:x", srv.URL+"/hook"
	if err := (&notify.WebhookSink{AllowPrivate: true}).Send(context.Background(), wn); err != nil { // httptest listens on 127.0.0.1
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if got["/api/notify"] != n.IdempotencyKey || got["/hook"] != wn.IdempotencyKey {
		t.Fatalf("data.idempotency_key seen: %v", got)
	}
	if _, changed := n.Data["idempotency_key"]; changed {
		t.Errorf("the notification's own data was changed: %v", n.Data)
	}
}
