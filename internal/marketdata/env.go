package marketdata

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// builtinProviders are the provider names OptionsFromEnv accepts: binance,
// yahoo, csv and the keyed providers.
var builtinProviders = func() []string {
	out := []string{"binance", "yahoo", "csv"}
	for _, k := range keyedProviders {
		out = append(out, k.name)
	}
	return out
}()

// OptionsFromEnv reads the market-data environment variables through getenv
// (os.Getenv in production), starting from DefaultOptions:
//
//	DATA_PROVIDERS         default failover chain            binance,yahoo
//	DATA_ROUTES            pattern=chain;...                  (none)
//	DATA_SYMBOL_MAP        provider:FROM=TO,...;...           (built-in crypto map only)
//	DATA_TIMEOUT           seconds per provider attempt       10
//	DATA_MAX_RETRIES       retries per provider               2
//	DATA_RETRY_BACKOFF     seconds before the first retry     0.5
//	DATA_BREAKER_FAILURES  consecutive failures to open       5
//	DATA_BREAKER_COOLDOWN  seconds open before a probe        60
//	DATA_CACHE_ENABLED     true/false                         true
//	DATA_CACHE_TTL         seconds                            60
//	DATA_CACHE_MAX_SERIES  cached series (LRU)                1000
//	DATA_CACHE_MAX_BARS    bars kept per cached series        5000
//	DATA_DEFAULT_LOOKBACK  closed bars when unspecified       200
//	BINANCE_BASE_URL       Binance API base URL               https://data-api.binance.vision
//	YAHOO_BASE_URL         Yahoo chart API base URL           https://query1.finance.yahoo.com
//	DATA_CSV_DIR           directory of SYMBOL_TIMEFRAME.csv  (none: no csv provider)
//	PROVIDER_RATE_LIMITS   JSON {"provider":{"requests_per_minute":N,...}}  (DefaultRateLimits)
//	FMP_API_KEY, ALPACA_API_KEY + ALPACA_SECRET_KEY, POLYGON_API_KEY, TIINGO_API_KEY,
//	ALPHA_VANTAGE_API_KEY, TWELVE_DATA_API_KEY, FINNHUB_API_KEY, EODHD_API_KEY
//	                       provider keys; a provider is configured when its keys are set
//
// Durations are seconds (decimals allowed) or Go durations such as "1m30s".
// An unset or empty variable keeps its default; a malformed one is an error
// naming the variable and the value, e.g.
// `DATA_TIMEOUT: "abc" is not a number of seconds`.
func OptionsFromEnv(getenv func(string) string) (Options, error) {
	o := DefaultOptions()
	get := func(k string) string { return strings.TrimSpace(getenv(k)) }
	var err error
	if v := get("DATA_PROVIDERS"); v != "" {
		if o.Providers, err = parseProviderList(v); err != nil {
			return o, fmt.Errorf("DATA_PROVIDERS: %w", err)
		}
	}
	if o.Routes, err = ParseRoutes(get("DATA_ROUTES")); err != nil {
		return o, fmt.Errorf("DATA_ROUTES: %w", err)
	}
	extra, err := ParseSymbolMap(get("DATA_SYMBOL_MAP"))
	if err != nil {
		return o, fmt.Errorf("DATA_SYMBOL_MAP: %w", err)
	}
	o.SymbolMap = o.SymbolMap.Merge(extra)
	durs := []struct {
		key string
		dst *time.Duration
		min time.Duration
	}{
		{"DATA_TIMEOUT", &o.Timeout, time.Millisecond},
		{"DATA_RETRY_BACKOFF", &o.RetryBackoff, 0},
		{"DATA_BREAKER_COOLDOWN", &o.BreakerCooldown, time.Millisecond},
		{"DATA_CACHE_TTL", &o.CacheTTL, time.Millisecond},
	}
	for _, d := range durs {
		v := get(d.key)
		if v == "" {
			continue
		}
		if *d.dst, err = parseSeconds(v); err != nil {
			return o, fmt.Errorf("%s: %q is not a number of seconds", d.key, v)
		}
		if *d.dst < d.min {
			return o, fmt.Errorf("%s: %q must be at least %s", d.key, v, d.min)
		}
	}
	if o.MaxRetryBackoff < o.RetryBackoff {
		o.MaxRetryBackoff = o.RetryBackoff
	}
	ints := []struct {
		key      string
		dst      *int
		min, max int
	}{
		{"DATA_MAX_RETRIES", &o.MaxRetries, 0, 10},
		{"DATA_BREAKER_FAILURES", &o.BreakerFailures, 1, 1000},
		{"DATA_CACHE_MAX_SERIES", &o.CacheMaxSeries, 1, 10_000_000},
		{"DATA_CACHE_MAX_BARS", &o.CacheMaxBars, 1, maxRequestBars},
		{"DATA_DEFAULT_LOOKBACK", &o.DefaultLookback, 1, maxRequestBars},
	}
	for _, d := range ints {
		v := get(d.key)
		if v == "" {
			continue
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return o, fmt.Errorf("%s: %q is not a whole number", d.key, v)
		}
		if n < d.min || n > d.max {
			return o, fmt.Errorf("%s: %q must be between %d and %d", d.key, v, d.min, d.max)
		}
		*d.dst = n
	}
	if v := get("DATA_CACHE_ENABLED"); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			o.CacheEnabled = true
		case "0", "false", "no", "off":
			o.CacheEnabled = false
		default:
			return o, fmt.Errorf("DATA_CACHE_ENABLED: %q is not true or false", v)
		}
	}
	for _, u := range []struct {
		key string
		dst *string
	}{{"BINANCE_BASE_URL", &o.BinanceBaseURL}, {"YAHOO_BASE_URL", &o.YahooBaseURL}} {
		v := get(u.key)
		if v == "" {
			continue
		}
		pu, err := url.Parse(v)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return o, fmt.Errorf("%s: %q is not an http(s) URL", u.key, v)
		}
		*u.dst = strings.TrimRight(v, "/")
	}
	o.CSVDir = get("DATA_CSV_DIR")
	for _, k := range KeyVariables() {
		if v := get(k); v != "" {
			if o.Keys == nil {
				o.Keys = Keys{}
			}
			o.Keys[k] = v
		}
	}
	if v := get("PROVIDER_RATE_LIMITS"); v != "" {
		over, err := ParseRateLimits(v, builtinProviders)
		if err != nil {
			return o, fmt.Errorf("PROVIDER_RATE_LIMITS: %w", err)
		}
		for name, l := range over {
			o.RateLimits[name] = l
		}
	}
	check := func(key string, names []string) error {
		for _, n := range names {
			known := false
			for _, b := range builtinProviders {
				known = known || n == b
			}
			if !known {
				return fmt.Errorf("%s: unknown provider %q (known: %s)", key, n, strings.Join(builtinProviders, ", "))
			}
			if n == "csv" && o.CSVDir == "" {
				return fmt.Errorf("%s: provider csv is listed but DATA_CSV_DIR is empty", key)
			}
		}
		return nil
	}
	if err := check("DATA_PROVIDERS", o.Providers); err != nil {
		return o, err
	}
	for _, r := range o.Routes {
		if err := check("DATA_ROUTES", r.Providers); err != nil {
			return o, err
		}
	}
	return o, nil
}

// parseSeconds reads "10", "0.5" (seconds) or a Go duration ("1m30s").
func parseSeconds(s string) (time.Duration, error) {
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e9 {
			return 0, fmt.Errorf("out of range")
		}
		return time.Duration(f * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration")
	}
	return d, nil
}
