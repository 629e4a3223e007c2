package marketdata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultEODHDBaseURL is EOD Historical Data's API host.
const DefaultEODHDBaseURL = "https://eodhd.com"

// eodhdPeriod maps our timeframes to EODHD's intraday interval or
// end-of-day period.
var eodhdPeriod = map[Timeframe]struct{ intraday, period string }{
	"1m": {"1m", ""}, "5m": {"5m", ""}, "1h": {"1h", ""},
	"1d": {"", "d"}, "1w": {"", "w"}, "1M": {"", "m"},
}

// eodhd fetches bars from EOD Historical Data (EODHD_API_KEY):
//
//	GET /api/eod/{SYMBOL}?api_token=K&fmt=json&period=d|w|m&from=YYYY-MM-DD&to=YYYY-MM-DD&order=a
//	GET /api/intraday/{SYMBOL}?api_token=K&fmt=json&interval=1m|5m|1h&from=unix&to=unix
//
// answering [{"date":"2024-01-02","open",..,"volume"}] or
// [{"timestamp":unix,"datetime":"..","open",..}]. Symbols are
// TICKER.EXCHANGE (AAPL.US, BMW.XETRA, BTC-USD.CC, EURUSD.FOREX). 404 is
// ErrSymbolNotFound ("Ticker Not Found."), 401/403 ErrUnauthorized, 402 the
// daily request limit (a rate limit until the next UTC day) and 429 the
// per-minute one (Retry-After, else one minute).
type eodhd struct{ providerConfig }

func newEODHD(c providerConfig) Provider {
	return &eodhd{c}
}

func (p *eodhd) Name() string { return "eodhd" }

func (p *eodhd) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	pd, ok := eodhdPeriod[tf]
	if !ok {
		return nil, unsupported("eodhd", symbol, tf, eodhdPeriod)
	}
	q := url.Values{}
	q.Set("api_token", p.key())
	q.Set("fmt", "json")
	path := "/api/eod/"
	if pd.intraday != "" {
		path = "/api/intraday/"
		q.Set("interval", pd.intraday)
		q.Set("from", strconv.FormatInt(from.Unix(), 10))
		q.Set("to", strconv.FormatInt(to.Unix(), 10))
	} else {
		q.Set("period", pd.period)
		q.Set("order", "a")
		q.Set("from", tf.Open(from).Format("2006-01-02"))
		q.Set("to", to.Format("2006-01-02"))
	}
	resp, body, err := apiGet(ctx, p.http, p.baseURL+path+url.PathEscape(symbol)+"?"+q.Encode(), nil, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("eodhd %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("eodhd %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *eodhd) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	now := p.now()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTooManyRequests:
		return nil, rateLimited("eodhd", resp.StatusCode, retryHint(resp.Header, now, minuteRetry), snippetText(body))
	case http.StatusPaymentRequired:
		return nil, rateLimited("eodhd", resp.StatusCode, retryHint(resp.Header, now, untilNext(now, 24*time.Hour)), snippetText(body))
	default:
		msg := snippetText(body)
		var e struct {
			Message string `json:"message"`
		}
		if json.Unmarshal(body, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		return nil, httpStatusError("eodhd", resp.StatusCode, msg)
	}
	var rows []struct {
		Date      string   `json:"date"`
		Timestamp *int64   `json:"timestamp"`
		Open      *float64 `json:"open"`
		High      *float64 `json:"high"`
		Low       *float64 `json:"low"`
		Close     *float64 `json:"close"`
		Volume    *float64 `json:"volume"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	bars := make([]Bar, 0, len(rows))
	for i, r := range rows {
		var t time.Time
		switch {
		case r.Timestamp != nil:
			t = time.Unix(*r.Timestamp, 0).UTC()
		case r.Date != "":
			d, err := time.Parse("2006-01-02", r.Date)
			if err != nil {
				return nil, fmt.Errorf("%w: row %d: date %q: %v", ErrMalformed, i, r.Date, err)
			}
			t = d
		default:
			return nil, fmt.Errorf("%w: row %d has neither date nor timestamp", ErrMalformed, i)
		}
		if r.Open == nil || r.High == nil || r.Low == nil || r.Close == nil {
			continue // intraday rows without trades
		}
		if tf.calendar() {
			t = calendarOpen(tf, t, time.UTC)
		}
		b := Bar{Time: t, Open: *r.Open, High: *r.High, Low: *r.Low, Close: *r.Close}
		if r.Volume != nil {
			b.Volume = *r.Volume
		}
		bars = append(bars, b)
	}
	return bars, nil
}
