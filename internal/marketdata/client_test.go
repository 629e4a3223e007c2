package marketdata

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const hourNow = "2024-03-04T10:30:00Z"

// setup returns a clock at hourNow, both fake servers and options for them.
func setup(t *testing.T) (*fakeClock, *fakeBinance, *fakeYahoo, Options) {
	clock := newClock(mustTime(t, hourNow))
	bin := newFakeBinance(t, clock)
	yah := newFakeYahoo(t, clock)
	return clock, bin, yah, testOptions(clock, bin, yah)
}

func series(t *testing.T, c *Client, req Request) Series {
	t.Helper()
	s, err := c.Series(context.Background(), req)
	if err != nil {
		t.Fatalf("Series(%+v): %v", req, err)
	}
	return s
}

func TestSeriesBasic(t *testing.T) {
	_, bin, yah, o := setup(t)
	c := newTestClient(t, o)
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 50})
	if s.Provider != "binance" || s.ProviderSymbol != "BTCUSDT" || s.Symbol != "BTCUSDT" || s.Timeframe != "1h" {
		t.Errorf("series meta = %+v", s)
	}
	if len(s.Closed) != 50 {
		t.Fatalf("got %d closed bars, want 50", len(s.Closed))
	}
	if last := s.Closed[49].Time; !last.Equal(mustTime(t, "2024-03-04T09:00:00Z")) {
		t.Errorf("last closed bar opens %s, want 09:00", last)
	}
	if s.Forming == nil || !s.Forming.Time.Equal(mustTime(t, "2024-03-04T10:00:00Z")) {
		t.Errorf("forming = %+v, want the 10:00 bar", s.Forming)
	}
	if s.Closed[0] != synthBar(s.Closed[0].Time) {
		t.Errorf("bar values changed on the way: %+v", s.Closed[0])
	}
	if bin.hits.Load() != 1 || yah.hits.Load() != 0 {
		t.Errorf("hits binance=%d yahoo=%d, want 1 and 0", bin.hits.Load(), yah.hits.Load())
	}
	if got := c.Outcomes()["binance"][ResultOK]; got != 1 {
		t.Errorf("binance ok outcomes = %d, want 1", got)
	}
	// Default lookback.
	s = series(t, c, Request{Symbol: "ETHUSDT", Timeframe: "4h"})
	if len(s.Closed) != 200 {
		t.Errorf("default lookback gave %d bars, want 200", len(s.Closed))
	}
}

func TestSeriesRequestErrors(t *testing.T) {
	_, _, _, o := setup(t)
	c := newTestClient(t, o)
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{Symbol: "", Timeframe: "1h"}, `symbol ""`},
		{Request{Symbol: "BTC USDT", Timeframe: "1h"}, `symbol "BTC USDT"`},
		{Request{Symbol: "BTCUSDT", Timeframe: "2d"}, `unknown timeframe "2d"`},
		{Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: -1}, "bars -1"},
		{Request{Symbol: "BTCUSDT", Timeframe: "1h", Provider: "kraken"}, `unknown provider "kraken"`},
	} {
		_, err := c.Series(context.Background(), tc.req)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Series(%+v) err = %v, want mention of %s", tc.req, err, tc.want)
		}
	}
}

func TestFailoverAfterRetries(t *testing.T) {
	_, bin, yah, o := setup(t)
	c := newTestClient(t, o)
	bin.script.push("500", "500", "500")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 20})
	if s.Provider != "yahoo" || s.ProviderSymbol != "BTC-USD" {
		t.Fatalf("served by %s as %s, want yahoo as BTC-USD", s.Provider, s.ProviderSymbol)
	}
	if bin.hits.Load() != 3 {
		t.Errorf("binance saw %d attempts, want 3 (1 + DATA_MAX_RETRIES 2)", bin.hits.Load())
	}
	if len(s.Closed) != 20 {
		t.Errorf("yahoo gave %d closed bars, want 20 (after nulls, by widening)", len(s.Closed))
	}
	if len(s.Gaps) == 0 || s.Gaps[0].Missing != 1 {
		t.Errorf("yahoo's dropped null bars not reported as gaps: %+v", s.Gaps)
	}
	out := c.Outcomes()
	if out["binance"][ResultError] != 3 || out["yahoo"][ResultOK] == 0 {
		t.Errorf("outcomes = %v", out)
	}
	_ = yah
}

