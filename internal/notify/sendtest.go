package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// TestMessage is what `scheduler notify test` sends.
type TestMessage struct {
	Channel  string // telegram, email, webhook, log
	To       string // recipient; "" uses the channel's default from Options
	Title    string // "" means a standard test title
	Body     string // "" means a standard test body
	Priority Priority
}

// SendTest sends one message through the real sink of m.Channel, outside
// the outbox, with the NOTIFICATION_TIMEOUT of o. It returns which sink
// served the channel. Bad input (unknown channel, no recipient) is an error
// naming it; a failed delivery is returned classified as the dispatcher
// would see it (see Classify).
func SendTest(ctx context.Context, o Options, m TestMessage, client *http.Client, logger *slog.Logger) (string, error) {
	ch := strings.ToLower(strings.TrimSpace(m.Channel))
	if !KnownChannel(ch) {
		return "", fmt.Errorf("--channel %q: unknown channel, want one of %s", m.Channel, strings.Join(Channels(), ", "))
	}
	prio, err := ParsePriority(string(m.Priority))
	if err != nil {
		return "", err
	}
	to := strings.TrimSpace(m.To)
	if to == "" {
		switch ch {
		case ChannelTelegram:
			to = o.TelegramDefaultChatID
		case ChannelEmail:
			to = o.DefaultEmail
		case ChannelWebhook:
			to = o.DefaultWebhookURL
		case ChannelLog:
			to = "test"
		}
		if to == "" {
			return "", fmt.Errorf("--to is empty and channel %q has no default recipient (TELEGRAM_DEFAULT_CHAT_ID, NOTIFICATION_DEFAULT_EMAIL or NOTIFICATION_WEBHOOK_URL)", ch)
		}
	}
	now := time.Now()
	n := Notification{
		IdempotencyKey: fmt.Sprintf("test:%d:%s:%s", now.UnixNano(), ch, to),
		Channel:        ch,
		Recipient:      to,
		Type:           TypeSystem,
		Title:          m.Title,
		Body:           m.Body,
		Priority:       prio,
		Data:           map[string]any{"test": true},
		CreatedAt:      now,
		Attempts:       1,
	}
	if n.Title == "" {
		n.Title = "Scheduler test notification"
	}
	if n.Body == "" {
		n.Body = "If you can read this, the " + ch + " channel works. Sent " + now.UTC().Format(time.RFC3339) + "."
	}
	desc := Describe(o)[ch]
	sink := NewSinks(o, client, logger)[ch]
	sctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := sink.Send(sctx, n); err != nil {
		return desc, fmt.Errorf("send through %s to %q: %w", desc, to, err)
	}
	return desc, nil
}
