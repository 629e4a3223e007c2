package marketdata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestLimiterBuckets: the per-second bucket applies on top of the
// per-minute one, and burst_size lets that many requests go at once.
func TestLimiterBuckets(t *testing.T) {
	ctx := context.Background()
	yahooLike := newLimiter(RateLimit{PerMinute: 6000, PerSecond: 1})
	if err := yahooLike.wait(ctx, 0); err != nil {
		t.Fatalf("first request: %v", err)
	}
	if err := yahooLike.wait(ctx, 100*time.Millisecond); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "longer than") {
		t.Errorf("second request within the second: %v, want throttled by the 1/s bucket", err)
	}
	burst := newLimiter(RateLimit{PerMinute: 60, Burst: 3})
	for i := range 3 {
		if err := burst.wait(ctx, 0); err != nil {
			t.Fatalf("burst request %d: %v", i, err)
		}
	}
	if err := burst.wait(ctx, 100*time.Millisecond); !errors.Is(err, ErrRateLimited) {
		t.Errorf("fourth request: %v, want throttled after a burst of 3", err)
	}
	dl, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	slow := newLimiter(RateLimit{PerMinute: 1})
	_ = slow.wait(ctx, 0)
	if err := slow.wait(dl, time.Hour); !errors.Is(err, ErrRateLimited) || !strings.Contains(err.Error(), "deadline") {
		t.Errorf("turn after the deadline: %v, want throttled naming the deadline", err)
	}
	var nilLimiter *limiter
	if err := nilLimiter.wait(ctx, 0); err != nil {
		t.Errorf("unlimited provider: %v", err)
	}
}

// TestPolygonNextURL follows next_url with the key on the provider's own
// host and never sends the key elsewhere.
func TestPolygonNextURL(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, "other:"+r.URL.RawQuery)
		mu.Unlock()
	}))
	defer other.Close()
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.URL.Query().Get("cursor")+"|"+r.URL.Query().Get("apiKey"))
		mu.Unlock()
		switch r.URL.Query().Get("cursor") {
		case "":
			fmt.Fprintf(w, `{"status":"OK","resultsCount":1,"results":[{"t":1704171600000,"o":1,"h":2,"l":0.5,"c":1.5,"v":3}],"next_url":"%s/v2/aggs/ticker/AAPL/range/1/day/1704153600000/1704326400000?cursor=p2"}`, srv.URL)
		case "p2":
			fmt.Fprintf(w, `{"status":"OK","resultsCount":1,"results":[{"t":1704258000000,"o":1.5,"h":2,"l":1,"c":1.8,"v":4}],"next_url":"%s/v2/aggs/ticker/AAPL/range/1/day/x?cursor=p3"}`, other.URL)
		}
	}))
	defer srv.Close()
	o := testOptions(newClock(keyedNow), nil, nil)
	o.Keys = Keys{"POLYGON_API_KEY": "poly-key-9"}
	o.baseURLs = map[string]string{"polygon": srv.URL}
	c := newTestClient(t, o)
	p, _ := c.Provider("polygon")
	bars, err := p.Bars(context.Background(), "AAPL", "1d", day2, day4)
	if err != nil || len(bars) != 2 {
		t.Fatalf("%d bars, err %v; want 2 from two pages", len(bars), err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(seen, " ") != "|poly-key-9 p2|poly-key-9" {
		t.Errorf("requests %q, want the first page and p2 with the key, nothing at the other host", seen)
	}
}
