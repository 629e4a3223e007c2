package web

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store/storetest"
)

func TestSessionsExpireAndAnonymousTokensAreBound(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ss := newSessions(func() time.Time { return now })
	s := ss.create()
	if got := ss.get(s.id); got == nil || got.csrf != s.csrf {
		t.Fatal("a fresh session is not found")
	}
	now = now.Add(SessionTTL - time.Minute)
	if ss.get(s.id) == nil {
		t.Fatal("a session used within its TTL expired")
	}
	now = now.Add(SessionTTL + time.Second)
	if ss.get(s.id) != nil {
		t.Fatal("a session unused for longer than its TTL is still valid")
	}
	if ss.get("") != nil || ss.get(strings.Repeat("a", 64)) != nil {
		t.Fatal("an unknown id is a session")
	}
	a, isNew := ss.anonymous("")
	if !isNew || len(a.id) != 64 {
		t.Fatalf("a new browser: %+v %v", a, isNew)
	}
	b, isNew := ss.anonymous(a.id)
	if isNew || b.csrf != a.csrf {
		t.Fatal("the same cookie must give the same CSRF token")
	}
	c, _ := ss.anonymous(strings.Repeat("0", 64))
	if c.csrf == a.csrf {
		t.Fatal("two cookies share a CSRF token")
	}
	if other, _ := newSessions(time.Now).anonymous(a.id); other.csrf == a.csrf {
		t.Fatal("the CSRF token does not depend on the process's key")
	}
}

func TestSecurityHeadersAndStaticFiles(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "tok", nil)
	for _, path := range []string{"/static/app.css", "/static/app.js", "/static/favicon.svg", "/login"} {
		resp, err := e.c.Get(e.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s without a session: %d", path, resp.StatusCode)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: CSP %q, X-Frame-Options %q", path, csp, resp.Header.Get("X-Frame-Options"))
		}
	}
	if code, _ := e.get("/static/../web.go"); code == http.StatusOK {
		t.Error("a path outside the static files was served")
	}
}
