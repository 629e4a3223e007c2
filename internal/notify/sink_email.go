package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"
)

// EmailSink sends mail over SMTP: STARTTLS whenever the server offers it
// (implicit TLS on port 465), AUTH PLAIN when SMTP_USER is set (only over
// TLS or to localhost), and a multipart/alternative message with a plain-text
// and an HTML part. The Message-ID is derived from the idempotency key, so a
// resend after a crash carries the same Message-ID.
type EmailSink struct {
	SMTP      SMTPOptions
	TLSConfig *tls.Config // nil: system roots with ServerName = SMTP.Host
	LocalName string      // EHLO name; "" means "localhost"
}

// Send delivers one message to n.Recipient. SMTP 5xx replies to RCPT or
// DATA are permanent (bad address, message refused); connection, TLS,
// authentication and 4xx problems are transient.
func (s *EmailSink) Send(ctx context.Context, n Notification) error {
	to, err := mail.ParseAddress(n.Recipient)
	if err != nil {
		return PermanentError(fmt.Errorf("email: recipient %q is not an email address", n.Recipient))
	}
	from, err := mail.ParseAddress(s.SMTP.From)
	if err != nil {
		return PermanentError(fmt.Errorf("email: SMTP_FROM %q is not an email address", s.SMTP.From))
	}
	msg, err := BuildEmail(from, to, n, time.Now())
	if err != nil {
		return PermanentError(fmt.Errorf("email: build message: %w", err))
	}

	port := s.SMTP.Port
	if port == 0 {
		port = 587
	}
	addr := net.JoinHostPort(s.SMTP.Host, strconv.Itoa(port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return TransientError(0, fmt.Errorf("email: connect %s: %w", addr, err))
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	tlsCfg := s.tlsConfig()
	if port == 465 {
		tc := tls.Client(conn, tlsCfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return TransientError(0, fmt.Errorf("email: TLS handshake with %s: %w", addr, err))
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.SMTP.Host)
	if err != nil {
		return TransientError(0, fmt.Errorf("email: greeting from %s: %w", addr, ctxErr(ctx, err)))
	}
	defer c.Close()
	local := s.LocalName
	if local == "" {
		local = "localhost"
	}
	if err := c.Hello(local); err != nil {
		return TransientError(0, fmt.Errorf("email: EHLO: %w", ctxErr(ctx, err)))
	}
	if port != 465 {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsCfg); err != nil {
				return TransientError(0, fmt.Errorf("email: STARTTLS with %s: %w", addr, ctxErr(ctx, err)))
			}
		}
	}
	if s.SMTP.User != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return TransientError(0, fmt.Errorf("email: SMTP_USER is set but %s offers no AUTH", addr))
		}
		if err := c.Auth(smtp.PlainAuth("", s.SMTP.User, s.SMTP.Password, s.SMTP.Host)); err != nil {
			return TransientError(0, fmt.Errorf("email: AUTH as %q: %w", s.SMTP.User, ctxErr(ctx, err)))
		}
	}
	if err := c.Mail(from.Address); err != nil {
		return TransientError(0, fmt.Errorf("email: MAIL FROM %s: %w", from.Address, ctxErr(ctx, err)))
	}
	if err := c.Rcpt(to.Address); err != nil {
		return smtpError(fmt.Errorf("email: RCPT TO %s: %w", to.Address, ctxErr(ctx, err)))
	}
	w, err := c.Data()
	if err != nil {
		return smtpError(fmt.Errorf("email: DATA: %w", ctxErr(ctx, err)))
	}
	if _, err := w.Write(msg); err != nil {
		return TransientError(0, fmt.Errorf("email: write message: %w", ctxErr(ctx, err)))
	}
	if err := w.Close(); err != nil {
		return smtpError(fmt.Errorf("email: end of DATA: %w", ctxErr(ctx, err)))
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return nil
}

func (s *EmailSink) tlsConfig() *tls.Config {
	if s.TLSConfig != nil {
		c := s.TLSConfig.Clone()
		if c.ServerName == "" {
			c.ServerName = s.SMTP.Host
		}
		return c
	}
	return &tls.Config{ServerName: s.SMTP.Host, MinVersion: tls.VersionTLS12}
}

// ctxErr prefers the context's error (a timeout reads better than "use of
// closed network connection").
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// smtpError makes 5xx replies permanent, everything else transient.
func smtpError(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return PermanentError(err)
	}
	return TransientError(0, err)
}

// BuildEmail renders the RFC 5322 message of n: UTF-8 headers, a
// multipart/alternative body with text/plain and text/html parts, both
// quoted-printable.
func BuildEmail(from, to *mail.Address, n Notification, now time.Time) ([]byte, error) {
	subject := n.Title
	if subject == "" {
		subject, _, _ = strings.Cut(n.Body, "\n")
	}
	subject = strings.Join(strings.Fields(subject), " ") // no CR/LF header injection
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)

	var h bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&h, "%s: %s\r\n", k, v) }
	hdr("From", from.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", messageID(n.IdempotencyKey, from.Address))
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	if n.IdempotencyKey != "" {
		hdr("X-Idempotency-Key", strings.Join(strings.Fields(n.IdempotencyKey), "_"))
	}
	if n.Priority.Urgent() {
		hdr("X-Priority", "1")
		hdr("Importance", "high")
	}
	h.WriteString("\r\n")

	parts := []struct{ ctype, text string }{
		{"text/plain; charset=utf-8", plainText(n)},
		{"text/html; charset=utf-8", emailHTML(n)},
	}
	for _, p := range parts {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.ctype},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qp := quotedprintable.NewWriter(pw)
		if _, err := qp.Write([]byte(strings.ReplaceAll(p.text, "\n", "\r\n"))); err != nil {
			return nil, err
		}
		if err := qp.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	return append(h.Bytes(), body.Bytes()...), nil
}

func emailHTML(n Notification) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><body>\n")
	if n.Title != "" {
		b.WriteString("<h3>" + EscapeHTML(n.Title) + "</h3>\n")
	}
	if n.Body != "" {
		lines := strings.Split(EscapeHTML(n.Body), "\n")
		for i, l := range lines {
			lines[i] = markdownBold(l)
		}
		b.WriteString(`<pre style="font-family:inherit;white-space:pre-wrap">` + strings.Join(lines, "\n") + "</pre>\n")
	}
	b.WriteString("</body></html>\n")
	return b.String()
}

func messageID(key, from string) string {
	domain := "scheduler.invalid"
	if _, d, ok := strings.Cut(from, "@"); ok && d != "" {
		domain = d
	}
	if key == "" {
		key = strconv.FormatInt(time.Now().UnixNano(), 10)
	}
	sum := sha256.Sum256([]byte(key))
	return "<" + hex.EncodeToString(sum[:16]) + "@" + domain + ">"
}
