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

// DefaultYahooBaseURL is Yahoo Finance's chart API host.
const DefaultYahooBaseURL = "https://query1.finance.yahoo.com"

// DefaultYahooUserAgent is sent with every Yahoo request; Yahoo answers 429
// to clients that do not look like a browser.
const DefaultYahooUserAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"

// yahooInterval maps our timeframes to Yahoo's interval names and history
// limits (how far back Yahoo serves that interval; 0 means no limit) and the
// longest range one request may span (0 means no limit). Yahoo has no 3m,
// 2h, 4h, 6h, 8h or 12h interval.
var yahooInterval = map[Timeframe]struct {
	name     string
	history  time.Duration
	perQuery time.Duration
}{
	"1m":  {"1m", 30 * 24 * time.Hour, 7 * 24 * time.Hour},
	"5m":  {"5m", 60 * 24 * time.Hour, 0},
	"15m": {"15m", 60 * 24 * time.Hour, 0},
	"30m": {"30m", 60 * 24 * time.Hour, 0},
	"1h":  {"60m", 730 * 24 * time.Hour, 0},
	"1d":  {"1d", 0, 0},
	"1w":  {"1wk", 0, 0},
	"1M":  {"1mo", 0, 0},
}

// Yahoo fetches bars from Yahoo Finance's chart endpoint
// GET /v8/finance/chart/{symbol}?interval=..&period1=..&period2=...
//
// Timeframes map to Yahoo intervals as 1m→1m, 5m→5m, 15m→15m, 30m→30m,
// 1h→60m, 1d→1d, 1w→1wk, 1M→1mo; others are ErrUnsupportedTimeframe.
// Yahoo keeps 1m bars for 30 days (at most 7 days per request, so longer 1m
// ranges are split), 5m–30m for 60 days and 1h for 730 days; a range reaching
// further back is ErrHistoryLimit rather than a silently shorter answer.
// Bars whose prices are null (Yahoo pads missing minutes with nulls) are
// dropped; a null volume with prices present counts as 0. Daily, weekly and
// monthly bars are stamped by Yahoo at the exchange's session open (e.g.
// 14:30 UTC for New York); they are re-stamped to UTC midnight of the
// exchange-local date (Monday for weeks, the 1st for months) so they align
// with Timeframe.Open. Yahoo's last intraday point is often the latest trade
// time rather than a bar open; it is moved to its bar's open time, or dropped
// when that bar is already present.
type Yahoo struct {
	// BaseURL is the scheme and host, e.g. DefaultYahooBaseURL.
	BaseURL string
	// HTTP is the client used for requests; nil means http.DefaultClient.
	HTTP *http.Client
	// UserAgent is sent with each request; empty means
	// DefaultYahooUserAgent.
	UserAgent string
	// Now is the clock used to check history limits; nil means time.Now.
	Now func() time.Time
}

// NewYahoo returns a Yahoo provider for baseURL (empty means
// DefaultYahooBaseURL).
func NewYahoo(baseURL string, hc *http.Client) *Yahoo {
	if baseURL == "" {
		baseURL = DefaultYahooBaseURL
	}
	return &Yahoo{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: hc}
}

// Name returns "yahoo".
func (y *Yahoo) Name() string { return "yahoo" }

// Bars fetches the bars of symbol opening in [from, to].
func (y *Yahoo) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	iv, ok := yahooInterval[tf]
	if !ok {
		return nil, fmt.Errorf("yahoo chart %s %s: %w (yahoo has 1m 5m 15m 30m 1h 1d 1w 1M)", symbol, tf, ErrUnsupportedTimeframe)
	}
	if iv.history > 0 {
		now := time.Now
		if y.Now != nil {
			now = y.Now
		}
		if oldest := now().Add(-iv.history); from.Before(oldest) {
			return nil, fmt.Errorf("yahoo chart %s %s: %w: yahoo keeps %s bars for the last %d days only, requested from %s",
				symbol, tf, ErrHistoryLimit, tf, int(iv.history.Hours()/24), from.UTC().Format(time.RFC3339))
		}
	}
	var out []Bar
	for start := from; !start.After(to); {
		end := to
		if iv.perQuery > 0 && end.Sub(start) > iv.perQuery {
			end = start.Add(iv.perQuery)
		}
		if !start.Equal(from) {
			if err := pace(ctx); err != nil {
				return nil, fmt.Errorf("yahoo chart %s %s: %w", symbol, tf, err)
			}
		}
		bars, err := y.chart(ctx, symbol, tf, iv.name, start, end)
		if err != nil {
			return nil, fmt.Errorf("yahoo chart %s %s: %w", symbol, tf, err)
		}
		for i, b := range bars {
			if b.Time.Before(from) || b.Time.After(to) {
				continue
			}
			if n := len(out); i == 0 && n > 0 && b.Time.Equal(out[n-1].Time) {
				continue // the bar at a chunk boundary comes in both chunks
			}
			out = append(out, b)
		}
		if end.Equal(to) {
			break
		}
		start = end
	}
	return out, nil
}

