package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/api"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "scheduler_session"

// SessionTTL is how long a session lasts without use.
const SessionTTL = 12 * time.Hour

// maxSessions bounds the sessions kept in memory; the oldest go first.
const maxSessions = 10000

// session is one browser's login (or, without a token, one browser): a
// random id (the cookie) and the CSRF token its forms carry.
type session struct {
	id, csrf string
	expires  time.Time
}

type sessionKey struct{}

// sessions are kept in memory: a restart asks for the token again.
// Without a token nothing is kept: the cookie is a random id and its CSRF
// token an HMAC of it under a key of this process (anonymous).
type sessions struct {
	mu  sync.Mutex
	m   map[string]*session
	now func() time.Time
	key []byte
}

func newSessions(now func() time.Time) *sessions {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &sessions{m: map[string]*session{}, now: now, key: key}
}

// anonymous returns the session of a browser without a token: id is the
// cookie ("" for a new browser, which gets a random one).
func (ss *sessions) anonymous(id string) (s *session, isNew bool) {
	if len(id) != 64 {
		id, isNew = randomHex(32), true
	}
	m := hmac.New(sha256.New, ss.key)
	m.Write([]byte(id))
	return &session{id: id, csrf: hex.EncodeToString(m.Sum(nil))}, isNew
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather)
	return hex.EncodeToString(b)
}

// create starts a session after a login with the token.
func (ss *sessions) create() *session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	now := ss.now()
	if len(ss.m) >= maxSessions {
		var oldest *session
		for id, s := range ss.m {
			if now.After(s.expires) {
				delete(ss.m, id)
				continue
			}
			if oldest == nil || s.expires.Before(oldest.expires) {
				oldest = s
			}
		}
		if len(ss.m) >= maxSessions && oldest != nil {
			delete(ss.m, oldest.id)
		}
	}
	s := &session{id: randomHex(32), csrf: randomHex(32), expires: now.Add(SessionTTL)}
	ss.m[s.id] = s
	return s
}

// get returns the live session of id (extending it), or nil.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.m[id]
	if !ok {
		return nil
	}
	now := ss.now()
	if now.After(s.expires) {
		delete(ss.m, id)
		return nil
	}
	s.expires = now.Add(SessionTTL)
	return s
}

func (ss *sessions) drop(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.m, id)
}

func setCookie(w http.ResponseWriter, r *http.Request, s *session) {
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: s.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(SessionTTL / time.Second)})
}

// admit applies the access rules and returns the request's session. It
// writes the refusal and returns false when the request may not pass.
//
// Without a token the rules of the API without one hold (api.LocalOnly:
// Host names this machine, Origin is this service) and every browser gets
// a session at once (its CSRF token). With a token the request must come
// from this service's own pages (api.SameOrigin) and, but for the login
// page and the static files, carry the cookie of a session opened with
// the token. Every POST must carry the session's CSRF token (form field
// "csrf" or header X-CSRF-Token), compared in constant time.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) (*session, bool) {
	refuse := func(status int, msg string) (*session, bool) {
		http.Error(w, msg, status)
		return nil, false
	}
	if s.d.Token == "" {
		if status, msg := api.LocalOnly(s.d.Addr, r); status != 0 {
			return refuse(status, msg)
		}
	} else if status, msg := api.SameOrigin(r); status != 0 {
		return refuse(status, msg)
	}
	var sess *session
	cookie := ""
	if c, err := r.Cookie(SessionCookie); err == nil {
		cookie = c.Value
	}
	if s.d.Token == "" {
		var isNew bool
		if sess, isNew = s.sessions.anonymous(cookie); isNew {
			setCookie(w, r, sess)
		}
	} else {
		sess = s.sessions.get(cookie)
	}
	open := strings.HasPrefix(r.URL.Path, "/static/") || r.URL.Path == "/login"
	switch {
	case sess == nil && !open:
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return nil, false
		}
		return refuse(http.StatusUnauthorized, "log in first: this dashboard needs API_TOKEN")
	}
	if r.Method == http.MethodPost && r.URL.Path != "/login" {
		got := r.Header.Get("X-CSRF-Token")
		if got == "" {
			got = r.PostFormValue("csrf")
		}
		if sess == nil || subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			return refuse(http.StatusForbidden, "the form's CSRF token is missing or stale; reload the page and try again")
		}
	}
	return sess, true
}

func sessionOf(r *http.Request) *session {
	s, _ := r.Context().Value(sessionKey{}).(*session)
	return s
}

// safeNext returns a local path to go to after the login ("/" otherwise).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if s.d.Token == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, "login", "Log in", map[string]any{"Next": safeNext(r.URL.Query().Get("next"))})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.d.Token == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	token := r.PostFormValue("token")
	next := safeNext(r.PostFormValue("next"))
	if blocked, wait := s.d.AuthLimiter.Blocked(r.RemoteAddr); blocked {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
		w.WriteHeader(http.StatusTooManyRequests)
		s.render(w, r, "login", "Log in", map[string]any{"Next": next,
			"Error": fmt.Sprintf("Too many wrong tokens from this address: try again in %d s.", int(wait.Seconds())+1)})
		return
	}
	if subtle.ConstantTimeCompare([]byte(token), []byte(s.d.Token)) != 1 {
		s.d.AuthLimiter.Failed(r.RemoteAddr)
		s.log.Warn("web: login with a wrong token", "remote", r.RemoteAddr)
		w.WriteHeader(http.StatusUnauthorized)
		s.render(w, r, "login", "Log in", map[string]any{"Next": next, "Error": "That is not this service's API_TOKEN."})
		return
	}
	if old := sessionOf(r); old != nil {
		s.sessions.drop(old.id) // a new id at login (no session fixation)
	}
	sess := s.sessions.create()
	setCookie(w, r, sess)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if sess := sessionOf(r); sess != nil {
		s.sessions.drop(sess.id)
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
