package marketdata

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// keyedNow is the fake clock of the keyed-provider tests: 30 seconds past a
// minute, so "until the next minute" is 30 s and "until the next UTC day"
// 11h59m30s.
var keyedNow = time.Date(2024, 1, 5, 12, 0, 30, 0, time.UTC)

// answer is one canned reply of a fake provider.
type answer struct {
	status int
	header map[string]string
	file   string // under testdata/providers
}

// keyedCase describes one provider's fake: what it must be asked and what
// it answers.
type keyedCase struct {
	name     string
	keys     Keys
	symbol   string
	tf       Timeframe
	from, to time.Time
	path     string                       // request path prefix
	auth     func(r *http.Request) string // the key as the request carries it
	answers  map[string]answer            // scenario → reply
	waits    map[string]time.Duration     // rate-limited scenario → retry hint
	unknown  error                        // ErrSymbolNotFound, or nil: an unknown symbol answers no bars
	first    time.Time                    // open of the first bar of "ok"
	close0   float64                      // its close
	missing  Timeframe                    // a timeframe the provider lacks ("" if none)
	now      time.Time                    // Request.Now for Series tests
}

func q(k string) func(r *http.Request) string {
	return func(r *http.Request) string { return r.URL.Query().Get(k) }
}

func jsonAnswer(status int, file string) answer { return answer{status: status, file: file} }

var day2, day4 = time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 4, 0, 0, 0, 0, time.UTC)

