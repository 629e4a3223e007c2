package marketdata

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// Options configures a Client. Start from DefaultOptions (or OptionsFromEnv)
// and change what you need; New rejects out-of-range values with an error
// naming the field.
type Options struct {
	// Providers is the default failover chain, tried in order
	// (DATA_PROVIDERS).
	Providers []string
	// Routes refine the chain by symbol pattern; the first match wins
	// (DATA_ROUTES).
	Routes []Route
	// SymbolMap translates symbols per provider (DefaultSymbolMap plus
	// DATA_SYMBOL_MAP).
	SymbolMap SymbolMap
	// Timeout bounds each provider attempt (DATA_TIMEOUT).
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt is retried on the same
	// provider before failing over (DATA_MAX_RETRIES); 0 means one attempt.
	MaxRetries int
	// RetryBackoff is the delay before the first retry; it doubles per retry
	// up to MaxRetryBackoff, with jitter of up to half the delay
	// (DATA_RETRY_BACKOFF).
	RetryBackoff time.Duration
	// MaxRetryBackoff caps the retry delay.
	MaxRetryBackoff time.Duration
	// BreakerFailures consecutive failed attempts open a provider's circuit
	// breaker (DATA_BREAKER_FAILURES).
	BreakerFailures int
	// BreakerCooldown is how long an open breaker refuses requests before
	// letting one probe through (DATA_BREAKER_COOLDOWN).
	BreakerCooldown time.Duration
	// CacheEnabled turns the in-memory series cache on (DATA_CACHE_ENABLED).
	CacheEnabled bool
	// CacheTTL is the longest a cached series is served without a refresh;
	// a series is also refreshed as soon as its forming bar closes
	// (DATA_CACHE_TTL).
	CacheTTL time.Duration
	// CacheMaxSeries bounds the number of cached (provider, symbol,
	// timeframe) series; the least recently used is evicted
	// (DATA_CACHE_MAX_SERIES).
	CacheMaxSeries int
	// CacheMaxBars bounds the bars kept per cached series (the newest are
	// kept); requests for more bars bypass the cache (DATA_CACHE_MAX_BARS).
	CacheMaxBars int
	// DefaultLookback is the number of closed bars returned when a Request
	// does not say (DATA_DEFAULT_LOOKBACK).
	DefaultLookback int
	// BarStore, when set, keeps closed bars across restarts behind the
	// cache: fetches ask the provider only for what it lacks (barstore.go).
	BarStore BarStore
	// BinanceBaseURL, YahooBaseURL and CSVDir configure the built-in
	// providers (BINANCE_BASE_URL, YAHOO_BASE_URL, DATA_CSV_DIR). The csv
	// provider exists only when CSVDir is set.
	BinanceBaseURL string
	YahooBaseURL   string
	CSVDir         string
	// HTTPClient is used by the built-in HTTP providers; nil means a client
	// without its own timeout (attempts are bounded by Timeout).
	HTTPClient *http.Client
	// Keys holds the providers' API keys by variable name (FMP_API_KEY,
	// ALPACA_API_KEY, ... see KeyVariables). A provider whose variables
	// are not all set stays unconfigured: naming it in a chain fails with
	// ErrNotConfigured naming the variable. Keys are never logged.
	Keys Keys
	// RateLimits is each provider's request budget, a token bucket shared
	// by every request of the Client (DefaultRateLimits plus
	// PROVIDER_RATE_LIMITS). A provider without an entry is not limited.
	RateLimits map[string]RateLimit
	// Extra registers more providers, or replaces a built-in one of the
	// same Name.
	Extra []Provider
	// Now is the clock; nil means time.Now. Tests inject a fake clock.
	Now func() time.Time
	// Sleep waits between retries; nil means a timer honouring ctx. Tests
	// inject a no-op.
	Sleep func(ctx context.Context, d time.Duration) error
	// OnOutcome, when set, is called for every fetch attempt, skip and
	// cache hit (for metrics). It must be fast and safe for concurrent use.
	OnOutcome func(Outcome)
	// Logger receives failover, breaker and short-series messages; nil means
	// slog.Default().
	Logger *slog.Logger

	// baseURLs replaces keyed providers' hosts, by provider name (tests).
	baseURLs map[string]string
}

