package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// TelegramMaxMessage is the Bot API's limit on the text of one message.
const TelegramMaxMessage = 4096

// TelegramSink sends through the Telegram Bot API sendMessage method with
// HTML parse mode. It serves the telegram channel when TELEGRAM_BOT_TOKEN is set.
type TelegramSink struct {
	Token   string       // bot token
	BaseURL string       // TELEGRAM_API_URL, default https://api.telegram.org
	Client  *http.Client // nil: a plain client; the context bounds each call
}

// telegramReply is the Bot API's response envelope.
type telegramReply struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      float64 `json:"retry_after"`
		MigrateToChatID int64   `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// Send delivers the notification as one or more messages (texts longer than
// 4096 characters are split on line boundaries). The title is bold; all
// text is HTML-escaped. 429 honours parameters.retry_after; 400 (chat not
// found, bad request) and 403 (bot blocked) are permanent; a group migrated
// to a supergroup is followed once. If a later part fails, a retry sends all
// parts again.
func (s *TelegramSink) Send(ctx context.Context, n Notification) error {
	if n.Recipient == "" {
		return PermanentError(fmt.Errorf("telegram: empty chat id"))
	}
	if err := checkChatID(n.Recipient); err != nil {
		return PermanentError(fmt.Errorf("telegram: chat id %q: %v", n.Recipient, err))
	}
	var chatID any = n.Recipient
	if id, err := strconv.ParseInt(n.Recipient, 10, 64); err == nil {
		chatID = id
	}
	parts := TelegramMessages(n.Title, n.Body)
	for i, text := range parts {
		err := s.sendOne(ctx, &chatID, text, true)
		if err != nil {
			if len(parts) > 1 {
				return fmt.Errorf("part %d of %d: %w", i+1, len(parts), err)
			}
			return err
		}
	}
	return nil
}

func (s *TelegramSink) sendOne(ctx context.Context, chatID *any, text string, followMigration bool) error {
	base := s.BaseURL
	if base == "" {
		base = "https://api.telegram.org"
	}
	body, err := json.Marshal(map[string]any{
		"chat_id":                  *chatID,
		"text":                     text,
		"parse_mode":               "HTML",
		"disable_web_page_preview": true,
	})
	if err != nil {
		return PermanentError(fmt.Errorf("telegram: encode request: %w", err))
	}
	// The URL holds the token: never put it into an error message.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+"/bot"+s.Token+"/sendMessage", bytes.NewReader(body))
	if err != nil {
		return PermanentError(fmt.Errorf("telegram: build request for base URL %q: %v", base, redact(err.Error(), s.Token)))
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := httpClient(s.Client).Do(req)
	if err != nil {
		return TransientError(0, fmt.Errorf("telegram: sendMessage: %s", redact(err.Error(), s.Token)))
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var r telegramReply
	jerr := json.Unmarshal(rb, &r)
	if resp.StatusCode == http.StatusOK && jerr == nil && r.OK {
		return nil
	}
	code := resp.StatusCode
	if jerr == nil && r.ErrorCode != 0 {
		code = r.ErrorCode
	}
	desc := r.Description
	if jerr != nil || desc == "" {
		desc = snippet(rb, 300)
	}
	e := fmt.Errorf("telegram: sendMessage to chat %v: %d %s", *chatID, code, desc)
	switch {
	case r.Parameters.MigrateToChatID != 0 && followMigration:
		*chatID = r.Parameters.MigrateToChatID
		return s.sendOne(ctx, chatID, text, false)
	case code == http.StatusTooManyRequests:
		ra := time.Duration(r.Parameters.RetryAfter * float64(time.Second))
		if ra <= 0 {
			ra = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		if ra <= 0 {
			ra = time.Second
		}
		return RetryAfterError(ra, e)
	case code == http.StatusBadRequest || code == http.StatusForbidden:
		return PermanentError(e)
	}
	// 401/404 mean a wrong token or base URL: a configuration problem an
	// operator can fix, so retry rather than give up at once.
	return TransientError(parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), e)
}

func redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "<token>")
}

// EscapeHTML escapes the three characters Telegram's HTML parse mode
// requires: & < >.
func EscapeHTML(s string) string {
	return htmlEscaper.Replace(s)
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// utf16Len is the length Telegram counts.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r) // invalid bytes range as U+FFFD, length 1
	}
	return n
}

// TelegramMessages renders title (bold) and body as HTML messages of at most
// TelegramMaxMessage UTF-16 units each; Markdown "**bold**" within a body
// line becomes <b>bold</b>. The escaped text is measured (never shorter
// than what Telegram counts). Splits fall on line
// boundaries; a single longer line is cut between characters, never inside
// an entity or tag.
func TelegramMessages(title, body string) []string {
	return splitHTML(title, body, TelegramMaxMessage)
}

func splitHTML(title, body string, limit int) []string {
	type line struct {
		html string
		n    int
	}
	var lines []line
	add := func(plain string, bold bool) {
		for plain != "" {
			chunk := plain
			esc := EscapeHTML(chunk)
			wrap := 0
			if bold {
				wrap = len("<b></b>")
			}
			if utf16Len(esc)+wrap > limit {
				// Cut the plain text so its escaped form fits.
				cut, size := 0, wrap
				for i, r := range plain {
					w := utf16Len(EscapeHTML(string(r)))
					if size+w > limit && cut > 0 {
						break
					}
					size += w
					cut = i + utf8.RuneLen(r)
				}
				chunk = plain[:cut]
				esc = EscapeHTML(chunk)
			}
			whole := len(chunk) == len(plain)
			plain = plain[len(chunk):]
			if bold {
				esc = "<b>" + esc + "</b>"
			} else if whole {
				// Markdown **bold** of the old service's layout, when the
				// whole line fits (a cut line keeps its markers as text).
				if mb := markdownBold(esc); utf16Len(mb) <= limit {
					esc = mb
				}
			}
			lines = append(lines, line{esc, utf16Len(esc)})
		}
	}
	if title != "" {
		add(title, true)
	}
	for _, l := range strings.Split(body, "\n") {
		if l == "" {
			lines = append(lines, line{"", 0})
			continue
		}
		add(l, false)
	}
	var out []string
	var cur strings.Builder
	size, started := 0, false
	for _, l := range lines {
		if started && size+1+l.n > limit {
			if s := strings.Trim(cur.String(), "\n"); s != "" {
				out = append(out, s)
			}
			cur.Reset()
			size, started = 0, false
		}
		if started {
			cur.WriteByte('\n')
			size++
		}
		cur.WriteString(l.html)
		size += l.n
		started = true
	}
	if s := strings.Trim(cur.String(), "\n"); s != "" || len(out) == 0 {
		out = append(out, s)
	}
	return out
}
