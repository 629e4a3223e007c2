package alerts

import (
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

const closeAbove100 = `{"gt":{"lhs":{"field":"close"},"rhs":{"value":100}}}`

func TestRearmStateMachine(t *testing.T) {
	tests := []struct {
		name   string
		rule   string
		rearm  string
		closes []float64
		want   string
	}{
		{"no rearm: every bar where the rule holds", closeAbove100, "",
			[]float64{95, 101, 102, 95, 101}, "trigger@1 trigger@2 trigger@4"},
		{"rearm disabled behaves like no rearm", closeAbove100, `{"enabled":false}`,
			[]float64{95, 101, 102, 95, 101}, "trigger@1 trigger@2 trigger@4"},
		{"hysteresis percentage (default type), threshold from the rule", closeAbove100, `{"hysteresis":1}`,
			[]float64{95, 101, 102, 99.5, 98.9, 101, 99, 101}, "trigger@1 rearm@4 trigger@5 rearm@6 trigger@7"},
		{"hysteresis default 0.25 %", closeAbove100, `{}`,
			[]float64{95, 101, 99.8, 99.75, 101}, "trigger@1 rearm@3 trigger@4"},
		{"hysteresis fixed", closeAbove100, `{"hysteresis":2,"hysteresis_type":"fixed"}`,
			[]float64{95, 101, 99, 98, 101}, "trigger@1 rearm@3 trigger@4"},
		{"hysteresis below: fires below, re-arms above threshold + h", `{"lt":{"lhs":{"field":"close"},"rhs":{"value":100}}}`,
			`{"hysteresis":2,"hysteresis_type":"fixed","direction":"below"}`,
			[]float64{105, 99, 101, 102, 99}, "trigger@1 rearm@3 trigger@4"},
		{"direction written as the re-arm side still re-arms below", closeAbove100,
			`{"hysteresis":2,"hysteresis_type":"fixed","direction":"below"}`,
			[]float64{95, 101, 99, 98, 101}, "trigger@1 rearm@3 trigger@4"},
		{"explicit threshold differs from the rule's", closeAbove100, `{"threshold":95,"hysteresis":0,"hysteresis_type":"fixed"}`,
			[]float64{95, 101, 96, 95, 101}, "trigger@1 rearm@3 trigger@4"},
		{"rearm rule tree", closeAbove100, `{"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}`,
			[]float64{95, 101, 95, 89, 101}, "trigger@1 rearm@3 trigger@4"},
		{"rearm rule under rule key", closeAbove100, `{"rule":{"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}}`,
			[]float64{95, 101, 95, 89, 101}, "trigger@1 rearm@3 trigger@4"},
		{"rule no longer true (no threshold to derive)", `{"gt":{"lhs":{"field":"close"},"rhs":{"field":"open"}}}`, `{}`,
			[]float64{100, 101, 102, 101, 102}, "trigger@1 rearm@3 trigger@4"},
		{"crossing with hysteresis", `{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":100}}}`, `{"hysteresis":1}`,
			[]float64{95, 101, 99.5, 101, 98, 101}, "trigger@1 rearm@4 trigger@5"},
		{"persistence for trigger and rearm", closeAbove100, `{"persistence_bars":2,"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}`,
			[]float64{95, 101, 102, 89, 95, 89, 89, 101, 101, 101}, "trigger@2 rearm@6 trigger@8"},
		{"persistence without rearm", closeAbove100, `{"enabled":false,"persistence_bars":2}`,
			[]float64{95, 101, 102, 103, 95, 101}, "trigger@2 trigger@3"},
		{"cooldown: re-arm condition met early waits in COOLDOWN", closeAbove100,
			`{"cooldown_minutes":180,"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}`,
			[]float64{95, 101, 89, 89, 95, 101}, "trigger@1 rearm@4 trigger@5"},
		{"cooldown already over when the condition is met", closeAbove100,
			`{"cooldown_minutes":30,"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}`,
			[]float64{95, 101, 89, 101}, "trigger@1 rearm@2 trigger@3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			extra := []string{}
			if tc.rearm != "" {
				extra = append(extra, `"rearm":`+tc.rearm)
			}
			a := mustParse(t, alertJSON(tc.rule, extra...))
			evs, _ := replayEvents(t, a, barsFromCloses(tc.closes...))
			if got := trace(evs); got != tc.want {
				t.Errorf("events = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestCooldownStatus(t *testing.T) {
	a := mustParse(t, alertJSON(closeAbove100, `"rearm":{"cooldown_minutes":180,"lt":{"lhs":{"field":"close"},"rhs":{"value":90}}}`))
	evs, _ := replayEvents(t, a, barsFromCloses(95, 101, 89, 89, 95, 101))
	if len(evs) < 2 || evs[1].PrevStatus != StatusCooldown || evs[1].Status != StatusArmed {
		t.Fatalf("re-arm should come from COOLDOWN: %+v", evs)
	}
	if !strings.Contains(evs[1].Description, "cooldown of 180 minutes over") {
		t.Errorf("description = %q", evs[1].Description)
	}
	if !strings.Contains(evs[0].Rearm, "180 minutes after the trigger") {
		t.Errorf("trigger should tell the next rearm condition: %q", evs[0].Rearm)
	}
}

func TestATRHysteresis(t *testing.T) {
	// Bars with high-low = 2 and steps of at most 1 have a true range of 2,
	// so ATR(14) is exactly 2: the re-arm level is 100 - 1×2 = 98.
	var rows [][4]float64
	for i := 0; i < 150; i++ {
		rows = append(rows, [4]float64{95, 96, 94, 95})
	}
	for _, c := range []float64{96, 97, 98, 99, 100, 101, 100, 99, 98, 99, 100, 101} {
		rows = append(rows, [4]float64{c, c + 1, c - 1, c})
	}
	a := mustParse(t, alertJSON(closeAbove100, `"rearm":{"hysteresis_type":"atr","hysteresis":1}`))
	evs, _ := replayEvents(t, a, ohlc(rows...))
	if got, want := trace(evs), "trigger@155 rearm@158 trigger@161"; got != want {
		t.Fatalf("events = %q, want %q", got, want)
	}
	if lvl := evs[1].Values["rearm_level"]; lvl < 97.999999 || lvl > 98.000001 {
		t.Errorf("rearm level = %v, want 98 (100 − 1×ATR 2)", lvl)
	}
	if a.RearmString() != "close <= 100 − 1×ATR(14)" {
		t.Errorf("rearm string = %q", a.RearmString())
	}
}

func TestTriggerOnce(t *testing.T) {
	a := mustParse(t, alertJSON(closeAbove100, `"options":{"trigger":"once"}`))
	evs, sum := replayEvents(t, a, barsFromCloses(95, 101, 102, 95, 101))
	if got := trace(evs); got != "trigger@1 inactive@1" || sum.Status != StatusInactive {
		t.Errorf("events = %q, status %s; want trigger@1 inactive@1, INACTIVE", got, sum.Status)
	}
}

func TestTriggerEveryTimeAndOncePerBarClose(t *testing.T) {
	bars := barsFromCloses(95, 101)
	now := closeAt(bars, 1).Add(10 * time.Minute)
	for _, tc := range []struct {
		opts      string
		wantFires int
	}{
		{`"options":{"trigger":"every_time"}`, 3},
		{`"options":{"evaluate_once_per_bar":false}`, 3},
		{`"options":{"trigger":"once_per_bar_close"}`, 1},
		{`"options":{"evaluate_once_per_bar":true}`, 1},
		{`"options":{"trigger":"once_per_bar"}`, 1},
	} {
		a := mustParse(t, alertJSON(closeAbove100, tc.opts))
		st := NewState()
		fires := 0
		for run := 0; run < 3; run++ { // three scheduler runs inside the same bar
			res, err := a.Evaluate(Input{Bars: bars, Now: now.Add(time.Duration(run) * time.Minute)}, st)
			if err != nil {
				t.Fatal(err)
			}
			fires += countKind(res.Events, EventTrigger)
			st = res.State
		}
		if fires != tc.wantFires {
			t.Errorf("%s: %d triggers in 3 runs on one bar, want %d", tc.opts, fires, tc.wantFires)
		}
	}
}

func TestTriggerOncePerBarUsesFormingBar(t *testing.T) {
	all := barsFromCloses(95, 99, 101, 101)
	a := mustParse(t, alertJSON(closeAbove100, `"options":{"trigger":"once_per_bar"}`))
	st := NewState()
	st.LastBarTS = all[0].Time
	// Bar 2 is still forming at 02:30 with close 101.
	res, err := a.Evaluate(Input{Bars: all[:2], Forming: &all[2], Now: all[2].Time.Add(30 * time.Minute)}, st)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Events) != 1 || !res.Events[0].Forming || !res.Events[0].BarTime.Equal(all[2].Time) {
		t.Fatalf("want one trigger on the forming bar, got %+v", res.Events)
	}
	if !strings.Contains(res.Events[0].Body, "(forming)") {
		t.Errorf("body should say the bar is forming: %q", res.Events[0].Body)
	}
	// Bar 2 closes: no second trigger for it; bar 3 fires again (no rearm).
	res, err = a.Evaluate(Input{Bars: all[:3], Now: closeAt(all, 2)}, res.State)
	if err != nil || countKind(res.Events, EventTrigger) != 0 {
		t.Fatalf("closed bar 2 fired again: %v %+v", err, res.Events)
	}
	res, err = a.Evaluate(Input{Bars: all, Now: closeAt(all, 3)}, res.State)
	if err != nil || countKind(res.Events, EventTrigger) != 1 {
		t.Fatalf("bar 3 should fire: %v %+v", err, res.Events)
	}

	// once_per_bar_close ignores the forming bar, also when it arrives as
	// an unclosed last element of Bars.
	c := mustParse(t, alertJSON(closeAbove100))
	res, err = c.Evaluate(Input{Bars: all[:3], Now: all[2].Time.Add(30 * time.Minute)}, st)
	if err != nil || len(res.Events) != 0 || !res.State.LastBarTS.Equal(all[1].Time) {
		t.Fatalf("once_per_bar_close used the forming bar: %v %+v", err, res)
	}
}

func TestExpiresAt(t *testing.T) {
	bars := barsFromCloses(95, 101, 101, 101)
	exp := closeAt(bars, 1).Format(time.RFC3339)
	a := mustParse(t, alertJSON(closeAbove100, `"options":{"expires_at":"`+exp+`"}`))
	evs, sum := replayEvents(t, a, bars)
	if got := trace(evs); got != "trigger@1 inactive@1" || sum.Status != StatusInactive {
		t.Errorf("events = %q, status %s", got, sum.Status)
	}
	// Catch-up after expiry: bars closed before expires_at still count.
	st := NewState()
	st.LastBarTS = bars[0].Time
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 3)}, st)
	if err != nil || trace(wrap(res.Events)) != "trigger@1 inactive@3" {
		t.Errorf("catch-up over expiry: %v %q", err, trace(wrap(res.Events)))
	}
}

func wrap(evs []Event) []ReplayEvent {
	out := make([]ReplayEvent, len(evs))
	for i, e := range evs {
		out[i] = ReplayEvent{Event: e}
	}
	return out
}

func TestCatchUpCollapsesTriggers(t *testing.T) {
	bars := barsFromCloses(95, 101, 95, 101, 95, 101)
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":100}}}`))
	st := NewState()
	st.LastBarTS = bars[0].Time
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 5).Add(3 * time.Hour)}, st)
	if err != nil {
		t.Fatal(err)
	}
	if res.Evaluated != 5 || len(res.Events) != 1 {
		t.Fatalf("evaluated %d bars, events %+v; want 5 bars, one collapsed event", res.Evaluated, res.Events)
	}
	ev := res.Events[0]
	if ev.Count != 3 || len(ev.Times) != 3 || !ev.Times[0].Equal(bars[1].Time) || !ev.Times[2].Equal(bars[5].Time) || !ev.BarTime.Equal(bars[5].Time) {
		t.Errorf("collapsed event: count %d times %v bar %v", ev.Count, ev.Times, ev.BarTime)
	}
	if !strings.Contains(ev.Body, "Fired 3 times since the last check, on bars 2024-01-01 01:00, 2024-01-01 03:00, 2024-01-01 05:00 UTC") {
		t.Errorf("body = %q", ev.Body)
	}
	if res.State.TriggerCount != 3 || !res.State.LastBarTS.Equal(bars[5].Time) || res.State.Sides["rule.crosses_above"] != "above" {
		t.Errorf("state = %+v", res.State)
	}
	// Nothing new: the same bars again evaluate nothing.
	res2, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 5).Add(4 * time.Hour)}, res.State)
	if err != nil || res2.Evaluated != 0 || len(res2.Events) != 0 {
		t.Errorf("re-run evaluated %d bars, events %+v", res2.Evaluated, res2.Events)
	}
	// A gap wider than the fetched window is reported.
	old := NewState()
	old.LastBarTS = bars[0].Time.Add(-48 * time.Hour)
	res3, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 5)}, old)
	if err != nil || len(res3.Warnings) != 1 || !strings.Contains(res3.Warnings[0], "data gap") {
		t.Errorf("gap warning missing: %v %v", err, res3.Warnings)
	}
}