// DefaultOptions returns the documented defaults (the same as
// OptionsFromEnv with no variables set).
func DefaultOptions() Options {
	return Options{
		Providers:       []string{"binance", "yahoo"},
		SymbolMap:       DefaultSymbolMap(),
		Timeout:         10 * time.Second,
		MaxRetries:      2,
		RetryBackoff:    500 * time.Millisecond,
		MaxRetryBackoff: 10 * time.Second,
		BreakerFailures: 5,
		BreakerCooldown: 60 * time.Second,
		CacheEnabled:    true,
		CacheTTL:        60 * time.Second,
		CacheMaxSeries:  1000,
		CacheMaxBars:    5000,
		DefaultLookback: 200,
		BinanceBaseURL:  DefaultBinanceBaseURL,
		YahooBaseURL:    DefaultYahooBaseURL,
		RateLimits:      DefaultRateLimits(),
	}
}

// maxRequestBars bounds Request.Bars.
const maxRequestBars = 100000

// liveSkew is how far Request.Now may lag the clock and still count as a
// live request.
const liveSkew = time.Minute

// maxWiden is how many times a short answer makes the Client ask for a
// window four times as long (markets that close need more calendar time
// than bars: 200 hourly bars of a US stock span about six weeks).
const maxWiden = 3

// Request asks for the latest bars of one symbol.
type Request struct {
	// Symbol as the caller spells it (e.g. BTCUSDT, AAPL, ^VIX); SymbolMap
	// translates it per provider.
	Symbol string
	// Timeframe of the bars.
	Timeframe Timeframe
	// Bars is the number of closed bars wanted; 0 means DefaultLookback.
	Bars int
	// Provider, when set, pins the request to that provider alone (no
	// failover), e.g. an alert's options.provider.
	Provider string
	// Now is the moment at which bars are judged closed; zero means the
	// client's clock. A Now more than a minute (or one bar, if shorter) in
	// the past fetches history without the cache and reports no forming
	// bar.
	Now time.Time
}

// Series is the answer to a Request.
type Series struct {
	Symbol         string    // as requested
	ProviderSymbol string    // as sent to the provider (after SymbolMap)
	Timeframe      Timeframe // as requested
	Provider       string    // the provider that served the bars
	// Closed holds up to Request.Bars closed bars, oldest first. It has
	// fewer only when the provider has no older history (or Yahoo's history
	// limit stops it); the shortfall is logged at fetch time.
	Closed []Bar
	// Forming is the bar that has opened but not closed at Now, when the
	// provider sent one; nil otherwise.
	Forming *Bar
	// Gaps lists missing bars inside Closed (normal for markets that close).
	Gaps []Gap
	// Cached is true when no fetch was needed.
	Cached bool
	// FetchedAt is when the data was fetched from the provider.
	FetchedAt time.Time
}

// Client fetches bars through the provider chain with retries, failover,
// circuit breakers, a shared cache and request coalescing. It is safe for
// concurrent use; create one per process.
type Client struct {
	opts      Options
	providers map[string]Provider
	names     []string // sorted provider names
	breakers  map[string]*breaker
	cache     *lru
	sf        singleflight.Group
	log       *slog.Logger

	limiters    map[string]*limiter
	maxRateWait time.Duration

	mu       sync.Mutex
	cooldown map[string]time.Time
	counts   map[[2]string]uint64
}