// keyedCases are the nine keyed providers with their recorded answers.
func keyedCases() []keyedCase {
	dayEnd := time.Date(2024, 1, 5, 0, 0, 0, 0, time.UTC)
	std := func(c keyedCase) keyedCase {
		if c.symbol == "" {
			c.symbol, c.tf, c.from, c.to, c.first, c.now = "AAPL", "1d", day2, day4, day2, dayEnd
		}
		if c.answers["ok"].file == "" {
			c.answers["ok"] = jsonAnswer(200, c.name+"_ok.json")
		}
		return c
	}
	return []keyedCase{
		std(keyedCase{name: "fmp", keys: Keys{"FMP_API_KEY": "fmp-key-1"}, path: "/stable/historical-price-eod/full", auth: q("apikey"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "fmp_empty.json"), "unknown": jsonAnswer(200, "fmp_unknown.json"),
				"ratelimited": jsonAnswer(429, "fmp_ratelimited.json"), "daily_limit": jsonAnswer(200, "fmp_ratelimited.json"),
				"unauthorized": jsonAnswer(401, "fmp_unauthorized.json")},
			waits:  map[string]time.Duration{"ratelimited": time.Minute, "daily_limit": 11*time.Hour + 59*time.Minute + 30*time.Second},
			close0: 185.64, missing: "1w"}),
		std(keyedCase{name: "alpaca", keys: Keys{"ALPACA_API_KEY": "alpaca-id-1", "ALPACA_SECRET_KEY": "alpaca-secret-1"}, path: "/v2/stocks/AAPL/bars",
			auth: func(r *http.Request) string {
				return r.Header.Get("APCA-API-KEY-ID") + "|" + r.Header.Get("APCA-API-SECRET-KEY")
			},
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "alpaca_empty.json"), "unknown": jsonAnswer(422, "alpaca_unknown.json"),
				"ratelimited":  {429, map[string]string{"X-RateLimit-Reset": strconv.FormatInt(keyedNow.Unix()+42, 10)}, "alpaca_ratelimited.json"},
				"unauthorized": jsonAnswer(403, "alpaca_unauthorized.json")},
			waits:   map[string]time.Duration{"ratelimited": 43 * time.Second},
			unknown: ErrSymbolNotFound, close0: 185.64}),
		std(keyedCase{name: "polygon", keys: Keys{"POLYGON_API_KEY": "polygon-key-1"}, path: "/v2/aggs/ticker/AAPL/range/1/day/", auth: q("apiKey"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "polygon_empty.json"), "unknown": jsonAnswer(200, "polygon_unknown.json"),
				"ratelimited":  {429, map[string]string{"Retry-After": "12"}, "polygon_ratelimited.json"},
				"unauthorized": jsonAnswer(401, "polygon_unauthorized.json")},
			waits:  map[string]time.Duration{"ratelimited": 12 * time.Second},
			close0: 185.64}),
		std(keyedCase{name: "tiingo", keys: Keys{"TIINGO_API_KEY": "tiingo-key-1"}, path: "/tiingo/daily/aapl/prices",
			auth: func(r *http.Request) string { return strings.TrimPrefix(r.Header.Get("Authorization"), "Token ") },
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "tiingo_empty.json"), "unknown": jsonAnswer(404, "tiingo_unknown.json"),
				"ratelimited": jsonAnswer(429, "tiingo_ratelimited.json"), "unauthorized": jsonAnswer(401, "tiingo_unauthorized.json")},
			waits:   map[string]time.Duration{"ratelimited": 59*time.Minute + 30*time.Second},
			unknown: ErrSymbolNotFound, close0: 185.64, missing: "2h"}),
		std(keyedCase{name: "alpha_vantage", keys: Keys{"ALPHA_VANTAGE_API_KEY": "av-key-1"}, path: "/query", auth: q("apikey"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "alpha_vantage_empty.json"), "unknown": jsonAnswer(200, "alpha_vantage_unknown.json"),
				"ratelimited": jsonAnswer(200, "alpha_vantage_ratelimited.json"), "daily_limit": jsonAnswer(200, "alpha_vantage_daily_limit.json"),
				"unauthorized": jsonAnswer(200, "alpha_vantage_unauthorized.json"), "premium": jsonAnswer(200, "alpha_vantage_premium.json")},
			waits:   map[string]time.Duration{"ratelimited": time.Minute, "daily_limit": 11*time.Hour + 59*time.Minute + 30*time.Second},
			unknown: ErrSymbolNotFound, close0: 161.5, missing: "4h"}),
		std(keyedCase{name: "twelvedata", keys: Keys{"TWELVE_DATA_API_KEY": "td-key-1"}, path: "/time_series", auth: q("apikey"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "twelvedata_empty.json"), "unknown": jsonAnswer(200, "twelvedata_unknown.json"),
				"ratelimited": jsonAnswer(200, "twelvedata_ratelimited.json"), "unauthorized": jsonAnswer(200, "twelvedata_unauthorized.json")},
			waits:   map[string]time.Duration{"ratelimited": 30 * time.Second},
			unknown: ErrSymbolNotFound, close0: 185.64, missing: "3m"}),
		std(keyedCase{name: "finnhub", keys: Keys{"FINNHUB_API_KEY": "finnhub-key-1"}, path: "/api/v1/stock/candle", auth: q("token"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "finnhub_empty.json"), "unknown": jsonAnswer(200, "finnhub_unknown.json"),
				"ratelimited":  {429, map[string]string{"X-Ratelimit-Reset": strconv.FormatInt(keyedNow.Unix()+20, 10)}, "finnhub_ratelimited.json"},
				"unauthorized": jsonAnswer(401, "finnhub_unauthorized.json")},
			waits:  map[string]time.Duration{"ratelimited": 21 * time.Second},
			close0: 185.64, missing: "4h"}),
		std(keyedCase{name: "eodhd", keys: Keys{"EODHD_API_KEY": "eodhd-key-1"}, path: "/api/eod/AAPL", auth: q("api_token"),
			answers: map[string]answer{"ok": {}, "empty": jsonAnswer(200, "eodhd_empty.json"), "unknown": jsonAnswer(404, "eodhd_unknown.txt"),
				"ratelimited": {429, map[string]string{"Retry-After": "5"}, "eodhd_ratelimited.txt"}, "daily_limit": jsonAnswer(402, "eodhd_daily_limit.txt"),
				"unauthorized": jsonAnswer(401, "eodhd_unauthorized.json")},
			waits:   map[string]time.Duration{"ratelimited": 5 * time.Second, "daily_limit": 11*time.Hour + 59*time.Minute + 30*time.Second},
			unknown: ErrSymbolNotFound, close0: 185.64, missing: "15m"}),
		{name: "coingecko", symbol: "bitcoin", tf: "4h", path: "/api/v3/coins/bitcoin/ohlc",
			from: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), to: time.Date(2024, 1, 3, 12, 0, 0, 0, time.UTC),
			now:  time.Date(2024, 1, 3, 12, 0, 0, 0, time.UTC),
			auth: func(r *http.Request) string { return "" },
			answers: map[string]answer{"ok": jsonAnswer(200, "coingecko_ok.json"), "empty": jsonAnswer(200, "coingecko_empty.json"),
				"unknown": jsonAnswer(404, "coingecko_unknown.json"), "ratelimited": jsonAnswer(429, "coingecko_ratelimited.json"),
				"unauthorized": jsonAnswer(401, "coingecko_unauthorized.json")},
			waits:   map[string]time.Duration{"ratelimited": time.Minute},
			unknown: ErrSymbolNotFound, first: time.Date(2024, 1, 3, 0, 0, 0, 0, time.UTC), close0: 42650.2, missing: "1d"},
	}
}

