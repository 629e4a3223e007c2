package engine

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store/storetest"
)

// On PostgreSQL a notification queued by any process (another instance's
// run; here an insert that calls no dispatcher) wakes this instance's
// dispatcher through LISTEN scheduler_outbox, not at its next poll.
func TestOutboxWokenByAnotherInstanceOnPostgres(t *testing.T) {
	db := storetest.Postgres(t)
	ctx := context.Background()
	sent := make(chan string, 10)
	disp, err := notify.NewDispatcher(notify.DispatcherConfig{Outbox: db.Outbox(),
		Sinks: notify.Sinks{"log": notify.SinkFunc(func(_ context.Context, n notify.Notification) error {
			sent <- n.Title
			return nil
		})},
		PollEvery: time.Hour, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	o := testOptions()
	o.Outbox = disp
	startEngine(t, New(db, map[string]Handler{"script": noop()}, o))
	dctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = disp.Run(dctx) }()
	t.Cleanup(func() { cancel(); <-done })
	for i := range 3 {
		title := fmt.Sprintf("n%d", i)
		n := notify.Notification{IdempotencyKey: "wake:" + title, Channel: "log", Recipient: "user:1", Title: title, Body: "b",
			CreatedAt: time.Now()}
		if err := db.Outbox().Insert(ctx, []notify.Notification{n}); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-sent:
			if got != title {
				t.Fatalf("sent %q, want %q", got, title)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("notification %d not delivered within 5 s (poll every hour): the dispatcher was not woken", i)
		}
	}
}