// New checks opts and builds a Client with the built-in providers (binance,
// yahoo, and csv when CSVDir is set) plus opts.Extra.
func New(opts Options) (*Client, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Sleep == nil {
		opts.Sleep = sleepCtx
	}
	if opts.SymbolMap == nil {
		opts.SymbolMap = SymbolMap{}
	}
	checks := []struct {
		bad  bool
		name string
		val  any
		want string
	}{
		{opts.Timeout <= 0, "Timeout", opts.Timeout, "positive"},
		{opts.MaxRetries < 0 || opts.MaxRetries > 10, "MaxRetries", opts.MaxRetries, "between 0 and 10"},
		{opts.RetryBackoff < 0, "RetryBackoff", opts.RetryBackoff, "zero or positive"},
		{opts.MaxRetryBackoff < opts.RetryBackoff, "MaxRetryBackoff", opts.MaxRetryBackoff, "at least RetryBackoff"},
		{opts.BreakerFailures < 1, "BreakerFailures", opts.BreakerFailures, "at least 1"},
		{opts.BreakerCooldown <= 0, "BreakerCooldown", opts.BreakerCooldown, "positive"},
		{opts.CacheEnabled && opts.CacheTTL <= 0, "CacheTTL", opts.CacheTTL, "positive when the cache is enabled"},
		{opts.CacheEnabled && opts.CacheMaxSeries < 1, "CacheMaxSeries", opts.CacheMaxSeries, "at least 1 when the cache is enabled"},
		{opts.CacheEnabled && opts.CacheMaxBars < 1, "CacheMaxBars", opts.CacheMaxBars, "at least 1 when the cache is enabled"},
		{opts.DefaultLookback < 1 || opts.DefaultLookback > maxRequestBars, "DefaultLookback", opts.DefaultLookback, fmt.Sprintf("between 1 and %d", maxRequestBars)},
		{len(opts.Providers) == 0, "Providers", opts.Providers, "at least one provider"},
	}
	for _, c := range checks {
		if c.bad {
			return nil, fmt.Errorf("marketdata options: %s = %v: must be %s", c.name, c.val, c.want)
		}
	}
	c := &Client{
		opts:      opts,
		providers: map[string]Provider{},
		breakers:  map[string]*breaker{},
		log:       opts.Logger,
		cooldown:  map[string]time.Time{},
		counts:    map[[2]string]uint64{},
		limiters:  map[string]*limiter{},

		maxRateWait: maxRateWait,
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	y := NewYahoo(opts.YahooBaseURL, opts.HTTPClient)
	y.Now = opts.Now
	c.providers["binance"] = NewBinance(opts.BinanceBaseURL, opts.HTTPClient)
	c.providers["yahoo"] = y
	if opts.CSVDir != "" {
		c.providers["csv"] = NewCSV(opts.CSVDir)
	}
	c.addKeyed()
	for _, p := range opts.Extra {
		if p == nil || p.Name() == "" {
			return nil, errors.New("marketdata options: Extra holds a nil provider or one without a name")
		}
		c.providers[p.Name()] = p
	}
	for name := range c.providers {
		c.names = append(c.names, name)
		c.breakers[name] = &breaker{threshold: opts.BreakerFailures, cooldown: opts.BreakerCooldown, now: opts.Now}
	}
	sort.Strings(c.names)
	if err := c.checkNames("Providers", opts.Providers); err != nil {
		return nil, err
	}
	for _, r := range opts.Routes {
		if len(r.Providers) == 0 {
			return nil, fmt.Errorf("marketdata options: Routes: pattern %q has no providers", r.Pattern)
		}
		if err := c.checkNames(fmt.Sprintf("Routes[%s]", r.Pattern), r.Providers); err != nil {
			return nil, err
		}
	}
	if err := c.checkConfigured(); err != nil {
		return nil, err
	}
	if err := c.addLimiters(); err != nil {
		return nil, err
	}
	if opts.CacheEnabled {
		c.cache = newLRU(opts.CacheMaxSeries)
	}
	return c, nil
}

func (c *Client) checkNames(field string, names []string) error {
	for _, n := range names {
		if _, ok := c.providers[n]; !ok {
			hint := ""
			if n == "csv" {
				hint = " (the csv provider needs CSVDir / DATA_CSV_DIR)"
			}
			return fmt.Errorf("marketdata options: %s: unknown provider %q (known: %s)%s", field, n, strings.Join(c.names, ", "), hint)
		}
	}
	return nil
}

// Chain returns the providers tried for symbol, in order.
func (c *Client) Chain(symbol string) []string {
	return append([]string(nil), chainFor(c.opts.Routes, c.opts.Providers, symbol)...)
}

// ProviderSymbol returns provider's spelling of symbol.
func (c *Client) ProviderSymbol(provider, symbol string) string {
	return c.opts.SymbolMap.Lookup(provider, symbol)
}

// Provider returns the provider registered under name.
func (c *Client) Provider(name string) (Provider, bool) {
	p, ok := c.providers[name]
	return p, ok
}

// Breakers returns each configured provider's circuit breaker state:
// BreakerClosed, BreakerOpen (also while waiting out a rate limit's retry
// hint) or BreakerHalfOpen.
func (c *Client) Breakers() map[string]string {
	out := make(map[string]string, len(c.breakers))
	for name, b := range c.breakers {
		if _, ok := c.providers[name].(unconfigured); ok {
			continue // see ProviderStates
		}
		out[name] = b.state()
		if c.cooling(name) {
			out[name] = BreakerOpen // waiting out the provider's retry hint
		}
	}
	return out
}

// Outcomes returns how many times each (provider, result) occurred; results
// are the Result* constants.
func (c *Client) Outcomes() map[string]map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]map[string]uint64{}
	for k, n := range c.counts {
		if out[k[0]] == nil {
			out[k[0]] = map[string]uint64{}
		}
		out[k[0]][k[1]] = n
	}
	return out
}

