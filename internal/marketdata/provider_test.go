package marketdata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// fixtureServer answers every request with a testdata file and records the
// last request.
func fixtureServer(t *testing.T, status int, file string, header map[string]string) (*httptest.Server, *[]*http.Request) {
	t.Helper()
	body, err := os.ReadFile("testdata/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var reqs []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs = append(reqs, r)
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, &reqs
}

func TestBinanceFixtureStringNumbers(t *testing.T) {
	srv, reqs := fixtureServer(t, 200, "binance_klines_btcusdt_1h.json", map[string]string{"X-MBX-USED-WEIGHT-1M": "17"})
	b := NewBinance(srv.URL, nil)
	if b.UsedWeight() != -1 {
		t.Fatalf("UsedWeight before any answer = %d, want -1", b.UsedWeight())
	}
	from, to := mustTime(t, "2024-01-01T00:00:00Z"), mustTime(t, "2024-01-01T02:00:00Z")
	bars, err := b.Bars(context.Background(), "BTCUSDT", "1h", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 3 {
		t.Fatalf("got %d bars, want 3", len(bars))
	}
	want := Bar{Time: from, Open: 42283.58, High: 42554.57, Low: 42261.02, Close: 42475.23, Volume: 1271.68108}
	if bars[0] != want {
		t.Errorf("bar 0 = %+v, want %+v", bars[0], want)
	}
	if !bars[2].Time.Equal(mustTime(t, "2024-01-01T02:00:00Z")) {
		t.Errorf("bar 2 time = %s", bars[2].Time)
	}
	q := (*reqs)[0].URL.Query()
	if (*reqs)[0].URL.Path != "/api/v3/klines" || q.Get("symbol") != "BTCUSDT" || q.Get("interval") != "1h" ||
		q.Get("startTime") != "1704067200000" || q.Get("endTime") != "1704074400000" || q.Get("limit") != "1000" {
		t.Errorf("request = %s", (*reqs)[0].URL)
	}
	if b.UsedWeight() != 17 {
		t.Errorf("UsedWeight = %d, want 17", b.UsedWeight())
	}
}

func TestBinanceErrors(t *testing.T) {
	ctx := context.Background()
	from, to := mustTime(t, "2024-01-01T00:00:00Z"), mustTime(t, "2024-01-01T02:00:00Z")
	clock := newClock(to)

	f := newFakeBinance(t, clock)
	b := NewBinance(f.URL, nil)

	f.script.push("notfound")
	_, err := b.Bars(ctx, "NOPEUSDT", "1h", from, to)
	if !errors.Is(err, ErrSymbolNotFound) || !strings.Contains(err.Error(), "Invalid symbol.") || !strings.Contains(err.Error(), "-1121") {
		t.Errorf("invalid symbol: err = %v", err)
	}

	f.script.push("429")
	_, err = b.Bars(ctx, "BTCUSDT", "1h", from, to)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.RetryAfter != 120*time.Second || rl.Status != 429 || !errors.Is(err, ErrRateLimited) {
		t.Errorf("429: err = %v", err)
	}

	f.script.push("418")
	_, err = b.Bars(ctx, "BTCUSDT", "1h", from, to)
	if !errors.As(err, &rl) || rl.RetryAfter != 600*time.Second || rl.Status != 418 {
		t.Errorf("418: err = %v", err)
	}

	f.script.push("malformed")
	_, err = b.Bars(ctx, "BTCUSDT", "1h", from, to)
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: err = %v", err)
	}

	f.script.push("500")
	_, err = b.Bars(ctx, "BTCUSDT", "1h", from, to)
	var herr *HTTPError
	if !errors.As(err, &herr) || herr.Status != 500 || !herr.Temporary() {
		t.Errorf("500: err = %v", err)
	}

	if _, err := b.Bars(ctx, "BTCUSDT", "2d", from, to); !errors.Is(err, ErrUnsupportedTimeframe) {
		t.Errorf("bad timeframe: err = %v", err)
	}
}

func TestBinancePaging(t *testing.T) {
	now := mustTime(t, "2024-03-01T00:30:00Z")
	clock := newClock(now)
	f := newFakeBinance(t, clock)
	b := NewBinance(f.URL, nil)
	from := now.Add(-1500 * time.Minute).Truncate(time.Minute)
	bars, err := b.Bars(context.Background(), "ETHUSDT", "1m", from, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 1501 {
		t.Fatalf("got %d bars, want 1501", len(bars))
	}
	if f.hits.Load() != 2 {
		t.Errorf("server saw %d requests, want 2 pages", f.hits.Load())
	}
	if _, err := Validate(bars, "1m"); err != nil {
		t.Errorf("paged series invalid: %v", err)
	}
	if !bars[0].Time.Equal(from) || !bars[len(bars)-1].Time.Equal(now.Truncate(time.Minute)) {
		t.Errorf("range %s..%s", bars[0].Time, bars[len(bars)-1].Time)
	}
}

func TestYahooFixtureDailyNullsAndRestamp(t *testing.T) {
	srv, reqs := fixtureServer(t, 200, "yahoo_chart_aapl_1d.json", nil)
	y := NewYahoo(srv.URL, nil)
	from, to := mustTime(t, "2024-01-02T00:00:00Z"), mustTime(t, "2024-01-06T00:00:00Z")
	bars, err := y.Bars(context.Background(), "AAPL", "1d", from, to)
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 3 {
		t.Fatalf("got %d bars, want 3 (null bar dropped): %+v", len(bars), bars)
	}
	wantDays := []string{"2024-01-02T00:00:00Z", "2024-01-03T00:00:00Z", "2024-01-05T00:00:00Z"}
	for i, d := range wantDays {
		if !bars[i].Time.Equal(mustTime(t, d)) {
			t.Errorf("bar %d time %s, want %s", i, bars[i].Time, d)
		}
	}
	if bars[0].Open != 187.14999389648438 || bars[0].Volume != 82488700 {
		t.Errorf("bar 0 = %+v", bars[0])
	}
	r := (*reqs)[0]
	q := r.URL.Query()
	if r.URL.Path != "/v8/finance/chart/AAPL" || q.Get("interval") != "1d" || q.Get("period1") != "1704153600" || q.Get("period2") != "1704499201" {
		t.Errorf("request = %s", r.URL)
	}
	if ua := r.Header.Get("User-Agent"); !strings.Contains(ua, "Mozilla/5.0") {
		t.Errorf("User-Agent = %q, want a browser-like one", ua)
	}
	if _, err := Validate(bars, "1d"); err != nil {
		t.Errorf("restamped daily bars invalid: %v", err)
	}
}

func TestYahooFixtureHourlyOffsetAndLivePoint(t *testing.T) {
	srv, _ := fixtureServer(t, 200, "yahoo_chart_aapl_1h.json", nil)
	y := NewYahoo(srv.URL, nil)
	y.Now = newClock(mustTime(t, "2024-01-02T18:43:00Z")).Now
	bars, err := y.Bars(context.Background(), "AAPL", "1h", mustTime(t, "2024-01-02T14:00:00Z"), mustTime(t, "2024-01-02T18:43:00Z"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"2024-01-02T14:30:00Z", "2024-01-02T15:30:00Z", "2024-01-02T17:30:00Z", "2024-01-02T18:30:00Z"}
	if len(bars) != len(want) {
		t.Fatalf("got %d bars, want %d: %+v", len(bars), len(want), bars)
	}
	for i, w := range want {
		if !bars[i].Time.Equal(mustTime(t, w)) {
			t.Errorf("bar %d at %s, want %s", i, bars[i].Time, w)
		}
	}
	if _, err := Validate(bars, "1h"); err != nil {
		t.Errorf("hourly bars with :30 offset rejected: %v", err)
	}
}

func TestYahooErrors(t *testing.T) {
	ctx := context.Background()
	now := mustTime(t, "2024-06-01T00:00:00Z")

	srv, _ := fixtureServer(t, 404, "yahoo_chart_notfound.json", nil)
	y := NewYahoo(srv.URL, nil)
	_, err := y.Bars(ctx, "NOPE", "1d", now.AddDate(0, 0, -10), now)
	if !errors.Is(err, ErrSymbolNotFound) || !strings.Contains(err.Error(), "No data found, symbol may be delisted") {
		t.Errorf("not found: err = %v", err)
	}

	srv, _ = fixtureServer(t, 200, "yahoo_chart_empty.json", nil)
	y = NewYahoo(srv.URL, nil)
	bars, err := y.Bars(ctx, "AAPL", "1d", now.AddDate(0, 0, -2), now)
	if err != nil || len(bars) != 0 {
		t.Errorf("empty result: bars %v err %v", bars, err)
	}

	if _, err := y.Bars(ctx, "AAPL", "4h", now.Add(-time.Hour), now); !errors.Is(err, ErrUnsupportedTimeframe) || !strings.Contains(err.Error(), "4h") {
		t.Errorf("4h: err = %v", err)
	}

	y.Now = func() time.Time { return now }
	_, err = y.Bars(ctx, "AAPL", "1m", now.AddDate(0, 0, -31), now)
	if !errors.Is(err, ErrHistoryLimit) || !strings.Contains(err.Error(), "30 days") {
		t.Errorf("1m beyond 30 days: err = %v", err)
	}

	clock := newClock(now)
	f := newFakeYahoo(t, clock)
	y = NewYahoo(f.URL, nil)
	y.Now = clock.Now
	f.script.push("429")
	_, err = y.Bars(ctx, "BTC-USD", "1h", now.Add(-5*time.Hour), now)
	var rl *RateLimitError
	if !errors.As(err, &rl) || rl.Status != 429 {
		t.Errorf("429: err = %v", err)
	}
	f.script.push("malformed")
	if _, err = y.Bars(ctx, "BTC-USD", "1h", now.Add(-5*time.Hour), now); !errors.Is(err, ErrMalformed) {
		t.Errorf("malformed: err = %v", err)
	}
	f.script.push("500")
	var herr *HTTPError
	if _, err = y.Bars(ctx, "BTC-USD", "1h", now.Add(-5*time.Hour), now); !errors.As(err, &herr) || herr.Status != 500 {
		t.Errorf("500: err = %v", err)
	}
}

func TestYahoo1mChunking(t *testing.T) {
	now := mustTime(t, "2024-06-20T00:00:00Z")
	clock := newClock(now)
	f := newFakeYahoo(t, clock)
	y := NewYahoo(f.URL, nil)
	y.Now = clock.Now
	from := now.AddDate(0, 0, -9)
	bars, err := y.Bars(context.Background(), "BTC-USD", "1m", from, now)
	if err != nil {
		t.Fatal(err)
	}
	if f.hits.Load() != 2 {
		t.Errorf("9 days of 1m took %d requests, want 2 (7-day chunks)", f.hits.Load())
	}
	if _, err := Validate(bars, "1m"); err != nil {
		t.Errorf("chunked series invalid: %v", err)
	}
	// Every fifth minute is null at the fake server and must be dropped.
	total := int(now.Sub(from)/time.Minute) + 1
	if len(bars) >= total || len(bars) < total*3/4 {
		t.Errorf("got %d bars of %d minutes; nulls not dropped?", len(bars), total)
	}
	for _, u := range f.uas {
		if u != DefaultYahooUserAgent {
			t.Errorf("User-Agent %q", u)
		}
	}
}
