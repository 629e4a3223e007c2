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

// DefaultAlpacaBaseURL is Alpaca's market data host.
const DefaultAlpacaBaseURL = "https://data.alpaca.markets"

// alpacaFrame maps our timeframes to Alpaca's bar timeframes.
var alpacaFrame = map[Timeframe]string{
	"1m": "1Min", "3m": "3Min", "5m": "5Min", "15m": "15Min", "30m": "30Min",
	"1h": "1Hour", "2h": "2Hour", "4h": "4Hour", "6h": "6Hour", "8h": "8Hour", "12h": "12Hour",
	"1d": "1Day", "1w": "1Week", "1M": "1Month",
}

// alpacaMaxPages bounds next_page_token paging (10,000 bars a page).
const alpacaMaxPages = 20

// alpaca fetches US stock bars from Alpaca's market data API v2
// (ALPACA_API_KEY and ALPACA_SECRET_KEY, sent as the APCA-API-KEY-ID and
// APCA-API-SECRET-KEY headers):
//
//	GET /v2/stocks/{symbol}/bars?timeframe=1Hour&start=RFC3339&end=RFC3339&limit=10000&adjustment=raw&feed=iex&sort=asc[&page_token=..]
//
// answering {"bars":[{"t":"2024-01-02T14:30:00Z","o","h","l","c","v"}],"symbol":"AAPL","next_page_token":null}
// ("bars": null when there are none). The free IEX feed is used. Daily and
// longer bars are stamped at New York midnight and re-stamped to
// Timeframe.Open. 401/403 are ErrUnauthorized, 422 "invalid symbol" is
// ErrSymbolNotFound, 429 a rate limit (X-RateLimit-Reset, else one minute).
// Crypto pairs (BTC/USD) use another endpoint and are not served.
type alpaca struct {
	base, id, secret string
	http             *http.Client
	now              func() time.Time
}

func newAlpaca(c providerConfig) Provider {
	return &alpaca{base: c.baseURL, id: c.keys[0], secret: c.keys[1], http: c.http, now: c.now}
}

func (p *alpaca) Name() string { return "alpaca" }

func (p *alpaca) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	frame, ok := alpacaFrame[tf]
	if !ok {
		return nil, unsupported("alpaca", symbol, tf, alpacaFrame)
	}
	start := from
	if tf.calendar() {
		start = from.AddDate(0, 0, -1) // New York midnight is the evening before in UTC
	}
	q := url.Values{}
	q.Set("timeframe", frame)
	q.Set("start", start.UTC().Format(time.RFC3339))
	q.Set("end", to.UTC().Format(time.RFC3339))
	q.Set("limit", "10000")
	q.Set("adjustment", "raw")
	q.Set("feed", "iex")
	q.Set("sort", "asc")
	h := http.Header{}
	h.Set("APCA-API-KEY-ID", p.id)
	h.Set("APCA-API-SECRET-KEY", p.secret)
	var out []Bar
	for page := 0; ; page++ {
		if page == alpacaMaxPages {
			return nil, fmt.Errorf("alpaca %s %s: more than %d pages", symbol, tf, alpacaMaxPages)
		}
		if page > 0 {
			if err := pace(ctx); err != nil {
				return nil, fmt.Errorf("alpaca %s %s: page %d: %w", symbol, tf, page+1, err)
			}
		}
		u := p.base + "/v2/stocks/" + url.PathEscape(symbol) + "/bars?" + q.Encode()
		resp, body, err := apiGet(ctx, p.http, u, h, []string{p.id, p.secret})
		if err != nil {
			return nil, fmt.Errorf("alpaca %s %s: %w", symbol, tf, err)
		}
		bars, next, err := p.decode(resp, body, tf)
		if err != nil {
			return nil, fmt.Errorf("alpaca %s %s: %w", symbol, tf, err)
		}
		out = append(out, bars...)
		if next == "" {
			return inRange(out, from, to), nil
		}
		q.Set("page_token", next)
	}
}

func (p *alpaca) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, string, error) {
	var a struct {
		Bars []struct {
			T string  `json:"t"`
			O float64 `json:"o"`
			H float64 `json:"h"`
			L float64 `json:"l"`
			C float64 `json:"c"`
			V float64 `json:"v"`
		} `json:"bars"`
		Next    *string `json:"next_page_token"`
		Message string  `json:"message"`
		Code    int     `json:"code"`
	}
	jerr := json.Unmarshal(body, &a)
	msg := a.Message
	if msg == "" && resp.StatusCode != http.StatusOK {
		msg = snippetText(body)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, "", rateLimited("alpaca", resp.StatusCode, retryHint(resp.Header, p.now(), minuteRetry), msg)
	case resp.StatusCode == http.StatusUnprocessableEntity && strings.HasPrefix(strings.ToLower(msg), "invalid symbol"):
		return nil, "", fmt.Errorf("%w: %w", ErrSymbolNotFound, &HTTPError{Provider: "alpaca", Status: resp.StatusCode, Message: msg})
	case resp.StatusCode != http.StatusOK:
		return nil, "", httpStatusError("alpaca", resp.StatusCode, msg)
	case jerr != nil:
		return nil, "", fmt.Errorf("%w: %v (body %s)", ErrMalformed, jerr, snippet(body))
	}
	bars := make([]Bar, 0, len(a.Bars))
	for i, b := range a.Bars {
		t, err := time.Parse(time.RFC3339, b.T)
		if err != nil {
			return nil, "", fmt.Errorf("%w: bar %d: time %q: %v", ErrMalformed, i, b.T, err)
		}
		if tf.calendar() {
			t = calendarOpen(tf, t, newYork)
		}
		bars = append(bars, Bar{Time: t.UTC(), Open: b.O, High: b.H, Low: b.L, Close: b.C, Volume: b.V})
	}
	next := ""
	if a.Next != nil {
		next = *a.Next
	}
	return bars, next, nil
}