// CacheStats returns the number of cached series and the bars they hold.
func (c *Client) CacheStats() (series, bars int) {
	if c.cache == nil {
		return 0, 0
	}
	return c.cache.stats()
}

func (c *Client) report(o Outcome) {
	c.mu.Lock()
	c.counts[[2]string{o.Provider, o.Result}]++
	c.mu.Unlock()
	if c.opts.OnOutcome != nil {
		c.opts.OnOutcome(o)
	}
}

// Series returns the latest req.Bars closed bars of req.Symbol and the
// forming bar, from the first provider in the chain that can serve them.
// When every provider fails the error is a *NoProviderError (errors.Is
// ErrNoProvider) listing why each one failed.
func (c *Client) Series(ctx context.Context, req Request) (Series, error) {
	if err := CheckSymbol(req.Symbol); err != nil {
		return Series{}, fmt.Errorf("market data: %w", err)
	}
	tf, err := ParseTimeframe(string(req.Timeframe))
	if err != nil {
		return Series{}, fmt.Errorf("market data %s: %w", req.Symbol, err)
	}
	n := req.Bars
	switch {
	case n == 0:
		n = c.opts.DefaultLookback
	case n < 0 || n > maxRequestBars:
		return Series{}, fmt.Errorf("market data %s %s: bars %d must be between 1 and %d", req.Symbol, tf, n, maxRequestBars)
	}
	chain := c.Chain(req.Symbol)
	if req.Provider != "" {
		if _, ok := c.providers[req.Provider]; !ok {
			return Series{}, fmt.Errorf("market data %s %s: unknown provider %q (known: %s)", req.Symbol, tf, req.Provider, strings.Join(c.names, ", "))
		}
		chain = []string{req.Provider}
	}
	clock := c.opts.Now()
	now := req.Now
	if now.IsZero() {
		now = clock
	}
	// Requests for "now" (allowing a little skew between a scheduled fire
	// time and the clock) use the cache; older ones fetch history.
	live := !now.Before(clock.Add(-min(liveSkew, tf.Duration())))
	var attempts []ProviderError
	for i, name := range chain {
		s, err := c.fromProvider(ctx, name, req.Symbol, tf, n, now, live)
		if err == nil {
			s.Symbol, s.Timeframe = req.Symbol, tf
			return s, nil
		}
		if ctx.Err() != nil {
			return Series{}, fmt.Errorf("market data %s %s: %w", req.Symbol, tf, ctx.Err())
		}
		attempts = append(attempts, ProviderError{Provider: name, Err: err})
		if i+1 < len(chain) {
			c.log.Warn("market data provider failed, trying next", "symbol", req.Symbol, "timeframe", string(tf), "provider", name, "next", chain[i+1], "error", err)
		}
	}
	return Series{}, &NoProviderError{Symbol: req.Symbol, Timeframe: tf, Attempts: attempts}
}

// fromProvider serves a request from one provider, through the cache and
// singleflight.
func (c *Client) fromProvider(ctx context.Context, name, symbol string, tf Timeframe, n int, now time.Time, live bool) (Series, error) {
	p := c.providers[name]
	if u, ok := p.(unconfigured); ok {
		c.report(Outcome{Provider: name, Result: ResultNotConfigured, Err: u.err()})
		return Series{}, u.err()
	}
	psym := c.opts.SymbolMap.Lookup(name, symbol)
	key := cacheKey{provider: name, symbol: psym, tf: tf}
	cached := live && c.cache != nil && n <= c.opts.CacheMaxBars
	if cached {
		if e := c.cache.get(key); e != nil && c.fresh(e, n, now) {
			c.report(Outcome{Provider: name, Result: ResultCacheHit})
			return c.build(e, name, psym, tf, n, now, live, true), nil
		}
	}
	if err := c.skip(name); err != nil {
		return Series{}, err
	}
	sfKey := fmt.Sprintf("%s|%s|%s|%d", name, psym, tf, now.Unix())
	if cached {
		sfKey = fmt.Sprintf("%s|%s|%s|live|%d", name, psym, tf, tf.Open(now).Unix())
	} else {
		sfKey += "|" + strconv.Itoa(n)
	}
	fctx := context.WithoutCancel(ctx)
	for round := 0; ; round++ {
		ch := c.sf.DoChan(sfKey, func() (any, error) {
			return c.load(fctx, p, key, n, now, cached)
		})
		var r singleflight.Result
		select {
		case r = <-ch:
		case <-ctx.Done():
			return Series{}, ctx.Err()
		}
		if r.Err != nil {
			return Series{}, r.Err
		}
		e := r.Val.(*entry)
		// A caller that joined a flight started for fewer bars asks again.
		if c.enough(e, n, now) || round == 2 {
			return c.build(e, name, psym, tf, n, now, live, false), nil
		}
	}
}

