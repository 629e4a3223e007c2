package marketdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestKeylessProviderSkipped: a provider named in the chain without its key
// is skipped with a warning naming the variable; pinning it fails with
// ErrNotConfigured naming the variable; a chain of only such providers is
// refused at start-up.
func TestKeylessProviderSkipped(t *testing.T) {
	var poly keyedCase
	for _, kc := range keyedCases() {
		if kc.name == "polygon" {
			poly = kc
		}
	}
	f := newFakeKeyed(t, poly)
	var logs bytes.Buffer
	o := keyedOptions(newClock(keyedNow), f)
	o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	o.Providers = []string{"fmp", "polygon"}
	c := newTestClient(t, o)
	if !strings.Contains(logs.String(), "FMP_API_KEY") || !strings.Contains(logs.String(), "provider=fmp") {
		t.Errorf("start-up log does not name fmp and FMP_API_KEY:\n%s", logs.String())
	}
	s, err := c.Series(context.Background(), Request{Symbol: "AAPL", Timeframe: "1d", Bars: 3, Now: poly.now})
	if err != nil || s.Provider != "polygon" {
		t.Fatalf("served by %q, err %v; want polygon", s.Provider, err)
	}
	if n := c.Outcomes()["fmp"][ResultNotConfigured]; n != 1 {
		t.Errorf("fmp not_configured outcomes = %d, want 1", n)
	}
	_, err = c.Series(context.Background(), Request{Symbol: "AAPL", Timeframe: "1d", Bars: 3, Provider: "fmp", Now: poly.now})
	if !errors.Is(err, ErrNotConfigured) || !strings.Contains(err.Error(), "set FMP_API_KEY") {
		t.Errorf("pinned fmp: err %v, want ErrNotConfigured naming FMP_API_KEY", err)
	}

	o.Providers = []string{"alpaca"}
	o.Keys = Keys{"ALPACA_API_KEY": "id-only"}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), "ALPACA_SECRET_KEY") || !strings.Contains(err.Error(), "Providers") {
		t.Errorf("chain of alpaca without its secret: err %v, want one naming Providers and ALPACA_SECRET_KEY", err)
	}

	env, err := OptionsFromEnv(envFunc(map[string]string{"DATA_ROUTES": "*=tiingo"}))
	if err != nil {
		t.Fatalf("OptionsFromEnv: %v (an unconfigured provider is not a syntax error)", err)
	}
	env.Logger = slog.New(slog.DiscardHandler)
	if _, err := New(env); err == nil || !strings.Contains(err.Error(), "Routes[*]") || !strings.Contains(err.Error(), "TIINGO_API_KEY") {
		t.Errorf("route of tiingo without key: err %v, want one naming Routes[*] and TIINGO_API_KEY", err)
	}
}

// TestProviderStates lists every provider with its configured state, key
// variables (never values) and limit.
func TestProviderStates(t *testing.T) {
	o := testOptions(newClock(keyedNow), nil, nil)
	o.Keys = Keys{"FMP_API_KEY": "fmp-secret-value", "ALPACA_API_KEY": "id"}
	o.RateLimits = DefaultRateLimits()
	c := newTestClient(t, o)
	got := map[string]ProviderState{}
	for _, st := range c.ProviderStates() {
		got[st.Name] = st
	}
	want := []string{"alpaca", "alpha_vantage", "binance", "coingecko", "eodhd", "finnhub", "fmp", "polygon", "tiingo", "twelvedata", "yahoo"}
	if len(got) != len(want) {
		t.Fatalf("states for %v, want %v", got, want)
	}
	for _, n := range want {
		if _, ok := got[n]; !ok {
			t.Errorf("no state for %s", n)
		}
	}
	if st := got["fmp"]; !st.Configured || st.RateLimit != "3000/min" || st.Breaker != BreakerClosed {
		t.Errorf("fmp: %+v", st)
	}
	if st := got["alpaca"]; st.Configured || fmt.Sprint(st.Missing) != "[ALPACA_SECRET_KEY]" || fmt.Sprint(st.KeyVariables) != "[ALPACA_API_KEY ALPACA_SECRET_KEY]" {
		t.Errorf("alpaca: %+v", st)
	}
	if st := got["coingecko"]; !st.Configured || len(st.KeyVariables) != 0 {
		t.Errorf("coingecko (key-less): %+v", st)
	}
	if st := got["yahoo"]; st.RateLimit != "60/min, 1/s" {
		t.Errorf("yahoo limit %q, want 60/min, 1/s", st.RateLimit)
	}
	b, _ := json.Marshal(c.ProviderStates())
	if strings.Contains(string(b), "fmp-secret-value") {
		t.Errorf("states show a key: %s", b)
	}
}

