package notify_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/atf/scheduler/internal/notify"
)

func sampleNotification() notify.Notification {
	return notify.Notification{
		ID:             1,
		IdempotencyKey: notify.IdempotencyKey(7, 123, "telegram", "859865894"),
		Channel:        "telegram",
		Recipient:      "859865894",
		Type:           notify.TypeAlert,
		Title:          "BTCUSDT crossed above 65000",
		Body:           "close 65100 (1h)",
		Data:           map[string]any{"ticker": "BTCUSDT", "close": 65100.0},
		Priority:       notify.PriorityHigh,
		CreatedAt:      time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC),
		RunID:          123,
		ScheduleID:     7,
		UserID:         42,
	}
}

func TestNotifyAPISinkWireFormat(t *testing.T) {
	api := newFakeNotifyAPI(t)
	s := &notify.NotifyAPISink{BaseURL: api.srv.URL}
	n := sampleNotification()
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	calls := api.calls()
	if len(calls) != 1 {
		t.Fatalf("receiver got %d accepted calls, want 1", len(calls))
	}
	c := calls[0]
	var keys []string
	for k := range c.Raw {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if want := []string{"data", "message", "notification_type", "priority", "telegram_chat_id", "title"}; !slices.Equal(keys, want) {
		t.Errorf("JSON keys %v, want exactly %v", keys, want)
	}
	if c.ChatID != 859865894 || c.Title != n.Title || c.Message != n.Body {
		t.Errorf("chat %d title %q message %q", c.ChatID, c.Title, c.Message)
	}
	if c.Raw["notification_type"] != "ALERT" || c.Raw["priority"] != "HIGH" {
		t.Errorf("notification_type %v priority %v, want ALERT HIGH", c.Raw["notification_type"], c.Raw["priority"])
	}
	if d, _ := c.Raw["data"].(map[string]any); d["ticker"] != "BTCUSDT" {
		t.Errorf("data = %v", c.Raw["data"])
	}
	if c.Key != n.IdempotencyKey {
		t.Errorf("Idempotency-Key header %q, want %q", c.Key, n.IdempotencyKey)
	}
}

func TestNotifyAPISinkErrorClassification(t *testing.T) {
	cases := []struct {
		name       string
		status     int
		header     string
		body       string
		kind       notify.ErrorKind
		retryAfter time.Duration
	}{
		{"400 missing chat id", 400, "", `{"detail":"message and telegram_chat_id are required"}`, notify.Permanent, 0},
		{"503 backend down", 503, "7", `{"detail":"down"}`, notify.Transient, 7 * time.Second},
		{"500 other error", 500, "", `{"detail":"boom"}`, notify.Transient, 0},
		{"429 rate limited", 429, "3", `{"detail":"slow down"}`, notify.RateLimited, 3 * time.Second},
		{"200 success false", 200, "", `{"success": false, "message": "queue full"}`, notify.Transient, 0},
		{"404 wrong path", 404, "", `{"detail":"Not Found"}`, notify.Permanent, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.header != "" {
					w.Header().Set("Retry-After", tc.header)
				}
				w.WriteHeader(tc.status)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			err := (&notify.NotifyAPISink{BaseURL: srv.URL}).Send(context.Background(), sampleNotification())
			if err == nil {
				t.Fatal("Send succeeded, want an error")
			}
			kind, ra := notify.Classify(err)
			if kind != tc.kind || ra != tc.retryAfter {
				t.Errorf("Classify = %v %s, want %v %s (err: %v)", kind, ra, tc.kind, tc.retryAfter, err)
			}
		})
	}
}

func TestNotifyAPISinkRejectsNonNumericChat(t *testing.T) {
	api := newFakeNotifyAPI(t)
	n := sampleNotification()
	n.Recipient = "@mychannel"
	err := (&notify.NotifyAPISink{BaseURL: api.srv.URL}).Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Permanent || !strings.Contains(err.Error(), "@mychannel") {
		t.Fatalf("err = %v (kind %v), want a permanent error naming the recipient", err, k)
	}
	if api.requests != 0 {
		t.Errorf("a request was sent for an unusable recipient")
	}
}