func TestCatchUpCrossingMissedBetweenRuns(t *testing.T) {
	// The old service compared sides between runs and missed a cross-and-
	// back inside one window. Evaluating every bar catches it.
	bars := barsFromCloses(95, 96, 101, 97, 96)
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":100}}}`))
	st := NewState()
	st.LastBarTS = bars[1].Time
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 4)}, st)
	if err != nil || countKind(res.Events, EventTrigger) != 1 || !res.Events[0].BarTime.Equal(bars[2].Time) {
		t.Fatalf("missed crossing: %v %+v", err, res.Events)
	}
	if res.State.Sides["rule.crosses_above"] != "below" {
		t.Errorf("sides = %v", res.State.Sides)
	}
}

func TestFloodGuard(t *testing.T) {
	bars := barsFromCloses(95, 101)
	a := mustParse(t, alertJSON(closeAbove100, `"options":{"trigger":"every_time"}`))
	now := closeAt(bars, 1)
	st := NewState()
	var paused []Event
	fires := 0
	for run := 0; run < 20; run++ {
		res, err := a.Evaluate(Input{Bars: bars, Now: now.Add(time.Duration(run) * 5 * time.Second)}, st)
		if err != nil {
			t.Fatal(err)
		}
		fires += countKind(res.Events, EventTrigger)
		for _, e := range res.Events {
			if e.Kind == EventPaused {
				paused = append(paused, e)
			}
		}
		st = res.State
	}
	if fires != DefaultMaxTriggers || len(paused) != 1 || st.Status != StatusPaused {
		t.Fatalf("fires %d, paused events %d, status %s; want %d, 1, PAUSED", fires, len(paused), st.Status, DefaultMaxTriggers)
	}
	if !paused[0].Notify || !strings.Contains(paused[0].Body, "flood guard: 16 triggers within 3m0s") || !strings.Contains(st.Error, "flood guard") {
		t.Errorf("paused event = %+v, state error %q", paused[0], st.Error)
	}

	// Slower than the window: never paused.
	st = NewState()
	for run := 0; run < 10; run++ {
		res, err := a.Evaluate(Input{Bars: bars, Now: now.Add(time.Duration(run) * 2 * time.Minute), Limits: Limits{MaxTriggers: 1, FloodWindow: time.Minute}}, st)
		if err != nil {
			t.Fatal(err)
		}
		st = res.State
	}
	if st.Status == StatusPaused {
		t.Error("paused although triggers were further apart than the window")
	}
}