// fakeKeyed serves a keyedCase's answers; the scenario can change between
// requests. It records every request.
type fakeKeyed struct {
	*httptest.Server
	t  testing.TB
	kc keyedCase

	mu       sync.Mutex
	scenario string
	reqs     []*http.Request
	times    []time.Time
}

func newFakeKeyed(t testing.TB, kc keyedCase) *fakeKeyed {
	f := &fakeKeyed{t: t, kc: kc, scenario: "ok"}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeKeyed) set(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.scenario = s
}

func (f *fakeKeyed) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeKeyed) last() *http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func (f *fakeKeyed) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.times = append(f.times, time.Now())
	a, ok := f.kc.answers[f.scenario]
	f.mu.Unlock()
	if !ok {
		http.Error(w, "no scenario", http.StatusTeapot)
		return
	}
	body, err := os.ReadFile(filepath.Join("testdata", "providers", a.file))
	if err != nil {
		f.t.Errorf("fixture: %v", err)
		http.Error(w, err.Error(), 500)
		return
	}
	for k, v := range a.header {
		w.Header().Set(k, v)
	}
	if strings.HasSuffix(a.file, ".json") {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(a.status)
	w.Write(body)
}

// keyedOptions returns options with every fake's keys and host, the fake
// clock, no retry delays and no rate limits.
func keyedOptions(clock *fakeClock, fakes ...*fakeKeyed) Options {
	o := testOptions(clock, nil, nil)
	o.Keys = Keys{}
	o.baseURLs = map[string]string{}
	for _, f := range fakes {
		for k, v := range f.kc.keys {
			o.Keys[k] = v
		}
		o.baseURLs[f.kc.name] = f.URL
	}
	return o
}

