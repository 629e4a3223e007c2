package marketdata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultFinnhubBaseURL is Finnhub's API host.
const DefaultFinnhubBaseURL = "https://finnhub.io"

// finnhubResolution maps our timeframes to Finnhub's resolutions.
var finnhubResolution = map[Timeframe]string{
	"1m": "1", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "1d": "D", "1w": "W", "1M": "M",
}

// finnhubForex are the exchange prefixes of Finnhub's forex symbols
// (OANDA:EUR_USD); other prefixed symbols (BINANCE:BTCUSDT) are crypto.
var finnhubForex = []string{"OANDA", "FXCM", "FOREX.COM", "FXPRO", "IC MARKETS", "ICMTRADER", "PEPPERSTONE", "OCTAFX"}

// finnhub fetches candles from Finnhub (FINNHUB_API_KEY):
//
//	GET /api/v1/stock/candle?symbol=AAPL&resolution=60&from=unix&to=unix&token=K
//	GET /api/v1/crypto/candle?symbol=BINANCE:BTCUSDT&...   (symbols with an exchange prefix)
//	GET /api/v1/forex/candle?symbol=OANDA:EUR_USD&...
//
// answering {"s":"ok","t":[..],"o":[..],"h":[..],"l":[..],"c":[..],"v":[..]}
// or {"s":"no_data"} (an empty range, and also an unknown symbol). 401/403
// ({"error":"You don't have access to this resource."}: candles need a paid
// plan) are ErrUnauthorized; 429 ({"error":"API limit reached..."}) a rate
// limit until X-Ratelimit-Reset (else one minute).
type finnhub struct{ providerConfig }

func newFinnhub(c providerConfig) Provider {
	return &finnhub{c}
}

func (p *finnhub) Name() string { return "finnhub" }

func (p *finnhub) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	res, ok := finnhubResolution[tf]
	if !ok {
		return nil, unsupported("finnhub", symbol, tf, finnhubResolution)
	}
	kind := "stock"
	if prefix, _, ok := strings.Cut(symbol, ":"); ok {
		kind = "crypto"
		if slices.Contains(finnhubForex, strings.ToUpper(prefix)) {
			kind = "forex"
		}
	}
	start := from
	if tf.calendar() {
		start = from.AddDate(0, 0, -1)
	}
	q := url.Values{}
	q.Set("symbol", symbol)
	q.Set("resolution", res)
	q.Set("from", strconv.FormatInt(start.Unix(), 10))
	q.Set("to", strconv.FormatInt(to.Unix(), 10))
	q.Set("token", p.key())
	resp, body, err := apiGet(ctx, p.http, p.baseURL+"/api/v1/"+kind+"/candle?"+q.Encode(), nil, []string{p.key()})
	if err != nil {
		return nil, fmt.Errorf("finnhub %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("finnhub %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *finnhub) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	var a struct {
		S     string    `json:"s"`
		T     []int64   `json:"t"`
		O     []float64 `json:"o"`
		H     []float64 `json:"h"`
		L     []float64 `json:"l"`
		C     []float64 `json:"c"`
		V     []float64 `json:"v"`
		Error string    `json:"error"`
	}
	jerr := json.Unmarshal(body, &a)
	msg := a.Error
	if msg == "" && resp.StatusCode != http.StatusOK {
		msg = snippetText(body)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return nil, rateLimited("finnhub", resp.StatusCode, retryHint(resp.Header, p.now(), minuteRetry), msg)
	case resp.StatusCode != http.StatusOK:
		return nil, httpStatusError("finnhub", resp.StatusCode, msg)
	case jerr != nil:
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, jerr, snippet(body))
	case a.Error != "":
		return nil, &HTTPError{Provider: "finnhub", Status: resp.StatusCode, Message: msg}
	case a.S == "no_data":
		return nil, nil
	case a.S != "ok":
		return nil, fmt.Errorf("%w: status %q (body %s)", ErrMalformed, a.S, snippet(body))
	}
	n := len(a.T)
	for name, col := range map[string][]float64{"o": a.O, "h": a.H, "l": a.L, "c": a.C} {
		if len(col) != n {
			return nil, fmt.Errorf("%w: %d times but %d %s values", ErrMalformed, n, len(col), name)
		}
	}
	bars := make([]Bar, 0, n)
	for i, ts := range a.T {
		t := time.Unix(ts, 0).UTC()
		if tf.calendar() {
			t = calendarOpen(tf, t, newYork)
		}
		b := Bar{Time: t, Open: a.O[i], High: a.H[i], Low: a.L[i], Close: a.C[i]}
		if i < len(a.V) {
			b.Volume = a.V[i]
		}
		bars = append(bars, b)
	}
	return bars, nil
}
