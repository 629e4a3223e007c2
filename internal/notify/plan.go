package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Contact is where a user receives notifications.
type Contact struct {
	TelegramChatID string
	Email          string
	WebhookURL     string
}

// Directory finds a user's contact. The store implements it on the old
// service's usr_users / usr_auth_identities tables when they exist, else on
// our own recipients table. An unknown user is a zero Contact and a nil
// error; an error means the lookup itself failed.
type Directory interface {
	Lookup(ctx context.Context, userID int64) (Contact, error)
}

// StaticDirectory is a Directory held in memory (from a config file or tests).
type StaticDirectory map[int64]Contact

// Lookup returns the contact of userID, or a zero Contact.
func (d StaticDirectory) Lookup(_ context.Context, userID int64) (Contact, error) {
	return d[userID], nil
}

// DirectoryChain asks each directory in turn; each field comes from the
// first directory that has it.
type DirectoryChain []Directory

// Lookup merges the contacts of the chain, first non-empty field wins.
func (c DirectoryChain) Lookup(ctx context.Context, userID int64) (Contact, error) {
	var out Contact
	for i, d := range c {
		if d == nil {
			continue
		}
		ct, err := d.Lookup(ctx, userID)
		if err != nil {
			return Contact{}, fmt.Errorf("directory %d: %w", i, err)
		}
		if out.TelegramChatID == "" {
			out.TelegramChatID = ct.TelegramChatID
		}
		if out.Email == "" {
			out.Email = ct.Email
		}
		if out.WebhookURL == "" {
			out.WebhookURL = ct.WebhookURL
		}
	}
	return out, nil
}

// Request is what the engine or a job asks to send about one run.
type Request struct {
	ScheduleID int64
	RunID      int64
	UserID     int64  // the schedule's owner
	Type       string // TypeAlert, TypeJob, TypeSystem; "" means TypeAlert
	// Channels from the notify config; empty means Options.DefaultChannel.
	Channels []string
	Priority Priority // "" means NORMAL

	// Explicit recipients from the notify config; they win over the directory.
	TelegramChatID  string // notify.recipient_id
	Email           string // notify.email
	WebhookURL      string // notify.webhook_url
	RecipientUserID int64  // notify.user_id: look this user up instead of UserID

	Title string
	Body  string
	Data  map[string]any

	// Template (notify.template) replaces Body when set; it runs on Vars
	// with Title, Body and Priority filled in.
	Template string
	Vars     TemplateData

	// Tag distinguishes several notifications of one run (e.g. "paused");
	// it is appended to the idempotency key.
	Tag       string
	CreatedAt time.Time // zero: time.Now()
}

// Planner turns requests into outbox rows with resolved recipients. Build
// Options with DefaultOptions or OptionsFromEnv: the zero Options has
// Enabled false, which records every row as suppressed.
type Planner struct {
	Options   Options
	Directory Directory    // may be nil
	Logger    *slog.Logger // nil: slog.Default()
}