// TestKeysNeverShown: printing, logging or marshalling the options' keys
// shows the variables, not the values; a transport error does not quote a
// key sent in the URL.
func TestKeysNeverShown(t *testing.T) {
	const secret = "sekrit-0123456789"
	k := Keys{"POLYGON_API_KEY": secret}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("options", "keys", k)
	js, _ := json.Marshal(k)
	opts := DefaultOptions()
	opts.Keys = k
	for what, s := range map[string]string{"String": fmt.Sprint(k), "%+v": fmt.Sprintf("%+v", k), "%#v": fmt.Sprintf("%#v", k),
		"options %+v": fmt.Sprintf("%+v", opts), "slog": logs.String(), "json": string(js)} {
		if strings.Contains(s, secret) || !strings.Contains(s, "POLYGON_API_KEY") {
			t.Errorf("%s: %q shows the key or hides the variable", what, s)
		}
	}

	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	o := testOptions(newClock(keyedNow), nil, nil)
	o.Keys = Keys{"POLYGON_API_KEY": secret, "FMP_API_KEY": secret, "FINNHUB_API_KEY": secret}
	o.baseURLs = map[string]string{"polygon": dead.URL, "fmp": dead.URL, "finnhub": dead.URL}
	c := newTestClient(t, o)
	for _, name := range []string{"polygon", "fmp", "finnhub"} {
		p, _ := c.Provider(name)
		_, err := p.Bars(context.Background(), "AAPL", "1d", day2, day4)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%s: transport error %v quotes the key (or no error)", name, err)
		}
	}
}

// TestParseRateLimits covers PROVIDER_RATE_LIMITS: overrides keep the other
// defaults; bad entries are errors naming the provider and the field.
func TestParseRateLimits(t *testing.T) {
	o, err := OptionsFromEnv(envFunc(map[string]string{"PROVIDER_RATE_LIMITS": `{"polygon":{"requests_per_minute":100},"yahoo":{"requests_per_minute":30,"requests_per_second":0.5,"burst_size":2}}`}))
	if err != nil {
		t.Fatal(err)
	}
	if o.RateLimits["polygon"] != (RateLimit{PerMinute: 100}) || o.RateLimits["yahoo"] != (RateLimit{PerMinute: 30, PerSecond: 0.5, Burst: 2}) ||
		o.RateLimits["alpha_vantage"] != (RateLimit{PerMinute: 5}) || o.RateLimits["binance"].PerMinute != 1200 {
		t.Errorf("limits: %+v", o.RateLimits)
	}
	for _, c := range []struct{ in, want string }{
		{`{"nosuch":{"requests_per_minute":1}}`, `PROVIDER_RATE_LIMITS: unknown provider "nosuch"`},
		{`{"fmp":{"requests_per_minute":0}}`, `PROVIDER_RATE_LIMITS: fmp: requests_per_minute 0: must be a number above 0`},
		{`{"fmp":{"requests_per_minute":-3}}`, `fmp: requests_per_minute -3`},
		{`{"fmp":{"requests_per_minute":"ten"}}`, `PROVIDER_RATE_LIMITS: fmp: json: cannot unmarshal string`},
		{`{"fmp":{"rpm":5}}`, `PROVIDER_RATE_LIMITS: fmp: json: unknown field "rpm"`},
		{`{"fmp":{"requests_per_minute":5,"burst_size":-1}}`, `fmp: burst_size -1`},
		{`{"fmp":{"requests_per_minute":5,"requests_per_second":-1}}`, `fmp: requests_per_second -1`},
		{`{"fmp":{}}`, `fmp: requests_per_minute 0`},
		{`[5]`, `PROVIDER_RATE_LIMITS: not a JSON object`},
		{`fmp=5`, `PROVIDER_RATE_LIMITS: not a JSON object`},
	} {
		_, err := OptionsFromEnv(envFunc(map[string]string{"PROVIDER_RATE_LIMITS": c.in}))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.in, err, c.want)
		}
	}
	o = DefaultOptions()
	o.RateLimits = map[string]RateLimit{"nosuch": {PerMinute: 1}}
	if _, err := New(o); err == nil || !strings.Contains(err.Error(), `RateLimits: unknown provider "nosuch"`) {
		t.Errorf("New with an unknown limited provider: %v", err)
	}
}

// TestOptionsFromEnvKeys reads every key variable, and only those.
func TestOptionsFromEnvKeys(t *testing.T) {
	env := map[string]string{"PATH": "/bin"}
	for i, v := range KeyVariables() {
		env[v] = fmt.Sprintf("k%d", i)
	}
	o, err := OptionsFromEnv(envFunc(env))
	if err != nil {
		t.Fatal(err)
	}
	if len(o.Keys) != len(KeyVariables()) || o.Keys["PATH"] != "" || o.Keys["ALPACA_SECRET_KEY"] == "" {
		t.Errorf("keys read: %v, want exactly the %d key variables", o.Keys, len(KeyVariables()))
	}
	o.Logger = slog.New(slog.DiscardHandler)
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range c.ProviderStates() {
		if !st.Configured {
			t.Errorf("%s not configured with every key set", st.Name)
		}
	}
}

