package notify_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
)

// tinyBackoff keeps retries fast in tests.
func tinyBackoff(int) time.Duration { return time.Millisecond }

// rows builds n pending notifications: recipient i%recipients, created in order.
func rows(channel string, n, recipients int) []notify.Notification {
	base := time.Now().Add(-time.Minute)
	var out []notify.Notification
	for i := range n {
		rcpt := fmt.Sprint(1000 + i%recipients)
		out = append(out, notify.Notification{
			IdempotencyKey: notify.IdempotencyKey(1, int64(i+1), channel, rcpt),
			Channel:        channel,
			Recipient:      rcpt,
			Type:           notify.TypeAlert,
			Title:          fmt.Sprintf("msg %d", i),
			Body:           fmt.Sprintf("body of message %d", i),
			Priority:       notify.PriorityNormal,
			CreatedAt:      base.Add(time.Duration(i) * time.Millisecond),
			RunID:          int64(i + 1),
			ScheduleID:     1,
		})
	}
	return out
}

// runDispatcher starts d and returns a stop function that cancels it and
// waits for Run to return.
func runDispatcher(t *testing.T, d *notify.Dispatcher) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func statusCount(ob *notifytest.MemOutbox, st notify.Status) int {
	n := 0
	for _, r := range ob.All() {
		if r.Status == st {
			n++
		}
	}
	return n
}

func newDispatcher(t *testing.T, cfg notify.DispatcherConfig) *notify.Dispatcher {
	t.Helper()
	if cfg.Backoff == nil {
		cfg.Backoff = tinyBackoff
	}
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	d, err := notify.NewDispatcher(cfg)
	if err != nil {
		t.Fatalf("NewDispatcher: %v", err)
	}
	return d
}

func TestDispatcherOutageThenRecoveryDeliversAllInOrder(t *testing.T) {
	api := newFakeNotifyAPI(t)
	api.downFor = 4 // the receiver answers 503 four times, then works
	ob := notifytest.NewMemOutbox()
	ns := rows("telegram", 30, 3)
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"telegram": &notify.NotifyAPISink{BaseURL: api.srv.URL}},
		Retries: 10,
	})
	runDispatcher(t, d)
	waitFor(t, "all 30 sent", func() bool { return statusCount(ob, notify.StatusSent) == 30 })

	calls := api.calls()
	if len(calls) != 30 {
		t.Fatalf("receiver accepted %d messages, want 30 (none twice)", len(calls))
	}
	perChat := map[int64][]string{}
	for _, c := range calls {
		perChat[c.ChatID] = append(perChat[c.ChatID], c.Key)
	}
	for _, n := range ns {
		chat := int64(0)
		fmt.Sscan(n.Recipient, &chat)
		want := perChat[chat]
		if len(want) == 0 || want[0] != n.IdempotencyKey {
			t.Fatalf("chat %d: next delivered key %v, want %s (creation order)", chat, want, n.IdempotencyKey)
		}
		perChat[chat] = want[1:]
	}
	if api.requests != 34 {
		t.Errorf("receiver saw %d requests, want 30 + 4 refused", api.requests)
	}
}

