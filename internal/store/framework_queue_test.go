package store_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// runningRun creates a schedule of user 42 and one run of it claimed
// (running) by n1, and returns the schedule and the run id.
func runningRun(t *testing.T, db *store.DB, name string, at time.Time) (*store.Schedule, int64) {
	t.Helper()
	ctx := context.Background()
	sc := &store.Schedule{UserID: 42, Name: name, JobType: "alert", Target: "BTCUSDT", Cron: "* * * * *", Enabled: true,
		TaskParams: []byte(`{}`)}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	next := at.Add(time.Minute)
	if err := db.SetNextRun(ctx, sc.ID, &at); err != nil {
		t.Fatal(err)
	}
	far := at.Add(24 * time.Hour)
	plan := func(s *store.Schedule) store.Fire {
		if s.ID != sc.ID {
			return store.Fire{Next: &far} // earlier schedules of the test
		}
		return store.Fire{Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: at,
			Exclusive: true, MaxAttempts: 1}}, Next: &next}
	}
	if _, _, err := db.ClaimDue(ctx, "", at, at, 10, 0, plan); err != nil {
		t.Fatal(err)
	}
	got, err := db.ClaimRuns(ctx, "n1", at, 10, time.Minute, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimRuns = %+v, %v", got, err)
	}
	return sc, got[0].ID
}

