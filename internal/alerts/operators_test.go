package alerts

import (
	"errors"
	"testing"
)

// holds reports whether the rule holds at the last bar: without rearm,
// Evaluate on a fresh state fires exactly when the rule holds there.
func holds(t *testing.T, rule string, rows ...[4]float64) bool {
	t.Helper()
	a := mustParse(t, alertJSON(rule))
	res := evalLast(t, a, ohlc(rows...))
	return countKind(res.Events, EventTrigger) == 1
}

func TestOperators(t *testing.T) {
	// Two bars: previous close 100, last close 105 (open, high, low, close).
	two := [][4]float64{{99, 101, 98, 100}, {100, 106, 99, 105}}
	close := `{"field":"close"}`
	v := func(x string) string { return `{"value":` + x + `}` }
	cmp := func(op, l, r string) string { return `{"` + op + `":{"lhs":` + l + `,"rhs":` + r + `}}` }
	rng := func(op, val, lo, hi string) string {
		return `{"` + op + `":{"value":` + val + `,"lower":` + lo + `,"upper":` + hi + `}}`
	}
	tests := []struct {
		name string
		rule string
		rows [][4]float64
		want bool
	}{
		{"gt true", cmp("gt", close, v("104.9")), two, true},
		{"gt equal is false", cmp("gt", close, v("105")), two, false},
		{"gte equal", cmp("gte", close, v("105")), two, true},
		{"lt true", cmp("lt", close, v("105.1")), two, true},
		{"lt equal is false", cmp("lt", close, v("105")), two, false},
		{"lte equal", cmp("lte", close, v("105")), two, true},
		{"eq", cmp("eq", close, v("105")), two, true},
		{"eq different", cmp("eq", close, v("105.01")), two, false},
		{"ne", cmp("ne", close, v("105.01")), two, true},
		{"ne equal", cmp("ne", close, v("105")), two, false},
		{"constant on the left", cmp("lt", v("104"), close), two, true},
		{"field vs field", cmp("gt", `{"field":"high"}`, `{"field":"close"}`), two, true},
		{"hl2", cmp("eq", `{"field":"hl2"}`, v("102.5")), two, true},
		{"hlc3", cmp("eq", `{"field":"hlc3"}`, v("103.33333333333333")), two, true},
		{"ohlc4", cmp("eq", `{"field":"ohlc4"}`, v("102.5")), two, true},
		{"volume", cmp("gte", `{"field":"volume"}`, v("1000")), two, true},
		{"between inside", rng("between", close, v("100"), v("110")), two, true},
		{"between at bound", rng("between", close, v("105"), v("110")), two, true},
		{"between outside", rng("between", close, v("106"), v("110")), two, false},
		{"inside_band", rng("inside_band", close, v("100"), v("110")), two, true},
		{"outside below", rng("outside", close, v("106"), v("110")), two, true},
		{"outside at bound is inside", rng("outside", close, v("100"), v("105")), two, false},
		{"outside_band", rng("outside_band", close, v("90"), v("100")), two, true},
		{"between dynamic bounds", rng("between", close, `{"field":"low"}`, `{"field":"high"}`), two, true},
		{"crosses_above", cmp("crosses_above", close, v("102")), two, true},
		{"crosses_above from equal", cmp("crosses_above", close, v("100")), two, true},
		{"crosses_above already above", cmp("crosses_above", close, v("99")), two, false},
		{"crosses_above not reached", cmp("crosses_above", close, v("105")), two, false},
		{"crosses_below", cmp("crosses_below", close, v("102")),
			[][4]float64{{100, 106, 99, 105}, {105, 106, 99, 100}}, true},
		{"crosses_below rising", cmp("crosses_below", close, v("102")), two, false},
		{"crosses two series", cmp("crosses_above", close, `{"field":"open"}`),
			[][4]float64{{101, 102, 99, 100}, {100, 106, 99, 105}}, true},
		{"and true", `{"and":[` + cmp("gt", close, v("100")) + `,` + cmp("lt", close, v("110")) + `]}`, two, true},
		{"and false", `{"and":[` + cmp("gt", close, v("100")) + `,` + cmp("lt", close, v("101")) + `]}`, two, false},
		{"or true", `{"or":[` + cmp("gt", close, v("200")) + `,` + cmp("lt", close, v("110")) + `]}`, two, true},
		{"or false", `{"or":[` + cmp("gt", close, v("200")) + `,` + cmp("lt", close, v("101")) + `]}`, two, false},
		{"not", `{"not":` + cmp("gt", close, v("200")) + `}`, two, true},
		{"offset previous close", cmp("eq", `{"field":"close","offset":1}`, v("100")), two, true},
		{"offset crossing of previous bars", cmp("crosses_above", `{"field":"close","offset":1}`, v("99.5")),
			[][4]float64{{99, 100, 98, 99}, {99, 101, 98, 100}, {100, 106, 99, 105}}, true},
		{"change", cmp("eq", `{"change":{"of":{"field":"close"},"bars":1}}`, v("5")), two, true},
		{"change_pct", cmp("gte", `{"change_pct":{"of":{"field":"close"},"bars":1}}`, v("5")), two, true},
		{"change_pct below", cmp("gte", `{"change_pct":{"of":{"field":"close"},"bars":1}}`, v("5.01")), two, false},
		{"touches inside range", `{"touches":{"level":` + v("103") + `}}`, two, true},
		{"touches at high", `{"touches":{"level":` + v("106") + `}}`, two, true},
		{"touches above high", `{"touches":{"level":` + v("106.5") + `}}`, two, false},
		{"touches below low", `{"touches":{"level":` + v("98.9") + `}}`, two, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := holds(t, tc.rule, tc.rows...); got != tc.want {
				t.Errorf("rule %s: holds = %v, want %v", tc.rule, got, tc.want)
			}
		})
	}
}

