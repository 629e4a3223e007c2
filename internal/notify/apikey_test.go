package notify_test

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
)

// fakeBot is the Telegram bot's HTTP API behind its api_key_middleware
// (src/telegram/api/middleware.py): without its own key it answers 503 to
// everything but /api/health; with a key, a missing or different X-API-Key
// is 401.
type fakeBot struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notify.NotifyAPIRequest
}

func newFakeBot(t *testing.T, key string) *fakeBot {
	b := &fakeBot{}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/api/health" {
			_, _ = w.Write([]byte(`{"status": "ok"}`))
			return
		}
		if key == "" {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"success": false, "error": "API key not configured"}`))
			return
		}
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("X-API-Key")), []byte(key)) != 1 {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"success": false, "error": "Unauthorized"}`))
			return
		}
		var req notify.NotifyAPIRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message == "" || req.TelegramChatID == 0 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		b.mu.Lock()
		b.got = append(b.got, req)
		b.mu.Unlock()
		_, _ = w.Write([]byte(`{"success": true, "message": "Notification queued"}`))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *fakeBot) received() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.got)
}

const botKey = "s3cret-bot-key"

func TestNotifyAPISendsTheAPIKey(t *testing.T) {
	bot := newFakeBot(t, botKey)
	n := rows("telegram", 1, 1)[0]
	if err := (&notify.NotifyAPISink{BaseURL: bot.srv.URL, APIKey: botKey}).Send(context.Background(), n); err != nil {
		t.Fatalf("with the bot's key: %v", err)
	}
	if bot.received() != 1 {
		t.Fatalf("bot received %d notifications, want 1", bot.received())
	}

	for name, key := range map[string]string{"missing": "", "wrong": "not-the-key"} {
		err := (&notify.NotifyAPISink{BaseURL: bot.srv.URL, APIKey: key}).Send(context.Background(), n)
		if kind, _ := notify.Classify(err); kind != notify.Permanent || !errors.Is(err, notify.ErrNotifyAPIUnauthorized) {
			t.Errorf("%s key: %v (kind %v), want a permanent ErrNotifyAPIUnauthorized", name, err, kind)
		}
		if err == nil || !strings.Contains(err.Error(), "TELEGRAM_API_KEY") || strings.Contains(err.Error(), botKey) {
			t.Errorf("%s key: error %q must name TELEGRAM_API_KEY and never show a key", name, err)
		}
		if key != "" && strings.Contains(err.Error(), key) {
			t.Errorf("wrong key: error %q shows our key", err)
		}
	}

	// A bot without its own key answers 503: transient, the operator can fix it.
	noKey := newFakeBot(t, "")
	err := (&notify.NotifyAPISink{BaseURL: noKey.srv.URL, APIKey: botKey}).Send(context.Background(), n)
	if kind, _ := notify.Classify(err); kind != notify.Transient || !strings.Contains(err.Error(), "TELEGRAM_API_KEY") || strings.Contains(err.Error(), botKey) {
		t.Errorf("bot without a key: %v (kind %v), want transient naming TELEGRAM_API_KEY", err, kind)
	}
}

// A notification sent without TELEGRAM_API_KEY ends dead after one attempt,
// with a reason naming TELEGRAM_API_KEY; with the key it is delivered.
func TestDispatcherMissingAPIKeyGoesDead(t *testing.T) {
	bot := newFakeBot(t, botKey)
	for _, tc := range []struct {
		key  string
		want notify.Status
	}{{"", notify.StatusDead}, {botKey, notify.StatusSent}} {
		o := notify.DefaultOptions()
		o.ServiceURL, o.TelegramAPIKey = bot.srv.URL, tc.key
		ob := notifytest.NewMemOutbox()
		if err := ob.Insert(context.Background(), rows("telegram", 1, 1)); err != nil {
			t.Fatal(err)
		}
		d := newDispatcher(t, notify.DispatcherConfig{Outbox: ob, Sinks: notify.NewSinks(o, nil, quietLogger()), Retries: 5})
		stop := runDispatcher(t, d)
		waitFor(t, "the row to settle", func() bool { return statusCount(ob, tc.want) == 1 })
		stop()
		r := ob.All()[0]
		if tc.want == notify.StatusDead && (r.Attempts != 1 || !strings.Contains(r.LastError, "TELEGRAM_API_KEY") ||
			strings.Contains(r.LastError, botKey)) {
			t.Errorf("dead row: %d attempts, reason %q; want 1 attempt and a reason naming TELEGRAM_API_KEY", r.Attempts, r.LastError)
		}
	}
	if bot.received() != 1 {
		t.Errorf("bot received %d notifications, want 1 (the one with the key)", bot.received())
	}
}

func TestDescribeNeverShowsTheAPIKey(t *testing.T) {
	o := notify.DefaultOptions()
	o.TelegramAPIKey = botKey
	if d := notify.Describe(o)[notify.ChannelTelegram]; strings.Contains(d, botKey) || !strings.Contains(d, "TELEGRAM_API_KEY") {
		t.Errorf("Describe: %q", d)
	}
	o, err := notify.OptionsFromEnv(func(k string) string {
		if k == "TELEGRAM_API_KEY" {
			return botKey
		}
		return ""
	})
	if err != nil || o.TelegramAPIKey != botKey {
		t.Errorf("OptionsFromEnv: key %q, %v", o.TelegramAPIKey, err)
	}
}
