package alerts

import (
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// TestVWAPAlertAfterMidnightGap: an alert on VWAP keeps working on a day
// whose 00:00 bar is missing (an outage over midnight): the day is anchored
// at its first bar, so the crossing on that day fires.
func TestVWAPAlertAfterMidnightGap(t *testing.T) {
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"VWAP"}}}}`))
	var bars []marketdata.Bar
	add := func(at time.Time, c, v float64) {
		bars = append(bars, marketdata.Bar{Time: at, Open: c, High: c + 1, Low: c - 1, Close: c, Volume: v})
	}
	day1 := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for h := 0; h < 22; h++ { // day 1: 00:00-21:00, then silence until 03:00
		add(day1.Add(time.Duration(h)*time.Hour), 100, 10)
	}
	day2 := day1.Add(27 * time.Hour) // 03-02 03:00
	closes := []float64{100, 99, 98, 97, 96, 97, 103}
	for i, c := range closes {
		add(day2.Add(time.Duration(i)*time.Hour), c, 10)
	}
	evs, _ := replayEvents(t, a, bars)
	if len(evs) != 1 || evs[0].Kind != EventTrigger || !evs[0].BarTime.Equal(day2.Add(6*time.Hour)) {
		t.Fatalf("events %+v, want one trigger on 03-02 09:00, when the close (103) crosses the day's VWAP (98.57)", evs)
	}
}
