package alerts

import (
	"math"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

var t0 = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// barsFromCloses builds hourly bars with the given closes; open is the
// previous close, high/low are 0.5 around max/min of open and close.
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

func kinds(evs []ReplayEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Kind + "@" + string(rune('0'+0)) // placeholder replaced below
		out[i] = e.Kind + "@" + e.BarTime.Format("01-02T15")
	}
	return out
}