// skip returns an error when the provider must not be called now: its
// breaker is open or it asked us to wait (Retry-After).
func (c *Client) skip(name string) error {
	c.mu.Lock()
	until, cooling := c.cooldown[name]
	c.mu.Unlock()
	if cooling && c.opts.Now().Before(until) {
		c.report(Outcome{Provider: name, Result: ResultCooldown})
		return fmt.Errorf("%s: %w: waiting until %s as the provider asked", name, ErrRateLimited, until.UTC().Format(time.RFC3339))
	}
	if c.breakers[name].state() == BreakerOpen {
		c.report(Outcome{Provider: name, Result: ResultBreakerOpen})
		return fmt.Errorf("%s: %w after repeated failures", name, ErrBreakerOpen)
	}
	return nil
}

// enough reports whether e holds n bars closed at now, or as many as the
// provider has.
func (c *Client) enough(e *entry, n int, now time.Time) bool {
	if e.short >= n {
		return true
	}
	closed, _ := e.tf.Split(e.bars, now)
	return len(closed) >= n
}

// fresh reports whether e may be served at now without a fetch.
func (c *Client) fresh(e *entry, n int, now time.Time) bool {
	return now.Before(e.validTill) && c.enough(e, n, now)
}

// build turns an entry into the caller's own Series.
func (c *Client) build(e *entry, provider, psym string, tf Timeframe, n int, now time.Time, live, cached bool) Series {
	closed, forming := tf.Split(e.bars, now)
	if len(closed) > n {
		closed = closed[len(closed)-n:]
	}
	s := Series{
		ProviderSymbol: psym,
		Provider:       provider,
		Closed:         append([]Bar(nil), closed...),
		Cached:         cached,
		FetchedAt:      e.fetchedAt,
	}
	if len(closed) > 0 {
		first, last := closed[0].Time, closed[len(closed)-1].Time
		for _, g := range e.gaps {
			if g.To.After(first) && !g.To.After(last) {
				s.Gaps = append(s.Gaps, g)
			}
		}
	}
	if live {
		s.Forming = forming
	}
	return s
}

// gapsOf lists the gaps of an already validated series.
func gapsOf(bars []Bar, tf Timeframe) []Gap {
	var gaps []Gap
	if !tf.calendar() {
		d := tf.Duration()
		for i := 1; i < len(bars); i++ {
			if diff := bars[i].Time.Sub(bars[i-1].Time); diff > d {
				gaps = append(gaps, Gap{From: bars[i-1].Time.Add(d), To: bars[i].Time, Missing: int(diff/d) - 1})
			}
		}
		return gaps
	}
	for i := 1; i < len(bars); i++ {
		if want := tf.Next(bars[i-1].Time); bars[i].Time.After(want) {
			gaps = append(gaps, Gap{From: want, To: bars[i].Time, Missing: countBars(tf, want, bars[i].Time)})
		}
	}
	return gaps
}