func TestMoving(t *testing.T) {
	// closes 100, 96, 98, 101: the low of the 3 bars before the last is 96.
	rows := [][4]float64{{100, 100, 100, 100}, {100, 100, 96, 96}, {96, 98, 96, 98}, {98, 101, 98, 101}}
	tests := []struct {
		rule string
		want bool
	}{
		{`{"moving_up":{"value":{"field":"close"},"bars":3,"pct":5}}`, true},    // 96 → 101 = +5.21 %
		{`{"moving_up":{"value":{"field":"close"},"bars":3,"pct":5.3}}`, false}, // not quite
		{`{"moving_up":{"value":{"field":"close"},"bars":1,"pct":5}}`, false},   // 98 → 101 = +3.06 %
		{`{"moving_up":{"value":{"field":"close"},"bars":3,"amount":5}}`, true}, // +5
		{`{"moving_up":{"value":{"field":"close"},"bars":3,"amount":5.5}}`, false},
		{`{"moving_down":{"value":{"field":"close"},"bars":3,"pct":1}}`, false}, // high 100 → 101 is up
		{`{"moving_down":{"value":{"field":"close"},"bars":2,"amount":1}}`, false},
	}
	for _, tc := range tests {
		if got := holds(t, tc.rule, rows...); got != tc.want {
			t.Errorf("%s: holds = %v, want %v", tc.rule, got, tc.want)
		}
	}
	down := [][4]float64{{100, 100, 100, 100}, {100, 104, 100, 104}, {104, 104, 97, 97}}
	if !holds(t, `{"moving_down":{"value":{"field":"close"},"bars":2,"pct":6.7}}`, down...) { // 104 → 97 = −6.73 %
		t.Error("moving_down 6.7 % within 2 bars should hold")
	}
}

func TestIndicatorOperandSMA(t *testing.T) {
	// SMA(3) of closes 10, 11, 12, 16 is 11 then 13: close 16 crosses above
	// it only at the last bar, but the bar before (12 vs 11) was already
	// above, so crosses_above is false while gt is true.
	bars := barsFromCloses(10, 11, 12, 16)
	sma := `{"indicator":{"type":"SMA","params":{"period":3}}}`
	a := mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":`+sma+`}}`))
	res := evalLast(t, a, bars)
	if countKind(res.Events, EventTrigger) != 1 {
		t.Fatalf("close > SMA(3) should hold: %+v", res.Events)
	}
	ev := res.Events[0]
	if ev.Values["sma_3"] != 13 || ev.Values["close"] != 16 {
		t.Errorf("values = %v, want sma_3=13 close=16", ev.Values)
	}
	if ev.Description != "close > SMA(3): 16.00 vs 13.00" {
		t.Errorf("description = %q", ev.Description)
	}
	a = mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":`+sma+`}}`))
	if got := countKind(evalLast(t, a, bars).Events, EventTrigger); got != 0 {
		t.Errorf("crosses_above fired although close was already above")
	}
}

func TestNotEnoughBars(t *testing.T) {
	a := mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close","offset":5},"rhs":{"value":0}}}`))
	bars := barsFromCloses(1, 2)
	res, err := a.Evaluate(Input{Bars: bars, Now: closeAt(bars, 1)}, NewState())
	var nb *NotEnoughBarsError
	if !errors.As(err, &nb) || nb.Need != 6 || nb.Got != 2 {
		t.Fatalf("err = %v, want NotEnoughBarsError{6, 2}", err)
	}
	if res.State.Error == "" || res.State.Status != StatusArmed || countKind(res.Events, EventError) != 1 {
		t.Errorf("failed evaluation should keep the status, record the error and emit an error event: %+v", res)
	}
}
