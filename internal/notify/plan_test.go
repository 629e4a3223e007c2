package notify_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

type failingDirectory struct{}

func (failingDirectory) Lookup(context.Context, int64) (notify.Contact, error) {
	return notify.Contact{}, errors.New("db down")
}

func enabledOptions() notify.Options {
	o := notify.DefaultOptions()
	o.SMTP = notify.SMTPOptions{Host: "mail.example.com", Port: 587, From: "bot@example.com"}
	return o
}

func recipients(ns []notify.Notification) map[string]string {
	m := map[string]string{}
	for _, n := range ns {
		m[n.Channel] = n.Recipient
	}
	return m
}

func TestPlanResolutionOrder(t *testing.T) {
	dir := notify.StaticDirectory{42: {TelegramChatID: "555", Email: "owner@example.com", WebhookURL: "https://hooks.example/u42"}}
	o := enabledOptions()
	o.TelegramDefaultChatID = "999"
	o.DefaultEmail = "ops@example.com"
	p := &notify.Planner{Options: o, Directory: dir, Logger: quietLogger()}
	ctx := context.Background()
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

	base := notify.Request{ScheduleID: 7, RunID: 123, UserID: 42, Channels: []string{"telegram", "Email", "webhook", "telegram"}, Title: "t", Body: "b", CreatedAt: created}

	// Explicit config wins.
	r := base
	r.TelegramChatID, r.Email, r.WebhookURL = "859865894", "me@example.com", "https://explicit.example/h"
	ns, err := p.Plan(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := recipients(ns); len(ns) != 3 || got["telegram"] != "859865894" || got["email"] != "me@example.com" || got["webhook"] != "https://explicit.example/h" {
		t.Errorf("explicit: %d rows %v", len(ns), got)
	}
	if ns[0].IdempotencyKey != "sched:7:run:123:telegram:859865894" || ns[0].Status != notify.StatusPending || !ns[0].CreatedAt.Equal(created) || !ns[0].NextAttemptAt.Equal(created) {
		t.Errorf("row 0: key %q status %q created %s", ns[0].IdempotencyKey, ns[0].Status, ns[0].CreatedAt)
	}

	// Then the directory.
	ns, err = p.Plan(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	if got := recipients(ns); got["telegram"] != "555" || got["email"] != "owner@example.com" || got["webhook"] != "https://hooks.example/u42" {
		t.Errorf("directory: %v", got)
	}

	// notify.user_id looks up another user; unknown → defaults.
	r = base
	r.RecipientUserID = 77
	r.Channels = []string{"telegram", "email"}
	ns, err = p.Plan(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	if got := recipients(ns); got["telegram"] != "999" || got["email"] != "ops@example.com" {
		t.Errorf("defaults: %v", got)
	}
}

func TestPlanUnresolvableRecipientIsDeadNotDropped(t *testing.T) {
	p := &notify.Planner{Options: enabledOptions(), Logger: quietLogger()}
	ns, err := p.Plan(context.Background(), notify.Request{ScheduleID: 1, RunID: 2, UserID: 3, Channels: []string{"telegram", "webhook", "log"}, Title: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 3 {
		t.Fatalf("%d rows, want 3 (one per channel, none dropped)", len(ns))
	}
	for _, n := range ns[:2] {
		if n.Status != notify.StatusDead || !strings.Contains(n.LastError, "user 3") {
			t.Errorf("%s: status %q reason %q, want dead naming the user", n.Channel, n.Status, n.LastError)
		}
	}
	if !strings.Contains(ns[0].LastError, "TELEGRAM_DEFAULT_CHAT_ID") {
		t.Errorf("telegram reason %q should say how to fix it", ns[0].LastError)
	}
	if ns[2].Status != notify.StatusPending || ns[2].Recipient != "user:3" {
		t.Errorf("log row: %q %q", ns[2].Status, ns[2].Recipient)
	}
}

func TestPlanUrgentAddsEmail(t *testing.T) {
	dir := notify.StaticDirectory{1: {TelegramChatID: "10", Email: "u@example.com"}}
	p := &notify.Planner{Options: enabledOptions(), Directory: dir, Logger: quietLogger()}
	for prio, want := range map[notify.Priority]int{notify.PriorityNormal: 1, notify.PriorityHigh: 2, notify.PriorityCritical: 2, "low": 1} {
		ns, err := p.Plan(context.Background(), notify.Request{UserID: 1, Channels: []string{"telegram"}, Priority: prio, Title: "x"})
		if err != nil {
			t.Fatalf("%s: %v", prio, err)
		}
		if len(ns) != want {
			t.Errorf("priority %s: %d rows, want %d", prio, len(ns), want)
		}
		if want == 2 && (ns[1].Channel != "email" || ns[1].Recipient != "u@example.com") {
			t.Errorf("priority %s: extra row %s → %s", prio, ns[1].Channel, ns[1].Recipient)
		}
	}
	// Without SMTP, no implicit email.
	noSMTP := &notify.Planner{Options: notify.DefaultOptions(), Directory: dir, Logger: quietLogger()}
	ns, _ := noSMTP.Plan(context.Background(), notify.Request{UserID: 1, Channels: []string{"telegram"}, Priority: notify.PriorityHigh})
	if len(ns) != 1 {
		t.Errorf("without SMTP: %d rows, want 1", len(ns))
	}
}

func TestPlanErrorsAndSuppression(t *testing.T) {
	p := &notify.Planner{Options: enabledOptions(), Logger: quietLogger()}
	if _, err := p.Plan(context.Background(), notify.Request{Channels: []string{"sms"}}); err == nil || !strings.Contains(err.Error(), `"sms"`) {
		t.Errorf("unknown channel: %v", err)
	}
	if _, err := p.Plan(context.Background(), notify.Request{Priority: "urgent"}); err == nil || !strings.Contains(err.Error(), `"urgent"`) {
		t.Errorf("unknown priority: %v", err)
	}
	p.Directory = failingDirectory{}
	if _, err := p.Plan(context.Background(), notify.Request{UserID: 5, Channels: []string{"email"}}); err == nil || !strings.Contains(err.Error(), "db down") {
		t.Errorf("directory failure: %v", err)
	}
	off := enabledOptions()
	off.Enabled = false
	off.DefaultChannel = "log"
	q := &notify.Planner{Options: off, Logger: quietLogger()}
	ns, err := q.Plan(context.Background(), notify.Request{UserID: 5, Tag: "paused"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Status != notify.StatusSuppressed || ns[0].Channel != "log" || !strings.HasSuffix(ns[0].IdempotencyKey, "#paused") {
		t.Errorf("disabled: %+v", ns)
	}
}

func TestPlanTemplate(t *testing.T) {
	p := &notify.Planner{Options: enabledOptions(), Logger: quietLogger()}
	r := notify.Request{Channels: []string{"log"}, Title: "BTC up", Body: "default",
		Template: "{{.Ticker}} {{.Timeframe}} closed at {{num .Close}} (RSI {{printf \"%.1f\" (index .Values \"rsi_14\")}})",
		Vars:     notify.TemplateData{Ticker: "BTCUSDT", Timeframe: "1h", Close: 65100.5, Values: map[string]float64{"rsi_14": 71.234}}}
	ns, err := p.Plan(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if ns[0].Body != "BTCUSDT 1h closed at 65100.5 (RSI 71.2)" || ns[0].Title != "BTC up" {
		t.Errorf("rendered %q / %q", ns[0].Title, ns[0].Body)
	}
	r.Template = "{{.Close.Foo}}" // fails at run time
	ns, err = p.Plan(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ns[0].Body, "default\n(template error:") {
		t.Errorf("failed template body %q, want the default text and the error", ns[0].Body)
	}
}

func TestDirectoryChain(t *testing.T) {
	c := notify.DirectoryChain{
		notify.StaticDirectory{1: {TelegramChatID: "10"}},
		nil,
		notify.StaticDirectory{1: {TelegramChatID: "99", Email: "a@example.com"}},
	}
	got, err := c.Lookup(context.Background(), 1)
	if err != nil || got.TelegramChatID != "10" || got.Email != "a@example.com" {
		t.Errorf("Lookup = %+v, %v", got, err)
	}
	if _, err := (notify.DirectoryChain{failingDirectory{}}).Lookup(context.Background(), 1); err == nil {
		t.Error("a failing directory's error was swallowed")
	}
}

func TestParseNotifyConfig(t *testing.T) {
	c, err := notify.ParseNotifyConfig([]byte(`{"channels": ["Telegram"], "channel": "email", "priority": "high",
		"recipient_id": 859865894, "user_id": "12", "webhook_url": "https://x.example/h", "template": "{{.Ticker}}", "on_failure": true, "extra": 1}`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Channels, ",") != "telegram,email" || c.Priority != notify.PriorityHigh || c.RecipientID != "859865894" || c.UserID != 12 ||
		c.WebhookURL != "https://x.example/h" || c.Template != "{{.Ticker}}" || c.OnFailure == nil || !*c.OnFailure || c.OnSuccess != nil {
		t.Errorf("parsed %+v", c)
	}
	var r notify.Request
	c.Apply(&r)
	if r.TelegramChatID != "859865894" || r.RecipientUserID != 12 || r.Priority != notify.PriorityHigh || len(r.Channels) != 2 {
		t.Errorf("applied %+v", r)
	}
	if c, err := notify.ParseNotifyConfig(nil); err != nil || c.Priority != notify.PriorityNormal {
		t.Errorf("empty config: %+v %v", c, err)
	}
	for raw, wantInErr := range map[string]string{
		`{"channels": ["sms"]}`:      `"sms"`,
		`{"channels": 5}`:            "notify.channels",
		`{"priority": "urgent"}`:     `"urgent"`,
		`{"recipient_id": "abc"}`:    `"abc"`,
		`{"user_id": "-1"}`:          `"-1"`,
		`{"email": "nope"}`:          `"nope"`,
		`{"webhook_url": "ftp://x"}`: `"ftp://x"`,
		`{"template": "{{.Tickr}}"}`: "Tickr",
		`{"template": "{{if}}"}`:     "notify.template",
		`[1]`:                        "notify",
	} {
		if _, err := notify.ParseNotifyConfig([]byte(raw)); err == nil || !strings.Contains(err.Error(), wantInErr) {
			t.Errorf("%s: err %v, want it to contain %s", raw, err, wantInErr)
		}
	}
}