// TestAlpacaPages follows next_page_token, paying the rate limit for the
// second page.
func TestAlpacaPages(t *testing.T) {
	var calls []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := r.URL.Query().Get("page_token")
		calls = append(calls, tok)
		if tok == "" {
			fmt.Fprint(w, `{"bars":[{"t":"2024-01-02T14:30:00Z","o":1,"h":2,"l":0.5,"c":1.5,"v":10}],"symbol":"AAPL","next_page_token":"QUFQTHwyMDI0"}`)
			return
		}
		fmt.Fprint(w, `{"bars":[{"t":"2024-01-02T15:30:00Z","o":1.5,"h":2,"l":1,"c":1.8,"v":7}],"symbol":"AAPL","next_page_token":null}`)
	}))
	defer srv.Close()
	o := testOptions(newClock(keyedNow), nil, nil)
	o.Keys = Keys{"ALPACA_API_KEY": "id", "ALPACA_SECRET_KEY": "secret"}
	o.baseURLs = map[string]string{"alpaca": srv.URL}
	c := newTestClient(t, o)
	p, _ := c.Provider("alpaca")
	lim := newLimiter(RateLimit{PerMinute: 60})
	lim.buckets[0].Allow() // the first page's token, as the Client takes it
	ctx := withPace(context.Background(), lim, 10*time.Millisecond)
	_, err := p.Bars(ctx, "AAPL", "1h", day2, day4)
	if !errors.Is(err, ErrRateLimited) || len(calls) != 1 {
		t.Errorf("second page with the budget spent: err %v after %d calls, want ErrRateLimited after 1", err, len(calls))
	}
	calls = nil
	bars, err := p.Bars(context.Background(), "AAPL", "1h", day2, day4)
	if err != nil || len(bars) != 2 || len(calls) != 2 || calls[1] != "QUFQTHwyMDI0" {
		t.Errorf("pages: %d bars, calls %q, err %v; want 2 bars from 2 calls", len(bars), calls, err)
	}
}

// TestFMPIntradayNewYorkTime: FMP stamps intraday bars in New York time,
// newest first.
func TestFMPIntradayNewYorkTime(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/stable/historical-chart/1hour" || r.URL.Query().Get("symbol") != "AAPL" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprint(w, `[{"date":"2024-01-02 10:30:00","open":186.1,"low":185.2,"high":186.5,"close":185.9,"volume":9071234},
{"date":"2024-01-02 09:30:00","open":187.15,"low":185.8,"high":188.44,"close":186.1,"volume":15123456}]`)
	}))
	defer srv.Close()
	o := testOptions(newClock(keyedNow), nil, nil)
	o.Keys = Keys{"FMP_API_KEY": "k"}
	o.baseURLs = map[string]string{"fmp": srv.URL}
	c := newTestClient(t, o)
	p, _ := c.Provider("fmp")
	bars, err := p.Bars(context.Background(), "AAPL", "1h", day2, day4)
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 2 || !bars[0].Time.Equal(time.Date(2024, 1, 2, 14, 30, 0, 0, time.UTC)) || bars[1].Close != 185.9 {
		t.Errorf("bars %+v, want 14:30Z then 15:30Z", bars)
	}
	if _, err := Validate(bars, "1h"); err != nil {
		t.Error(err)
	}
}

// TestCalendarOpen re-stamps providers' daily, weekly and monthly stamps.
func TestCalendarOpen(t *testing.T) {
	for _, c := range []struct {
		tf   Timeframe
		in   string
		want string
	}{
		{"1d", "2024-01-02T05:00:00Z", "2024-01-02T00:00:00Z"}, // New York midnight (Polygon, Alpaca)
		{"1d", "2024-01-02T00:00:00Z", "2024-01-02T00:00:00Z"}, // UTC midnight (crypto, Finnhub)
		{"1d", "2024-07-02T04:00:00Z", "2024-07-02T00:00:00Z"}, // New York midnight in summer time
		{"1w", "2024-01-07T05:00:00Z", "2024-01-08T00:00:00Z"}, // Polygon's Sunday week start
		{"1w", "2024-01-05T00:00:00Z", "2024-01-01T00:00:00Z"}, // week ending Friday (Tiingo, Alpha Vantage)
		{"1M", "2024-01-31T00:00:00Z", "2024-01-01T00:00:00Z"}, // month end
	} {
		in, _ := time.Parse(time.RFC3339, c.in)
		if got := calendarOpen(c.tf, in, newYork).Format(time.RFC3339); got != c.want {
			t.Errorf("%s %s → %s, want %s", c.tf, c.in, got, c.want)
		}
	}
}