func TestRetryThenSuccess(t *testing.T) {
	_, bin, _, o := setup(t)
	var slept []time.Duration
	var mu sync.Mutex
	o.RetryBackoff = 100 * time.Millisecond
	o.Sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		slept = append(slept, d)
		mu.Unlock()
		return nil
	}
	c := newTestClient(t, o)
	bin.script.push("500", "malformed")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 10})
	if s.Provider != "binance" || bin.hits.Load() != 3 {
		t.Errorf("provider %s after %d hits, want binance after 3", s.Provider, bin.hits.Load())
	}
	if len(slept) != 2 {
		t.Fatalf("slept %v, want two backoffs", slept)
	}
	if slept[0] < 50*time.Millisecond || slept[0] > 100*time.Millisecond || slept[1] < 100*time.Millisecond || slept[1] > 200*time.Millisecond {
		t.Errorf("backoffs %v, want [50ms,100ms] then [100ms,200ms] (doubling with jitter)", slept)
	}
	out := c.Outcomes()["binance"]
	if out[ResultError] != 1 || out[ResultInvalid] != 1 || out[ResultOK] != 1 {
		t.Errorf("binance outcomes = %v", out)
	}
}

func TestTimeoutFailsOver(t *testing.T) {
	_, bin, _, o := setup(t)
	o.Timeout = time.Second // the scripted timeout blocks until the attempt's deadline
	o.MaxRetries = 0
	c := newTestClient(t, o)
	bin.script.push("timeout")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1d", Bars: 5})
	if s.Provider != "yahoo" {
		t.Errorf("served by %s, want yahoo", s.Provider)
	}
	if got := c.Outcomes()["binance"][ResultTimeout]; got != 1 {
		t.Errorf("binance timeouts = %d, want 1", got)
	}
}

func TestOutOfOrderIsInvalid(t *testing.T) {
	_, bin, _, o := setup(t)
	c := newTestClient(t, o)
	bin.script.push("outoforder")
	_, err := c.Series(context.Background(), Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5, Provider: "binance"})
	if !errors.Is(err, ErrNoProvider) || !errors.Is(err, ErrInvalidData) {
		t.Fatalf("err = %v, want ErrNoProvider wrapping ErrInvalidData", err)
	}
	if !strings.Contains(err.Error(), "bar 1 at 2023-11-14T23:00:00Z: out of order") {
		t.Errorf("error does not name the bar: %v", err)
	}
	if bin.hits.Load() != 1 {
		t.Errorf("invalid data retried: %d hits", bin.hits.Load())
	}
	// Unpinned, the chain fails over to yahoo.
	bin.script.push("outoforder")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	if s.Provider != "yahoo" {
		t.Errorf("served by %s, want yahoo", s.Provider)
	}
}

func TestEmptyFailsOver(t *testing.T) {
	_, bin, _, o := setup(t)
	o.MaxRetries = 0
	c := newTestClient(t, o)
	bin.script.push("empty", "empty", "empty", "empty")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	if s.Provider != "yahoo" {
		t.Errorf("served by %s, want yahoo", s.Provider)
	}
	if got := c.Outcomes()["binance"][ResultEmpty]; got != 4 {
		t.Errorf("binance empty outcomes = %d, want 4 (window widened 3 times)", got)
	}
}

