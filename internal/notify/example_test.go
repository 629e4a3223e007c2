package notify_test

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
)

func ExampleIdempotencyKey() {
	fmt.Println(notify.IdempotencyKey(7, 123, "telegram", "859865894"))
	// Output: sched:7:run:123:telegram:859865894
}

func ExampleOptionsFromEnv() {
	env := map[string]string{"NOTIFICATION_TIMEOUT": "10", "NOTIFICATION_RETRIES": "five"}
	_, err := notify.OptionsFromEnv(func(k string) string { return env[k] })
	fmt.Println(err)
	// Output: notification configuration: NOTIFICATION_RETRIES="five": want an integer from 0 to 100
}

func ExampleTelegramMessages() {
	for _, m := range notify.TelegramMessages("BTC > 65000 & rising", "close 65100\nRSI 71.2") {
		fmt.Println(m)
	}
	// Output:
	// <b>BTC &gt; 65000 &amp; rising</b>
	// close 65100
	// RSI 71.2
}

func ExampleSign() {
	body := []byte(`{"title":"hi"}`)
	sig := notify.Sign("secret", body)
	fmt.Println(sig[:7], len(sig), notify.VerifySignature("secret", body, sig))
	// Output: sha256= 71 true
}

func ExampleJobMessage() {
	title, body := notify.JobMessage(notify.JobOutcome{
		Name:     "vix-check",
		Status:   "failed",
		Duration: 4200 * time.Millisecond,
		Result:   map[string]any{"vix_current": 21.5},
		Error:    "ValueError: no data for ^VIX",
	})
	fmt.Println(title)
	fmt.Println(body)
	// Output:
	// ❌ vix-check failed
	// Duration: 4.2s
	// vix_current: 21.5
	// Error:
	// ValueError: no data for ^VIX
}

func ExampleParseTemplate() {
	fmt.Println(notify.ParseTemplate("{{.Ticker}} closed at {{num .Close}}"))
	fmt.Println(notify.ParseTemplate("{{.Tickr}}") != nil)
	// Output:
	// <nil>
	// true
}

func ExamplePlanner_Plan() {
	p := &notify.Planner{
		Options:   notify.DefaultOptions(),
		Logger:    slog.New(slog.DiscardHandler),
		Directory: notify.StaticDirectory{42: {TelegramChatID: "859865894"}},
	}
	ns, err := p.Plan(context.Background(), notify.Request{
		ScheduleID: 7, RunID: 123, UserID: 42,
		Channels: []string{"telegram", "webhook"},
		Title:    "BTCUSDT crossed above 65000",
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, n := range ns {
		fmt.Printf("%s %q %s %q\n", n.Channel, n.Recipient, n.Status, n.LastError)
	}
	// Output:
	// telegram "859865894" pending ""
	// webhook "" dead "no webhook URL for user 42: set notify.webhook_url, the user's webhook URL, or NOTIFICATION_WEBHOOK_URL"
}

func ExampleDispatcher() {
	outbox := notifytest.NewMemOutbox()
	_ = outbox.Insert(context.Background(), []notify.Notification{{
		IdempotencyKey: notify.IdempotencyKey(1, 1, "log", "user:1"),
		Channel:        "log", Recipient: "user:1", Title: "hello",
	}})
	sent := make(chan string, 1)
	d, err := notify.NewDispatcher(notify.DispatcherConfig{
		Outbox:  outbox,
		Retries: 3,
		Sinks: notify.Sinks{"log": notify.SinkFunc(func(ctx context.Context, n notify.Notification) error {
			sent <- n.Title
			return nil
		})},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	d.Notify() // what the engine does after committing new rows
	fmt.Println("delivered:", <-sent)
	stop()
	<-done
	fmt.Println("status:", outbox.All()[0].Status)
	// Output:
	// delivered: hello
	// status: sent
}

// A schedule's task_params name where its messages go; an invalid notify
// object leaves the request to the owner's default channel.
func ExampleApplyTaskParams() {
	var r notify.Request
	notify.ApplyTaskParams([]byte(`{"script_path": "x.sh", "notify": {"channels": ["telegram"], "recipient_id": "859865894"}}`), &r)
	fmt.Println(r.Channels, r.TelegramChatID)
	var bad notify.Request
	notify.ApplyTaskParams([]byte(`{"notify": {"channels": "pigeon"}}`), &bad)
	fmt.Println(len(bad.Channels))
	// Output:
	// [telegram] 859865894
	// 0
}