// TestKeyedProviderAnswers speaks each provider's recorded answers: bars
// from a success, no bars from an empty answer, unknown symbol, rate limit
// with its retry hint, refused key; the request carries the key where the
// provider wants it.
func TestKeyedProviderAnswers(t *testing.T) {
	for _, kc := range keyedCases() {
		t.Run(kc.name, func(t *testing.T) {
			f := newFakeKeyed(t, kc)
			c := newTestClient(t, keyedOptions(newClock(keyedNow), f))
			p, ok := c.Provider(kc.name)
			if !ok {
				t.Fatalf("provider %s not registered", kc.name)
			}
			bars, err := p.Bars(context.Background(), kc.symbol, kc.tf, kc.from, kc.to)
			if err != nil {
				t.Fatalf("ok: %v", err)
			}
			if _, err := Validate(bars, kc.tf); err != nil {
				t.Fatalf("ok: bars invalid: %v", err)
			}
			if len(bars) != 3 || !bars[0].Time.Equal(kc.first) || bars[0].Close != kc.close0 {
				t.Fatalf("ok: got %d bars, first %+v; want 3 from %s closing %v", len(bars), bars, kc.first, kc.close0)
			}
			r := f.last()
			if !strings.HasPrefix(r.URL.Path, kc.path) {
				t.Errorf("path %q, want prefix %q", r.URL.Path, kc.path)
			}
			wantKey := ""
			for _, v := range []string{"ALPACA_API_KEY", "ALPACA_SECRET_KEY"} {
				if kc.keys[v] != "" {
					wantKey += kc.keys[v] + "|"
				}
			}
			wantKey = strings.TrimSuffix(wantKey, "|")
			for k, v := range kc.keys {
				if !strings.HasPrefix(k, "ALPACA") {
					wantKey = v
				}
			}
			if got := kc.auth(r); got != wantKey {
				t.Errorf("key sent as %q, want %q", got, wantKey)
			}

			f.set("empty")
			if bars, err := p.Bars(context.Background(), kc.symbol, kc.tf, kc.from, kc.to); err != nil || len(bars) != 0 {
				t.Errorf("empty: %d bars, err %v; want none and no error", len(bars), err)
			}

			f.set("unknown")
			bars, err = p.Bars(context.Background(), "NOSUCH", kc.tf, kc.from, kc.to)
			if kc.unknown != nil {
				if !errors.Is(err, kc.unknown) {
					t.Errorf("unknown symbol: err %v, want %v", err, kc.unknown)
				}
			} else if err != nil || len(bars) != 0 {
				t.Errorf("unknown symbol: %d bars, err %v; want none (the provider answers an unknown symbol like an empty range)", len(bars), err)
			}

			noKey := func(scen string, err error) {
				for _, v := range kc.keys {
					if err != nil && strings.Contains(err.Error(), v) {
						t.Errorf("%s: error quotes the key: %v", scen, err)
					}
				}
			}
			for scen, wait := range kc.waits {
				f.set(scen)
				_, err := p.Bars(context.Background(), kc.symbol, kc.tf, kc.from, kc.to)
				noKey(scen, err)
				var rl *RateLimitError
				if !errors.As(err, &rl) || !errors.Is(err, ErrRateLimited) {
					t.Errorf("%s: err %v, want a *RateLimitError", scen, err)
					continue
				}
				if rl.RetryAfter != wait {
					t.Errorf("%s: retry after %s, want %s", scen, rl.RetryAfter, wait)
				}
			}

			for _, scen := range []string{"unauthorized", "premium"} {
				if _, ok := kc.answers[scen]; !ok {
					continue
				}
				f.set(scen)
				_, err := p.Bars(context.Background(), kc.symbol, kc.tf, kc.from, kc.to)
				noKey(scen, err)
				if !errors.Is(err, ErrUnauthorized) {
					t.Errorf("%s: err %v, want ErrUnauthorized", scen, err)
				}
			}

			if kc.missing != "" {
				n := f.count()
				_, err := p.Bars(context.Background(), kc.symbol, kc.missing, kc.from, kc.to)
				if !errors.Is(err, ErrUnsupportedTimeframe) || !strings.Contains(err.Error(), string(kc.tf)) {
					t.Errorf("timeframe %s: err %v, want ErrUnsupportedTimeframe listing the supported ones", kc.missing, err)
				}
				if f.count() != n {
					t.Errorf("timeframe %s: the provider was asked anyway", kc.missing)
				}
			}
		})
	}
}

// TestBreakerHonoursRetryHint: a rate-limited answer keeps the provider
// open (no request reaches it) for exactly the wait it named.
func TestBreakerHonoursRetryHint(t *testing.T) {
	for _, kc := range keyedCases() {
		for scen, wait := range kc.waits {
			t.Run(kc.name+"/"+scen, func(t *testing.T) {
				f := newFakeKeyed(t, kc)
				clock := newClock(keyedNow)
				c := newTestClient(t, keyedOptions(clock, f))
				req := Request{Symbol: kc.symbol, Timeframe: kc.tf, Bars: 3, Provider: kc.name, Now: kc.now}
				f.set(scen)
				if _, err := c.Series(context.Background(), req); !errors.Is(err, ErrRateLimited) {
					t.Fatalf("first: err %v, want ErrRateLimited", err)
				}
				if f.count() != 1 {
					t.Fatalf("first: %d requests, want 1 (no retry of a rate limit)", f.count())
				}
				if st := c.Breakers()[kc.name]; st != BreakerOpen {
					t.Errorf("breaker %s, want open while waiting", st)
				}
				f.set("ok")
				clock.Advance(wait - time.Second)
				if _, err := c.Series(context.Background(), req); !errors.Is(err, ErrRateLimited) {
					t.Errorf("1s before the hint: err %v, want ErrRateLimited", err)
				}
				if f.count() != 1 {
					t.Errorf("1s before the hint: %d requests reached the provider, want still 1", f.count())
				}
				clock.Advance(time.Second)
				s, err := c.Series(context.Background(), req)
				if err != nil || len(s.Closed) != 3 {
					t.Fatalf("after the hint: %d bars, err %v", len(s.Closed), err)
				}
				if f.count() != 2 || c.Breakers()[kc.name] != BreakerClosed {
					t.Errorf("after the hint: %d requests, breaker %s; want 2, closed", f.count(), c.Breakers()[kc.name])
				}
			})
		}
	}
}

