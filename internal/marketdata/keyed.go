package marketdata

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // bars of US stocks are stamped in New York time; do not depend on the host's zoneinfo

	"github.com/atf/scheduler/internal/redact"
)

// ErrUnauthorized means the provider refused the API key: missing, invalid,
// or not entitled to the data asked for (a paid plan's endpoint).
var ErrUnauthorized = errors.New("API key refused")

// ErrNotConfigured means a provider that needs an API key has none: its key
// variable is not set.
var ErrNotConfigured = errors.New("provider not configured")

// keyedProvider describes a built-in provider that needs (or may use) an
// API key from the environment.
type keyedProvider struct {
	name    string
	keyVars []string // all must be set; empty: works without a key
	baseURL string   // the provider's public API host
	build   func(c providerConfig) Provider
}

// providerConfig is what a keyed provider is built from.
type providerConfig struct {
	baseURL string
	keys    []string // values of keyVars, same order
	http    *http.Client
	now     func() time.Time
}

// keyedProviders are the built-in providers beyond binance, yahoo and csv,
// with the variables holding their keys (the framework's names).
var keyedProviders = []keyedProvider{
	{"fmp", []string{"FMP_API_KEY"}, DefaultFMPBaseURL, newFMP},
	{"alpaca", []string{"ALPACA_API_KEY", "ALPACA_SECRET_KEY"}, DefaultAlpacaBaseURL, newAlpaca},
	{"polygon", []string{"POLYGON_API_KEY"}, DefaultPolygonBaseURL, newPolygon},
	{"tiingo", []string{"TIINGO_API_KEY"}, DefaultTiingoBaseURL, newTiingo},
	{"alpha_vantage", []string{"ALPHA_VANTAGE_API_KEY"}, DefaultAlphaVantageBaseURL, newAlphaVantage},
	{"twelvedata", []string{"TWELVE_DATA_API_KEY"}, DefaultTwelveDataBaseURL, newTwelveData},
	{"finnhub", []string{"FINNHUB_API_KEY"}, DefaultFinnhubBaseURL, newFinnhub},
	{"eodhd", []string{"EODHD_API_KEY"}, DefaultEODHDBaseURL, newEODHD},
	{"coingecko", nil, DefaultCoinGeckoBaseURL, newCoinGecko},
}

// KeyVariables returns every environment variable that holds a provider
// key, for OptionsFromEnv and for redaction.
func KeyVariables() []string {
	var out []string
	for _, k := range keyedProviders {
		out = append(out, k.keyVars...)
	}
	return out
}

// ProviderState says whether a provider can be used and under which limit;
// see Client.ProviderStates.
type ProviderState struct {
	// Name as used in DATA_PROVIDERS and DATA_ROUTES.
	Name string `json:"name"`
	// Configured is true when the provider can be called (its keys are
	// set, or it needs none).
	Configured bool `json:"configured"`
	// KeyVariables lists the variables the provider's key is read from
	// (empty for key-less providers); never their values.
	KeyVariables []string `json:"key_variables,omitempty"`
	// Missing lists the unset variables of an unconfigured provider.
	Missing []string `json:"missing,omitempty"`
	// RateLimit is the provider's request budget ("" when unlimited).
	RateLimit string `json:"rate_limit,omitempty"`
	// Breaker is the circuit breaker's state (BreakerClosed, ...).
	Breaker string `json:"breaker,omitempty"`
}

// missing returns the key variables of k that keys (variable → value)
// lacks.
func (k keyedProvider) missing(keys map[string]string) []string {
	var out []string
	for _, v := range k.keyVars {
		if strings.TrimSpace(keys[v]) == "" {
			out = append(out, v)
		}
	}
	return out
}

// unconfigured stands in for a keyed provider whose key is not set, so that
// naming it in a chain fails with a message naming the variable.
type unconfigured struct {
	name    string
	missing []string
}

func (u unconfigured) Name() string { return u.name }

func (u unconfigured) Bars(context.Context, string, Timeframe, time.Time, time.Time) ([]Bar, error) {
	return nil, u.err()
}

func (u unconfigured) err() error {
	return fmt.Errorf("%s: %w: set %s", u.name, ErrNotConfigured, strings.Join(u.missing, " and "))
}

// apiGet sends a GET for a keyed provider and returns the response (closed)
// and its body, with every secret it quotes redacted. Transport errors are
// returned with every secret and the URL's path and query redacted,
// because Go's errors quote the URL and some providers take the key in the
// query.
func apiGet(ctx context.Context, hc *http.Client, rawURL string, header http.Header, secrets []string) (*http.Response, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, nil, errors.New(redactSecrets("building request: "+err.Error(), secrets))
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Accept", "application/json")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, errors.New(redactSecrets(err.Error(), secrets))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading body: %s", redactSecrets(err.Error(), secrets))
	}
	// Some answers quote the key ("We have detected your API key as
	// ..."); error messages are built from the body.
	for _, sec := range secrets {
		if len(sec) >= minEchoedSecret {
			body = bytes.ReplaceAll(body, []byte(sec), []byte(redact.Marker))
		}
	}
	return resp, body, nil
}

// minEchoedSecret is the shortest key searched for in answers (shorter
// strings could match ordinary data).
const minEchoedSecret = 6

