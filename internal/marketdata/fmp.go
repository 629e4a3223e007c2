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

// DefaultFMPBaseURL is Financial Modeling Prep's API host.
const DefaultFMPBaseURL = "https://financialmodelingprep.com"

// fmpInterval maps our timeframes to FMP's chart intervals; "" is the
// end-of-day endpoint.
var fmpInterval = map[Timeframe]string{
	"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1hour", "4h": "4hour", "1d": "",
}

// fmp fetches bars from FMP's stable API (FMP_API_KEY):
//
//	GET /stable/historical-chart/{1min|5min|15min|30min|1hour|4hour}?symbol=AAPL&from=YYYY-MM-DD&to=YYYY-MM-DD&apikey=K
//	GET /stable/historical-price-eod/full?symbol=AAPL&from=YYYY-MM-DD&to=YYYY-MM-DD&apikey=K
//
// Both answer a JSON array, newest first; intraday "date" is New York time
// ("2024-01-02 09:30:00"), daily "date" a day. An unknown symbol answers []
// (no bars). 401/402/403 and {"Error Message":"Invalid API KEY..."} are
// ErrUnauthorized; 429 and "Limit Reach" answers are rate limits (Retry-After,
// else one minute; the daily quota until the next UTC day).
type fmp struct{ providerConfig }

func newFMP(c providerConfig) Provider {
	return &fmp{c}
}

func (p *fmp) Name() string { return "fmp" }

func (p *fmp) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	iv, ok := fmpInterval[tf]
	if !ok {
		return nil, unsupported("fmp", symbol, tf, fmpInterval)
	}
	q := url.Values{}
	q.Set("symbol", symbol)
	// Dates are New York days for intraday bars; a day either side covers
	// the zone shift, the extra bars are cut below.
	q.Set("from", from.AddDate(0, 0, -1).Format("2006-01-02"))
	q.Set("to", to.AddDate(0, 0, 1).Format("2006-01-02"))
	q.Set("apikey", p.key())
	path := "/stable/historical-price-eod/full"
	if iv != "" {
		path = "/stable/historical-chart/" + iv
	}
	resp, body, err := apiGet(ctx, p.http, p.baseURL+path+"?"+q.Encode(), nil, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("fmp %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("fmp %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

// fmpBar is one row of either endpoint.
type fmpBar struct {
	Date   string   `json:"date"`
	Open   *float64 `json:"open"`
	High   *float64 `json:"high"`
	Low    *float64 `json:"low"`
	Close  *float64 `json:"close"`
	Volume float64  `json:"volume"`
}

func (p *fmp) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	var e struct {
		Msg string `json:"Error Message"`
	}
	trimmed := strings.TrimSpace(string(body))
	if strings.HasPrefix(trimmed, "{") {
		_ = json.Unmarshal(body, &e)
	}
	msg := e.Msg
	if msg == "" && resp.StatusCode != http.StatusOK {
		msg = snippetText(body)
	}
	now := p.now()
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, rateLimited("fmp", resp.StatusCode, retryHint(resp.Header, now, minuteRetry), msg)
	case e.Msg != "" && strings.Contains(strings.ToLower(e.Msg), "limit reach"):
		// The daily quota of the plan: it resets at midnight UTC.
		return nil, rateLimited("fmp", resp.StatusCode, retryHint(resp.Header, now, untilNext(now, 24*time.Hour)), msg)
	case e.Msg != "" && strings.Contains(strings.ToLower(e.Msg), "api key"):
		return nil, fmt.Errorf("%w: %w", ErrUnauthorized, &HTTPError{Provider: "fmp", Status: resp.StatusCode, Message: msg})
	case resp.StatusCode != http.StatusOK:
		return nil, httpStatusError("fmp", resp.StatusCode, msg)
	case e.Msg != "":
		return nil, &HTTPError{Provider: "fmp", Status: resp.StatusCode, Message: msg}
	}
	var rows []fmpBar
	if strings.HasPrefix(trimmed, "{") {
		// The legacy shape {"symbol":"AAPL","historical":[...]}; {} when
		// the symbol is unknown.
		var legacy struct {
			Historical []fmpBar `json:"historical"`
		}
		if err := json.Unmarshal(body, &legacy); err != nil {
			return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
		}
		rows = legacy.Historical
	} else if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	bars := make([]Bar, 0, len(rows))
	for i, r := range rows {
		t, err := parseLocal(r.Date, newYork)
		if err != nil {
			return nil, fmt.Errorf("%w: row %d: %v", ErrMalformed, i, err)
		}
		if r.Open == nil || r.High == nil || r.Low == nil || r.Close == nil {
			return nil, fmt.Errorf("%w: row %d (%s) lacks open, high, low or close", ErrMalformed, i, r.Date)
		}
		if tf.calendar() {
			t = tf.Open(time.Date(t.In(newYork).Year(), t.In(newYork).Month(), t.In(newYork).Day(), 0, 0, 0, 0, time.UTC))
		}
		bars = append(bars, Bar{Time: t, Open: *r.Open, High: *r.High, Low: *r.Low, Close: *r.Close, Volume: r.Volume})
	}
	return bars, nil
}
