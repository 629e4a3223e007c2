package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Options is the notification configuration read from the environment.
type Options struct {
	ServiceURL string        // NOTIFICATION_SERVICE_URL, default http://localhost:8000
	Timeout    time.Duration // NOTIFICATION_TIMEOUT seconds per attempt, default 30
	Retries    int           // NOTIFICATION_RETRIES after the first attempt, default 3
	// RetryMaxAge (NOTIFICATION_RETRY_MAX_AGE, default 6h): transient
	// failures are retried until the row has had 1 + Retries attempts and
	// is this old; 0 means the count alone decides.
	RetryMaxAge time.Duration
	Enabled     bool // NOTIFICATION_ENABLED, default true

	TelegramBotToken      string // TELEGRAM_BOT_TOKEN; set → channel telegram uses the Bot API
	TelegramAPIURL        string // TELEGRAM_API_URL, default https://api.telegram.org
	TelegramDefaultChatID string // TELEGRAM_DEFAULT_CHAT_ID
	// TelegramAPIKey (TELEGRAM_API_KEY) is sent as X-API-Key on every
	// POST /api/notify: the bot's HTTP API refuses requests without it. It
	// is a secret: never logged, never in an error.
	TelegramAPIKey string

	// FrameworkQueue is set when telegram and email notifications go to the
	// framework's queue (NOTIFICATION_DELIVERY resolved to framework; see
	// ResolveDelivery). The framework's processor has its own SMTP
	// settings, so HIGH and CRITICAL notifications then add email whether
	// or not SMTP_HOST is set here.
	FrameworkQueue bool

	WebhookSecret     string // WEBHOOK_SECRET: HMAC key of X-Signature-256
	DefaultWebhookURL string // NOTIFICATION_WEBHOOK_URL: webhook target when a config names none
	// WebhookAllowPrivate (WEBHOOK_ALLOW_PRIVATE, default false) allows
	// webhook targets on loopback, link-local, private, unspecified and
	// multicast addresses; see CheckWebhookURL.
	WebhookAllowPrivate bool

	SMTP         SMTPOptions
	DefaultEmail string // NOTIFICATION_DEFAULT_EMAIL: email recipient when nothing else resolves

	// DefaultChannel is used when a notify config names no channel
	// (NOTIFICATION_DEFAULT_CHANNEL). Unset, it is telegram when
	// TELEGRAM_BOT_TOKEN or NOTIFICATION_SERVICE_URL is set, else log.
	DefaultChannel string
}

// SMTPOptions configures the email channel; Host empty means not configured.
type SMTPOptions struct {
	Host     string // SMTP_HOST
	Port     int    // SMTP_PORT, default 587 (465 means implicit TLS)
	User     string // SMTP_USER
	Password string // SMTP_PASSWORD
	From     string // SMTP_FROM, default SMTP_USER
}

// Configured reports whether the email channel can send.
func (o SMTPOptions) Configured() bool { return o.Host != "" }

// DefaultOptions returns the seed's defaults.
func DefaultOptions() Options {
	return Options{
		ServiceURL:     "http://localhost:8000",
		Timeout:        30 * time.Second,
		Retries:        3,
		RetryMaxAge:    DefaultRetryMaxAge,
		Enabled:        true,
		TelegramAPIURL: "https://api.telegram.org",
		SMTP:           SMTPOptions{Port: 587},
		DefaultChannel: ChannelLog,
	}
}

