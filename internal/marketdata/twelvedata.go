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

// DefaultTwelveDataBaseURL is Twelve Data's API host.
const DefaultTwelveDataBaseURL = "https://api.twelvedata.com"

// twelveDataInterval maps our timeframes to Twelve Data's intervals.
var twelveDataInterval = map[Timeframe]string{
	"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min",
	"1h": "1h", "2h": "2h", "4h": "4h", "8h": "8h",
	"1d": "1day", "1w": "1week", "1M": "1month",
}

// twelveData fetches bars from Twelve Data (TWELVE_DATA_API_KEY):
//
//	GET /time_series?symbol=AAPL&interval=1h&start_date=..&end_date=..&timezone=UTC&order=asc&outputsize=5000&apikey=K
//
// answering {"meta":{..},"values":[{"datetime":"2024-01-02 14:30:00","open":"..",..}],"status":"ok"}
// with times in UTC (daily and longer bars as dates). Symbols are Twelve
// Data's: AAPL, EUR/USD, BTC/USD (map them with DATA_SYMBOL_MAP). Errors
// come as {"code":N,"message":"..","status":"error"}, usually with HTTP 200:
// code 401/403 is ErrUnauthorized, 404 ErrSymbolNotFound, 429 a rate limit
// (until the next minute, or the next UTC day for the daily credits), and
// 400 "No data is available" an empty answer.
type twelveData struct{ providerConfig }

func newTwelveData(c providerConfig) Provider {
	return &twelveData{c}
}

func (p *twelveData) Name() string { return "twelvedata" }

func (p *twelveData) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	iv, ok := twelveDataInterval[tf]
	if !ok {
		return nil, unsupported("twelvedata", symbol, tf, twelveDataInterval)
	}
	const layout = "2006-01-02 15:04:05"
	q := url.Values{}
	q.Set("symbol", symbol)
	q.Set("interval", iv)
	q.Set("start_date", from.UTC().Format(layout))
	q.Set("end_date", tf.Next(to).UTC().Format(layout))
	q.Set("timezone", "UTC")
	q.Set("order", "asc")
	q.Set("outputsize", "5000")
	q.Set("apikey", p.key())
	resp, body, err := apiGet(ctx, p.http, p.baseURL+"/time_series?"+q.Encode(), nil, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("twelvedata %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("twelvedata %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *twelveData) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	var a struct {
		Status  string `json:"status"`
		Code    int    `json:"code"`
		Message string `json:"message"`
		Values  []struct {
			Datetime string          `json:"datetime"`
			Open     json.RawMessage `json:"open"`
			High     json.RawMessage `json:"high"`
			Low      json.RawMessage `json:"low"`
			Close    json.RawMessage `json:"close"`
			Volume   json.RawMessage `json:"volume"`
		} `json:"values"`
	}
	jerr := json.Unmarshal(body, &a)
	code := a.Code
	if code == 0 && resp.StatusCode != http.StatusOK {
		code = resp.StatusCode
	}
	msg := a.Message
	if msg == "" && resp.StatusCode != http.StatusOK {
		msg = snippetText(body)
	}
	if a.Status == "error" || resp.StatusCode != http.StatusOK {
		now := p.now()
		herr := &HTTPError{Provider: "twelvedata", Status: resp.StatusCode, Code: fmt.Sprint(code), Message: msg}
		low := strings.ToLower(msg)
		switch {
		case code == http.StatusTooManyRequests:
			wait := untilNext(now, time.Minute)
			if strings.Contains(low, "for the day") || strings.Contains(low, "daily") {
				wait = untilNext(now, 24*time.Hour)
			}
			return nil, rateLimited("twelvedata", resp.StatusCode, retryHint(resp.Header, now, wait), msg)
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, herr)
		case code == http.StatusNotFound:
			return nil, fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
		case code == http.StatusBadRequest && strings.Contains(low, "no data is available"):
			return nil, nil
		case code == http.StatusBadRequest && strings.Contains(low, "symbol"):
			return nil, fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
		}
		return nil, herr
	}
	if jerr != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, jerr, snippet(body))
	}
	bars := make([]Bar, 0, len(a.Values))
	for i, v := range a.Values {
		t, err := parseLocal(v.Datetime, time.UTC)
		if err != nil {
			return nil, fmt.Errorf("%w: value %d: %v", ErrMalformed, i, err)
		}
		if tf.calendar() {
			t = calendarOpen(tf, t, time.UTC)
		}
		b := Bar{Time: t}
		for _, f := range []struct {
			name string
			raw  json.RawMessage
			dst  *float64
		}{{"open", v.Open, &b.Open}, {"high", v.High, &b.High}, {"low", v.Low, &b.Low}, {"close", v.Close, &b.Close}, {"volume", v.Volume, &b.Volume}} {
			if len(f.raw) == 0 && f.name == "volume" {
				continue // forex and indices have no volume
			}
			n, err := jsonNumber(f.raw)
			if err != nil {
				return nil, fmt.Errorf("%w: value %d %s: %v", ErrMalformed, i, f.name, err)
			}
			*f.dst = n
		}
		bars = append(bars, b)
	}
	return bars, nil
}