func TestFloodGuardInReplayTime(t *testing.T) {
	// 1-minute bars firing on every bar: 3 triggers within 3 minutes of
	// replayed time exceed a limit of 2.
	js := `{"ticker":"BTCUSDT","timeframe":"1m","rule":` + closeAbove100 + `}`
	a := mustParse(t, js)
	bars := barsFromCloses(95, 101, 102, 103, 104)
	for i := range bars {
		bars[i].Time = t0.Add(time.Duration(i) * time.Minute)
	}
	var kinds []string
	_, err := Replay(a, bars, ReplayOptions{Limits: Limits{MaxTriggers: 2}}, func(e ReplayEvent) error {
		kinds = append(kinds, e.Kind)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(kinds, " "); got != "trigger trigger paused" {
		t.Errorf("events = %q, want trigger trigger paused", got)
	}
}

func TestEvaluateNeverPanics(t *testing.T) {
	var a Alert // no rule: evaluating it dereferences nil
	bars := barsFromCloses(1, 2)
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 1)}, NewState())
	if err == nil || !strings.Contains(err.Error(), "panicked") || res.State.Error == "" {
		t.Fatalf("err = %v, state %+v", err, res.State)
	}
}

func TestEvaluateRejectsBadInput(t *testing.T) {
	a := mustParse(t, alertJSON(closeAbove100))
	bars := barsFromCloses(95, 101, 102)
	if _, err := a.Evaluate(Input{Bars: bars}, NewState()); err == nil || !strings.Contains(err.Error(), "Now") {
		t.Errorf("missing Now: %v", err)
	}
	swapped := []marketdata.Bar{bars[0], bars[2], bars[1]}
	if _, err := a.Evaluate(Input{Bars: swapped, Now: closeAt(bars, 2)}, NewState()); err == nil || !strings.Contains(err.Error(), "increasing time order") {
		t.Errorf("unsorted bars: %v", err)
	}
}

func TestEvaluateDoesNotChangeInputState(t *testing.T) {
	bars := barsFromCloses(95, 101, 95, 101)
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":100}}}`, `"options":{"trigger":"every_time"}`))
	st := NewState()
	st.Sides = map[string]string{"rule.crosses_above": "below"}
	st.RecentTriggers = []time.Time{closeAt(bars, 0)}
	st.LastBarTS = bars[0].Time
	if _, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 3)}, st); err != nil {
		t.Fatal(err)
	}
	if st.Sides["rule.crosses_above"] != "below" || len(st.RecentTriggers) != 1 || st.TriggerCount != 0 {
		t.Errorf("input state changed: %+v", st)
	}
}