// OptionsFromEnv reads the NOTIFICATION_*, TELEGRAM_*, WEBHOOK_* and SMTP_*
// variables through getenv (os.Getenv in production). Every malformed value
// is reported, naming the variable and the value.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := DefaultOptions()
	var errs []error
	get := func(name string) string { return strings.TrimSpace(getenv(name)) }
	bad := func(name, val, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", name, val, want))
	}

	if v := get("NOTIFICATION_SERVICE_URL"); v != "" {
		if err := checkHTTPURL(v); err != nil {
			bad("NOTIFICATION_SERVICE_URL", v, err.Error())
		} else {
			o.ServiceURL = strings.TrimRight(v, "/")
		}
	}
	if v := get("NOTIFICATION_TIMEOUT"); v != "" {
		secs, err := strconv.ParseFloat(v, 64)
		if err != nil || secs <= 0 || secs > 3600 {
			bad("NOTIFICATION_TIMEOUT", v, "want seconds, a number > 0 and <= 3600")
		} else {
			o.Timeout = time.Duration(secs * float64(time.Second))
		}
	}
	if v := get("NOTIFICATION_RETRIES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 100 {
			bad("NOTIFICATION_RETRIES", v, "want an integer from 0 to 100")
		} else {
			o.Retries = n
		}
	}
	if v := get("NOTIFICATION_RETRY_MAX_AGE"); v != "" {
		d, err := parseRetryMaxAge(v)
		if err != nil {
			bad("NOTIFICATION_RETRY_MAX_AGE", v, err.Error())
		} else {
			o.RetryMaxAge = d
		}
	}
	if v := get("NOTIFICATION_ENABLED"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			bad("NOTIFICATION_ENABLED", v, "want true or false")
		} else {
			o.Enabled = b
		}
	}

	o.TelegramBotToken = get("TELEGRAM_BOT_TOKEN")
	if v := get("TELEGRAM_API_URL"); v != "" {
		if err := checkHTTPURL(v); err != nil {
			bad("TELEGRAM_API_URL", v, err.Error())
		} else {
			o.TelegramAPIURL = strings.TrimRight(v, "/")
		}
	}
	if v := get("TELEGRAM_DEFAULT_CHAT_ID"); v != "" {
		if err := checkChatID(v); err != nil {
			bad("TELEGRAM_DEFAULT_CHAT_ID", v, err.Error())
		} else {
			o.TelegramDefaultChatID = v
		}
	}

	o.WebhookSecret = getenv("WEBHOOK_SECRET") // secrets are used verbatim
	o.TelegramAPIKey = getenv("TELEGRAM_API_KEY")
	if v := get("WEBHOOK_ALLOW_PRIVATE"); v != "" {
		b, err := parseBool(v)
		if err != nil {
			bad("WEBHOOK_ALLOW_PRIVATE", v, "want true or false")
		} else {
			o.WebhookAllowPrivate = b
		}
	}
	if v := get("NOTIFICATION_WEBHOOK_URL"); v != "" {
		if err := CheckWebhookURL(v, o.WebhookAllowPrivate); err != nil {
			bad("NOTIFICATION_WEBHOOK_URL", v, err.Error())
		} else {
			o.DefaultWebhookURL = v
		}
	}

	o.SMTP.Host = get("SMTP_HOST")
	if v := get("SMTP_PORT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 65535 {
			bad("SMTP_PORT", v, "want a port number from 1 to 65535")
		} else {
			o.SMTP.Port = n
		}
	}
	o.SMTP.User = get("SMTP_USER")
	o.SMTP.Password = getenv("SMTP_PASSWORD")
	o.SMTP.From = get("SMTP_FROM")
	if o.SMTP.From == "" && strings.Contains(o.SMTP.User, "@") {
		o.SMTP.From = o.SMTP.User
	}
	if o.SMTP.From != "" {
		if _, err := mail.ParseAddress(o.SMTP.From); err != nil {
			bad("SMTP_FROM", o.SMTP.From, "want an email address")
		}
	} else if o.SMTP.Host != "" {
		errs = append(errs, fmt.Errorf("SMTP_FROM is empty while SMTP_HOST=%q is set: set SMTP_FROM (or an email address as SMTP_USER)", o.SMTP.Host))
	}
	if v := get("NOTIFICATION_DEFAULT_EMAIL"); v != "" {
		if _, err := mail.ParseAddress(v); err != nil {
			bad("NOTIFICATION_DEFAULT_EMAIL", v, "want an email address")
		} else {
			o.DefaultEmail = v
		}
	}

	if o.TelegramBotToken != "" || get("NOTIFICATION_SERVICE_URL") != "" {
		o.DefaultChannel = ChannelTelegram
	}
	if v := get("NOTIFICATION_DEFAULT_CHANNEL"); v != "" {
		if !KnownChannel(strings.ToLower(v)) {
			bad("NOTIFICATION_DEFAULT_CHANNEL", v, "want one of "+strings.Join(Channels(), ", "))
		} else {
			o.DefaultChannel = strings.ToLower(v)
		}
	}

	if err := errors.Join(errs...); err != nil {
		return Options{}, fmt.Errorf("notification configuration: %w", err)
	}
	return o, nil
}

// DefaultRetryMaxAge is the default of NOTIFICATION_RETRY_MAX_AGE: with the
// backoff doubling from 2 s up to 1 h, about 20 attempts over 6 hours.
const DefaultRetryMaxAge = 6 * time.Hour

// MaxRetryMaxAge bounds NOTIFICATION_RETRY_MAX_AGE.
const MaxRetryMaxAge = 7 * 24 * time.Hour

// parseRetryMaxAge reads NOTIFICATION_RETRY_MAX_AGE: seconds ("21600") or a
// Go duration ("6h", "90m"), from 0 to 7 days.
func parseRetryMaxAge(v string) (time.Duration, error) {
	var d time.Duration
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if !(secs >= 0 && secs <= MaxRetryMaxAge.Seconds()) { // also NaN
			return 0, fmt.Errorf("want 0 to %d seconds (or a duration such as 6h, at most 168h)", int(MaxRetryMaxAge.Seconds()))
		}
		d = time.Duration(secs * float64(time.Second))
	} else if d, err = time.ParseDuration(v); err != nil {
		return 0, errors.New("want seconds or a duration such as 6h or 90m")
	}
	if d < 0 || d > MaxRetryMaxAge {
		return 0, errors.New("want a duration from 0 to 168h (7 days)")
	}
	return d, nil
}

func parseBool(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean: %q", v)
}

func checkHTTPURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return fmt.Errorf("not a URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return errors.New("URL has no host")
	}
	return nil
}

// checkChatID accepts a numeric Telegram chat id or an @channelusername.
func checkChatID(v string) error {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return nil
	}
	if len(v) > 1 && v[0] == '@' && !strings.ContainsAny(v, " \t\n") {
		return nil
	}
	return errors.New("want a numeric Telegram chat id or @channelname")
}