func TestNotifyAPISinkSlowReceiverTimesOut(t *testing.T) {
	api := newFakeNotifyAPI(t)
	api.hold = make(chan struct{}) // never released: the receiver hangs
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := (&notify.NotifyAPISink{BaseURL: api.srv.URL}).Send(ctx, sampleNotification())
	if k, _ := notify.Classify(err); err == nil || k != notify.Transient {
		t.Fatalf("err = %v kind %v, want a transient timeout error", err, k)
	}
}

func TestTelegramSinkHTMLAndChatID(t *testing.T) {
	tg := newFakeTelegram(t, "123:ABC")
	s := &notify.TelegramSink{Token: "123:ABC", BaseURL: tg.srv.URL}
	n := sampleNotification()
	n.Title = "RSI <30> & falling"
	n.Body = "a<b && c>d\nsecond line"
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := tg.messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	want := "<b>RSI &lt;30&gt; &amp; falling</b>\na&lt;b &amp;&amp; c&gt;d\nsecond line"
	if msgs[0].Text != want || msgs[0].ParseMode != "HTML" {
		t.Errorf("text %q mode %q, want %q HTML", msgs[0].Text, msgs[0].ParseMode, want)
	}
	if id, ok := msgs[0].ChatID.(json.Number); !ok || id.String() != "859865894" {
		t.Errorf("chat_id = %#v, want the number 859865894", msgs[0].ChatID)
	}
}

func TestTelegramSinkErrors(t *testing.T) {
	tg := newFakeTelegram(t, "tok-secret")
	s := &notify.TelegramSink{Token: "tok-secret", BaseURL: tg.srv.URL}
	n := sampleNotification()

	tg.unknown["404404"] = true
	n.Recipient = "404404"
	err := s.Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Permanent || !strings.Contains(err.Error(), "chat not found") {
		t.Errorf("unknown chat: err %v kind %v, want permanent 'chat not found'", err, k)
	}

	n.Recipient = "1"
	tg.limitFor, tg.retryAfter = 1, 9
	err = s.Send(context.Background(), n)
	if k, ra := notify.Classify(err); k != notify.RateLimited || ra != 9*time.Second {
		t.Errorf("429: kind %v retry_after %s, want rate-limited 9s (err %v)", k, ra, err)
	}
	if strings.Contains(err.Error(), "tok-secret") {
		t.Errorf("error message leaks the bot token: %v", err)
	}

	bad := &notify.TelegramSink{Token: "wrong", BaseURL: tg.srv.URL}
	err = bad.Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Transient || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong token: err %v kind %v, want transient without the token", err, k)
	}
}

func TestTelegramSinkFollowsMigration(t *testing.T) {
	tg := newFakeTelegram(t, "t")
	tg.migrated["-100"] = -1001234
	n := sampleNotification()
	n.Recipient = "-100"
	if err := (&notify.TelegramSink{Token: "t", BaseURL: tg.srv.URL}).Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := tg.messages()
	if len(msgs) != 1 || msgs[0].ChatID.(json.Number).String() != "-1001234" {
		t.Fatalf("messages %+v, want one to the supergroup -1001234", msgs)
	}
}

func TestTelegramSinkSplitsLongMessages(t *testing.T) {
	tg := newFakeTelegram(t, "t")
	var lines []string
	for i := range 400 {
		lines = append(lines, strings.Repeat("x", i%50)+" <&> line "+strings.Repeat("é", 3))
	}
	n := sampleNotification()
	n.Title = "Daily report"
	n.Body = strings.Join(lines, "\n")
	if err := (&notify.TelegramSink{Token: "t", BaseURL: tg.srv.URL}).Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := tg.messages()
	if len(msgs) < 2 {
		t.Fatalf("%d messages, want a split", len(msgs))
	}
	var got []string
	for i, m := range msgs {
		if l := len(utf16.Encode([]rune(m.Text))); l > notify.TelegramMaxMessage {
			t.Errorf("part %d is %d UTF-16 units long", i, l)
		}
		got = append(got, m.Text)
	}
	joined := strings.Join(got, "\n")
	if !strings.HasPrefix(joined, "<b>Daily report</b>\n") {
		t.Errorf("first part does not start with the bold title: %.40q", joined)
	}
	plain := html.UnescapeString(strings.TrimPrefix(joined, "<b>Daily report</b>\n"))
	if plain != n.Body {
		t.Errorf("parts do not reassemble into the body (len %d vs %d)", len(plain), len(n.Body))
	}
}