func TestNoProvider(t *testing.T) {
	_, bin, yah, o := setup(t)
	o.MaxRetries = 0
	c := newTestClient(t, o)
	bin.script.push("500")
	yah.script.push("notfound")
	_, err := c.Series(context.Background(), Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	var np *NoProviderError
	if !errors.As(err, &np) || len(np.Attempts) != 2 {
		t.Fatalf("err = %v, want NoProviderError with 2 attempts", err)
	}
	if !strings.Contains(err.Error(), "binance: HTTP 500") || !strings.Contains(err.Error(), "No data found, symbol may be delisted") {
		t.Errorf("message lacks provider reasons: %v", err)
	}
	if !errors.Is(err, ErrSymbolNotFound) {
		t.Errorf("errors.Is(ErrSymbolNotFound) false for %v", err)
	}
}

func TestBreakerOpensAndCloses(t *testing.T) {
	clock, bin, _, o := setup(t)
	o.MaxRetries = 0
	o.BreakerFailures = 3
	o.BreakerCooldown = time.Minute
	o.CacheEnabled = false
	c := newTestClient(t, o)
	req := Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5}
	bin.script.push("500", "500", "500")
	for i := range 3 {
		if s := series(t, c, req); s.Provider != "yahoo" {
			t.Fatalf("request %d served by %s", i, s.Provider)
		}
	}
	if st := c.Breakers()["binance"]; st != BreakerOpen {
		t.Fatalf("binance breaker %s after 3 failures, want open", st)
	}
	series(t, c, req)
	if bin.hits.Load() != 3 {
		t.Errorf("open breaker let a request through: %d hits", bin.hits.Load())
	}
	if c.Outcomes()["binance"][ResultBreakerOpen] == 0 {
		t.Errorf("breaker_open outcome not counted: %v", c.Outcomes())
	}

	// After the cooldown a failing probe re-opens it.
	clock.Advance(time.Minute)
	if st := c.Breakers()["binance"]; st != BreakerHalfOpen {
		t.Fatalf("after cooldown state %s, want half-open", st)
	}
	bin.script.push("500")
	series(t, c, req)
	if bin.hits.Load() != 4 || c.Breakers()["binance"] != BreakerOpen {
		t.Fatalf("failed probe: hits %d state %s, want 4 and open", bin.hits.Load(), c.Breakers()["binance"])
	}
	// A successful probe closes it.
	clock.Advance(time.Minute)
	s := series(t, c, req)
	if s.Provider != "binance" || c.Breakers()["binance"] != BreakerClosed {
		t.Errorf("probe served by %s, state %s; want binance and closed", s.Provider, c.Breakers()["binance"])
	}
}

func TestRateLimitCooldown(t *testing.T) {
	clock, bin, _, o := setup(t)
	o.CacheEnabled = false
	c := newTestClient(t, o)
	req := Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5}
	bin.script.push("429")
	if s := series(t, c, req); s.Provider != "yahoo" {
		t.Fatalf("served by %s, want yahoo", s.Provider)
	}
	if bin.hits.Load() != 1 {
		t.Errorf("429 was retried: %d hits", bin.hits.Load())
	}
	clock.Advance(119 * time.Second)
	if s := series(t, c, req); s.Provider != "yahoo" || bin.hits.Load() != 1 {
		t.Errorf("within Retry-After: served by %s, binance hits %d", s.Provider, bin.hits.Load())
	}
	clock.Advance(time.Second)
	if s := series(t, c, req); s.Provider != "binance" {
		t.Errorf("after Retry-After served by %s, want binance", s.Provider)
	}
	out := c.Outcomes()["binance"]
	if out[ResultRateLimited] != 1 || out[ResultCooldown] != 1 {
		t.Errorf("binance outcomes %v", out)
	}
	if c.Breakers()["binance"] != BreakerClosed {
		t.Errorf("rate limit counted as breaker failure")
	}
}

func TestCoalescing(t *testing.T) {
	_, bin, _, o := setup(t)
	bin.gate = make(chan struct{})
	c := newTestClient(t, o)
	const n = 1000
	var wg, started sync.WaitGroup
	errs := make(chan error, n)
	lasts := make(chan time.Time, n)
	for range n {
		wg.Add(1)
		started.Add(1)
		go func() {
			defer wg.Done()
			started.Done()
			s, err := c.Series(context.Background(), Request{Symbol: "BTCUSDT", Timeframe: "1h"})
			if err != nil {
				errs <- err
				return
			}
			if s.Provider != "binance" {
				errs <- errors.New("served by " + s.Provider)
				return
			}
			if len(s.Closed) != 200 {
				errs <- errors.New("got " + strconv.Itoa(len(s.Closed)) + " bars")
				return
			}
			lasts <- s.Closed[199].Time
		}()
	}
	started.Wait()
	close(bin.gate)
	wg.Wait()
	close(errs)
	close(lasts)
	for err := range errs {
		t.Fatal(err)
	}
	for l := range lasts {
		if !l.Equal(mustTime(t, "2024-03-04T09:00:00Z")) {
			t.Fatalf("a caller got last bar %s", l)
		}
	}
	if got := bin.hits.Load(); got != 1 {
		t.Errorf("fake Binance counted %d requests for 1,000 concurrent callers, want exactly 1", got)
	}
}