// TestKeyedFailover: a refused key fails over to the next provider without
// retrying, and the outcome is counted as unauthorized.
func TestKeyedFailover(t *testing.T) {
	cases := map[string]keyedCase{}
	for _, kc := range keyedCases() {
		cases[kc.name] = kc
	}
	poly, fm := newFakeKeyed(t, cases["polygon"]), newFakeKeyed(t, cases["fmp"])
	poly.set("unauthorized")
	o := keyedOptions(newClock(keyedNow), poly, fm)
	o.Providers = []string{"polygon", "fmp"}
	c := newTestClient(t, o)
	s, err := c.Series(context.Background(), Request{Symbol: "AAPL", Timeframe: "1d", Bars: 3, Now: cases["fmp"].now})
	if err != nil {
		t.Fatal(err)
	}
	if s.Provider != "fmp" || len(s.Closed) != 3 {
		t.Errorf("served by %s with %d bars, want fmp with 3", s.Provider, len(s.Closed))
	}
	if poly.count() != 1 {
		t.Errorf("polygon asked %d times, want 1 (a refused key is not retried)", poly.count())
	}
	if n := c.Outcomes()["polygon"][ResultUnauthorized]; n != 1 {
		t.Errorf("polygon unauthorized outcomes = %d, want 1", n)
	}
}

// TestRateLimitSharedAcrossRequests: concurrent alerts on different symbols
// share the provider's token bucket; the fake sees them spaced by it.
func TestRateLimitSharedAcrossRequests(t *testing.T) {
	var kc keyedCase
	for _, c := range keyedCases() {
		if c.name == "fmp" {
			kc = c
		}
	}
	f := newFakeKeyed(t, kc)
	o := keyedOptions(newClock(keyedNow), f)
	o.Providers = []string{"fmp"}
	o.RateLimits = map[string]RateLimit{"fmp": {PerMinute: 1200}} // 20 a second, no burst
	c := newTestClient(t, o)
	const alerts = 30
	var wg sync.WaitGroup
	errs := make(chan error, alerts)
	for i := range alerts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Series(context.Background(), Request{Symbol: "S" + strconv.Itoa(i), Timeframe: "1d", Bars: 3, Now: kc.now})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	f.mu.Lock()
	times := append([]time.Time(nil), f.times...)
	f.mu.Unlock()
	if len(times) != alerts {
		t.Fatalf("%d requests at the fake, want %d", len(times), alerts)
	}
	// 20/s: any one-second window holds at most 20 (+1 for the first
	// token and scheduling jitter); unlimited, all 30 arrive at once.
	for i := range times {
		n := 0
		for _, t2 := range times[i:] {
			if t2.Sub(times[i]) < time.Second {
				n++
			}
		}
		if n > 21 {
			t.Fatalf("%d requests within one second from request %d, want at most 21 at 20/s", n, i)
		}
	}
}

// TestRateLimitThrottleFailsOver: when the provider's queue is longer than a
// request may wait, the request fails over at once and the provider is not
// asked.
func TestRateLimitThrottleFailsOver(t *testing.T) {
	cases := map[string]keyedCase{}
	for _, kc := range keyedCases() {
		cases[kc.name] = kc
	}
	fm, poly := newFakeKeyed(t, cases["fmp"]), newFakeKeyed(t, cases["polygon"])
	o := keyedOptions(newClock(keyedNow), fm, poly)
	o.Providers = []string{"fmp", "polygon"}
	o.RateLimits = map[string]RateLimit{"fmp": {PerMinute: 1}}
	c := newTestClient(t, o)
	c.maxRateWait = 50 * time.Millisecond
	for i, want := range []string{"fmp", "polygon"} {
		s, err := c.Series(context.Background(), Request{Symbol: "S" + strconv.Itoa(i), Timeframe: "1d", Bars: 3, Now: cases["fmp"].now})
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		if s.Provider != want {
			t.Errorf("request %d served by %s, want %s", i, s.Provider, want)
		}
	}
	if fm.count() != 1 || c.Outcomes()["fmp"][ResultThrottled] != 1 {
		t.Errorf("fmp asked %d times, throttled %d; want 1 and 1", fm.count(), c.Outcomes()["fmp"][ResultThrottled])
	}
}
