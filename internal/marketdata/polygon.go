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

// DefaultPolygonBaseURL is Polygon.io's API host.
const DefaultPolygonBaseURL = "https://api.polygon.io"

// polygonSpan maps our timeframes to Polygon's multiplier and timespan.
var polygonSpan = map[Timeframe]struct {
	mult int
	span string
}{
	"1m": {1, "minute"}, "3m": {3, "minute"}, "5m": {5, "minute"}, "15m": {15, "minute"}, "30m": {30, "minute"},
	"1h": {1, "hour"}, "2h": {2, "hour"}, "4h": {4, "hour"}, "6h": {6, "hour"}, "8h": {8, "hour"}, "12h": {12, "hour"},
	"1d": {1, "day"}, "1w": {1, "week"}, "1M": {1, "month"},
}

// polygonMaxPages bounds next_url paging.
const polygonMaxPages = 20

// polygon fetches aggregates from Polygon.io (POLYGON_API_KEY):
//
//	GET /v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{fromMs}/{toMs}?adjusted=true&sort=asc&limit=50000&apiKey=K
//
// answering {"status":"OK","resultsCount":N,"results":[{"t":ms,"o","h","l","c","v"}],"next_url":...}.
// Tickers are Polygon's: AAPL, X:BTCUSD (crypto), C:EURUSD (forex),
// I:SPX (indices). An unknown ticker answers resultsCount 0, like an empty
// range. Daily bars of stocks are stamped at New York midnight and weeks
// start on Sunday; both are re-stamped to Timeframe.Open. 401/403 are
// ErrUnauthorized, 429 a rate limit (Retry-After, else one minute).
type polygon struct{ providerConfig }

func newPolygon(c providerConfig) Provider {
	return &polygon{c}
}

func (p *polygon) Name() string { return "polygon" }

func (p *polygon) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	sp, ok := polygonSpan[tf]
	if !ok {
		return nil, unsupported("polygon", symbol, tf, polygonSpan)
	}
	q := url.Values{}
	q.Set("adjusted", "true")
	q.Set("sort", "asc")
	q.Set("limit", "50000")
	// Calendar bars are stamped up to a day before their UTC date (New
	// York midnight, Sunday weeks): ask from a week earlier, cut below.
	start := from
	if tf.calendar() {
		start = from.AddDate(0, 0, -7)
	}
	next := fmt.Sprintf("%s/v2/aggs/ticker/%s/range/%d/%s/%d/%d?%s", p.baseURL, url.PathEscape(symbol), sp.mult, sp.span,
		start.UnixMilli(), to.UnixMilli(), q.Encode())
	var out []Bar
	for page := 0; next != ""; page++ {
		if page == polygonMaxPages {
			return nil, fmt.Errorf("polygon %s %s: more than %d pages", symbol, tf, polygonMaxPages)
		}
		if page > 0 {
			if err := pace(ctx); err != nil {
				return nil, fmt.Errorf("polygon %s %s: page %d: %w", symbol, tf, page+1, err)
			}
		}
		bars, nextURL, err := p.page(ctx, next, tf)
		if err != nil {
			return nil, fmt.Errorf("polygon %s %s: %w", symbol, tf, err)
		}
		out = append(out, bars...)
		next = ""
		// Follow next_url only on the same host: the key goes with it.
		if nextURL != "" && strings.HasPrefix(nextURL, p.baseURL+"/") {
			next = nextURL
		}
	}
	return inRange(out, from, to), nil
}

// polygonAggs is the layout of an aggregates answer (and of its errors).
type polygonAggs struct {
	Status       string `json:"status"`
	ResultsCount int    `json:"resultsCount"`
	Results      []struct {
		T int64   `json:"t"`
		O float64 `json:"o"`
		H float64 `json:"h"`
		L float64 `json:"l"`
		C float64 `json:"c"`
		V float64 `json:"v"`
	} `json:"results"`
	NextURL string `json:"next_url"`
	Error   string `json:"error"`
	Message string `json:"message"`
}

func (p *polygon) page(ctx context.Context, u string, tf Timeframe) ([]Bar, string, error) {
	sep := "?"
	if strings.Contains(u, "?") {
		sep = "&"
	}
	resp, body, err := apiGet(ctx, p.http, u+sep+"apiKey="+url.QueryEscape(p.key()), nil, []string{p.key()})
	if err != nil {
		return nil, "", err
	}
	var a polygonAggs
	jerr := json.Unmarshal(body, &a)
	msg := a.Error
	if msg == "" {
		msg = a.Message
	}
	if msg == "" && resp.StatusCode != http.StatusOK {
		msg = snippetText(body)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, "", rateLimited("polygon", resp.StatusCode, retryHint(resp.Header, p.now(), minuteRetry), msg)
	case resp.StatusCode != http.StatusOK:
		return nil, "", httpStatusError("polygon", resp.StatusCode, msg)
	case jerr != nil:
		return nil, "", fmt.Errorf("%w: %v (body %s)", ErrMalformed, jerr, snippet(body))
	case a.Status == "ERROR" || a.Status == "NOT_AUTHORIZED":
		if a.Status == "NOT_AUTHORIZED" {
			return nil, "", fmt.Errorf("%w: %w", ErrUnauthorized, &HTTPError{Provider: "polygon", Status: resp.StatusCode, Code: a.Status, Message: msg})
		}
		return nil, "", &HTTPError{Provider: "polygon", Status: resp.StatusCode, Code: a.Status, Message: msg}
	}
	bars := make([]Bar, 0, len(a.Results))
	for _, r := range a.Results {
		t := time.UnixMilli(r.T).UTC()
		if tf.calendar() {
			t = calendarOpen(tf, t, newYork)
		}
		bars = append(bars, Bar{Time: t, Open: r.O, High: r.H, Low: r.L, Close: r.C, Volume: r.V})
	}
	return bars, a.NextURL, nil
}