func TestTelegramMessagesCutsLongLine(t *testing.T) {
	long := strings.Repeat("&", 3000) + strings.Repeat("😀", 2000) // escaped: 15000 + 4000 units
	parts := notify.TelegramMessages("", long)
	var b strings.Builder
	for i, p := range parts {
		if l := len(utf16.Encode([]rune(p))); l > notify.TelegramMaxMessage {
			t.Errorf("part %d: %d UTF-16 units", i, l)
		}
		if strings.HasSuffix(p, "&amp") || strings.HasSuffix(p, "&") {
			t.Errorf("part %d ends inside an entity: %q", i, p[len(p)-6:])
		}
		b.WriteString(html.UnescapeString(p))
	}
	if b.String() != long {
		t.Errorf("parts do not reassemble into the line")
	}
	if got := notify.TelegramMessages("only title", ""); !slices.Equal(got, []string{"<b>only title</b>"}) {
		t.Errorf("title only: %q", got)
	}
}

func TestWebhookSinkSignsBody(t *testing.T) {
	const secret = "s3cr3t"
	var (
		mu   sync.Mutex
		got  []notify.WebhookPayload
		sigs []bool
		keys []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m := hmac.New(sha256.New, []byte(secret))
		m.Write(body)
		want := "sha256=" + hex.EncodeToString(m.Sum(nil))
		var p notify.WebhookPayload
		if err := json.Unmarshal(body, &p); err != nil || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad json", 400)
			return
		}
		mu.Lock()
		got = append(got, p)
		sigs = append(sigs, r.Header.Get("X-Signature-256") == want)
		keys = append(keys, r.Header.Get("Idempotency-Key"))
		mu.Unlock()
		if r.URL.Path == "/gone" {
			http.Error(w, "gone", http.StatusGone)
			return
		}
		if r.URL.Path == "/busy" {
			http.Error(w, "bad gateway", http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := &notify.WebhookSink{Secret: secret, AllowPrivate: true} // httptest listens on 127.0.0.1
	n := sampleNotification()
	n.Channel, n.Recipient = "webhook", srv.URL+"/hook"
	if err := s.Send(context.Background(), n); err != nil {
		t.Fatalf("Send: %v", err)
	}
	if len(got) != 1 || !sigs[0] {
		t.Fatalf("receiver got %d payloads, signature valid: %v", len(got), sigs)
	}
	p := got[0]
	if p.Title != n.Title || p.Message != n.Body || p.IdempotencyKey != n.IdempotencyKey || keys[0] != n.IdempotencyKey ||
		p.Text != n.Title+"\n"+n.Body || p.Content != p.Text || p.Priority != "HIGH" || p.Data["ticker"] != "BTCUSDT" {
		t.Errorf("payload %+v", p)
	}

	n.Recipient = srv.URL + "/gone"
	if k, _ := notify.Classify(s.Send(context.Background(), n)); k != notify.Permanent {
		t.Errorf("410: kind %v, want permanent", k)
	}
	n.Recipient = srv.URL + "/busy"
	err := s.Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Transient {
		t.Errorf("502: kind %v, want transient", k)
	}
	if strings.Contains(err.Error(), "/busy") {
		t.Errorf("error shows the webhook path (may hold a token): %v", err)
	}
	n.Recipient = "ftp://example.com/x"
	if k, _ := notify.Classify(s.Send(context.Background(), n)); k != notify.Permanent {
		t.Errorf("ftp URL: kind %v, want permanent", k)
	}
	if !notify.VerifySignature(secret, []byte(`{}`), notify.Sign(secret, []byte(`{}`))) || notify.VerifySignature(secret, []byte(`{}`), notify.Sign("other", []byte(`{}`))) {
		t.Errorf("VerifySignature disagrees with Sign")
	}
}

func TestLogSinkWritesNotification(t *testing.T) {
	var buf strings.Builder
	s := &notify.LogSink{Logger: newTextLogger(&buf)}
	if err := s.Send(context.Background(), sampleNotification()); err != nil {
		t.Fatalf("Send: %v", err)
	}
	out := buf.String()
	for _, want := range []string{"level=WARN", "BTCUSDT crossed above 65000", "sched:7:run:123:telegram:859865894"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q: %s", want, out)
		}
	}
}

func TestNewSinksRouting(t *testing.T) {
	o := notify.DefaultOptions()
	s := notify.NewSinks(o, nil, newTextLogger(io.Discard))
	if !slices.Equal(s.Names(), []string{"email", "log", "telegram", "webhook"}) {
		t.Fatalf("channels %v", s.Names())
	}
	if _, ok := s["telegram"].(*notify.NotifyAPISink); !ok {
		t.Errorf("telegram without a bot token is %T, want *NotifyAPISink", s["telegram"])
	}
	err := s["email"].Send(context.Background(), sampleNotification())
	if k, _ := notify.Classify(err); k != notify.Permanent || !strings.Contains(err.Error(), "SMTP_HOST") {
		t.Errorf("unconfigured email: %v (kind %v), want permanent naming SMTP_HOST", err, k)
	}
	o.TelegramBotToken = "x"
	o.SMTP = notify.SMTPOptions{Host: "mail.example.com", Port: 587, From: "a@example.com"}
	s = notify.NewSinks(o, nil, newTextLogger(io.Discard))
	if _, ok := s["telegram"].(*notify.TelegramSink); !ok {
		t.Errorf("telegram with a bot token is %T, want *TelegramSink", s["telegram"])
	}
	if _, ok := s["email"].(*notify.EmailSink); !ok {
		t.Errorf("email with SMTP_HOST is %T, want *EmailSink", s["email"])
	}
	if err := notify.ValidateChannels([]string{"telegram", "sms"}); err == nil || !strings.Contains(err.Error(), `"sms"`) {
		t.Errorf("ValidateChannels(sms) = %v, want an error naming it", err)
	}
}

func TestSendTest(t *testing.T) {
	api := newFakeNotifyAPI(t)
	o := notify.DefaultOptions()
	o.ServiceURL = api.srv.URL
	desc, err := notify.SendTest(context.Background(), o, notify.TestMessage{Channel: "Telegram", To: "859865894"}, nil, quietLogger())
	if err != nil {
		t.Fatalf("SendTest: %v", err)
	}
	calls := api.calls()
	if !strings.Contains(desc, "notify_api") || len(calls) != 1 || calls[0].ChatID != 859865894 || calls[0].Raw["notification_type"] != "SYSTEM" {
		t.Errorf("desc %q, calls %+v", desc, calls)
	}
	if _, err := notify.SendTest(context.Background(), o, notify.TestMessage{Channel: "sms"}, nil, quietLogger()); err == nil || !strings.Contains(err.Error(), `"sms"`) {
		t.Errorf("unknown channel: %v", err)
	}
	if _, err := notify.SendTest(context.Background(), o, notify.TestMessage{Channel: "telegram"}, nil, quietLogger()); err == nil || !strings.Contains(err.Error(), "TELEGRAM_DEFAULT_CHAT_ID") {
		t.Errorf("no recipient: %v", err)
	}
	api.mu.Lock()
	api.status = 400
	api.mu.Unlock()
	_, err = notify.SendTest(context.Background(), o, notify.TestMessage{Channel: "telegram", To: "1"}, nil, quietLogger())
	if k, _ := notify.Classify(err); k != notify.Permanent || !strings.Contains(err.Error(), "HTTP 400") {
		t.Errorf("400: %v (kind %v)", err, k)
	}
}