// Plan returns one Notification per (channel, recipient). Recipients are
// resolved per channel: the explicit config first, then the Directory, then
// the defaults (TELEGRAM_DEFAULT_CHAT_ID, NOTIFICATION_DEFAULT_EMAIL,
// NOTIFICATION_WEBHOOK_URL). HIGH and CRITICAL priorities also add email
// when an address resolves and SMTP is configured (or Options.FrameworkQueue
// is set: the framework's processor sends email with its own settings). A channel whose recipient
// does not resolve yields a dead row with the reason, never nothing. With
// NOTIFICATION_ENABLED=false every row is suppressed. Unknown channels and
// priorities are errors; so is a failing directory lookup.
func (p *Planner) Plan(ctx context.Context, r Request) ([]Notification, error) {
	logger := p.Logger
	if logger == nil {
		logger = slog.Default()
	}
	prio := r.Priority
	if prio == "" {
		prio = PriorityNormal
	}
	if _, err := ParsePriority(string(prio)); err != nil {
		return nil, err
	}
	prio, _ = ParsePriority(string(prio))
	typ := r.Type
	if typ == "" {
		typ = TypeAlert
	}
	channels := make([]string, 0, len(r.Channels)+1)
	for i, c := range r.Channels {
		c = strings.ToLower(strings.TrimSpace(c))
		if !KnownChannel(c) {
			return nil, fmt.Errorf("notify channels[%d] = %q: unknown channel, want one of %s", i, r.Channels[i], strings.Join(Channels(), ", "))
		}
		if !slices.Contains(channels, c) {
			channels = append(channels, c)
		}
	}
	if len(channels) == 0 {
		def := p.Options.DefaultChannel
		if def == "" {
			def = ChannelLog
		}
		channels = append(channels, def)
	}

	body := r.Body
	if r.Template != "" {
		v := r.Vars
		v.Title, v.Body, v.Priority = r.Title, r.Body, string(prio)
		if out, err := RenderTemplate(r.Template, v); err != nil {
			logger.Warn("notify template failed; using the default text", "schedule_id", r.ScheduleID, "err", err)
			body = r.Body + "\n(template error: " + err.Error() + ")"
		} else {
			body = out
		}
	}
	created := r.CreatedAt
	if created.IsZero() {
		created = time.Now()
	}

	lookupUser := r.UserID
	if r.RecipientUserID != 0 {
		lookupUser = r.RecipientUserID
	}
	var contact Contact
	looked := false
	lookup := func() (Contact, error) {
		if looked || p.Directory == nil || lookupUser == 0 {
			return contact, nil
		}
		c, err := p.Directory.Lookup(ctx, lookupUser)
		if err != nil {
			return Contact{}, fmt.Errorf("look up recipients of user %d: %w", lookupUser, err)
		}
		contact, looked = c, true
		return contact, nil
	}

	queueRecipient := strconv.FormatInt(lookupUser, 10)
	if r.TelegramChatID != "" {
		queueRecipient = r.TelegramChatID
	}
	var out []Notification
	add := func(channel, recipient, deadReason string) {
		n := Notification{
			IdempotencyKey: IdempotencyKey(r.ScheduleID, r.RunID, channel, recipient),
			Channel:        channel,
			Recipient:      recipient,
			Type:           typ,
			Title:          r.Title,
			Body:           body,
			Data:           r.Data,
			Priority:       prio,
			Status:         StatusPending,
			NextAttemptAt:  created,
			CreatedAt:      created,
			RunID:          r.RunID,
			ScheduleID:     r.ScheduleID,
			UserID:         r.UserID,
			QueueRecipient: queueRecipient,
		}
		if r.Tag != "" {
			n.IdempotencyKey += "#" + r.Tag
		}
		switch {
		case !p.Options.Enabled:
			n.Status, n.LastError = StatusSuppressed, "notifications are disabled (NOTIFICATION_ENABLED=false)"
		case deadReason != "":
			n.Status, n.LastError = StatusDead, deadReason
			logger.Warn("notification has no recipient", "channel", channel, "schedule_id", r.ScheduleID, "run_id", r.RunID, "reason", deadReason)
		}
		out = append(out, n)
	}

	for _, ch := range channels {
		rcpt, reason, err := p.resolve(ch, r, lookupUser, lookup)
		if err != nil {
			return nil, err
		}
		add(ch, rcpt, reason)
	}
	if prio.Urgent() && !slices.Contains(channels, ChannelEmail) && (p.Options.SMTP.Configured() || p.Options.FrameworkQueue) {
		rcpt, reason, err := p.resolve(ChannelEmail, r, lookupUser, lookup)
		if err != nil {
			return nil, err
		}
		if reason == "" {
			add(ChannelEmail, rcpt, "")
		}
	}
	return out, nil
}