func TestDispatcherCrashBetweenSendAndMark(t *testing.T) {
	api := newFakeNotifyAPI(t)
	ob := notifytest.NewMemOutbox()
	ns := rows("telegram", 12, 2)
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	crashKey := ns[6].IdempotencyKey
	ctx1, crash := context.WithCancel(context.Background())
	d1 := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"telegram": &notify.NotifyAPISink{BaseURL: api.srv.URL}},
		Retries: 3,
		AfterSend: func(n notify.Notification, err error) error {
			if n.IdempotencyKey == crashKey {
				crash() // the process "dies" after the receiver got the message
				return errors.New("injected crash between send and mark")
			}
			return nil
		},
	})
	if err := d1.Run(ctx1); err != nil {
		t.Fatalf("Run: %v", err)
	}
	stuck := 0
	for _, r := range ob.All() {
		if r.Status == notify.StatusSending {
			stuck++
			if r.IdempotencyKey != crashKey {
				t.Errorf("row %s stuck in sending, want only %s", r.IdempotencyKey, crashKey)
			}
		}
	}
	if stuck != 1 {
		t.Fatalf("%d rows stuck in sending after the crash, want 1", stuck)
	}

	// Restart, more than NOTIFICATION_TIMEOUT + grace later: the new
	// process takes the stuck row over.
	d2 := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"telegram": &notify.NotifyAPISink{BaseURL: api.srv.URL}},
		Retries: 3,
		Now:     func() time.Time { return time.Now().Add(time.Hour) },
	})
	runDispatcher(t, d2)
	waitFor(t, "all sent after restart", func() bool { return statusCount(ob, notify.StatusSent) == len(ns) })

	seen := map[string]int{}
	for _, c := range api.calls() {
		seen[c.Key]++
	}
	for _, n := range ns {
		want := 1
		if n.IdempotencyKey == crashKey {
			want = 2
		}
		if seen[n.IdempotencyKey] != want {
			t.Errorf("receiver saw %s %d times, want %d", n.IdempotencyKey, seen[n.IdempotencyKey], want)
		}
	}
	for _, r := range ob.All() {
		if r.IdempotencyKey == crashKey && r.Attempts != 2 {
			t.Errorf("crashed row has %d attempts, want 2", r.Attempts)
		}
	}
}

func TestDispatcherPermanentErrorGoesDead(t *testing.T) {
	tg := newFakeTelegram(t, "t")
	tg.unknown["404"] = true
	ob := notifytest.NewMemOutbox()
	ns := rows("telegram", 2, 1)
	ns[0].Recipient, ns[0].IdempotencyKey = "404", "k-404"
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"telegram": &notify.TelegramSink{Token: "t", BaseURL: tg.srv.URL}},
		Retries: 5,
	})
	runDispatcher(t, d)
	waitFor(t, "one dead, one sent", func() bool {
		return statusCount(ob, notify.StatusDead) == 1 && statusCount(ob, notify.StatusSent) == 1
	})
	for _, r := range ob.All() {
		if r.Recipient == "404" && (r.Attempts != 1 || !strings.Contains(r.LastError, "chat not found") || !strings.HasPrefix(r.LastError, "permanent error")) {
			t.Errorf("dead row: attempts %d, reason %q; want 1 attempt and 'permanent error ... chat not found'", r.Attempts, r.LastError)
		}
	}
}

// fakeClock is a settable clock for the dispatcher.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := &fakeClock{}
	c.ns.Store(t.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestDispatcherHonoursRetryAfter(t *testing.T) {
	tg := newFakeTelegram(t, "t")
	tg.limitFor, tg.retryAfter = 1, 30
	clock := newFakeClock(time.Now())
	start := clock.Now()
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("telegram", 1, 1)); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"telegram": &notify.TelegramSink{Token: "t", BaseURL: tg.srv.URL}},
		Now:     clock.Now,
		Retries: 3,
		Backoff: func(int) time.Duration { return time.Hour }, // must not be used for a 429
	})
	runDispatcher(t, d)
	waitFor(t, "the 429 recorded", func() bool { return statusCount(ob, notify.StatusFailed) == 1 })
	r := ob.All()[0]
	if !r.NextAttemptAt.Equal(start.Add(30*time.Second)) || !strings.Contains(r.LastError, "429") {
		t.Fatalf("after 429: next attempt %s (want now+30s = %s), error %q", r.NextAttemptAt, start.Add(30*time.Second), r.LastError)
	}
	clock.Advance(29 * time.Second)
	d.Notify()
	clock.Advance(time.Second)
	d.Notify()
	waitFor(t, "sent after retry_after", func() bool { return statusCount(ob, notify.StatusSent) == 1 })
	if got := len(tg.messages()); got != 1 {
		t.Errorf("Telegram accepted %d messages, want 1", got)
	}
}