// yahooChart is the layout of a chart answer.
type yahooChart struct {
	Chart struct {
		Result []struct {
			Meta struct {
				Symbol           string `json:"symbol"`
				GMTOffset        int64  `json:"gmtoffset"`
				DataGranularity  string `json:"dataGranularity"`
				ExchangeTimezone string `json:"exchangeTimezoneName"`
			} `json:"meta"`
			Timestamp  []int64 `json:"timestamp"`
			Indicators struct {
				Quote []struct {
					Open   []*float64 `json:"open"`
					High   []*float64 `json:"high"`
					Low    []*float64 `json:"low"`
					Close  []*float64 `json:"close"`
					Volume []*float64 `json:"volume"`
				} `json:"quote"`
			} `json:"indicators"`
		} `json:"result"`
		Error *struct {
			Code        string `json:"code"`
			Description string `json:"description"`
		} `json:"error"`
	} `json:"chart"`
}

func (y *Yahoo) chart(ctx context.Context, symbol string, tf Timeframe, interval string, from, to time.Time) ([]Bar, error) {
	q := url.Values{}
	q.Set("interval", interval)
	q.Set("period1", strconv.FormatInt(from.Unix(), 10))
	// period2 is exclusive at Yahoo; +1s keeps a bar opening exactly at to.
	q.Set("period2", strconv.FormatInt(to.Unix()+1, 10))
	q.Set("includePrePost", "false")
	u := y.BaseURL + "/v8/finance/chart/" + url.PathEscape(symbol) + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	ua := y.UserAgent
	if ua == "" {
		ua = DefaultYahooUserAgent
	}
	req.Header.Set("User-Agent", ua)
	resp, body, err := getJSON(y.HTTP, req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusTooManyRequests {
		return nil, &RateLimitError{Provider: "yahoo", Status: resp.StatusCode, RetryAfter: retryAfter(resp.Header.Get("Retry-After")), Message: snippetText(body)}
	}
	var c yahooChart
	if err := json.Unmarshal(body, &c); err != nil {
		if resp.StatusCode != http.StatusOK {
			return nil, &HTTPError{Provider: "yahoo", Status: resp.StatusCode, Message: snippetText(body)}
		}
		return nil, fmt.Errorf("%w: %v (body %s)", ErrMalformed, err, snippet(body))
	}
	if e := c.Chart.Error; e != nil {
		herr := &HTTPError{Provider: "yahoo", Status: resp.StatusCode, Code: e.Code, Message: e.Description}
		if e.Code == "Not Found" || resp.StatusCode == http.StatusNotFound {
			return nil, fmt.Errorf("%w: %w", ErrSymbolNotFound, herr)
		}
		return nil, herr
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &HTTPError{Provider: "yahoo", Status: resp.StatusCode, Message: snippetText(body)}
	}
	if len(c.Chart.Result) == 0 {
		return nil, fmt.Errorf("%w: chart.result is empty and no error given", ErrMalformed)
	}
	r := c.Chart.Result[0]
	if len(r.Timestamp) == 0 {
		return nil, nil
	}
	if len(r.Indicators.Quote) == 0 {
		return nil, fmt.Errorf("%w: %d timestamps but no indicators.quote", ErrMalformed, len(r.Timestamp))
	}
	qt := r.Indicators.Quote[0]
	n := len(r.Timestamp)
	for name, col := range map[string][]*float64{"open": qt.Open, "high": qt.High, "low": qt.Low, "close": qt.Close, "volume": qt.Volume} {
		if len(col) != n {
			return nil, fmt.Errorf("%w: %d timestamps but %d %s values", ErrMalformed, n, len(col), name)
		}
	}
	local := time.FixedZone("exchange", int(r.Meta.GMTOffset))
	bars := make([]Bar, 0, n)
	for i, ts := range r.Timestamp {
		if qt.Open[i] == nil || qt.High[i] == nil || qt.Low[i] == nil || qt.Close[i] == nil {
			continue
		}
		t := time.Unix(ts, 0).UTC()
		if tf.calendar() {
			lt := t.In(local)
			t = tf.Open(time.Date(lt.Year(), lt.Month(), lt.Day(), 0, 0, 0, 0, time.UTC))
		}
		b := Bar{Time: t, Open: *qt.Open[i], High: *qt.High[i], Low: *qt.Low[i], Close: *qt.Close[i]}
		if qt.Volume[i] != nil {
			b.Volume = *qt.Volume[i]
		}
		bars = append(bars, b)
	}
	return fixLastYahooPoint(bars, tf), nil
}

// fixLastYahooPoint moves a trailing point stamped with the latest trade time
// onto its bar's open (keeping the offset of the earlier bars), or drops it
// when that bar is already in the series.
func fixLastYahooPoint(bars []Bar, tf Timeframe) []Bar {
	n := len(bars)
	if n < 2 || tf.calendar() {
		return bars
	}
	prev, last := bars[n-2].Time, bars[n-1].Time
	phase := prev.Sub(tf.Open(prev))
	if last.Sub(tf.Open(last)) == phase {
		return bars
	}
	open := tf.Open(last.Add(-phase)).Add(phase)
	if !open.After(prev) {
		return bars[:n-1]
	}
	bars[n-1].Time = open
	return bars
}

// snippetText is snippet without quotes, for plain-text error bodies.
func snippetText(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}
