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

// DefaultTiingoBaseURL is Tiingo's API host.
const DefaultTiingoBaseURL = "https://api.tiingo.com"

// tiingoFreq maps our timeframes to Tiingo's resampleFreq: daily, weekly
// and monthly from the end-of-day endpoint, the rest from IEX intraday.
var tiingoFreq = map[Timeframe]string{
	"1m": "1min", "5m": "5min", "15m": "15min", "30m": "30min", "1h": "1hour", "4h": "4hour",
	"1d": "daily", "1w": "weekly", "1M": "monthly",
}

// tiingo fetches bars from Tiingo (TIINGO_API_KEY, sent as
// "Authorization: Token K"):
//
//	GET /tiingo/daily/{ticker}/prices?startDate=YYYY-MM-DD&endDate=YYYY-MM-DD&resampleFreq=daily|weekly|monthly
//	GET /iex/{ticker}/prices?startDate=..&endDate=..&resampleFreq=1min|5min|15min|30min|1hour|4hour&columns=open,high,low,close,volume
//
// both answering [{"date":"2024-01-02T00:00:00.000Z","open","high","low","close","volume",...}]
// (unadjusted prices are used). Weekly and monthly bars are stamped at the
// period's last trading day and re-stamped to Timeframe.Open. Errors come as
// {"detail":"..."}: 404 (or "not found") is ErrSymbolNotFound, 401/403 and
// token errors ErrUnauthorized, 429 and "request allocation" answers a rate
// limit (Retry-After, else the next hour for the hourly allocation, the next
// UTC day for the daily one, else one minute).
type tiingo struct{ providerConfig }

func newTiingo(c providerConfig) Provider {
	return &tiingo{c}
}

func (p *tiingo) Name() string { return "tiingo" }

func (p *tiingo) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	freq, ok := tiingoFreq[tf]
	if !ok {
		return nil, unsupported("tiingo", symbol, tf, tiingoFreq)
	}
	q := url.Values{}
	q.Set("startDate", from.AddDate(0, 0, -1).Format("2006-01-02"))
	q.Set("endDate", to.AddDate(0, 0, 1).Format("2006-01-02"))
	q.Set("resampleFreq", freq)
	q.Set("format", "json")
	path := "/iex/" + url.PathEscape(strings.ToLower(symbol)) + "/prices"
	if tf.calendar() {
		path = "/tiingo/daily/" + url.PathEscape(strings.ToLower(symbol)) + "/prices"
		if tf != "1d" {
			// Weeks and months are stamped at their last trading day:
			// reach back one whole period so the first one is included.
			q.Set("startDate", tf.Open(from).Format("2006-01-02"))
		}
	} else {
		q.Set("columns", "open,high,low,close,volume")
	}
	h := http.Header{}
	h.Set("Authorization", "Token "+p.key())
	resp, body, err := apiGet(ctx, p.http, p.baseURL+path+"?"+q.Encode(), h, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("tiingo %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("tiingo %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *tiingo) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	trimmed := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK || strings.HasPrefix(trimmed, "{") {
		var e struct {
			Detail string `json:"detail"`
		}
		_ = json.Unmarshal(body, &e)
		msg := e.Detail
		if msg == "" {
			msg = snippetText(body)
		}
		low := strings.ToLower(msg)
		now := p.now()
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || strings.Contains(low, "allocation"):
			def := minuteRetry
			if strings.Contains(low, "hourly") {
				def = untilNext(now, time.Hour)
			} else if strings.Contains(low, "daily") {
				def = untilNext(now, 24*time.Hour)
			}
			return nil, rateLimited("tiingo", resp.StatusCode, retryHint(resp.Header, now, def), msg)
		case strings.Contains(low, "not found"):
			return nil, fmt.Errorf("%w: %w", ErrSymbolNotFound, &HTTPError{Provider: "tiingo", Status: resp.StatusCode, Message: msg})
		case strings.Contains(low, "token"):
			return nil, fmt.Errorf("%w: %w", ErrUnauthorized, &HTTPError{Provider: "tiingo", Status: resp.StatusCode, Message: msg})
		case resp.StatusCode != http.StatusOK:
			return nil, httpStatusError("tiingo", resp.StatusCode, msg)
		}
		return nil, &HTTPError{Provider: "tiingo", Status: resp.StatusCode, Message: msg}
	}
	var rows []struct {
		Date   string   `json:"date"`
		Open   *float64 `json:"open"`
		High   *float64 `json:"high"`
		Low    *float64 `json:"low"`
		Close  *float64 `json:"close"`
		Volume *float64 `json:"volume"`
	}
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	bars := make([]Bar, 0, len(rows))
	for i, r := range rows {
		t, err := time.Parse(time.RFC3339, r.Date)
		if err != nil {
			return nil, fmt.Errorf("%w: row %d: date %q: %v", ErrMalformed, i, r.Date, err)
		}
		if r.Open == nil || r.High == nil || r.Low == nil || r.Close == nil {
			continue // IEX leaves minutes without trades empty
		}
		if tf.calendar() {
			t = calendarOpen(tf, t, newYork)
		}
		b := Bar{Time: t.UTC(), Open: *r.Open, High: *r.High, Low: *r.Low, Close: *r.Close}
		if r.Volume != nil {
			b.Volume = *r.Volume
		}
		bars = append(bars, b)
	}
	return bars, nil
}