// load fetches (or incrementally refreshes) a series and, when useCache,
// stores it. It runs once per singleflight key.
func (c *Client) load(ctx context.Context, p Provider, key cacheKey, n int, now time.Time, useCache bool) (*entry, error) {
	var old *entry
	if useCache {
		old = c.cache.get(key)
		if old != nil && c.fresh(old, n, now) {
			return old, nil // refreshed by a flight that just ended
		}
	}
	tf := key.tf
	if old != nil && len(old.bars) > 0 {
		last := old.bars[len(old.bars)-1].Time
		kept := len(old.bars) - 1
		if (kept >= n || old.short >= n) && now.After(last) && countBars(tf, last, tf.Open(now)) <= n {
			fetched, err := c.fetchRange(ctx, p, key.symbol, tf, last, now, true)
			if err != nil {
				return nil, err
			}
			merged := make([]Bar, 0, kept+len(fetched))
			merged = append(merged, old.bars[:kept]...)
			if len(fetched) == 0 {
				merged = append(merged, old.bars[kept])
			}
			merged = append(merged, fetched...)
			if _, err := Validate(merged, tf); err != nil {
				c.log.Warn("market data: refreshed bars do not join the cached ones, fetching the whole series", "provider", key.provider, "symbol", key.symbol, "timeframe", string(tf), "error", err)
			} else {
				if len(merged) > c.opts.CacheMaxBars {
					merged = merged[len(merged)-c.opts.CacheMaxBars:]
				}
				e := c.newEntry(merged, tf, now, old.short)
				c.cache.put(key, e)
				return e, nil
			}
		}
	}
	bars, short, err := c.fetchDepth(ctx, p, key.symbol, tf, n, now)
	if err != nil {
		return nil, err
	}
	if useCache && len(bars) > c.opts.CacheMaxBars {
		bars = bars[len(bars)-c.opts.CacheMaxBars:]
	}
	e := c.newEntry(bars, tf, now, short)
	if useCache {
		c.cache.put(key, e)
	}
	return e, nil
}

// newEntry builds an entry fetched at now. It stays valid for CacheTTL but
// never past the close of its forming bar (or, without one, the next bar
// boundary), so a closed bar is never served with forming-bar values.
func (c *Client) newEntry(bars []Bar, tf Timeframe, now time.Time, short int) *entry {
	if cap(bars) > len(bars)+len(bars)/8 {
		bars = append(make([]Bar, 0, len(bars)), bars...) // drop append slack
	}
	e := &entry{bars: bars, tf: tf, fetchedAt: c.opts.Now(), short: short, gaps: gapsOf(bars, tf)}
	boundary := tf.Next(tf.Open(now))
	if _, forming := tf.Split(bars, now); forming != nil {
		boundary = tf.Next(forming.Time)
	}
	e.validTill = now.Add(c.opts.CacheTTL)
	if boundary.Before(e.validTill) {
		e.validTill = boundary
	}
	return e
}

// fetchDepth fetches enough history for n closed bars at now, widening the
// window when the market's closed hours leave it short. short is n when the
// provider had fewer than n bars (0 otherwise).
func (c *Client) fetchDepth(ctx context.Context, p Provider, symbol string, tf Timeframe, n int, now time.Time) (bars []Bar, short int, err error) {
	span := n
	var prev []Bar
	to := now
	for widen := 0; ; widen++ {
		from := tf.Add(tf.Open(now), -span)
		// A wider window asks only for what lies before the last one.
		got, err := c.fetchRange(ctx, p, symbol, tf, from, to, len(prev) > 0)
		got = append(got, prev...)
		to = from.Add(-time.Millisecond)
		if err != nil {
			if widen > 0 && errors.Is(err, ErrHistoryLimit) {
				got = prev
			} else {
				return nil, 0, err
			}
		}
		closed, _ := tf.Split(got, now)
		if len(closed) >= n {
			return got, 0, nil
		}
		if widen == maxWiden || (err != nil && widen > 0) {
			if len(got) == 0 {
				return nil, 0, fmt.Errorf("%s %s %s: %w between %s and %s", p.Name(), symbol, tf, ErrNoData, from.Format(time.RFC3339), now.UTC().Format(time.RFC3339))
			}
			c.log.Warn("market data: provider has fewer bars than requested", "provider", p.Name(), "symbol", symbol, "timeframe", string(tf), "wanted", n, "got", len(closed), "reason", errString(err))
			return got, n, nil
		}
		prev = got
		span *= 4
	}
}

func errString(err error) string {
	if err == nil {
		return "no older history"
	}
	return err.Error()
}

