package marketdata

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
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

// key is the provider's key (the first of keyVars).
func (c providerConfig) key() string { return c.keys[0] }

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
