package alerts_test

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/marketdata"
)

func ExampleParse() {
	a, err := alerts.Parse([]byte(`{
	  "ticker": "BTCUSDT", "timeframe": "1h",
	  "rule": {"crosses_below": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}, "output": "rsi_14"}},
	                             "rhs": {"value": 30}}},
	  "rearm": {"hysteresis": 5, "hysteresis_type": "fixed"},
	  "notify": {"channels": ["telegram"], "priority": "high"}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.RuleString())
	fmt.Println("re-arms when", a.RearmString())
	fmt.Println("bars to fetch:", a.Lookback())
	// Output:
	// RSI(14) crosses below 30
	// re-arms when RSI(14) >= 35.00 (30 + 5)
	// bars to fetch: 200
}

func ExampleParse_error() {
	_, err := alerts.Parse([]byte(`{"ticker": "BTCUSDT", "timeframe": "1h",
	  "rule": {"and": [{"gt": {"lhs": {"field": "close"}, "rhs": {"value": "65000"}}},
	                   {"lt": {"lhs": {"field": "close"}, "rhs": {"value": 70000}, "extra": 1}}]}}`))
	fmt.Println(err)
	// Output:
	// rule.and[0].gt.rhs.value: must be a number, got string "65000"
	// rule.and[1].lt.extra: unknown key (allowed: lhs, rhs)
}

func ExampleAlert_Evaluate() {
	a, _ := alerts.Parse([]byte(`{"ticker": "BTCUSDT", "timeframe": "1h",
	  "rule": {"crosses_above": {"lhs": {"field": "close"}, "rhs": {"value": 65000}}}}`))
	t0 := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	bars := []marketdata.Bar{
		{Time: t0, Open: 64500, High: 64900, Low: 64400, Close: 64800, Volume: 12},
		{Time: t0.Add(time.Hour), Open: 64800, High: 65300, Low: 64700, Close: 65200, Volume: 15},
	}
	state, warn := alerts.DecodeState(nil) // a new alert: defaults and a warning to log
	fmt.Println("warning:", warn)
	res, err := a.Evaluate(alerts.Input{Bars: bars, Now: t0.Add(2 * time.Hour)}, state)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, ev := range res.Events {
		fmt.Println(ev.Kind, ev.Status, ev.Description)
	}
	raw, _ := res.State.Encode()
	fmt.Println(string(raw))
	// Output:
	// warning: no alert state: starting ARMED
	// trigger TRIGGERED close crossed above 65000: 64800.00 → 65200.00
	// {"version":2,"status":"TRIGGERED","sides":{"rule.crosses_above":"above"},"last_bar_ts":"2024-05-01T01:00:00Z","last_evaluation":"2024-05-01T02:00:00Z","last_triggered":"2024-05-01T02:00:00Z","trigger_count":1,"consecutive_trigger_bars":1,"consecutive_rearm_bars":0,"error":null,"last_trigger_bar_ts":"2024-05-01T01:00:00Z","recent_triggers":["2024-05-01T02:00:00Z"]}
}

func ExampleDecodeState() {
	st, warn := alerts.DecodeState([]byte(`{"status": "triggered", "last_bar_ts": "2024-01-01 10:00:00", "trigger_count": 3}`))
	fmt.Println(st.Status, st.LastBarTS.Format(time.RFC3339), st.TriggerCount, warn)
	_, warn = alerts.DecodeState([]byte(`{"status": ARMED`))
	fmt.Println(warn != nil)
	// Output:
	// TRIGGERED 2024-01-01T10:00:00Z 3 <nil>
	// true
}

// A rule that can never be true is refused with the reason: a crossing
// lasts one bar, so it cannot hold on two bars in a row.
func ExampleParse_neverTrue() {
	_, err := alerts.Parse([]byte(`{"ticker": "BTCUSDT", "timeframe": "1h",
		"rule": {"crosses_above": {"lhs": {"field": "close"}, "rhs": {"value": 65000}}},
		"rearm": {"persistence_bars": 2}}`))
	fmt.Println(err)
	// Output:
	// rearm.persistence_bars: 2 can never be reached: rule.crosses_above holds on one bar at a time (a crossing is over on the next bar), so the rule never holds on 2 bars in a row and the alert would never fire; remove persistence_bars or compare instead of crossing (e.g. gt for crosses_above)
}
