package marketdata

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultBinanceBaseURL is Binance's market-data-only host for public spot
// endpoints (no API key, no trading). binance.us (https://api.binance.us)
// speaks the same klines API.
const DefaultBinanceBaseURL = "https://data-api.binance.vision"

// binanceMaxLimit is the largest page /api/v3/klines returns.
const binanceMaxLimit = 1000

// binanceMaxPages bounds paging so a bad range cannot loop for ever
// (100 pages = 100,000 bars).
const binanceMaxPages = 100

// Binance fetches spot klines from GET /api/v3/klines. Every Binance
// timeframe name equals ours (1m ... 1M). Ranges longer than 1,000 bars are
// fetched page by page. The used request weight of the current minute (the
// X-MBX-USED-WEIGHT-1M header) is tracked; see UsedWeight.
type Binance struct {
	// BaseURL is the scheme and host, e.g. DefaultBinanceBaseURL.
	BaseURL string
	// HTTP is the client used for requests; nil means http.DefaultClient.
	HTTP *http.Client

	usedWeight atomic.Int64
}

// NewBinance returns a Binance provider for baseURL (empty means
// DefaultBinanceBaseURL).
func NewBinance(baseURL string, hc *http.Client) *Binance {
	if baseURL == "" {
		baseURL = DefaultBinanceBaseURL
	}
	return &Binance{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: hc}
}

// Name returns "binance".
func (b *Binance) Name() string { return "binance" }

// UsedWeight returns the request weight used in the current minute as last
// reported by Binance (X-MBX-USED-WEIGHT-1M), or -1 before the first answer.
// Binance's default limit is 6,000 per minute per IP.
func (b *Binance) UsedWeight() int {
	return int(b.usedWeight.Load()) - 1
}

// Bars fetches klines opening in [from, to], paging by 1,000.
func (b *Binance) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	if _, ok := timeframes[tf]; !ok {
		return nil, fmt.Errorf("binance klines %s %s: %w", symbol, tf, ErrUnsupportedTimeframe)
	}
	var out []Bar
	start := from
	for page := 0; page < binanceMaxPages; page++ {
		if page > 0 {
			if err := pace(ctx); err != nil {
				return nil, fmt.Errorf("binance klines %s %s: page %d: %w", symbol, tf, page+1, err)
			}
		}
		bars, err := b.page(ctx, symbol, tf, start, to)
		if err != nil {
			return nil, fmt.Errorf("binance klines %s %s: %w", symbol, tf, err)
		}
		out = append(out, bars...)
		if len(bars) < binanceMaxLimit {
			return out, nil
		}
		start = bars[len(bars)-1].Time.Add(time.Millisecond)
		if start.After(to) {
			return out, nil
		}
	}
	return nil, fmt.Errorf("binance klines %s %s: range %s..%s needs more than %d pages", symbol, tf, from.Format(time.RFC3339), to.Format(time.RFC3339), binanceMaxPages)
}

func (b *Binance) page(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	q := url.Values{}
	q.Set("symbol", symbol)
	q.Set("interval", string(tf))
	q.Set("startTime", strconv.FormatInt(from.UnixMilli(), 10))
	q.Set("endTime", strconv.FormatInt(to.UnixMilli(), 10))
	q.Set("limit", strconv.Itoa(binanceMaxLimit))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.BaseURL+"/api/v3/klines?"+q.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, body, err := getJSON(b.HTTP, req)
	if err != nil {
		return nil, err
	}
	if w, err := strconv.ParseInt(resp.Header.Get("X-MBX-USED-WEIGHT-1M"), 10, 64); err == nil {
		b.usedWeight.Store(w + 1)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, binanceError(resp, body)
	}
	return decodeKlines(body)
}

// binanceError turns a non-200 answer into an error. Binance error bodies are
// {"code":-1121,"msg":"Invalid symbol."}.
func binanceError(resp *http.Response, body []byte) error {
	var e struct {
		Code *int   `json:"code"`
		Msg  string `json:"msg"`
	}
	msg := ""
	code := ""
	if json.Unmarshal(body, &e) == nil && e.Code != nil {
		code = strconv.Itoa(*e.Code)
		msg = e.Msg
	} else {
		msg = snippet(body)
	}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusTeapot {
		return &RateLimitError{Provider: "binance", Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After")), Message: msg}
	}
	herr := &HTTPError{Provider: "binance", Status: resp.StatusCode, Code: code, Message: msg}
	if code == "-1121" {
		return fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
	}
	return herr
}

// decodeKlines parses Binance's kline arrays:
// [openTime, "open", "high", "low", "close", "volume", closeTime,
// "quoteVolume", trades, "takerBuyBase", "takerBuyQuote", "ignore"].
func decodeKlines(body []byte) ([]Bar, error) {
	var rows [][]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&rows); err != nil {
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	bars := make([]Bar, 0, len(rows))
	for i, row := range rows {
		if len(row) < 6 {
			return nil, fmt.Errorf("%w: kline %d has %d fields, want 12", ErrMalformed, i, len(row))
		}
		ms, err := jsonNumber(row[0])
		if err != nil {
			return nil, fmt.Errorf("%w: kline %d open time: %v", ErrMalformed, i, err)
		}
		var v [5]float64
		for j := range v {
			if v[j], err = jsonNumber(row[j+1]); err != nil {
				return nil, fmt.Errorf("%w: kline %d field %d: %v", ErrMalformed, i, j+1, err)
			}
		}
		bars = append(bars, Bar{Time: time.UnixMilli(int64(ms)).UTC(), Open: v[0], High: v[1], Low: v[2], Close: v[3], Volume: v[4]})
	}
	return bars, nil
}

// jsonNumber reads a JSON number or a string holding one (Binance sends
// prices as strings to keep their precision).
func jsonNumber(raw json.RawMessage) (float64, error) {
	s := string(bytes.TrimSpace(raw))
	if strings.HasPrefix(s, `"`) {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("%s is not a number", snippet(raw))
	}
	return f, nil
}

// defaultRetryAfter is the wait assumed when a 429 names none.
const defaultRetryAfter = 30 * time.Second

// retryAfter parses a Retry-After header (seconds or an HTTP date).
func retryAfter(h string) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return defaultRetryAfter
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
		return 0
	}
	return defaultRetryAfter
}

// snippet shortens a body for error messages.
func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return strconv.Quote(s)
}

// getJSON sends req (Accept: application/json) with hc (nil: the default
// client) and returns the response, already closed, and its body (at most
// 64 MiB).
func getJSON(hc *http.Client, req *http.Request) (*http.Response, []byte, error) {
	req.Header.Set("Accept", "application/json")
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, fmt.Errorf("reading body: %w", err)
	}
	return resp, body, nil
}