// redactSecrets replaces each secret in s with redact.Marker and redacts
// URLs' paths and queries.
func redactSecrets(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, redact.Marker)
		}
	}
	return redact.Text(s)
}

// Default waits when a rate-limited answer names none.
const (
	minuteRetry = time.Minute
)

// retryHint returns the wait a rate-limited answer asks for: the
// Retry-After header (seconds or a date), else an X-Ratelimit-Reset /
// X-RateLimit-Reset header (Unix seconds), else def.
func retryHint(h http.Header, now time.Time, def time.Duration) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		return retryAfter(v)
	}
	if v := strings.TrimSpace(h.Get("X-Ratelimit-Reset")); v != "" {
		if sec, err := strconv.ParseInt(v, 10, 64); err == nil {
			if d := time.Unix(sec, 0).Sub(now); d > 0 && d < 48*time.Hour {
				return d.Round(time.Second) + time.Second
			}
			return time.Second
		}
	}
	return def
}

// untilNext returns the time from now to the next boundary of unit (a
// minute, an hour or a UTC day), at least one second.
func untilNext(now time.Time, unit time.Duration) time.Duration {
	now = now.UTC()
	next := now.Truncate(unit).Add(unit)
	return max(next.Sub(now), time.Second)
}

// rateLimited builds the RateLimitError of a provider.
func rateLimited(provider string, status int, wait time.Duration, msg string) error {
	return &RateLimitError{Provider: provider, Status: status, RetryAfter: wait, Message: msg}
}

// httpStatusError maps the statuses every keyed provider shares: 401/403 →
// ErrUnauthorized, 404 → ErrSymbolNotFound, others → *HTTPError.
func httpStatusError(provider string, status int, msg string) error {
	herr := &HTTPError{Provider: provider, Status: status, Message: msg}
	switch status {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusPaymentRequired:
		return fmt.Errorf("%w: %w", ErrUnauthorized, herr)
	case http.StatusNotFound:
		return fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
	}
	return herr
}

// timeframeList renders supported timeframes for error messages.
func timeframeList[V any](m map[Timeframe]V) string {
	var out []string
	for _, tf := range KnownTimeframes {
		if _, ok := m[tf]; ok {
			out = append(out, string(tf))
		}
	}
	return strings.Join(out, " ")
}

// unsupported is the error for a timeframe a provider lacks.
func unsupported[V any](provider, symbol string, tf Timeframe, m map[Timeframe]V) error {
	return fmt.Errorf("%s %s %s: %w (%s has %s)", provider, symbol, tf, ErrUnsupportedTimeframe, provider, timeframeList(m))
}

// inRange keeps the bars opening in [from, to], sorted by time, dropping
// duplicates (providers that answer newest first are reversed).
func inRange(bars []Bar, from, to time.Time) []Bar {
	sort.SliceStable(bars, func(i, j int) bool { return bars[i].Time.Before(bars[j].Time) })
	out := bars[:0]
	for _, b := range bars {
		if b.Time.Before(from) || b.Time.After(to) {
			continue
		}
		if n := len(out); n > 0 && out[n-1].Time.Equal(b.Time) {
			continue
		}
		out = append(out, b)
	}
	return out
}

// newYork is the time zone of US exchanges, in which several providers
// stamp their bars.
var newYork = func() *time.Location {
	loc, err := time.LoadLocation("America/New_York")
	if err != nil {
		panic("marketdata: no America/New_York zone: " + err.Error()) // time/tzdata is embedded; cannot happen
	}
	return loc
}()

// calendarOpen re-stamps a daily, weekly or monthly bar stamped t to
// Timeframe.Open of its trading date: t's date in UTC when t is a UTC
// midnight (crypto, most APIs), else its date in loc (a US stock's day
// stamped at New York midnight or session open). A weekly bar stamped on a
// Sunday (Polygon's week start) belongs to the following Monday's week.
func calendarOpen(tf Timeframe, t time.Time, loc *time.Location) time.Time {
	u := t.UTC()
	d := time.Date(u.Year(), u.Month(), u.Day(), 0, 0, 0, 0, time.UTC)
	if !u.Equal(d) {
		lt := t.In(loc)
		d = time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC)
	}
	if tf == "1w" && d.Weekday() == time.Sunday {
		d = d.AddDate(0, 0, 1)
	}
	return tf.Open(d)
}

// parseLocal parses a provider's "2006-01-02 15:04:05" or "2006-01-02"
// time in loc and returns it in UTC.
func parseLocal(s string, loc *time.Location) (time.Time, error) {
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("time %q is not YYYY-MM-DD[ HH:MM[:SS]]", s)
}

// ProviderHelp describes every built-in provider for help texts: its name,
// the variables that configure it and its default rate limit, one per line.
func ProviderHelp() string {
	limits := DefaultRateLimits()
	var b strings.Builder
	row := func(name, vars string) {
		lim := "unlimited"
		if l, ok := limits[name]; ok {
			lim = l.String()
		}
		fmt.Fprintf(&b, "  %-14s %-38s %s\n", name, vars, lim)
	}
	row("binance", "(no key)")
	row("yahoo", "(no key)")
	row("csv", "DATA_CSV_DIR")
	for _, k := range keyedProviders {
		vars := strings.Join(k.keyVars, " + ")
		if vars == "" {
			vars = "(no key)"
		}
		row(k.name, vars)
	}
	return b.String()
}
