package alerts

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// barsFromCloses builds hourly bars with the given closes; open is the
// previous close, high/low are 0.5 beyond the larger/smaller of open and
// close.
func barsFromCloses(closes ...float64) []marketdata.Bar {
	bars := make([]marketdata.Bar, len(closes))
	prev := closes[0]
	for i, c := range closes {
		bars[i] = marketdata.Bar{Time: t0.Add(time.Duration(i) * time.Hour), Open: prev, High: math.Max(prev, c) + 0.5,
			Low: math.Min(prev, c) - 0.5, Close: c, Volume: 100 + float64(i)}
		prev = c
	}
	return bars
}

// ohlc builds hourly bars from {open, high, low, close} rows.
func ohlc(rows ...[4]float64) []marketdata.Bar {
	bars := make([]marketdata.Bar, len(rows))
	for i, r := range rows {
		bars[i] = marketdata.Bar{Time: t0.Add(time.Duration(i) * time.Hour), Open: r[0], High: r[1], Low: r[2], Close: r[3], Volume: 1000}
	}
	return bars
}

// sine returns n closes oscillating around 100 with the given amplitude and
// period in bars.
func sine(n int, amp, period float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = 100 + amp*math.Sin(2*math.Pi*float64(i)/period)
	}
	return out
}

func mustParse(t testing.TB, js string) *Alert {
	t.Helper()
	a, err := Parse([]byte(js))
	if err != nil {
		t.Fatalf("Parse(%s): %v", js, err)
	}
	return a
}

// alertJSON wraps a rule (and optional extra top-level members) into
// task_params for BTCUSDT 1h.
func alertJSON(rule string, extra ...string) string {
	s := `{"ticker":"BTCUSDT","timeframe":"1h","rule":` + rule
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// closeAt returns the close time of bar i of hourly bars.
func closeAt(bars []marketdata.Bar, i int) time.Time { return bars[i].Time.Add(time.Hour) }

// evalLast evaluates a fresh state on bars (so only the last bar).
func evalLast(t testing.TB, a *Alert, bars []marketdata.Bar) Result {
	t.Helper()
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, len(bars)-1)}, NewState())
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return res
}

// replayEvents runs Replay and returns its events.
func replayEvents(t testing.TB, a *Alert, bars []marketdata.Bar) ([]ReplayEvent, ReplaySummary) {
	t.Helper()
	var evs []ReplayEvent
	sum, err := Replay(a, bars, ReplayOptions{}, func(e ReplayEvent) error { evs = append(evs, e); return nil })
	if err != nil {
		t.Fatalf("Replay: %v", err)
	}
	return evs, sum
}

// trace renders replay events as "kind@index" with the bar index in hours
// since t0, e.g. "trigger@7 rearm@9".
func trace(evs []ReplayEvent) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = e.Kind + "@" + strconv.Itoa(int(e.BarTime.Sub(t0)/time.Hour))
	}
	return strings.Join(parts, " ")
}

func countKind(evs []Event, kind string) int {
	n := 0
	for _, e := range evs {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

func errorsAs(err error, target any) bool { return errors.As(err, target) }