// fetch calls the provider for [from, to] with per-attempt timeout, retries
// with backoff, breaker bookkeeping, outcome reporting and validation.
// allowEmpty is set for incremental refreshes, where no new bar is normal.
func (c *Client) fetch(ctx context.Context, p Provider, symbol string, tf Timeframe, from, to time.Time, allowEmpty bool) ([]Bar, error) {
	name := p.Name()
	br := c.breakers[name]
	var err error
	for attempt := 0; attempt <= c.opts.MaxRetries; attempt++ {
		if attempt > 0 {
			if serr := c.opts.Sleep(ctx, c.backoff(attempt)); serr != nil {
				return nil, fmt.Errorf("%s: waiting to retry: %w (last error: %v)", name, serr, err)
			}
		}
		if err := c.skip(name); err != nil {
			return nil, err
		}
		if !br.allow() {
			c.report(Outcome{Provider: name, Result: ResultBreakerOpen})
			return nil, fmt.Errorf("%s: %w after repeated failures", name, ErrBreakerOpen)
		}
		if werr := c.limiters[name].wait(ctx, c.maxRateWait); werr != nil {
			br.release()
			c.report(Outcome{Provider: name, Result: ResultThrottled, Err: werr})
			return nil, fmt.Errorf("%s: %w", name, werr)
		}
		start := time.Now()
		actx, cancel := context.WithTimeout(withPace(ctx, c.limiters[name], c.maxRateWait), c.opts.Timeout)
		var bars []Bar
		bars, err = p.Bars(actx, symbol, tf, from, to)
		timedOut := errors.Is(actx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
		cancel()
		if err == nil {
			if _, verr := Validate(bars, tf); verr != nil {
				err = fmt.Errorf("%s %s %s: %w", name, symbol, tf, verr)
			}
		}
		if err != nil && timedOut {
			err = fmt.Errorf("%s %s %s: attempt timed out after %s: %w", name, symbol, tf, c.opts.Timeout, err)
		}
		result, health, retry := classify(err, timedOut, ctx)
		if result == ResultOK && len(bars) == 0 && !allowEmpty {
			result = ResultEmpty
		}
		switch health {
		case healthUp:
			br.success()
		case healthDown:
			if br.failure() {
				c.log.Warn("market data: circuit breaker opened", "provider", name, "cooldown", c.opts.BreakerCooldown, "error", err)
			}
		default:
			br.release()
		}
		c.report(Outcome{Provider: name, Result: result, Duration: time.Since(start), Err: err})
		if err == nil {
			return bars, nil
		}
		var rl *RateLimitError
		if errors.As(err, &rl) {
			c.mu.Lock()
			c.cooldown[name] = c.opts.Now().Add(rl.RetryAfter)
			c.mu.Unlock()
		}
		if !retry {
			return nil, err
		}
	}
	return nil, err
}

// health effects of an attempt on the breaker.
const (
	healthNone = iota // says nothing about the provider
	healthUp          // the provider answered sensibly
	healthDown        // the provider failed
)

// classify maps an attempt's error to an outcome result, its breaker effect
// and whether a retry may help.
func classify(err error, timedOut bool, ctx context.Context) (result string, health int, retry bool) {
	var herr *HTTPError
	switch {
	case err == nil:
		return ResultOK, healthUp, false
	case timedOut:
		return ResultTimeout, healthDown, true
	case ctx.Err() != nil:
		return ResultError, healthNone, false
	case errors.Is(err, ErrRateLimited):
		return ResultRateLimited, healthNone, false
	case errors.Is(err, ErrUnsupportedTimeframe), errors.Is(err, ErrHistoryLimit):
		return ResultUnsupported, healthNone, false
	case errors.Is(err, ErrSymbolNotFound):
		return ResultNotFound, healthUp, false
	case errors.Is(err, ErrUnauthorized):
		return ResultUnauthorized, healthDown, false
	case errors.Is(err, ErrInvalidData):
		return ResultInvalid, healthDown, false
	case errors.Is(err, ErrMalformed):
		return ResultInvalid, healthDown, true
	case errors.As(err, &herr):
		if herr.Temporary() {
			return ResultError, healthDown, true
		}
		return ResultError, healthUp, false
	default:
		return ResultError, healthDown, true
	}
}

// backoff returns the delay before retry number attempt (1-based):
// RetryBackoff doubled per retry, capped, with up to 50% jitter removed.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.RetryBackoff
	for i := 1; i < attempt && d < c.opts.MaxRetryBackoff; i++ {
		d *= 2
	}
	d = min(d, c.opts.MaxRetryBackoff)
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + time.Duration(rand.Int64N(int64(half)+1))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
