package marketdata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAlphaVantageBaseURL is Alpha Vantage's API host.
const DefaultAlphaVantageBaseURL = "https://www.alphavantage.co"

// alphaVantageFunc maps our timeframes to Alpha Vantage's function and
// intraday interval.
var alphaVantageFunc = map[Timeframe][2]string{
	"1m": {"TIME_SERIES_INTRADAY", "1min"}, "5m": {"TIME_SERIES_INTRADAY", "5min"},
	"15m": {"TIME_SERIES_INTRADAY", "15min"}, "30m": {"TIME_SERIES_INTRADAY", "30min"},
	"1h": {"TIME_SERIES_INTRADAY", "60min"}, "1d": {"TIME_SERIES_DAILY", ""},
	"1w": {"TIME_SERIES_WEEKLY", ""}, "1M": {"TIME_SERIES_MONTHLY", ""},
}

// alphaVantageCompact is how many of the latest bars outputsize=compact
// returns.
const alphaVantageCompact = 100

// alphaVantage fetches bars from Alpha Vantage (ALPHA_VANTAGE_API_KEY):
//
//	GET /query?function=TIME_SERIES_INTRADAY&symbol=IBM&interval=5min&outputsize=compact|full&extended_hours=false&apikey=K
//	GET /query?function=TIME_SERIES_DAILY|TIME_SERIES_WEEKLY|TIME_SERIES_MONTHLY&symbol=IBM&outputsize=..&apikey=K
//
// answering {"Meta Data":{..,"6. Time Zone":"US/Eastern"},"Time Series (5min)":{"2024-01-02 09:30:00":{"1. open":"..",..}}}.
// Intraday times are in the zone the meta data names (US/Eastern); weekly and
// monthly bars are stamped at the period's last trading day and re-stamped
// to Timeframe.Open. outputsize=compact (the latest 100 bars) is asked when
// it covers the range, full otherwise. Alpha Vantage answers errors with
// HTTP 200: {"Error Message":"Invalid API call..."} is ErrSymbolNotFound
// (ErrUnauthorized when it is about the apikey); {"Note"|"Information": ..}
// about call frequency is a rate limit (one minute; the daily quota until
// the next UTC day; the minute's limit when both are named), and about a
// premium endpoint or the key ErrUnauthorized.
type alphaVantage struct{ providerConfig }

func newAlphaVantage(c providerConfig) Provider {
	return &alphaVantage{c}
}

func (p *alphaVantage) Name() string { return "alpha_vantage" }

func (p *alphaVantage) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	fn, ok := alphaVantageFunc[tf]
	if !ok {
		return nil, unsupported("alpha_vantage", symbol, tf, alphaVantageFunc)
	}
	q := url.Values{}
	q.Set("function", fn[0])
	q.Set("symbol", symbol)
	if fn[1] != "" {
		q.Set("interval", fn[1])
		q.Set("extended_hours", "false")
	}
	size := "full"
	if countBars(tf, tf.Open(from), tf.Open(p.now())) < alphaVantageCompact {
		size = "compact"
	}
	q.Set("outputsize", size)
	q.Set("datatype", "json")
	q.Set("apikey", p.key())
	resp, body, err := apiGet(ctx, p.http, p.baseURL+"/query?"+q.Encode(), nil, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("alpha_vantage %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("alpha_vantage %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *alphaVantage) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(body, &doc); err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, httpStatusError("alpha_vantage", resp.StatusCode, snippetText(body))
		}
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	text := func(k string) string {
		var s string
		_ = json.Unmarshal(doc[k], &s)
		return s
	}
	now := p.now()
	if msg := text("Error Message"); msg != "" {
		herr := &HTTPError{Provider: "alpha_vantage", Status: resp.StatusCode, Message: msg}
		if strings.Contains(strings.ToLower(msg), "apikey") {
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, herr)
		}
		return nil, fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
	}
	for _, k := range []string{"Note", "Information"} {
		msg := text(k)
		if msg == "" {
			continue
		}
		low := strings.ToLower(msg)
		herr := &HTTPError{Provider: "alpha_vantage", Status: resp.StatusCode, Message: msg}
		switch {
		case strings.Contains(low, "rate limit") || strings.Contains(low, "frequency"):
			// "5 calls per minute and 500 calls per day" is the minute's
			// limit; "25 requests per day" alone is the daily quota.
			if strings.Contains(low, "per day") && !strings.Contains(low, "per minute") {
				return nil, rateLimited("alpha_vantage", resp.StatusCode, untilNext(now, 24*time.Hour), msg)
			}
			return nil, rateLimited("alpha_vantage", resp.StatusCode, retryHint(resp.Header, now, minuteRetry), msg)
		case strings.Contains(low, "premium") || strings.Contains(low, "apikey") || strings.Contains(low, "api key"):
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, herr)
		}
		return nil, herr
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, rateLimited("alpha_vantage", resp.StatusCode, retryHint(resp.Header, now, minuteRetry), snippetText(body))
	}
	if resp.StatusCode != http.StatusOK {
		return nil, httpStatusError("alpha_vantage", resp.StatusCode, snippetText(body))
	}
	loc := newYork
	var meta map[string]string
	if err := json.Unmarshal(doc["Meta Data"], &meta); err == nil {
		for k, v := range meta {
			if strings.HasSuffix(k, "Time Zone") {
				if l, err := time.LoadLocation(v); err == nil {
					loc = l
				}
			}
		}
	}
	var series map[string]map[string]string
	found := false
	for k, raw := range doc {
		if k == "Meta Data" || !strings.Contains(k, "Time Series") {
			continue
		}
		if err := json.Unmarshal(raw, &series); err != nil {
			return nil, fmt.Errorf("%w: %q: %v", ErrMalformed, k, err)
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("%w: no time series in the answer (body %s)", ErrMalformed, snippet(body))
	}
	bars := make([]Bar, 0, len(series))
	for stamp, row := range series {
		t, err := parseLocal(stamp, loc)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		if tf.calendar() {
			t = calendarOpen(tf, t, loc)
		}
		b := Bar{Time: t}
		for _, f := range []struct {
			suffix string
			dst    *float64
		}{{"open", &b.Open}, {"high", &b.High}, {"low", &b.Low}, {"close", &b.Close}, {"volume", &b.Volume}} {
			v, ok := avField(row, f.suffix)
			if !ok {
				return nil, fmt.Errorf("%w: bar %s: no %s", ErrMalformed, stamp, f.suffix)
			}
			n, err := jsonNumber(json.RawMessage(`"` + v + `"`))
			if err != nil {
				return nil, fmt.Errorf("%w: bar %s %s: %v", ErrMalformed, stamp, f.suffix, err)
			}
			*f.dst = n
		}
		bars = append(bars, b)
	}
	return bars, nil
}

// avField finds "1. open" etc. by the name after the number.
func avField(row map[string]string, name string) (string, bool) {
	for k, v := range row {
		if _, after, ok := strings.Cut(k, ". "); ok && after == name {
			return v, true
		}
	}
	return "", false
}
