package marketdata

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultCoinGeckoBaseURL is CoinGecko's public API host.
const DefaultCoinGeckoBaseURL = "https://api.coingecko.com"

// coinGeckoDays are the "days" values the OHLC endpoint accepts per
// timeframe: its candles are 30 minutes for 1 day and 4 hours for 7–30
// days (longer ranges give 4-day candles, which match no timeframe).
var coinGeckoDays = map[Timeframe][]int{
	"30m": {1},
	"4h":  {7, 14, 30},
}

// coinGeckoIDs are the CoinGecko coin ids of DefaultSymbolMap's coins.
var coinGeckoIDs = map[string]string{
	"BTC": "bitcoin", "ETH": "ethereum", "BNB": "binancecoin", "SOL": "solana", "XRP": "ripple",
	"ADA": "cardano", "DOGE": "dogecoin", "AVAX": "avalanche-2", "DOT": "polkadot", "LINK": "chainlink",
	"LTC": "litecoin", "TRX": "tron", "BCH": "bitcoin-cash", "XLM": "stellar", "ATOM": "cosmos",
	"ETC": "ethereum-classic", "UNI": "uniswap", "NEAR": "near", "SHIB": "shiba-inu", "FIL": "filecoin",
}

// coinGecko fetches OHLC candles from CoinGecko's public API (no key):
//
//	GET /api/v3/coins/{id}/ohlc?vs_currency=usd&days=1|7|14|30
//
// answering [[closeTimeMs, open, high, low, close], ...] in US dollars.
// Symbols are coin ids (bitcoin, ethereum); DefaultSymbolMap maps the
// built-in coins' USDT pairs and -USD tickers to them. Candles are stamped
// at their close and carry no volume (Volume is 0): 30m candles for the last
// day, 4h candles for the last 30 days; other timeframes or older ranges are
// ErrUnsupportedTimeframe / ErrHistoryLimit. 404 ({"error":"coin not
// found"}) is ErrSymbolNotFound, 401/403 ErrUnauthorized, 429 a rate limit
// (Retry-After, else one minute).
type coinGecko struct{ providerConfig }

func newCoinGecko(c providerConfig) Provider {
	return &coinGecko{c}
}

func (p *coinGecko) Name() string { return "coingecko" }

func (p *coinGecko) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	options, ok := coinGeckoDays[tf]
	if !ok {
		return nil, unsupported("coingecko", symbol, tf, coinGeckoDays)
	}
	now := p.now()
	days := 0
	for _, d := range options {
		if !from.Before(now.AddDate(0, 0, -d)) {
			days = d
			break
		}
	}
	if days == 0 {
		maxDays := options[len(options)-1]
		return nil, fmt.Errorf("coingecko %s %s: %w: coingecko has %s candles for the last %d days only, requested from %s",
			symbol, tf, ErrHistoryLimit, tf, maxDays, from.UTC().Format(time.RFC3339))
	}
	q := url.Values{}
	q.Set("vs_currency", "usd")
	q.Set("days", strconv.Itoa(days))
	resp, body, err := apiGet(ctx, p.http, p.baseURL+"/api/v3/coins/"+url.PathEscape(strings.ToLower(symbol))+"/ohlc?"+q.Encode(), nil, nil)
	if err != nil {
		return nil, fmt.Errorf("coingecko %s %s: %w", symbol, tf, err)
	}
	bars, err := p.decode(resp, body, tf)
	if err != nil {
		return nil, fmt.Errorf("coingecko %s %s: %w", symbol, tf, err)
	}
	return inRange(bars, from, to), nil
}

func (p *coinGecko) decode(resp *http.Response, body []byte, tf Timeframe) ([]Bar, error) {
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error  string `json:"error"`
			Status struct {
				Code    int    `json:"error_code"`
				Message string `json:"error_message"`
			} `json:"status"`
		}
		msg := snippetText(body)
		if json.Unmarshal(body, &e) == nil {
			if e.Error != "" {
				msg = e.Error
			} else if e.Status.Message != "" {
				msg = e.Status.Message
			}
		}
		if resp.StatusCode == http.StatusTooManyRequests {
			return nil, rateLimited("coingecko", resp.StatusCode, retryHint(resp.Header, p.now(), minuteRetry), msg)
		}
		return nil, httpStatusError("coingecko", resp.StatusCode, msg)
	}
	var rows [][]json.RawMessage
	if err := json.Unmarshal(body, &rows); err != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	d := tf.Duration()
	bars := make([]Bar, 0, len(rows))
	for i, row := range rows {
		if len(row) < 5 {
			return nil, fmt.Errorf("%w: candle %d has %d fields, want 5", ErrMalformed, i, len(row))
		}
		var v [5]float64
		for j := range v {
			n, err := jsonNumber(row[j])
			if err != nil {
				return nil, fmt.Errorf("%w: candle %d field %d: %v", ErrMalformed, i, j, err)
			}
			v[j] = n
		}
		open := time.UnixMilli(int64(v[0])).UTC().Add(-d)
		if !tf.Open(open).Equal(open) {
			continue // the latest candle is stamped with the current time, not a close
		}
		bars = append(bars, Bar{Time: open, Open: v[1], High: v[2], Low: v[3], Close: v[4]})
	}
	return bars, nil
}