// resolve returns the recipient of one channel, or the reason there is none.
func (p *Planner) resolve(ch string, r Request, user int64, lookup func() (Contact, error)) (string, string, error) {
	switch ch {
	case ChannelTelegram:
		if r.TelegramChatID != "" {
			if err := checkChatID(r.TelegramChatID); err != nil {
				return "", fmt.Sprintf("notify.recipient_id %q: %v", r.TelegramChatID, err), nil
			}
			return r.TelegramChatID, "", nil
		}
		c, err := lookup()
		if err != nil {
			return "", "", err
		}
		if c.TelegramChatID != "" {
			return c.TelegramChatID, "", nil
		}
		if p.Options.TelegramDefaultChatID != "" {
			return p.Options.TelegramDefaultChatID, "", nil
		}
		return "", fmt.Sprintf("no Telegram chat id for user %d: set notify.recipient_id, link the user's Telegram account, or set TELEGRAM_DEFAULT_CHAT_ID", user), nil
	case ChannelEmail:
		if r.Email != "" {
			if _, err := mail.ParseAddress(r.Email); err != nil {
				return "", fmt.Sprintf("notify.email %q is not an email address", r.Email), nil
			}
			return r.Email, "", nil
		}
		c, err := lookup()
		if err != nil {
			return "", "", err
		}
		if c.Email != "" {
			return c.Email, "", nil
		}
		if p.Options.DefaultEmail != "" {
			return p.Options.DefaultEmail, "", nil
		}
		return "", fmt.Sprintf("no email address for user %d: set notify.email, the user's email, or NOTIFICATION_DEFAULT_EMAIL", user), nil
	case ChannelWebhook:
		u := r.WebhookURL
		if u == "" {
			c, err := lookup()
			if err != nil {
				return "", "", err
			}
			u = c.WebhookURL
		}
		if u == "" {
			u = p.Options.DefaultWebhookURL
		}
		if u == "" {
			return "", fmt.Sprintf("no webhook URL for user %d: set notify.webhook_url, the user's webhook URL, or NOTIFICATION_WEBHOOK_URL", user), nil
		}
		if err := CheckWebhookURL(u, p.Options.WebhookAllowPrivate); err != nil {
			return "", fmt.Sprintf("notify.webhook_url: %v", err), nil
		}
		return u, "", nil
	case ChannelLog:
		return "user:" + strconv.FormatInt(user, 10), "", nil
	}
	return "", "", fmt.Errorf("channel %q: unknown channel", ch)
}

// NotifyConfig is the `notify` object of a schedule's task_params
// (ORIGINAL-SYSTEM.md §3 and §4) as far as delivery is concerned.
type NotifyConfig struct {
	Channels    []string // "channels" (list) or "channel" (one)
	Priority    Priority // "priority", default NORMAL
	RecipientID string   // "recipient_id": Telegram chat id (string or number)
	UserID      int64    // "user_id": whose contacts to use (string or number)
	Email       string   // "email"
	WebhookURL  string   // "webhook_url" (or "url")
	Template    string   // "template": Go text/template for the body
	OnSuccess   *bool    // "on_success" (schedule jobs)
	OnFailure   *bool    // "on_failure" (schedule jobs)
}