func TestCacheTTLAndIncrementalRefresh(t *testing.T) {
	clock, bin, _, o := setup(t)
	o.CacheTTL = time.Minute
	c := newTestClient(t, o)
	req := Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 50}
	s := series(t, c, req)
	if s.Cached || bin.hits.Load() != 1 {
		t.Fatalf("first call cached=%v hits=%d", s.Cached, bin.hits.Load())
	}
	clock.Advance(30 * time.Second)
	if s = series(t, c, req); !s.Cached || bin.hits.Load() != 1 {
		t.Errorf("within TTL: cached=%v hits=%d", s.Cached, bin.hits.Load())
	}
	// A smaller request is served from the same entry.
	if s = series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 10}); !s.Cached || len(s.Closed) != 10 {
		t.Errorf("smaller request: cached=%v len=%d", s.Cached, len(s.Closed))
	}
	clock.Advance(31 * time.Second)
	s = series(t, c, req)
	if s.Cached || bin.hits.Load() != 2 {
		t.Fatalf("after TTL: cached=%v hits=%d", s.Cached, bin.hits.Load())
	}
	inc := bin.requests()[1].URL.Query()
	if want := strconv.FormatInt(mustTime(t, "2024-03-04T10:00:00Z").UnixMilli(), 10); inc.Get("startTime") != want {
		t.Errorf("refresh startTime = %s, want %s (only the forming bar onwards)", inc.Get("startTime"), want)
	}
	if len(s.Closed) != 50 || s.Forming == nil {
		t.Errorf("refreshed series: %d closed, forming %v", len(s.Closed), s.Forming)
	}
	// A bigger request than cached needs a full fetch.
	s = series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 120})
	if len(s.Closed) != 120 || bin.hits.Load() != 3 {
		t.Errorf("deeper request: %d bars after %d hits", len(s.Closed), bin.hits.Load())
	}
}

func TestRefreshAtBarBoundary(t *testing.T) {
	clock, bin, _, o := setup(t)
	o.CacheTTL = time.Hour
	c := newTestClient(t, o)
	req := Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 3}
	clock.Set(mustTime(t, "2024-03-04T10:59:59Z"))
	s := series(t, c, req)
	if !s.Closed[2].Time.Equal(mustTime(t, "2024-03-04T09:00:00Z")) || !s.Forming.Time.Equal(mustTime(t, "2024-03-04T10:00:00Z")) {
		t.Fatalf("at 10:59:59 last closed %s forming %s", s.Closed[2].Time, s.Forming.Time)
	}
	clock.Set(mustTime(t, "2024-03-04T11:00:00Z"))
	s = series(t, c, req)
	if s.Cached || bin.hits.Load() != 2 {
		t.Fatalf("the forming bar closed but the cache answered (hits %d)", bin.hits.Load())
	}
	if !s.Closed[2].Time.Equal(mustTime(t, "2024-03-04T10:00:00Z")) || !s.Forming.Time.Equal(mustTime(t, "2024-03-04T11:00:00Z")) {
		t.Errorf("at 11:00 last closed %s forming %s", s.Closed[2].Time, s.Forming.Time)
	}
	if s.Closed[2] != synthBar(s.Closed[2].Time) {
		t.Errorf("refreshed closed bar %+v", s.Closed[2])
	}
}

func TestClosedBarsCalendar(t *testing.T) {
	clock, _, _, o := setup(t)
	o.CacheEnabled = false
	c := newTestClient(t, o)
	for _, tc := range []struct {
		tf         Timeframe
		now        string
		lastClosed string
		forming    string
	}{
		{"1d", "2024-02-29T23:59:59Z", "2024-02-28T00:00:00Z", "2024-02-29T00:00:00Z"},
		{"1d", "2024-03-01T00:00:00Z", "2024-02-29T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"1w", "2024-03-03T23:59:59Z", "2024-02-19T00:00:00Z", "2024-02-26T00:00:00Z"},
		{"1w", "2024-03-04T00:00:00Z", "2024-02-26T00:00:00Z", "2024-03-04T00:00:00Z"},
		{"1M", "2024-02-29T12:00:00Z", "2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"},
		{"1M", "2024-03-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"},
		{"15m", "2024-03-04T10:44:59Z", "2024-03-04T10:15:00Z", "2024-03-04T10:30:00Z"},
		{"15m", "2024-03-04T10:45:00Z", "2024-03-04T10:30:00Z", "2024-03-04T10:45:00Z"},
	} {
		clock.Set(mustTime(t, tc.now))
		s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: tc.tf, Bars: 3, Provider: "binance"})
		got := s.Closed[len(s.Closed)-1].Time.Format(time.RFC3339)
		if got != tc.lastClosed || s.Forming == nil || s.Forming.Time.Format(time.RFC3339) != tc.forming {
			t.Errorf("%s at %s: last closed %s forming %v; want %s and %s", tc.tf, tc.now, got, s.Forming, tc.lastClosed, tc.forming)
		}
	}
}

