package marketdata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Provider is one source of OHLCV bars.
//
// Bars returns the bars of symbol (spelled the provider's way, see SymbolMap)
// whose open time t satisfies from <= t <= to, in the order the source sent
// them; the Client validates order and shape. The last bar may still be
// forming. A range without data gives an empty slice and a nil error.
// Implementations must be safe for concurrent use and must honour ctx.
type Provider interface {
	// Name is the provider's name as used in DATA_PROVIDERS and DATA_ROUTES.
	Name() string
	// Bars fetches the bars opening in [from, to].
	Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error)
}

// Sentinel errors returned (wrapped) by providers and the Client; test with
// errors.Is.
var (
	// ErrUnsupportedTimeframe means the provider has no such interval.
	ErrUnsupportedTimeframe = errors.New("timeframe not supported by provider")
	// ErrSymbolNotFound means the provider does not know the symbol.
	ErrSymbolNotFound = errors.New("symbol not found")
	// ErrHistoryLimit means the requested range is older than the provider
	// keeps for that timeframe.
	ErrHistoryLimit = errors.New("range beyond provider's history limit")
	// ErrRateLimited means the provider asked us to slow down (HTTP 429 or
	// 418); see RateLimitError for the wait.
	ErrRateLimited = errors.New("rate limited")
	// ErrNoData means the provider answered without any bar for a range that
	// should have some.
	ErrNoData = errors.New("no bars returned")
	// ErrInvalidData means a fetched series failed validation.
	ErrInvalidData = errors.New("invalid bar data")
	// ErrMalformed means the provider's response could not be decoded.
	ErrMalformed = errors.New("malformed response")
	// ErrBreakerOpen means the provider's circuit breaker is open.
	ErrBreakerOpen = errors.New("circuit breaker open")
	// ErrNoProvider means no provider in the chain could serve the request;
	// the error is a *NoProviderError listing each provider's failure.
	ErrNoProvider = errors.New("no provider could serve the request")
)

// HTTPError is a non-success HTTP answer from a provider. Code and Message
// carry the provider's own error fields when the body had them.
type HTTPError struct {
	Provider string
	Status   int
	Code     string
	Message  string
}

func (e *HTTPError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: HTTP %d", e.Provider, e.Status)
	if e.Code != "" {
		fmt.Fprintf(&b, " code %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	return b.String()
}

// Temporary reports whether retrying the same request may succeed (server
// errors), as opposed to client errors that will fail again.
func (e *HTTPError) Temporary() bool { return e.Status >= 500 || e.Status == 408 }

// RateLimitError is returned when a provider answers 429 (slow down) or 418
// (Binance: IP banned for ignoring 429s). RetryAfter is the wait the provider
// asked for, or a default when it named none. It matches ErrRateLimited.
type RateLimitError struct {
	Provider   string
	Status     int
	RetryAfter time.Duration
	Message    string
}

func (e *RateLimitError) Error() string {
	msg := fmt.Sprintf("%s: rate limited (HTTP %d), retry after %s", e.Provider, e.Status, e.RetryAfter)
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// Is makes errors.Is(err, ErrRateLimited) true.
func (e *RateLimitError) Is(target error) bool { return target == ErrRateLimited }

// ProviderError is one provider's failure within a NoProviderError.
type ProviderError struct {
	Provider string
	Err      error
}

// NoProviderError is returned by Client.Series when every provider in the
// chain failed or was skipped. It matches ErrNoProvider.
type NoProviderError struct {
	Symbol    string
	Timeframe Timeframe
	Attempts  []ProviderError
}

func (e *NoProviderError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "no provider could serve %s %s", e.Symbol, e.Timeframe)
	if len(e.Attempts) == 0 {
		b.WriteString(": provider chain is empty")
	}
	for i, a := range e.Attempts {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", a.Provider, a.Err)
	}
	return b.String()
}

// Is makes errors.Is(err, ErrNoProvider) true.
func (e *NoProviderError) Is(target error) bool { return target == ErrNoProvider }

// Unwrap returns the individual provider errors.
func (e *NoProviderError) Unwrap() []error {
	out := make([]error, len(e.Attempts))
	for i, a := range e.Attempts {
		out[i] = a.Err
	}
	return out
}

// Outcome results reported to Options.OnOutcome and counted by
// Client.Outcomes.
const (
	ResultOK          = "ok"           // bars fetched and valid
	ResultError       = "error"        // transport or server error
	ResultTimeout     = "timeout"      // attempt exceeded DATA_TIMEOUT
	ResultRateLimited = "rate_limited" // provider answered 429/418
	ResultNotFound    = "not_found"    // unknown symbol
	ResultUnsupported = "unsupported"  // timeframe or range the provider cannot serve
	ResultInvalid     = "invalid_data" // response failed decoding or validation
	ResultEmpty       = "empty"        // provider answered with no bars
	ResultBreakerOpen = "breaker_open" // skipped: circuit breaker open
	ResultCooldown    = "cooldown"     // skipped: waiting out a Retry-After
	ResultCacheHit    = "cache_hit"    // served from the cache, no fetch
	// ResultUnauthorized: the provider refused the API key.
	ResultUnauthorized = "unauthorized"
	// ResultThrottled: skipped, the provider's rate limit would make the
	// request wait too long.
	ResultThrottled = "throttled"
	// ResultNotConfigured: skipped, the provider's key variable is not set.
	ResultNotConfigured = "not_configured"
)

// Outcome describes one fetch attempt (or skip, or cache hit) for metrics.
type Outcome struct {
	Provider string
	Result   string // one of the Result* constants
	Duration time.Duration
	Err      error
}
