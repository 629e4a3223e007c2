package alerts

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestReadBarsCSV(t *testing.T) {
	in := "time,open,high,low,close,volume\n" +
		"2024-01-01T00:00:00Z,1,2,0.5,1.5,10\n" +
		"# a comment\n" +
		"1704070800,1.5,2.5,1,2,11\n"
	bars, err := ReadBarsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(bars) != 2 || !bars[1].Time.Equal(time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)) || bars[1].Close != 2 || bars[0].Volume != 10 {
		t.Errorf("bars = %+v", bars)
	}
	// No header, columns in the default order; header in another order.
	if b, err := ReadBarsCSV(strings.NewReader("1704067200,1,2,0.5,1.5,10\n")); err != nil || len(b) != 1 {
		t.Errorf("headerless: %v %v", b, err)
	}
	if b, err := ReadBarsCSV(strings.NewReader("close,volume,timestamp,open,high,low\n1.5,10,2024-01-01,1,2,0.5\n")); err != nil || b[0].Close != 1.5 || b[0].Low != 0.5 {
		t.Errorf("reordered header: %v %v", b, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"time,open,high,low,close\n", `lacks column "volume"`},
		{"time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0.5,abc,10\n", `csv line 2: close: "abc" is not a finite number`},
		{"time,open,high,low,close,volume\nyesterday,1,2,0.5,1,10\n", `csv line 2: time: invalid time "yesterday"`},
		{"time,open,high,low,close,volume\n1704067200,1,2,0.5,1,10\n1704067200,1,2,0.5,1,10\n", `csv line 3: time 2024-01-01T00:00:00Z is not after`},
		{"time,open,high,low,close,volume\n1704067200,1,0.5,2,1,10\n", `high 0.5 is below low 2`},
		{"time,open,high,low,close,volume\n1704067200000,1,2,0.5,1,10\n", `invalid time "1704067200000"`},
		{"time,open,high,low,close,volume\n", "no bars"},
	} {
		if _, err := ReadBarsCSV(strings.NewReader(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ReadBarsCSV(%q) error = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestReplayFromTo(t *testing.T) {
	bars := barsFromCloses(95, 101, 95, 101, 95, 101, 95, 101)
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":100}}}`))
	var got []string
	sum, err := Replay(a, bars, ReplayOptions{From: bars[2].Time, To: bars[5].Time}, func(e ReplayEvent) error {
		got = append(got, e.Kind+"@"+e.BarTime.Format("15"))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Bars 2..5 are evaluated; the crossing at bar 3 uses bar 2 (history).
	if strings.Join(got, " ") != "trigger@03 trigger@05" || sum.Bars != 4 || sum.Evaluated != 4 || sum.Triggers != 2 {
		t.Errorf("events %v, summary %+v", got, sum)
	}
}

func TestReplayWarmUpAndRealIndicator(t *testing.T) {
	a := mustParse(t, realConfigs["spec example RSI"])
	bars := barsFromCloses(sine(400, 10, 50)...)
	evs, sum := replayEvents(t, a, bars)
	if sum.WarmUp != a.MinBars()-1 || sum.Evaluated != 400-sum.WarmUp {
		t.Errorf("summary %+v (MinBars %d)", sum, a.MinBars())
	}
	// The sine has a period of 50 bars: RSI(14) dips below 30 once per
	// cycle on the way down, and without rearm fires on each crossing.
	if sum.Triggers != 5 || countKind(unwrap(evs), EventRearm) != 0 {
		t.Errorf("triggers %d, events %s", sum.Triggers, trace(evs))
	}
	for _, e := range evs {
		if e.Values["rsi_14_prev"] < 30 || e.Values["rsi_14"] >= 30 || e.Values["value"] != 30 {
			t.Errorf("crossing values %v", e.Values)
		}
		if !strings.HasPrefix(e.Description, "RSI(14) crossed below 30: ") {
			t.Errorf("description %q", e.Description)
		}
	}
}

func unwrap(evs []ReplayEvent) []Event {
	out := make([]Event, len(evs))
	for i, e := range evs {
		out[i] = e.Event
	}
	return out
}

func TestSeriesMemoMatchesCache(t *testing.T) {
	bars := barsFromCloses(sine(300, 10, 40)...)
	a := mustParse(t, realConfigs["or/not with sma"])
	st := NewState()
	st.LastBarTS = bars[250].Time
	now := closeAt(bars, len(bars)-1)
	direct, err := a.Evaluate(Input{Bars: bars, Now: now}, st)
	if err != nil {
		t.Fatal(err)
	}
	ser := NewSeries("s", bars, nil)
	memo, err := a.Evaluate(Input{Series: ser, Now: now}, st)
	if err != nil {
		t.Fatal(err)
	}
	if direct.Evaluated != 49 || len(direct.Events) != len(memo.Events) || direct.State.TriggerCount != memo.State.TriggerCount {
		t.Errorf("direct %+v\nseries %+v", direct, memo)
	}
	if len(ser.memo) != 2 {
		t.Errorf("series memo holds %d computations, want 2 (SMA 20, SMA 50)", len(ser.memo))
	}
}

func TestConcurrentEvaluateSharedSeries(t *testing.T) {
	bars := barsFromCloses(sine(300, 10, 40)...)
	ser := NewSeries("s", bars, nil)
	a := mustParse(t, realConfigs["or/not with sma"])
	st := NewState()
	st.LastBarTS = bars[250].Time
	now := closeAt(bars, len(bars)-1)
	want, err := a.Evaluate(Input{Bars: bars, Now: now}, st)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func() {
			res, err := a.Evaluate(Input{Series: ser, Now: now}, st)
			if err == nil && res.State.TriggerCount != want.State.TriggerCount {
				err = fmt.Errorf("trigger count %d, want %d", res.State.TriggerCount, want.State.TriggerCount)
			}
			errs <- err
		}()
	}
	for g := 0; g < 8; g++ {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