func TestDispatcherGivesUpAfterRetries(t *testing.T) {
	var calls atomic.Int32
	sink := notify.SinkFunc(func(context.Context, notify.Notification) error {
		calls.Add(1)
		return errors.New("HTTP 500: boom")
	})
	var mu sync.Mutex
	var outcomes []notify.Outcome
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("webhook", 1, 1)); err != nil {
		t.Fatal(err)
	}
	var backoffs []int
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"webhook": sink},
		Retries: 2,
		Backoff: func(a int) time.Duration {
			mu.Lock()
			backoffs = append(backoffs, a)
			mu.Unlock()
			return time.Millisecond
		},
		Metrics: notify.MetricsFunc(func(ch string, o notify.Outcome, attempt int, _ time.Duration) {
			mu.Lock()
			outcomes = append(outcomes, o)
			mu.Unlock()
		}),
	})
	runDispatcher(t, d)
	waitFor(t, "dead", func() bool { return statusCount(ob, notify.StatusDead) == 1 })
	r := ob.All()[0]
	if calls.Load() != 3 || r.Attempts != 3 || r.LastError != "gave up after 3 attempts: HTTP 500: boom" {
		t.Errorf("sink calls %d, attempts %d, reason %q; want 3, 3, 'gave up after 3 attempts: HTTP 500: boom'", calls.Load(), r.Attempts, r.LastError)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(outcomes, []notify.Outcome{notify.OutcomeRetry, notify.OutcomeRetry, notify.OutcomeDead}) {
		t.Errorf("metrics outcomes %v", outcomes)
	}
	if !slices.Equal(backoffs, []int{1, 2}) {
		t.Errorf("backoff called for attempts %v, want [1 2]", backoffs)
	}
}

func TestDispatcherSuppressesWhenDisabled(t *testing.T) {
	var calls atomic.Int32
	sink := notify.SinkFunc(func(context.Context, notify.Notification) error { calls.Add(1); return nil })
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("log", 5, 5)); err != nil {
		t.Fatal(err)
	}
	d, err := notify.NewDispatcher(notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"log": sink}, Disabled: true, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	runDispatcher(t, d)
	waitFor(t, "all suppressed", func() bool { return statusCount(ob, notify.StatusSuppressed) == 5 })
	if calls.Load() != 0 {
		t.Errorf("sink called %d times while disabled", calls.Load())
	}
	if r := ob.All()[0]; !strings.Contains(r.LastError, "NOTIFICATION_ENABLED=false") {
		t.Errorf("reason %q", r.LastError)
	}
}

func TestDispatcherSlowChannelDoesNotBlockOthers(t *testing.T) {
	release := make(chan struct{})
	var slowStarted atomic.Int32
	slow := notify.SinkFunc(func(ctx context.Context, n notify.Notification) error {
		slowStarted.Add(1)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	fast := notify.SinkFunc(func(context.Context, notify.Notification) error { return nil })
	ob := notifytest.NewMemOutbox()
	ns := append(rows("telegram", 40, 40), rows("email", 20, 4)...)
	if err := ob.Insert(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:      ob,
		Sinks:       notify.Sinks{"telegram": slow, "email": fast},
		Concurrency: 4,
	})
	runDispatcher(t, d)
	waitFor(t, "email delivered while telegram hangs", func() bool { return statusCount(ob, notify.StatusSent) == 20 })
	// The telegram lane fills up to its concurrency (it may still be
	// starting when email is done) and no further.
	waitFor(t, "telegram sends in flight up to the lane's concurrency", func() bool { return slowStarted.Load() >= 4 })
	if got := slowStarted.Load(); got != 4 {
		t.Errorf("%d telegram sends in flight, want the lane's concurrency 4", got)
	}
	for _, r := range ob.All() {
		if r.Channel == "telegram" && r.Status == notify.StatusSent {
			t.Fatalf("a telegram row was sent before release")
		}
	}
	close(release)
	waitFor(t, "telegram delivered after release", func() bool { return statusCount(ob, notify.StatusSent) == 60 })
}

func TestDispatcherTimeoutPerAttempt(t *testing.T) {
	hang := notify.SinkFunc(func(ctx context.Context, n notify.Notification) error {
		<-ctx.Done()
		return ctx.Err()
	})
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("webhook", 1, 1)); err != nil {
		t.Fatal(err)
	}
	d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.Sinks{"webhook": hang}, Timeout: 20 * time.Millisecond})
	runDispatcher(t, d)
	waitFor(t, "dead after the timeout", func() bool { return statusCount(ob, notify.StatusDead) == 1 })
	if r := ob.All()[0]; !strings.Contains(r.LastError, "NOTIFICATION_TIMEOUT=20ms") {
		t.Errorf("reason %q, want it to name NOTIFICATION_TIMEOUT", r.LastError)
	}
}

