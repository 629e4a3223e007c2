package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"
)

// SignatureHeader carries the webhook body's HMAC-SHA256 as "sha256=<hex>".
const SignatureHeader = "X-Signature-256"

// WebhookPayload is the JSON body posted to webhook URLs. Text and Content
// repeat title and message so Slack (text) and Discord (content) incoming
// webhooks accept it as is.
type WebhookPayload struct {
	IdempotencyKey   string         `json:"idempotency_key"`
	NotificationType string         `json:"notification_type"`
	Title            string         `json:"title"`
	Message          string         `json:"message"`
	Priority         string         `json:"priority"`
	Data             map[string]any `json:"data"`
	ScheduleID       int64          `json:"schedule_id,omitempty"`
	RunID            int64          `json:"run_id,omitempty"`
	UserID           int64          `json:"user_id,omitempty"`
	CreatedAt        time.Time      `json:"created_at"`
	Text             string         `json:"text"`
	Content          string         `json:"content"`
}

// WebhookSink posts the notification as JSON to the URL in its Recipient.
//
// Unless AllowPrivate, a target that CheckWebhookURL refuses is a permanent
// error, and every connection (also after a redirect) is checked where it
// is dialled, on the resolved address: a host name resolving to a
// loopback, link-local, private, unspecified or multicast address is
// refused then (DNS rebinding). For that check the sink uses a copy of
// Client's *http.Transport without a proxy; a Client with another kind of
// Transport is used as it is.
type WebhookSink struct {
	Secret string       // WEBHOOK_SECRET; empty: no signature header
	Client *http.Client // nil: a plain client; the context bounds each call
	Logger *slog.Logger // warns once when Secret is empty; nil: slog.Default()
	// AllowPrivate is WEBHOOK_ALLOW_PRIVATE: no address checks.
	AllowPrivate bool
	// LookupHost, when set, resolves host names instead of the system
	// resolver (a test hook: a name resolving to 127.0.0.1).
	LookupHost func(ctx context.Context, host string) ([]netip.Addr, error)

	warnOnce  sync.Once
	guardOnce sync.Once
	guarded   *http.Client
}

// client returns the HTTP client of a send: Client as it is when private
// targets are allowed, else its guarded copy.
func (s *WebhookSink) client() *http.Client {
	if s.AllowPrivate && s.LookupHost == nil {
		return httpClient(s.Client)
	}
	s.guardOnce.Do(func() { s.guarded = guardedClient(httpClient(s.Client), s.AllowPrivate, s.LookupHost) })
	return s.guarded
}

// Sign returns the X-Signature-256 value of body: "sha256=" and the hex
// HMAC-SHA256 of body keyed with secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature checks an X-Signature-256 value in constant time; receivers
// (and tests) use it.
func VerifySignature(secret string, body []byte, header string) bool {
	return hmac.Equal([]byte(Sign(secret, body)), []byte(header))
}

// Send posts the payload. 2xx is delivered; 429 honours Retry-After; 408 and
// 5xx are transient; other 4xx are permanent.
func (s *WebhookSink) Send(ctx context.Context, n Notification) error {
	if err := CheckWebhookURL(n.Recipient, s.AllowPrivate); err != nil {
		return PermanentError(fmt.Errorf("webhook: recipient %q: %w", n.Recipient, err))
	}
	p := WebhookPayload{
		IdempotencyKey:   n.IdempotencyKey,
		NotificationType: n.Type,
		Title:            n.Title,
		Message:          n.Body,
		Priority:         string(n.Priority),
		Data:             n.Data,
		ScheduleID:       n.ScheduleID,
		RunID:            n.RunID,
		UserID:           n.UserID,
		CreatedAt:        n.CreatedAt.UTC(),
		Text:             plainText(n),
		Content:          plainText(n),
	}
	p.Data = dataWithKey(n)
	body, err := json.Marshal(p)
	if err != nil {
		return PermanentError(fmt.Errorf("webhook: encode payload: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.Recipient, bytes.NewReader(body))
	if err != nil {
		return PermanentError(fmt.Errorf("webhook: build request for %q: %w", n.Recipient, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "atf-scheduler")
	req.Header.Set(IdempotencyHeader, n.IdempotencyKey)
	if s.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(s.Secret, body))
	} else {
		s.warnOnce.Do(func() {
			l := s.Logger
			if l == nil {
				l = slog.Default()
			}
			l.Warn("WEBHOOK_SECRET is empty: webhook notifications are sent without " + SignatureHeader)
		})
	}
	resp, err := s.client().Do(req)
	if errors.Is(err, ErrPrivateTarget) {
		return PermanentError(fmt.Errorf("webhook: POST %s: %w", safeURL(req.URL), err))
	}
	if err != nil {
		return TransientError(0, fmt.Errorf("webhook: POST %s: %w", safeURL(req.URL), err))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := fmt.Errorf("webhook: POST %s: HTTP %d: %s", safeURL(req.URL), resp.StatusCode, snippet(rb, 300))
	return classifyHTTP(resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), e)
}

// safeURL shows scheme and host only: webhook paths often hold secrets
// (Discord and Slack tokens).
func safeURL(u *url.URL) string {
	if u.Path == "" || u.Path == "/" {
		return u.Scheme + "://" + u.Host
	}
	return u.Scheme + "://" + u.Host + "/…"
}