func TestPinnedProviderAndRoutes(t *testing.T) {
	_, bin, yah, o := setup(t)
	var err error
	o.Routes, err = ParseRoutes("^*=yahoo;*USDT=binance,yahoo;*=yahoo")
	if err != nil {
		t.Fatal(err)
	}
	c := newTestClient(t, o)
	if s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5, Provider: "yahoo"}); s.Provider != "yahoo" || s.ProviderSymbol != "BTC-USD" {
		t.Errorf("pinned: %s %s", s.Provider, s.ProviderSymbol)
	}
	if bin.hits.Load() != 0 {
		t.Errorf("pinned request reached binance")
	}
	if s := series(t, c, Request{Symbol: "^VIX", Timeframe: "1d", Bars: 5}); s.Provider != "yahoo" || s.ProviderSymbol != "^VIX" {
		t.Errorf("^VIX: %s %s", s.Provider, s.ProviderSymbol)
	}
	if got := c.Chain("AAPL"); strings.Join(got, ",") != "yahoo" {
		t.Errorf("chain for AAPL = %v", got)
	}
	bin.script.push("500", "500", "500")
	_, err = c.Series(context.Background(), Request{Symbol: "ETHUSDT", Timeframe: "1h", Bars: 5, Provider: "binance"})
	if !errors.Is(err, ErrNoProvider) {
		t.Errorf("pinned provider failing: err = %v, want no failover", err)
	}
	_ = yah
}

func TestLRUBounds(t *testing.T) {
	_, bin, _, o := setup(t)
	o.CacheMaxSeries = 2
	o.CacheMaxBars = 100
	c := newTestClient(t, o)
	for _, sym := range []string{"AUSDT", "BUSDT", "CUSDT"} {
		series(t, c, Request{Symbol: sym, Timeframe: "1h", Bars: 50})
	}
	if n, _ := c.CacheStats(); n != 2 {
		t.Errorf("cached series = %d, want 2", n)
	}
	series(t, c, Request{Symbol: "CUSDT", Timeframe: "1h", Bars: 50})
	if bin.hits.Load() != 3 {
		t.Errorf("recent series refetched: hits %d", bin.hits.Load())
	}
	series(t, c, Request{Symbol: "AUSDT", Timeframe: "1h", Bars: 50})
	if bin.hits.Load() != 4 {
		t.Errorf("evicted series served from cache: hits %d", bin.hits.Load())
	}
	// More bars than a series may hold bypass the cache.
	for range 2 {
		s := series(t, c, Request{Symbol: "DUSDT", Timeframe: "1h", Bars: 150})
		if len(s.Closed) != 150 || s.Cached {
			t.Errorf("150-bar request: %d bars cached=%v", len(s.Closed), s.Cached)
		}
	}
	if bin.hits.Load() != 6 {
		t.Errorf("uncacheable requests: hits %d, want 6", bin.hits.Load())
	}
	if _, bars := c.CacheStats(); bars > 200 {
		t.Errorf("cache holds %d bars, bound is 2 series x 100", bars)
	}
}