func TestDispatcherRowThatKeepsCrashingGoesDead(t *testing.T) {
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("log", 1, 1)); err != nil {
		t.Fatal(err)
	}
	// Four claims that never finished (the process died each time).
	for range 4 {
		if _, err := ob.Claim(context.Background(), notify.ClaimRequest{Owner: "x", Now: time.Now(), Limit: 1}); err != nil {
			t.Fatal(err)
		}
		if _, err := ob.RequeueStuck(context.Background(), time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	var calls atomic.Int32
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:  ob,
		Sinks:   notify.Sinks{"log": notify.SinkFunc(func(context.Context, notify.Notification) error { calls.Add(1); return nil })},
		Retries: 3,
	})
	runDispatcher(t, d)
	waitFor(t, "dead", func() bool { return statusCount(ob, notify.StatusDead) == 1 })
	if calls.Load() != 0 || !strings.Contains(ob.All()[0].LastError, "gave up after 4 attempts") {
		t.Errorf("sink calls %d, reason %q", calls.Load(), ob.All()[0].LastError)
	}
}

func TestDispatcherNotifyWakesAndStopIsGraceful(t *testing.T) {
	entered := make(chan struct{}, 1)
	release := make(chan struct{})
	sink := notify.SinkFunc(func(ctx context.Context, n notify.Notification) error {
		entered <- struct{}{}
		<-release
		return nil
	})
	ob := notifytest.NewMemOutbox()
	d := newDispatcher(t, notify.DispatcherConfig{
		Outbox:    ob,
		Sinks:     notify.Sinks{"log": sink},
		PollEvery: time.Hour, // only Notify can wake it
		Retries:   3,
	})
	stop := runDispatcher(t, d)
	if err := ob.Insert(context.Background(), rows("log", 1, 1)); err != nil {
		t.Fatal(err)
	}
	d.Notify()
	select {
	case <-entered:
	case <-time.After(10 * time.Second):
		t.Fatal("Notify did not wake the dispatcher")
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	select {
	case <-stopped:
		t.Fatal("Run returned while a send was in flight")
	default:
	}
	close(release)
	<-stopped
	if r := ob.All()[0]; r.Status != notify.StatusSent {
		t.Errorf("the in-flight send finished as %q after stop, want sent", r.Status)
	}
}

func TestNewDispatcherRejectsBadConfig(t *testing.T) {
	ob := notifytest.NewMemOutbox()
	sinks := notify.Sinks{"log": &notify.LogSink{}}
	for name, cfg := range map[string]notify.DispatcherConfig{
		"no outbox": {Sinks: sinks},
		"no sinks":  {Outbox: ob},
		"nil sink":  {Outbox: ob, Sinks: notify.Sinks{"log": nil}},
		"neg retry": {Outbox: ob, Sinks: sinks, Retries: -1},
		"neg conc":  {Outbox: ob, Sinks: sinks, Concurrency: -2},
		"neg time":  {Outbox: ob, Sinks: sinks, Timeout: -time.Second},
		"neg stuck": {Outbox: ob, Sinks: sinks, StuckAfter: -time.Second},
	} {
		if _, err := notify.NewDispatcher(cfg); err == nil {
			t.Errorf("%s: NewDispatcher accepted %+v", name, cfg)
		}
	}
}

func TestExponentialBackoff(t *testing.T) {
	b := notify.ExponentialBackoff(time.Second, 10*time.Second)
	for attempt, max := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 5: 10 * time.Second, 30: 10 * time.Second} {
		for range 50 {
			if d := b(attempt); d < max/2 || d > max {
				t.Fatalf("attempt %d: %s outside [%s, %s]", attempt, d, max/2, max)
			}
		}
	}
}
