// Package marketdata provides OHLCV bars: the Bar and Timeframe types,
// providers (Binance, Yahoo, CSV and nine keyed ones such as FMP and
// Polygon), per-provider rate limits, failover between them, a shared cache and
// closed-bar logic.
package marketdata

import (
	"fmt"
	"strings"
	"time"
)

// Bar is one OHLCV candle. Time is the bar's open time in UTC.
type Bar struct {
	Time   time.Time
	Open   float64
	High   float64
	Low    float64
	Close  float64
	Volume float64
}

// Timeframe is a bar length such as "1m", "1h", "1d", "1w" or "1M" (month).
type Timeframe string

// timeframes lists every supported timeframe with its fixed length; calendar
// timeframes (1d, 1w, 1M) are aligned by calendar in Open.
var timeframes = map[Timeframe]time.Duration{
	"1m": time.Minute, "3m": 3 * time.Minute, "5m": 5 * time.Minute,
	"15m": 15 * time.Minute, "30m": 30 * time.Minute,
	"1h": time.Hour, "2h": 2 * time.Hour, "4h": 4 * time.Hour, "6h": 6 * time.Hour,
	"8h": 8 * time.Hour, "12h": 12 * time.Hour,
	"1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1M": 31 * 24 * time.Hour,
}

// KnownTimeframes is the ordered list of supported timeframes.
var KnownTimeframes = []Timeframe{"1m", "3m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "1w", "1M"}

// ParseTimeframe validates s. Unknown timeframes are an error, never a default.
func ParseTimeframe(s string) (Timeframe, error) {
	tf := Timeframe(s)
	if _, ok := timeframes[tf]; !ok {
		known := make([]string, len(KnownTimeframes))
		for i, k := range KnownTimeframes {
			known[i] = string(k)
		}
		return "", fmt.Errorf("unknown timeframe %q (known: %s)", s, strings.Join(known, ", "))
	}
	return tf, nil
}

// Duration is the nominal length of one bar (31 days for 1M; use Next for
// calendar-exact bar ends).
func (tf Timeframe) Duration() time.Duration { return timeframes[tf] }

// Open returns the open time of the bar that contains t (UTC). Intraday bars
// align to multiples of their length since the Unix epoch; 1d to UTC
// midnight; 1w to Monday 00:00 UTC (as Binance does); 1M to the first of the
// month.
func (tf Timeframe) Open(t time.Time) time.Time {
	t = t.UTC()
	switch tf {
	case "1d":
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	case "1w":
		d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
		wd := (int(d.Weekday()) + 6) % 7 // Monday = 0
		return d.AddDate(0, 0, -wd)
	case "1M":
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return t.Truncate(tf.Duration())
}

// Next returns the open time of the bar after the one opening at open, which
// is also the close time of that bar.
func (tf Timeframe) Next(open time.Time) time.Time {
	open = open.UTC()
	switch tf {
	case "1d":
		return open.AddDate(0, 0, 1)
	case "1w":
		return open.AddDate(0, 0, 7)
	case "1M":
		return open.AddDate(0, 1, 0)
	}
	return open.Add(tf.Duration())
}

// Closed reports whether the bar opening at open has closed at now.
func (tf Timeframe) Closed(open, now time.Time) bool { return !now.Before(tf.Next(open)) }

// Add returns the open time n bars after the bar opening at open (n may be
// negative), stepping by calendar for 1d, 1w and 1M.
func (tf Timeframe) Add(open time.Time, n int) time.Time {
	open = open.UTC()
	switch tf {
	case "1d":
		return open.AddDate(0, 0, n)
	case "1w":
		return open.AddDate(0, 0, 7*n)
	case "1M":
		return open.AddDate(0, n, 0)
	}
	return open.Add(time.Duration(n) * tf.Duration())
}

// calendar reports whether tf is aligned by calendar (1d, 1w, 1M) rather
// than by a fixed length since the Unix epoch.
func (tf Timeframe) calendar() bool { return tf == "1d" || tf == "1w" || tf == "1M" }

// Split divides bars into those closed at now and the forming bar: the last
// bar when it has opened but not closed at now. Bars opening after now are
// left out. The returned slice shares bars' backing array.
func (tf Timeframe) Split(bars []Bar, now time.Time) (closed []Bar, forming *Bar) {
	n := len(bars)
	for n > 0 && bars[n-1].Time.After(now) {
		n--
	}
	closed = bars[:n]
	if n > 0 && !tf.Closed(bars[n-1].Time, now) {
		b := bars[n-1]
		forming = &b
		closed = bars[:n-1]
	}
	return closed, forming
}
