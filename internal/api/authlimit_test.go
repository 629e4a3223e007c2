package api_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/api"
)

// Wrong tokens from one address are answered 429 after the burst, even
// with the right token, until the address has budget again; other
// addresses are not affected, and /healthz stays open.
func TestWrongTokensAreLimitedByAddress(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	h := api.New(api.Deps{Token: "right-token", Now: clock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	do := func(remote, path, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", path, nil)
		req.RemoteAddr = remote
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	const guesser, other = "203.0.113.7:4000", "198.51.100.9:5000"
	for i := range api.AuthFailureBurst {
		if rec := do(guesser, "/metrics", "guess-"+strconv.Itoa(i)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong token %d = %d, want 401", i, rec.Code)
		}
	}
	rec := do("203.0.113.7:4001", "/metrics", "right-token")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("after %d wrong tokens, the right one from the same address = %d (Retry-After %q), want 429 with Retry-After",
			api.AuthFailureBurst, rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := do(other, "/metrics", "wrong"); rec.Code != http.StatusUnauthorized {
		t.Fatalf("another address = %d, want 401 (its own budget)", rec.Code)
	}
	if rec := do(guesser, "/healthz", ""); rec.Code != http.StatusOK {
		t.Fatalf("/healthz while limited = %d", rec.Code)
	}
	mu.Lock()
	now = now.Add(api.AuthFailureEvery)
	mu.Unlock()
	if rec := do(guesser, "/metrics", "right-token"); rec.Code == http.StatusTooManyRequests || rec.Code == http.StatusUnauthorized {
		t.Fatalf("right token after the pause = %d, want it served", rec.Code)
	}
}

// An AuthLimiter shared by the API and the dashboard: after the burst of
// wrong tokens an address waits.
func ExampleAuthLimiter() {
	now := time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)
	l := api.NewAuthLimiter(func() time.Time { return now })
	for range api.AuthFailureBurst {
		l.Failed("203.0.113.7:4000")
	}
	blocked, wait := l.Blocked("203.0.113.7:5000") // same address, another port
	fmt.Println(blocked, wait)
	blocked, _ = l.Blocked("198.51.100.9:4000")
	fmt.Println(blocked)
	// Output:
	// true 6s
	// false
}
