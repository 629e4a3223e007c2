package notify_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/atf/scheduler/internal/notify"
)

func TestCheckWebhookURL(t *testing.T) {
	refused := []string{
		"http://169.254.169.254/latest/meta-data/", // cloud metadata (link-local)
		"http://127.0.0.1:8090/api/v1/schedules",   // loopback
		"http://10.0.0.5/hook",                     // private
		"https://172.16.3.4/hook",
		"https://192.168.1.1/hook",
		"http://[::1]:8080/hook",
		"http://[fe80::1]/hook",
		"http://[fd00::1]/hook",
		"http://[::ffff:169.254.169.254]/",
		"http://0.0.0.0/",
		"http://224.0.0.1/",
		"http://localhost:8000/hook",
		"http://LocalHost./hook",
		"http://api.localhost/hook",
		"http://2852039166/", // 169.254.169.254 as one number
		"http://0x7f.1/",     // 127.0.0.1
	}
	for _, u := range refused {
		err := notify.CheckWebhookURL(u, false)
		if !errors.Is(err, notify.ErrPrivateTarget) {
			t.Errorf("%s: got %v, want ErrPrivateTarget", u, err)
			continue
		}
		if !strings.Contains(err.Error(), "WEBHOOK_ALLOW_PRIVATE") {
			t.Errorf("%s: error %q does not name WEBHOOK_ALLOW_PRIVATE", u, err)
		}
		if err := notify.CheckWebhookURL(u, true); err != nil {
			t.Errorf("%s with WEBHOOK_ALLOW_PRIVATE=true: %v", u, err)
		}
	}
	for _, u := range []string{"https://hooks.slack.com/services/T/B/X", "https://discord.com/api/webhooks/1/x", "http://8.8.8.8/h", "https://[2001:4860:4860::8888]/h"} {
		if err := notify.CheckWebhookURL(u, false); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	if err := notify.CheckWebhookURL("ftp://x", true); err == nil {
		t.Error("ftp URL accepted")
	}
}

func TestWebhookAllowPrivateSetting(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	_, err := notify.OptionsFromEnv(env(map[string]string{"WEBHOOK_ALLOW_PRIVATE": "maybe"}))
	if err == nil || !strings.Contains(err.Error(), `WEBHOOK_ALLOW_PRIVATE="maybe"`) {
		t.Errorf("bad value: got %v", err)
	}
	_, err = notify.OptionsFromEnv(env(map[string]string{"NOTIFICATION_WEBHOOK_URL": "http://169.254.169.254/"}))
	if err == nil || !strings.Contains(err.Error(), "NOTIFICATION_WEBHOOK_URL") {
		t.Errorf("metadata URL as NOTIFICATION_WEBHOOK_URL: got %v", err)
	}
	o, err := notify.OptionsFromEnv(env(map[string]string{"NOTIFICATION_WEBHOOK_URL": "http://10.0.0.5/", "WEBHOOK_ALLOW_PRIVATE": "true"}))
	if err != nil || !o.WebhookAllowPrivate || o.DefaultWebhookURL != "http://10.0.0.5/" {
		t.Errorf("allowed: %+v, %v", o, err)
	}
}

// TestPlannerRefusesPrivateWebhook: a private target in a notify config
// becomes a dead notification with the reason, not a request.
func TestPlannerRefusesPrivateWebhook(t *testing.T) {
	p := &notify.Planner{Options: notify.DefaultOptions(), Logger: quietLogger()}
	req := notify.Request{ScheduleID: 1, RunID: 2, UserID: 3, Channels: []string{"webhook"}, Title: "x", WebhookURL: "http://169.254.169.254/"}
	ns, err := p.Plan(context.Background(), req)
	if err != nil || len(ns) != 1 || ns[0].Status != notify.StatusDead || !strings.Contains(ns[0].LastError, "WEBHOOK_ALLOW_PRIVATE") {
		t.Fatalf("got %+v, %v", ns, err)
	}
	p.Options.WebhookAllowPrivate = true
	ns, err = p.Plan(context.Background(), req)
	if err != nil || len(ns) != 1 || ns[0].Status == notify.StatusDead {
		t.Fatalf("allowed: got %+v, %v", ns, err)
	}
}

// TestWebhookDialRefusesPrivateResolution: a host name that passes
// validation but resolves to a private address (DNS rebinding) is refused
// when the connection is dialled, before any byte is sent.
func TestWebhookDialRefusesPrivateResolution(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	su, _ := url.Parse(srv.URL)
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		if host != "rebind.example" {
			t.Errorf("lookup of %q", host)
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}
	n := sampleNotification()
	n.Channel, n.Recipient = "webhook", "http://rebind.example:"+su.Port()+"/hook"
	if err := notify.CheckWebhookURL(n.Recipient, false); err != nil {
		t.Fatalf("the name itself should validate: %v", err)
	}

	s := &notify.WebhookSink{LookupHost: lookup, Logger: quietLogger()}
	err := s.Send(context.Background(), n)
	if !errors.Is(err, notify.ErrPrivateTarget) {
		t.Fatalf("Send: got %v, want ErrPrivateTarget", err)
	}
	if kind, _ := notify.Classify(err); kind != notify.Permanent {
		t.Errorf("kind %v, want permanent", kind)
	}
	if hits.Load() != 0 {
		t.Fatalf("the private server was reached %d times", hits.Load())
	}

	// WEBHOOK_ALLOW_PRIVATE=true: the same send reaches the server.
	allowed := &notify.WebhookSink{LookupHost: lookup, AllowPrivate: true, Logger: quietLogger()}
	if err := allowed.Send(context.Background(), n); err != nil || hits.Load() != 1 {
		t.Fatalf("with WEBHOOK_ALLOW_PRIVATE: %v (hits %d)", err, hits.Load())
	}
}

// TestWebhookRefusesLiteralPrivateTarget: a literal private address in the
// recipient is refused before any connection.
func TestWebhookRefusesLiteralPrivateTarget(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	n := sampleNotification()
	n.Channel, n.Recipient = "webhook", srv.URL+"/hook" // http://127.0.0.1:port
	err := (&notify.WebhookSink{Logger: quietLogger()}).Send(context.Background(), n)
	if !errors.Is(err, notify.ErrPrivateTarget) || hits.Load() != 0 {
		t.Fatalf("got %v, hits %d", err, hits.Load())
	}
}
