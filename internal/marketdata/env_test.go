package marketdata

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

func envFunc(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestOptionsFromEnvDefaults(t *testing.T) {
	o, err := OptionsFromEnv(envFunc(nil))
	if err != nil {
		t.Fatal(err)
	}
	d := DefaultOptions()
	if !reflect.DeepEqual(o, d) {
		t.Errorf("empty environment differs from DefaultOptions:\n%+v\n%+v", o, d)
	}
	if o.Timeout != 10*time.Second || o.DefaultLookback != 200 || !o.CacheEnabled || strings.Join(o.Providers, ",") != "binance,yahoo" ||
		o.BinanceBaseURL != "https://data-api.binance.vision" {
		t.Errorf("defaults: %+v", o)
	}
}

func TestOptionsFromEnvAll(t *testing.T) {
	o, err := OptionsFromEnv(envFunc(map[string]string{
		"DATA_PROVIDERS":        "yahoo, csv",
		"DATA_ROUTES":           "*USDT=binance,yahoo;^*=yahoo;*=yahoo,csv",
		"DATA_SYMBOL_MAP":       "yahoo:PEPEUSDT=PEPE24478-USD",
		"DATA_TIMEOUT":          "2.5",
		"DATA_MAX_RETRIES":      "0",
		"DATA_RETRY_BACKOFF":    "250ms",
		"DATA_BREAKER_FAILURES": "3",
		"DATA_BREAKER_COOLDOWN": "1m",
		"DATA_CACHE_ENABLED":    "false",
		"DATA_CACHE_TTL":        "30",
		"DATA_CACHE_MAX_SERIES": "50",
		"DATA_CACHE_MAX_BARS":   "600",
		"DATA_DEFAULT_LOOKBACK": "100",
		"BINANCE_BASE_URL":      "https://api.binance.us/",
		"YAHOO_BASE_URL":        "http://127.0.0.1:9999",
		"DATA_CSV_DIR":          "/srv/bars",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(o.Providers, ",") != "yahoo,csv" || len(o.Routes) != 3 || o.Routes[1].Pattern != "^*" ||
		o.SymbolMap.Lookup("yahoo", "PEPEUSDT") != "PEPE24478-USD" || o.SymbolMap.Lookup("yahoo", "BTCUSDT") != "BTC-USD" ||
		o.Timeout != 2500*time.Millisecond || o.MaxRetries != 0 || o.RetryBackoff != 250*time.Millisecond ||
		o.BreakerFailures != 3 || o.BreakerCooldown != time.Minute || o.CacheEnabled || o.CacheTTL != 30*time.Second ||
		o.CacheMaxSeries != 50 || o.CacheMaxBars != 600 || o.DefaultLookback != 100 ||
		o.BinanceBaseURL != "https://api.binance.us" || o.YahooBaseURL != "http://127.0.0.1:9999" || o.CSVDir != "/srv/bars" {
		t.Errorf("options: %+v", o)
	}
	if _, err := New(o); err != nil {
		t.Errorf("New rejects env options: %v", err)
	}
}

func TestOptionsFromEnvErrors(t *testing.T) {
	for _, tc := range []struct{ key, val, want string }{
		{"DATA_TIMEOUT", "abc", `DATA_TIMEOUT: "abc" is not a number of seconds`},
		{"DATA_TIMEOUT", "0", `DATA_TIMEOUT: "0" must be at least`},
		{"DATA_CACHE_TTL", "-5", `DATA_CACHE_TTL: "-5" must be at least`},
		{"DATA_MAX_RETRIES", "two", `DATA_MAX_RETRIES: "two" is not a whole number`},
		{"DATA_MAX_RETRIES", "99", `DATA_MAX_RETRIES: "99" must be between 0 and 10`},
		{"DATA_DEFAULT_LOOKBACK", "0", `DATA_DEFAULT_LOOKBACK: "0" must be between`},
		{"DATA_CACHE_ENABLED", "maybe", `DATA_CACHE_ENABLED: "maybe" is not true or false`},
		{"DATA_PROVIDERS", "binance,kraken", `DATA_PROVIDERS: unknown provider "kraken"`},
		{"DATA_PROVIDERS", "csv", "DATA_PROVIDERS: provider csv is listed but DATA_CSV_DIR is empty"},
		{"DATA_ROUTES", "*USDT", "DATA_ROUTES: route \"*USDT\""},
		{"DATA_ROUTES", "*=nosuch", `DATA_ROUTES: unknown provider "nosuch"`},
		{"DATA_SYMBOL_MAP", "BTCUSDT=BTC-USD", "DATA_SYMBOL_MAP:"},
		{"BINANCE_BASE_URL", "data-api.binance.vision", `BINANCE_BASE_URL: "data-api.binance.vision" is not an http(s) URL`},
		{"YAHOO_BASE_URL", "ftp://x", `YAHOO_BASE_URL: "ftp://x" is not an http(s) URL`},
	} {
		_, err := OptionsFromEnv(envFunc(map[string]string{tc.key: tc.val}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s=%q: err = %v, want %q", tc.key, tc.val, err, tc.want)
		}
	}
}
