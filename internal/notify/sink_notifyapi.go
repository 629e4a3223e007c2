package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// IdempotencyHeader carries Notification.IdempotencyKey on HTTP sinks.
const IdempotencyHeader = "Idempotency-Key"

// NotifyAPIRequest is the JSON body of POST {NOTIFICATION_SERVICE_URL}/api/notify
// (ORIGINAL-SYSTEM.md §6).
type NotifyAPIRequest struct {
	NotificationType string         `json:"notification_type"`
	Title            string         `json:"title"`
	Message          string         `json:"message"`
	Priority         string         `json:"priority"`
	TelegramChatID   int64          `json:"telegram_chat_id"`
	Data             map[string]any `json:"data"`
}

// APIKeyHeader carries TELEGRAM_API_KEY to the bot's HTTP API, whose
// api_key_middleware refuses every /api/notify call without it.
const APIKeyHeader = "X-API-Key"

// NotifyAPISink posts to the old Telegram bot's HTTP API. It serves the
// telegram channel when no TELEGRAM_BOT_TOKEN is configured.
type NotifyAPISink struct {
	BaseURL string       // NOTIFICATION_SERVICE_URL
	APIKey  string       // TELEGRAM_API_KEY, sent as X-API-Key; never logged
	Client  *http.Client // nil: a plain client; the context bounds each call
}

// Send posts the notification with the X-API-Key header. 200 with success
// true (or without a success field) is delivered; 401 (key missing or
// wrong) is permanent with a reason naming TELEGRAM_API_KEY; 400 and other
// 4xx are permanent; 429 honours Retry-After; 503 (the bot's backend is
// down, or the bot itself has no TELEGRAM_API_KEY), 500 and other 5xx are
// transient (503's Retry-After is honoured). The recipient must be a
// numeric chat id.
func (s *NotifyAPISink) Send(ctx context.Context, n Notification) error {
	chatID, err := strconv.ParseInt(n.Recipient, 10, 64)
	if err != nil {
		return PermanentError(fmt.Errorf("notify_api: telegram_chat_id must be numeric, recipient is %q", n.Recipient))
	}
	req := NotifyAPIRequest{
		NotificationType: n.Type,
		Title:            n.Title,
		Message:          n.Body,
		Priority:         string(n.Priority),
		TelegramChatID:   chatID,
		Data:             n.Data,
	}
	if req.NotificationType == "" {
		req.NotificationType = TypeAlert
	}
	if req.Priority == "" {
		req.Priority = string(PriorityNormal)
	}
	if req.Message == "" {
		req.Message = req.Title // the endpoint rejects an empty message
	}
	req.Data = dataWithKey(n)
	body, err := json.Marshal(req)
	if err != nil {
		return PermanentError(fmt.Errorf("notify_api: encode request: %w", err))
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, s.BaseURL+"/api/notify", bytes.NewReader(body))
	if err != nil {
		return PermanentError(fmt.Errorf("notify_api: build request: %w", err))
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(IdempotencyHeader, n.IdempotencyKey)
	if s.APIKey != "" {
		hr.Header.Set(APIKeyHeader, s.APIKey)
	}
	resp, err := httpClient(s.Client).Do(hr)
	if err != nil {
		return TransientError(0, fmt.Errorf("notify_api: POST %s/api/notify: %w", s.BaseURL, err))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 == 2 {
		var ack struct {
			Success *bool  `json:"success"`
			Message string `json:"message"`
		}
		if json.Unmarshal(rb, &ack) == nil && ack.Success != nil && !*ack.Success {
			return TransientError(0, fmt.Errorf("notify_api: %d with success=false: %s", resp.StatusCode, snippet(rb, 300)))
		}
		return nil
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return PermanentError(s.unauthorized())
	}
	e := fmt.Errorf("notify_api: HTTP %d: %s", resp.StatusCode, snippet(rb, 300))
	if resp.StatusCode == http.StatusServiceUnavailable {
		e = fmt.Errorf("notify_api: HTTP 503 (the bot's backend is down, or the bot has no TELEGRAM_API_KEY configured): %s", snippet(rb, 300))
	}
	return classifyHTTP(resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), e)
}

// ErrNotifyAPIUnauthorized is wrapped by the error of a 401 from the bot's
// HTTP API: TELEGRAM_API_KEY is not set here, or differs from the bot's.
var ErrNotifyAPIUnauthorized = errors.New("notify_api: HTTP 401 Unauthorized")

// unauthorized explains a 401 without revealing the key.
func (s *NotifyAPISink) unauthorized() error {
	if s.APIKey == "" {
		return fmt.Errorf("%w: the bot requires the X-API-Key header; set TELEGRAM_API_KEY to the bot's key", ErrNotifyAPIUnauthorized)
	}
	return fmt.Errorf("%w: the bot refused our X-API-Key; TELEGRAM_API_KEY differs from the bot's key", ErrNotifyAPIUnauthorized)
}

func httpClient(c *http.Client) *http.Client {
	if c == nil {
		return http.DefaultClient
	}
	return c
}

// errorsIsTimeout reports whether err is a context deadline.
func errorsIsTimeout(err error) bool { return errors.Is(err, context.DeadlineExceeded) }

// IdempotencyDataKey is the field of the body's data object that repeats
// the idempotency key for receivers that read only the body (the bot's
// /api/notify handler, webhooks).
const IdempotencyDataKey = "idempotency_key"

// dataWithKey returns a copy of n.Data (never nil) with the idempotency key
// as data.idempotency_key; n.Data itself is not changed.
func dataWithKey(n Notification) map[string]any {
	d := make(map[string]any, len(n.Data)+1)
	for k, v := range n.Data {
		d[k] = v
	}
	d[IdempotencyDataKey] = n.IdempotencyKey
	return d
}
