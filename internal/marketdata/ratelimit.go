package marketdata

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a provider's request budget, spelled like the framework's
// PROVIDER_RATE_LIMITS entries: {"requests_per_minute": 5} or
// {"requests_per_minute": 60, "requests_per_second": 1, "burst_size": 1}.
type RateLimit struct {
	// PerMinute is the sustained rate (requests_per_minute); required.
	PerMinute float64 `json:"requests_per_minute"`
	// PerSecond, when set, also caps requests in any second
	// (requests_per_second).
	PerSecond float64 `json:"requests_per_second,omitempty"`
	// Burst is how many requests may go at once before the rate applies
	// (burst_size); 0 means 1, i.e. requests are spaced evenly so that no
	// 60-second window holds more than PerMinute of them.
	Burst int `json:"burst_size,omitempty"`
}

// DefaultRateLimits returns the framework's built-in limits per provider
// (src/data/data_manager.py): binance 1200/min; yahoo 60/min and 1/s without
// burst; alpha_vantage 5/min; fmp 3000/min; tiingo 100/min; polygon 5/min;
// coingecko 50/min; alpaca 200/min; eodhd 100/min; twelvedata 55/min;
// finnhub 60/min. A provider without an entry (csv, or one of Options.Extra)
// is not limited.
func DefaultRateLimits() map[string]RateLimit {
	return map[string]RateLimit{
		"binance":       {PerMinute: 1200},
		"yahoo":         {PerMinute: 60, PerSecond: 1, Burst: 1},
		"alpha_vantage": {PerMinute: 5},
		"fmp":           {PerMinute: 3000},
		"tiingo":        {PerMinute: 100},
		"polygon":       {PerMinute: 5},
		"coingecko":     {PerMinute: 50},
		"alpaca":        {PerMinute: 200},
		"eodhd":         {PerMinute: 100},
		"twelvedata":    {PerMinute: 55},
		"finnhub":       {PerMinute: 60},
	}
}

// maxRatePerMinute bounds a configured rate (a million a minute is far above
// any provider's).
const maxRatePerMinute = 1e6

// ParseRateLimits parses PROVIDER_RATE_LIMITS: a JSON object from provider
// name to RateLimit, e.g. {"polygon":{"requests_per_minute":100}}. Only
// providers named in known are accepted; an entry replaces that provider's
// whole default. Errors name the provider and the field.
func ParseRateLimits(s string, known []string) (map[string]RateLimit, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return nil, fmt.Errorf("not a JSON object of provider limits: %v", err)
	}
	out := make(map[string]RateLimit, len(raw))
	for name, msg := range raw {
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("unknown provider %q (known: %s)", name, strings.Join(known, ", "))
		}
		var l RateLimit
		dec := json.NewDecoder(bytes.NewReader(msg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&l); err != nil {
			return nil, fmt.Errorf("%s: %v (want {\"requests_per_minute\": N[, \"requests_per_second\": N][, \"burst_size\": N]})", name, err)
		}
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = l
	}
	return out, nil
}

// check validates a limit; the error names the JSON field.
func (l RateLimit) check() error {
	bad := func(v float64) bool { return math.IsNaN(v) || v <= 0 || v > maxRatePerMinute }
	switch {
	case bad(l.PerMinute):
		return fmt.Errorf("requests_per_minute %v: must be a number above 0 and at most %g", l.PerMinute, float64(maxRatePerMinute))
	case l.PerSecond != 0 && bad(l.PerSecond):
		return fmt.Errorf("requests_per_second %v: must be a number above 0 and at most %g", l.PerSecond, float64(maxRatePerMinute))
	case l.Burst < 0 || l.Burst > 10000:
		return fmt.Errorf("burst_size %d: must be between 0 and 10000", l.Burst)
	}
	return nil
}

// String renders the limit as "5/min" or "60/min, 1/s, burst 1".
func (l RateLimit) String() string {
	s := fmt.Sprintf("%g/min", l.PerMinute)
	if l.PerSecond > 0 {
		s += fmt.Sprintf(", %g/s", l.PerSecond)
	}
	if l.Burst > 1 {
		s += fmt.Sprintf(", burst %d", l.Burst)
	}
	return s
}

// limiter is one provider's token buckets: the per-minute bucket and, when
// the limit has one, the per-second bucket. A request takes a token from
// each.
type limiter struct {
	buckets []*rate.Limiter
}

func newLimiter(l RateLimit) *limiter {
	burst := max(l.Burst, 1)
	lim := &limiter{buckets: []*rate.Limiter{rate.NewLimiter(rate.Limit(l.PerMinute/60), burst)}}
	if l.PerSecond > 0 {
		lim.buckets = append(lim.buckets, rate.NewLimiter(rate.Limit(l.PerSecond), burst))
	}
	return lim
}

// errThrottled is wrapped by wait when the provider's queue is longer than
// the caller may wait.
var errThrottled = errors.New("request budget used up")

// wait blocks until the provider's budget allows one more request. When the
// turn is further away than maxWait (or past ctx's deadline) it takes
// nothing and returns an error wrapping ErrRateLimited at once, so the
// caller can fail over instead of queueing for ever.
func (l *limiter) wait(ctx context.Context, maxWait time.Duration) error {
	if l == nil {
		return nil
	}
	now := time.Now()
	var delay time.Duration
	rs := make([]*rate.Reservation, 0, len(l.buckets))
	cancel := func() {
		for _, r := range rs {
			r.CancelAt(now)
		}
	}
	for _, b := range l.buckets {
		r := b.ReserveN(now, 1)
		rs = append(rs, r)
		if !r.OK() {
			cancel()
			return fmt.Errorf("%w: %w", ErrRateLimited, errThrottled)
		}
		delay = max(delay, r.DelayFrom(now))
	}
	if dl, ok := ctx.Deadline(); ok && now.Add(delay).After(dl) {
		cancel()
		return fmt.Errorf("%w: %w: next turn in %s, after the request's deadline", ErrRateLimited, errThrottled, delay.Round(time.Millisecond))
	}
	if delay > maxWait {
		cancel()
		return fmt.Errorf("%w: %w: next turn in %s, longer than the %s a request may queue", ErrRateLimited, errThrottled, delay.Round(time.Millisecond), maxWait)
	}
	if err := sleepCtx(ctx, delay); err != nil {
		cancel()
		return err
	}
	return nil
}

// paceKey carries a provider's limiter through an attempt's context, so a
// provider that needs several HTTP requests for one answer (pages) waits
// for each extra one.
type paceKey struct{}

// withPace returns ctx carrying l for pace.
func withPace(ctx context.Context, l *limiter, maxWait time.Duration) context.Context {
	if l == nil {
		return ctx
	}
	return context.WithValue(ctx, paceKey{}, pacer{l, maxWait})
}

type pacer struct {
	l       *limiter
	maxWait time.Duration
}

// pace waits for the provider's budget before an extra page of one answer;
// the first request of an attempt was already paid for by the Client. It
// does nothing when ctx carries no limiter (a provider used on its own).
func pace(ctx context.Context) error {
	p, ok := ctx.Value(paceKey{}).(pacer)
	if !ok {
		return nil
	}
	return p.l.wait(ctx, p.maxWait)
}

// rateLimitNames returns the sorted provider names of m.
func rateLimitNames(m map[string]RateLimit) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