func TestShortHistory(t *testing.T) {
	clock, bin, _, o := setup(t)
	bin.listing = clock.Now().Add(-30 * time.Hour).Truncate(time.Hour)
	c := newTestClient(t, o)
	s := series(t, c, Request{Symbol: "NEWUSDT", Timeframe: "1h", Bars: 50, Provider: "binance"})
	if len(s.Closed) != 30 {
		t.Errorf("got %d closed bars, want the 30 that exist", len(s.Closed))
	}
	if bin.hits.Load() != 4 {
		t.Errorf("hits %d, want 4 (window widened 3 times)", bin.hits.Load())
	}
	s = series(t, c, Request{Symbol: "NEWUSDT", Timeframe: "1h", Bars: 50, Provider: "binance"})
	if !s.Cached || bin.hits.Load() != 4 {
		t.Errorf("short series not served from cache: cached=%v hits=%d", s.Cached, bin.hits.Load())
	}
}

func TestHistoricNow(t *testing.T) {
	clock, bin, _, o := setup(t)
	c := newTestClient(t, o)
	past := clock.Now().AddDate(0, 0, -10).Add(17 * time.Minute)
	for range 2 {
		s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 24, Now: past})
		if s.Forming != nil || s.Cached {
			t.Errorf("historic request: forming %v cached %v", s.Forming, s.Cached)
		}
		if want := past.Truncate(time.Hour).Add(-time.Hour); !s.Closed[23].Time.Equal(want) {
			t.Errorf("last closed %s, want %s", s.Closed[23].Time, want)
		}
	}
	if bin.hits.Load() != 2 {
		t.Errorf("historic requests hit the server %d times, want 2 (not cached)", bin.hits.Load())
	}
}

func TestOnOutcomeAndCanceledContext(t *testing.T) {
	_, bin, _, o := setup(t)
	var mu sync.Mutex
	var got []Outcome
	o.OnOutcome = func(oc Outcome) {
		mu.Lock()
		got = append(got, oc)
		mu.Unlock()
	}
	c := newTestClient(t, o)
	series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	mu.Lock()
	if len(got) != 2 || got[0].Provider != "binance" || got[0].Result != ResultOK || got[1].Result != ResultCacheHit {
		t.Errorf("outcomes %+v", got)
	}
	mu.Unlock()

	bin.gate = make(chan struct{})
	defer close(bin.gate)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		_, err := c.Series(ctx, Request{Symbol: "XUSDT", Timeframe: "1h", Bars: 5})
		done <- err
	}()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("canceled request err = %v", err)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Timeout = 0 }, "Timeout"},
		{func(o *Options) { o.MaxRetries = -1 }, "MaxRetries"},
		{func(o *Options) { o.BreakerFailures = 0 }, "BreakerFailures"},
		{func(o *Options) { o.Providers = []string{"binance", "csv"} }, `unknown provider "csv"`},
		{func(o *Options) { o.Routes = []Route{{Pattern: "*", Providers: []string{"nosuch"}}} }, `Routes[*]: unknown provider "nosuch"`},
		{func(o *Options) { o.CacheMaxBars = 0 }, "CacheMaxBars"},
		{func(o *Options) { o.Providers = nil }, "Providers"},
	} {
		o := DefaultOptions()
		tc.mod(&o)
		if _, err := New(o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New err = %v, want mention of %s", err, tc.want)
		}
	}
}

func TestCSVProviderInChain(t *testing.T) {
	clock, bin, _, o := setup(t)
	clock.Set(mustTime(t, "2024-01-01T03:00:00Z"))
	o.CSVDir = "testdata"
	o.Providers = []string{"binance", "csv"}
	o.MaxRetries = 0
	c := newTestClient(t, o)
	bin.script.push("500")
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 3})
	if s.Provider != "csv" || len(s.Closed) != 3 || s.Closed[2].Close != 42581.10 {
		t.Errorf("csv series: %+v", s)
	}
}

func TestLiveSkew(t *testing.T) {
	clock, bin, _, o := setup(t)
	c := newTestClient(t, o)
	series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5})
	s := series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5, Now: clock.Now().Add(-30 * time.Second)})
	if !s.Cached || s.Forming == nil || bin.hits.Load() != 1 {
		t.Errorf("fire time 30s behind the clock: cached %v forming %v hits %d", s.Cached, s.Forming, bin.hits.Load())
	}
	s = series(t, c, Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 5, Now: clock.Now().Add(-2 * time.Minute)})
	if s.Cached || s.Forming != nil || bin.hits.Load() != 2 {
		t.Errorf("2 minutes behind: cached %v forming %v hits %d", s.Cached, s.Forming, bin.hits.Load())
	}
}