// ParseNotifyConfig decodes and validates a notify object; unknown keys are
// ignored (old configs carry extras). Errors name the key and the value.
func ParseNotifyConfig(raw []byte) (NotifyConfig, error) {
	var c NotifyConfig
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		c.Priority = PriorityNormal
		return c, nil
	}
	var m struct {
		Channels    json.RawMessage `json:"channels"`
		Channel     string          `json:"channel"`
		Priority    string          `json:"priority"`
		RecipientID json.RawMessage `json:"recipient_id"`
		UserID      json.RawMessage `json:"user_id"`
		Email       string          `json:"email"`
		WebhookURL  string          `json:"webhook_url"`
		URL         string          `json:"url"`
		Template    string          `json:"template"`
		OnSuccess   *bool           `json:"on_success"`
		OnFailure   *bool           `json:"on_failure"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return c, fmt.Errorf("notify: %w", err)
	}
	if len(m.Channels) > 0 && string(m.Channels) != "null" {
		if err := json.Unmarshal(m.Channels, &c.Channels); err != nil {
			var one string
			if json.Unmarshal(m.Channels, &one) != nil {
				return c, fmt.Errorf("notify.channels = %s: want a list of channel names", m.Channels)
			}
			c.Channels = []string{one}
		}
	}
	if m.Channel != "" {
		c.Channels = append(c.Channels, m.Channel)
	}
	for i := range c.Channels {
		c.Channels[i] = strings.ToLower(strings.TrimSpace(c.Channels[i]))
	}
	if err := ValidateChannels(c.Channels); err != nil {
		return c, err
	}
	p, err := ParsePriority(m.Priority)
	if err != nil {
		return c, err
	}
	c.Priority = p
	if c.RecipientID, err = flexString(m.RecipientID); err != nil {
		return c, fmt.Errorf("notify.recipient_id = %s: want a chat id", m.RecipientID)
	}
	if c.RecipientID != "" {
		if err := checkChatID(c.RecipientID); err != nil {
			return c, fmt.Errorf("notify.recipient_id = %q: %v", c.RecipientID, err)
		}
	}
	uid, err := flexString(m.UserID)
	if err != nil {
		return c, fmt.Errorf("notify.user_id = %s: want a user id", m.UserID)
	}
	if uid != "" {
		if c.UserID, err = strconv.ParseInt(uid, 10, 64); err != nil || c.UserID <= 0 {
			return c, fmt.Errorf("notify.user_id = %q: want a positive integer", uid)
		}
	}
	if m.Email != "" {
		if _, err := mail.ParseAddress(m.Email); err != nil {
			return c, fmt.Errorf("notify.email = %q: not an email address", m.Email)
		}
		c.Email = m.Email
	}
	c.WebhookURL = m.WebhookURL
	if c.WebhookURL == "" {
		c.WebhookURL = m.URL
	}
	if c.WebhookURL != "" {
		if err := checkHTTPURL(c.WebhookURL); err != nil {
			return c, fmt.Errorf("notify.webhook_url = %q: %v", c.WebhookURL, err)
		}
	}
	if m.Template != "" {
		if err := ParseTemplate(m.Template); err != nil {
			return c, err
		}
		c.Template = m.Template
	}
	c.OnSuccess, c.OnFailure = m.OnSuccess, m.OnFailure
	return c, nil
}

// Apply copies the config's channels, priority, recipients and template
// into a request.
func (c NotifyConfig) Apply(r *Request) {
	r.Channels = append([]string(nil), c.Channels...)
	r.Priority = c.Priority
	r.TelegramChatID = c.RecipientID
	r.RecipientUserID = c.UserID
	r.Email = c.Email
	r.WebhookURL = c.WebhookURL
	r.Template = c.Template
}

// ApplyTaskParams applies the notify object of a schedule's task_params
// ({"notify": {...}}) to r; without one, or with an invalid one, r is left
// as it is (the owner's default channel).
func ApplyTaskParams(taskParams json.RawMessage, r *Request) {
	var p struct {
		Notify json.RawMessage `json:"notify"`
	}
	if json.Unmarshal(taskParams, &p) == nil {
		if nc, err := ParseNotifyConfig(p.Notify); err == nil {
			nc.Apply(r)
		}
	}
}

// flexString accepts a JSON string or number.
func flexString(raw json.RawMessage) (string, error) {
	s := strings.TrimSpace(string(raw))
	if s == "" || s == "null" {
		return "", nil
	}
	var str string
	if err := json.Unmarshal(raw, &str); err == nil {
		return strings.TrimSpace(str), nil
	}
	var num json.Number
	if err := json.Unmarshal(raw, &num); err != nil {
		return "", err
	}
	return num.String(), nil
}
