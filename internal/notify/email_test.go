package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/atf/scheduler/internal/notify"
)

// smtpMessage is one message the in-process SMTP server accepted.
type smtpMessage struct {
	From, To string
	TLS      bool
	AuthUser string
	Data     []byte
}

type smtpBackend struct {
	mu       sync.Mutex
	msgs     []smtpMessage
	rejectTo string
}

type smtpSession struct {
	be   *smtpBackend
	conn *smtp.Conn
	msg  smtpMessage
}

func (b *smtpBackend) messages() []smtpMessage {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]smtpMessage(nil), b.msgs...)
}

func (b *smtpBackend) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &smtpSession{be: b, conn: c}, nil
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "bot@example.com" || pass != "pw" {
			return errors.New("invalid credentials")
		}
		s.msg.AuthUser = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.msg.AuthUser == "" {
		return smtp.ErrAuthRequired
	}
	s.msg.From = from
	_, s.msg.TLS = s.conn.TLSConnectionState()
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.be.mu.Lock()
	reject := to == s.be.rejectTo
	s.be.mu.Unlock()
	if reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.msg.To = to
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.msg.Data = b
	s.be.mu.Lock()
	s.be.msgs = append(s.be.msgs, s.msg)
	s.be.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        { s.msg = smtpMessage{AuthUser: s.msg.AuthUser} }
func (s *smtpSession) Logout() error { return nil }

// selfSigned makes a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// startSMTP runs an SMTP server offering STARTTLS and AUTH PLAIN.
func startSMTP(t *testing.T) (*smtpBackend, int, *x509.CertPool) {
	t.Helper()
	cert, pool := selfSigned(t)
	be := &smtpBackend{}
	srv := smtp.NewServer(be)
	srv.Domain = "localhost"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ErrorLog = log.New(io.Discard, "", 0) // clients hanging up on purpose are not news
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return be, l.Addr().(*net.TCPAddr).Port, pool
}

func TestEmailSinkSTARTTLSAuthMultipart(t *testing.T) {
	be, port, pool := startSMTP(t)
	s := &notify.EmailSink{
		SMTP:      notify.SMTPOptions{Host: "127.0.0.1", Port: port, User: "bot@example.com", Password: "pw", From: "Scheduler <bot@example.com>"},
		TLSConfig: &tls.Config{RootCAs: pool},
	}
	n := sampleNotification()
	n.Channel, n.Recipient = "email", "trader@example.com"
	n.Title = "Überkauft: RSI > 70"
	n.Body = "RSI(14) crossed above 70: 68.2 → 71.5\n<script>x</script>"
	for range 2 { // twice: a resend after a crash carries the same Message-ID
		if err := s.Send(context.Background(), n); err != nil {
			t.Fatalf("Send: %v", err)
		}
	}
	msgs := be.messages()
	if len(msgs) != 2 {
		t.Fatalf("server accepted %d messages, want 2", len(msgs))
	}
	m := msgs[0]
	if !m.TLS || m.AuthUser != "bot@example.com" || m.From != "bot@example.com" || m.To != "trader@example.com" {
		t.Errorf("envelope %+v: want STARTTLS, AUTH as bot@example.com, from/to set", m)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(m.Data)))
	if err != nil {
		t.Fatalf("parse message: %v", err)
	}
	subj, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subj != n.Title {
		t.Errorf("Subject %q (%v), want %q", subj, err, n.Title)
	}
	id1 := msg.Header.Get("Message-ID")
	msg2, _ := mail.ReadMessage(strings.NewReader(string(msgs[1].Data)))
	if id1 == "" || id1 != msg2.Header.Get("Message-ID") {
		t.Errorf("Message-IDs %q and %q: want equal and non-empty for one idempotency key", id1, msg2.Header.Get("Message-ID"))
	}
	if msg.Header.Get("X-Priority") != "1" {
		t.Errorf("X-Priority %q for a HIGH notification, want 1", msg.Header.Get("X-Priority"))
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	parts := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		b, err := io.ReadAll(quotedprintable.NewReader(p))
		if err != nil {
			t.Fatalf("decode %s: %v", ct, err)
		}
		parts[ct] = strings.ReplaceAll(string(b), "\r\n", "\n")
	}
	if parts["text/plain"] != n.Title+"\n"+n.Body {
		t.Errorf("text/plain part %q", parts["text/plain"])
	}
	h := parts["text/html"]
	if !strings.Contains(h, "&lt;script&gt;") || strings.Contains(h, "<script>") || !strings.Contains(h, "68.2 → 71.5") {
		t.Errorf("text/html part not escaped or incomplete: %q", h)
	}
}

func TestEmailSinkErrors(t *testing.T) {
	be, port, pool := startSMTP(t)
	be.mu.Lock()
	be.rejectTo = "nobody@example.com"
	be.mu.Unlock()
	opts := notify.SMTPOptions{Host: "127.0.0.1", Port: port, User: "bot@example.com", Password: "pw", From: "bot@example.com"}
	s := &notify.EmailSink{SMTP: opts, TLSConfig: &tls.Config{RootCAs: pool}}
	n := sampleNotification()
	n.Channel, n.Recipient = "email", "nobody@example.com"
	err := s.Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Permanent || !strings.Contains(err.Error(), "550") {
		t.Errorf("rejected recipient: %v (kind %v), want permanent 550", err, k)
	}
	n.Recipient = "not an address"
	if k, _ := notify.Classify(s.Send(context.Background(), n)); k != notify.Permanent {
		t.Errorf("malformed recipient: kind %v, want permanent", k)
	}
	bad := &notify.EmailSink{SMTP: opts, TLSConfig: &tls.Config{RootCAs: pool}}
	bad.SMTP.Password = "wrong"
	n.Recipient = "trader@example.com"
	err = bad.Send(context.Background(), n)
	if k, _ := notify.Classify(err); k != notify.Transient || !strings.Contains(err.Error(), "AUTH") {
		t.Errorf("wrong password: %v (kind %v), want transient AUTH error", err, k)
	}
	untrusted := &notify.EmailSink{SMTP: opts} // system roots: the self-signed cert fails
	if err := untrusted.Send(context.Background(), n); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Errorf("untrusted certificate: err %v, want a STARTTLS error", err)
	}
	closed := &notify.EmailSink{SMTP: notify.SMTPOptions{Host: "127.0.0.1", Port: freePort(t), From: "bot@example.com"}}
	if k, _ := notify.Classify(closed.Send(context.Background(), n)); k != notify.Transient {
		t.Errorf("connection refused: kind %v, want transient", k)
	}
	if got := be.messages(); len(got) != 0 {
		t.Errorf("server accepted %d messages, want 0", len(got))
	}
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	n, _ := strconv.Atoi(p)
	return n
}
