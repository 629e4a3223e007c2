package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"strings"
)

// Channel names used in notify configs and outbox rows.
const (
	ChannelTelegram = "telegram"
	ChannelEmail    = "email"
	ChannelWebhook  = "webhook"
	ChannelLog      = "log"
)

// Channels lists the channel names a config may use.
func Channels() []string {
	return []string{ChannelTelegram, ChannelEmail, ChannelWebhook, ChannelLog}
}

// KnownChannel reports whether name is a channel a config may use.
func KnownChannel(name string) bool { return slices.Contains(Channels(), name) }

// ValidateChannels checks channel names from a config; an unknown channel is
// an error naming it (a validation error at save time, never a silent drop).
func ValidateChannels(names []string) error {
	for i, n := range names {
		if !KnownChannel(strings.ToLower(strings.TrimSpace(n))) {
			return fmt.Errorf("notify channels[%d] = %q: unknown channel, want one of %s", i, n, strings.Join(Channels(), ", "))
		}
	}
	return nil
}

// Sink delivers one notification. Errors should be classified with
// PermanentError, RetryAfterError or TransientError; unclassified errors
// count as transient. Send must respect ctx (the per-attempt timeout).
type Sink interface {
	Send(ctx context.Context, n Notification) error
}

// SinkFunc adapts a function to Sink.
type SinkFunc func(ctx context.Context, n Notification) error

// Send calls f.
func (f SinkFunc) Send(ctx context.Context, n Notification) error { return f(ctx, n) }

// Sinks maps channel names to sinks.
type Sinks map[string]Sink

// Names returns the channel names, sorted.
func (s Sinks) Names() []string {
	names := make([]string, 0, len(s))
	for k := range s {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// Describe says, per channel, which sink serves it ("telegram → notify_api
// http://..."), for startup logs and `notify test`.
func Describe(o Options) map[string]string {
	d := map[string]string{
		ChannelLog:     "log (service log)",
		ChannelWebhook: "webhook (URL from the notify config)",
	}
	if o.TelegramBotToken != "" {
		d[ChannelTelegram] = "telegram Bot API " + o.TelegramAPIURL
	} else {
		d[ChannelTelegram] = "notify_api " + o.ServiceURL + "/api/notify"
		if o.TelegramAPIKey == "" {
			d[ChannelTelegram] += " (TELEGRAM_API_KEY not set: the bot will answer 401)"
		} else {
			d[ChannelTelegram] += " (X-API-Key from TELEGRAM_API_KEY)"
		}
	}
	if o.SMTP.Configured() {
		d[ChannelEmail] = fmt.Sprintf("email via SMTP %s:%d", o.SMTP.Host, o.SMTP.Port)
	} else {
		d[ChannelEmail] = "email (not configured: SMTP_HOST is empty; email rows go dead)"
	}
	return d
}

// NewSinks builds the sink of every channel from the options: telegram is
// the Bot API when TELEGRAM_BOT_TOKEN is set, else the notify API; email is
// SMTP when SMTP_HOST is set, else a sink that fails permanently with that
// reason; webhook and log are always available. client may be nil
// (http.DefaultClient semantics with no global timeout; the dispatcher's
// per-attempt context bounds every call).
func NewSinks(o Options, client *http.Client, logger *slog.Logger) Sinks {
	if client == nil {
		client = &http.Client{}
	}
	if logger == nil {
		logger = slog.Default()
	}
	s := Sinks{
		ChannelLog:     &LogSink{Logger: logger},
		ChannelWebhook: &WebhookSink{Secret: o.WebhookSecret, Client: client, Logger: logger, AllowPrivate: o.WebhookAllowPrivate},
	}
	if o.TelegramBotToken != "" {
		s[ChannelTelegram] = &TelegramSink{Token: o.TelegramBotToken, BaseURL: o.TelegramAPIURL, Client: client}
	} else {
		s[ChannelTelegram] = &NotifyAPISink{BaseURL: o.ServiceURL, APIKey: o.TelegramAPIKey, Client: client}
	}
	if o.SMTP.Configured() {
		s[ChannelEmail] = &EmailSink{SMTP: o.SMTP}
	} else {
		s[ChannelEmail] = SinkFunc(func(context.Context, Notification) error {
			return PermanentError(fmt.Errorf("email channel is not configured: SMTP_HOST is empty"))
		})
	}
	return s
}

// plainText is the text form used by channels without markup: the title on
// its own line, then the body.
func plainText(n Notification) string {
	switch {
	case n.Title == "":
		return n.Body
	case n.Body == "":
		return n.Title
	}
	return n.Title + "\n" + n.Body
}
