package api

import (
	"net"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Wrong-token attempts allowed per client address: a burst of
// AuthFailureBurst, then one per AuthFailureEvery. Beyond that the client
// is answered 429 until it has budget again, whatever token it sends, so
// API_TOKEN cannot be guessed at network speed through the API or the
// dashboard's login page.
const (
	AuthFailureBurst = 10
	AuthFailureEvery = 6 * time.Second
)

// maxAuthClients bounds the addresses remembered; past it the table is
// cleared (a flood of addresses then gets fresh budgets, not memory).
const maxAuthClients = 10_000

// AuthLimiter counts wrong tokens by client IP address. One is shared by
// the API and the dashboard's login. The zero value is not usable: use
// NewAuthLimiter.
type AuthLimiter struct {
	mu  sync.Mutex
	m   map[string]*rate.Limiter
	now func() time.Time
}

// NewAuthLimiter returns an AuthLimiter reading the clock now (nil:
// time.Now).
func NewAuthLimiter(now func() time.Time) *AuthLimiter {
	if now == nil {
		now = time.Now
	}
	return &AuthLimiter{m: map[string]*rate.Limiter{}, now: now}
}

// Blocked reports whether the client at remote (an http.Request's
// RemoteAddr) has used up its wrong tokens, and how long until it may try
// again.
func (a *AuthLimiter) Blocked(remote string) (bool, time.Duration) {
	a.mu.Lock()
	defer a.mu.Unlock()
	l, ok := a.m[clientIP(remote)]
	if !ok {
		return false, 0
	}
	now := a.now()
	if l.TokensAt(now) >= 1 {
		return false, 0
	}
	r := l.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return true, wait
}

// Failed records a wrong token from remote.
func (a *AuthLimiter) Failed(remote string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ip := clientIP(remote)
	l, ok := a.m[ip]
	if !ok {
		if len(a.m) >= maxAuthClients {
			clear(a.m)
		}
		l = rate.NewLimiter(rate.Every(AuthFailureEvery), AuthFailureBurst)
		a.m[ip] = l
	}
	l.AllowN(a.now(), 1)
}

func clientIP(remote string) string {
	if h, _, err := net.SplitHostPort(remote); err == nil {
		return h
	}
	return remote
}