// planned returns what the Planner makes of a HIGH alert to telegram and
// log for user 42 (telegram 859865894, trader@example.com): telegram, log
// and, being urgent, email.
func planned(t *testing.T, framework bool, scheduleID, runID int64, at time.Time) []notify.Notification {
	t.Helper()
	o := notify.DefaultOptions()
	o.FrameworkQueue = framework
	p := &notify.Planner{Options: o, Directory: notify.StaticDirectory{42: {TelegramChatID: "859865894", Email: "trader@example.com"}}}
	title, body := notify.AlertMessage(notify.AlertFacts{Name: "btc-rsi", Ticker: "BTCUSDT", Timeframe: "1h", Price: 65100,
		Time: at, Status: "TRIGGERED", Priority: "HIGH", Generated: at})
	ns, err := p.Plan(context.Background(), notify.Request{ScheduleID: scheduleID, RunID: runID, UserID: 42,
		Type: notify.TypeAlert, Channels: []string{"telegram", "log"}, Priority: notify.PriorityHigh, Title: title, Body: body,
		Data: map[string]any{"ticker": "BTCUSDT", "timeframe": "1h", "price": 65100.0}, Tag: "trigger", CreatedAt: at})
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQL().QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// On the framework's live schema, a completion writes its telegram and
// email notifications as one msg_messages row plus one msg_delivery_status
// row per channel, satisfying the framework's constraints, in the run's
// completion transaction: when the msg_delivery_status insert fails, the
// run stays uncompleted and no msg_messages row exists.
func TestFrameworkQueueInCompletionTransaction(t *testing.T) {
	db := storetest.Framework(t, storetest.JobIDInt4)
	ctx := context.Background()
	if !db.FrameworkQueueFound() {
		t.Fatal("FrameworkQueueFound = false on the framework's schema")
	}
	d, err := notify.ResolveDelivery(notify.DeliveryAuto, db.FrameworkQueueFound())
	if err != nil || !d.Framework || d.String() != "framework (msg_messages found)" {
		t.Fatalf("auto on the framework's schema: %v, %v", d, err)
	}
	if err := db.UseFrameworkQueue(true); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	sc, runID := runningRun(t, db, "btc-rsi", at)
	ns := planned(t, true, sc.ID, runID, at)
	if err := db.CompleteRuns(ctx, []store.Completion{{RunID: runID, Owner: "n1", Status: store.StatusCompleted, At: at,
		Notifications: ns}}); err != nil {
		t.Fatal(err)
	}
	if r, err := db.GetRun(ctx, runID); err != nil || r.Status != store.StatusCompleted {
		t.Fatalf("run %+v, %v", r, err)
	}

	var (
		id                                            int64
		typ, prio, channels, recipient, status        string
		title, message, metaTitle, source, chat, mail string
		tickerInContent                               string
		retries, maxRetries                           int
		scheduled                                     time.Time
	)
	err = db.SQL().QueryRow(`SELECT id, message_type, priority, array_to_string(channels, ','), recipient_id, status,
		content->>'title', content->>'message', content->'metadata'->>'title', content->'metadata'->>'ticker',
		metadata->>'source', metadata->>'telegram_chat_id', metadata->>'email_receiver', retry_count, max_retries, scheduled_for
		FROM msg_messages`).Scan(&id, &typ, &prio, &channels, &recipient, &status, &title, &message, &metaTitle, &tickerInContent,
		&source, &chat, &mail, &retries, &maxRetries, &scheduled)
	if err != nil {
		t.Fatalf("msg_messages: %v", err)
	}
	if typ != "ALERT" || prio != "HIGH" || channels != "telegram,email" || recipient != "42" || status != "PENDING" ||
		retries != 0 || maxRetries != 3 || !scheduled.Equal(at) {
		t.Errorf("msg_messages row: type %s priority %s channels %s recipient %s status %s retries %d/%d scheduled %v",
			typ, prio, channels, recipient, status, retries, maxRetries, scheduled)
	}
	if title != "🚨 btc-rsi: BTCUSDT (1h)" || message != ns[0].Body || metaTitle != title || tickerInContent != "BTCUSDT" {
		t.Errorf("content: title %q, metadata title %q, ticker %q, message %q", title, metaTitle, tickerInContent, message)
	}
	if source != "scheduler_service" || chat != "859865894" || mail != "trader@example.com" {
		t.Errorf("metadata column: source %q, telegram_chat_id %q, email_receiver %q", source, chat, mail)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM msg_delivery_status WHERE message_id = $1 AND status = 'PENDING'
		AND channel IN ('telegram', 'email')`, id); n != 2 || count(t, db, `SELECT COUNT(*) FROM msg_delivery_status`) != 2 {
		t.Errorf("msg_delivery_status: %d PENDING rows for telegram and email, want 2", n)
	}
	// The log channel is not the framework's: it stays in the outbox.
	if n := count(t, db, `SELECT COUNT(*) FROM notifications`); n != 1 ||
		count(t, db, `SELECT COUNT(*) FROM notifications WHERE channel = 'log'`) != 1 {
		t.Errorf("outbox holds %d rows, want the log row only", n)
	}

	// A fault between msg_messages and msg_delivery_status.
	if _, err := db.SQL().Exec(`CREATE FUNCTION refuse_delivery_status() RETURNS trigger LANGUAGE plpgsql AS $f$
		BEGIN RAISE EXCEPTION 'injected fault' USING ERRCODE = 'P0001'; END; $f$;
		CREATE TRIGGER refuse BEFORE INSERT ON msg_delivery_status FOR EACH ROW EXECUTE FUNCTION refuse_delivery_status();`); err != nil {
		t.Fatal(err)
	}
	sc2, run2 := runningRun(t, db, "eth-rsi", at.Add(time.Minute))
	err = db.CompleteRuns(ctx, []store.Completion{{RunID: run2, Owner: "n1", Status: store.StatusCompleted, At: at.Add(time.Minute),
		Notifications: planned(t, true, sc2.ID, run2, at.Add(time.Minute))}})
	if err == nil {
		t.Fatal("CompleteRuns succeeded although msg_delivery_status refused the insert")
	}
	if r, err := db.GetRun(ctx, run2); err != nil || r.Status != store.StatusRunning {
		t.Errorf("run after the fault: %+v, %v; want still running", r, err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM msg_messages`); n != 1 {
		t.Errorf("msg_messages holds %d rows after the fault, want 1 (the first run's)", n)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM notifications WHERE run_id = $1`, run2); n != 0 {
		t.Errorf("outbox holds %d rows of the failed completion", n)
	}
	// Once the fault is gone the same completion goes through.
	if _, err := db.SQL().Exec(`DROP TRIGGER refuse ON msg_delivery_status`); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteRuns(ctx, []store.Completion{{RunID: run2, Owner: "n1", Status: store.StatusCompleted, At: at.Add(time.Minute),
		Notifications: planned(t, true, sc2.ID, run2, at.Add(time.Minute))}}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM msg_messages`); n != 2 || count(t, db, `SELECT COUNT(*) FROM msg_delivery_status`) != 4 {
		t.Errorf("after the retry: %d msg_messages, want 2", n)
	}
}

// A notification the framework's constraints reject (a priority outside
// LOW…CRITICAL) fails the completion as a whole.
func TestFrameworkQueueCheckViolationRollsBack(t *testing.T) {
	db := storetest.Framework(t, storetest.JobIDInt4)
	ctx := context.Background()
	if err := db.UseFrameworkQueue(true); err != nil {
		t.Fatal(err)
	}
	at := time.Now().UTC().Truncate(time.Second)
	sc, runID := runningRun(t, db, "bad", at)
	ns := planned(t, true, sc.ID, runID, at)
	for i := range ns {
		ns[i].Priority = "URGENT"
	}
	if err := db.CompleteRuns(ctx, []store.Completion{{RunID: runID, Owner: "n1", Status: store.StatusCompleted, At: at,
		Notifications: ns}}); err == nil {
		t.Fatal("CompleteRuns accepted a priority the framework's CHECK rejects")
	}
	if r, err := db.GetRun(ctx, runID); err != nil || r.Status != store.StatusRunning {
		t.Errorf("run %+v, %v; want still running", r, err)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM msg_messages`) + count(t, db, `SELECT COUNT(*) FROM notifications`); n != 0 {
		t.Errorf("%d rows written by a failed completion", n)
	}
}

// Without the framework's tables (SQLite; PostgreSQL with our schema only)
// auto means the outbox, and the framework mode cannot be switched on.
func TestNoFrameworkQueueUsesTheOutbox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if db.FrameworkQueueFound() {
			t.Fatal("FrameworkQueueFound on a database without msg_messages")
		}
		if err := db.UseFrameworkQueue(true); !errors.Is(err, store.ErrFrameworkQueueMissing) {
			t.Fatalf("UseFrameworkQueue(true) = %v, want ErrFrameworkQueueMissing", err)
		}
		d, err := notify.ResolveDelivery(notify.DeliveryAuto, db.FrameworkQueueFound())
		if err != nil || d.Framework || d.String() != "direct (msg_messages not found)" {
			t.Fatalf("auto: %v, %v", d, err)
		}
		if _, err := notify.ResolveDelivery(notify.DeliveryFramework, db.FrameworkQueueFound()); !errors.Is(err, notify.ErrFrameworkQueueMissing) {
			t.Fatalf("framework without the tables: %v", err)
		}
		if err := db.UseFrameworkQueue(d.Framework); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		sc, runID := runningRun(t, db, fmt.Sprintf("direct-%s", db.Dialect()), at)
		ns := planned(t, false, sc.ID, runID, at)
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: runID, Owner: "n1", Status: store.StatusCompleted, At: at,
			Notifications: ns}}); err != nil {
			t.Fatal(err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM notifications WHERE run_id = $1`, runID); n != len(ns) || n == 0 {
			t.Errorf("outbox holds %d rows, want %d", n, len(ns))
		}
	})
}
