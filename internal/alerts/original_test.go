package alerts

import (
	"math"
	"strings"
	"testing"
)

// originalSeries is 300 hourly closes: a 40-bar swing of ±6 around a slow
// drift, so that averages of different periods and bands differ.
func originalSeries() []float64 {
	closes := make([]float64, 300)
	for i := range closes {
		closes[i] = 100 + 6*math.Sin(2*math.Pi*float64(i)/40) + 3*math.Sin(2*math.Pi*float64(i)/7) + 0.02*float64(i)
	}
	return closes
}

// TestOriginalConfigDefaults replays configurations of the original service
// that leave a param or the band out, and checks that they behave exactly as
// the same configuration with the original service's default written out
// (and not as with the default this service had before).
func TestOriginalConfigDefaults(t *testing.T) {
	bars := barsFromCloses(originalSeries()...)
	cases := []struct {
		name, source              string
		omitted, explicit, former string // former: "" when the default did not change
	}{
		{"BOLLINGER without band reads the middle band",
			"src/common/alerts/alert_evaluator.py _calculate_basic_indicators: band = params.get(\"band\", \"middle\"); ORIGINAL-SYSTEM §3",
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BOLLINGER","params":{"period":20,"std_dev":2},"output":"bb"}}}}`,
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BOLLINGER","params":{"period":20,"std_dev":2,"band":"middle"},"output":"bb"}}}}`,
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BOLLINGER","params":{"period":20,"std_dev":2,"band":"upper"},"output":"bb"}}}}`},
		{"BOLLINGER without params",
			"alert_evaluator.py: period 20, std_dev 2.0, band middle",
			`{"gt":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BOLLINGER"}}}}`,
			`{"gt":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BBANDS","params":{"period":20,"dev_up":2,"dev_down":2},"line":"middle"}}}}`,
			`{"gt":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BBANDS","params":{"period":20},"line":"upper"}}}}`},
		{"SMA without period is SMA(20)",
			"alert_evaluator.py: SMA period = int(params.get(\"period\", 20)); tests/test_alert_evaluator.py uses SMA_20",
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"SMA","params":{"source":"close"}}}}}`,
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"SMA","params":{"period":20,"source":"close"}}}}}`,
			`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"SMA","params":{"period":9,"source":"close"}}}}}`},
		{"EMA without period is EMA(20)",
			"alert_evaluator.py: EMA period = int(params.get(\"period\", 20))",
			`{"crosses_below":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"EMA"}}}}`,
			`{"crosses_below":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"EMA","params":{"period":20}}}}}`,
			`{"crosses_below":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"EMA","params":{"period":9}}}}}`},
		{"RSI with only an output is RSI(14)",
			"tests/test_alert_evaluator.py test_evaluate_indicator_rule (its level 70 lowered to 60 so that the series reaches it)",
			`{"gt":{"lhs":{"indicator":{"type":"RSI","output":"RSI"}},"rhs":{"value":60}}}`,
			`{"gt":{"lhs":{"indicator":{"type":"RSI","params":{"period":14},"output":"RSI"}},"rhs":{"value":60}}}`, ""},
		{"MACD without params is MACD(12,26,9)",
			"alert_evaluator.py _calculate_operand_lookback; the bot's guide",
			`{"crosses_above":{"lhs":{"indicator":{"type":"MACD"}},"rhs":{"indicator":{"type":"MACD","line":"signal"}}}}`,
			`{"crosses_above":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"macd"}},"rhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"signal"}}}}`, ""},
		{"bbands_signal without period is period 14",
			"src/common/alerts/plugins/bbands_signal.py: period = int(params.get(\"period\", 14)), dev 2.0",
			`{"plugin":"bbands_signal","params":{"type":"cross_lower_up"}}`,
			`{"plugin":"bbands_signal","params":{"type":"cross_lower_up","period":14,"dev_up":2,"dev_down":2}}`, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, _ := replayEvents(t, mustParse(t, alertJSON(c.omitted)), bars)
			want, _ := replayEvents(t, mustParse(t, alertJSON(c.explicit)), bars)
			if len(want) == 0 {
				t.Fatalf("the explicit config never fires on the series; the comparison proves nothing")
			}
			if trace(got) != trace(want) {
				t.Errorf("%s\nomitted:  %s\nexplicit: %s\n(source: %s)", c.name, trace(got), trace(want), c.source)
			}
			if c.former != "" {
				former, _ := replayEvents(t, mustParse(t, alertJSON(c.former)), bars)
				if trace(former) == trace(got) {
					t.Errorf("the former default behaves the same on this series; the test proves nothing")
				}
			}
		})
	}
}

// crossings counts the bars on which closes cross level (above: from at
// or below to above), as the original service saw them.
func crossings(closes []float64, level float64, above bool) int {
	n := 0
	for i := 1; i < len(closes); i++ {
		if above && closes[i-1] <= level && closes[i] > level || !above && closes[i-1] >= level && closes[i] < level {
			n++
		}
	}
	return n
}

// TestOriginalRearmKeys: the original schema's rearm keys type, value, bars
// and side were never read by the original evaluator
// (src/common/alerts/alert_evaluator.py reads enabled, cooldown_minutes and
// persistence_bars, and evaluates the rearm object as a rule tree, which
// for these keys is never true). Such an alert stayed TRIGGERED and
// notified on every evaluation on which its rule held: once per crossing
// for a crossing rule. Here they have no effect either.
func TestOriginalRearmKeys(t *testing.T) {
	closes := originalSeries()
	bars := barsFromCloses(closes...)
	above := 0
	for _, c := range closes[1:] {
		if c > 105 {
			above++
		}
	}

	// A crossing with bars: 2 fires on every crossing (with bars as
	// persistence it could never fire).
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":105}}}`,
		`"rearm":{"type":"crossing","value":105,"bars":2,"side":"above"}`))
	_, sum := replayEvents(t, a, bars)
	if want := crossings(closes, 105, true); want < 3 || sum.Triggers != want {
		t.Errorf("crossing with original rearm keys: %d triggers, want one per crossing (%d)", sum.Triggers, want)
	}

	// The framework's own schema test config {"type": "hysteresis",
	// "value": 5} (src/common/tests/test_schema_validator.py), on a rule of
	// the real shape: every bar above the level notifies, as there.
	a = mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":105}}}`, `"rearm":{"type":"hysteresis","value":5}`))
	if a.Rearm == nil || a.Rearm.Enabled || strings.Join(a.Rearm.Ignored, ",") != "type,value" {
		t.Fatalf("rearm = %+v", a.Rearm)
	}
	if _, sum = replayEvents(t, a, bars); sum.Triggers != above {
		t.Errorf("gt with {type, value}: %d triggers, want one per bar above 105 (%d)", sum.Triggers, above)
	}

	// With "enabled": true beside them, the same.
	a = mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":105}}}`, `"rearm":{"enabled":true,"bars":2,"side":"above"}`))
	if _, sum = replayEvents(t, a, bars); sum.Triggers != above {
		t.Errorf("gt with {enabled, bars, side}: %d triggers, want %d", sum.Triggers, above)
	}

	// Beside keys this service implements they change nothing: bars is no
	// persistence (the first bar above fires), side no direction.
	withKeys := mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":105}}}`, `"rearm":{"hysteresis":1,"bars":3,"side":"below"}`))
	without := mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":105}}}`, `"rearm":{"hysteresis":1}`))
	e1, s1 := replayEvents(t, withKeys, bars)
	e2, _ := replayEvents(t, without, bars)
	if s1.Triggers == 0 || trace(e1) != trace(e2) {
		t.Errorf("with bars/side: %s\nwithout:        %s", trace(e1), trace(e2))
	}
	// The schema still checks their types, as the original schema did.
	if _, err := Parse([]byte(alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":105}}}`, `"rearm":{"bars":"two"}`))); err == nil || !strings.Contains(err.Error(), "rearm.bars") {
		t.Errorf("bars of the wrong type: %v", err)
	}
}

// TestBotPricePersistence: a bot price (or indicator crossover) alert whose
// re_arm_config asks for persistence_bars >= 2 compares instead of crossing
// (a crossing lasts one bar and could never persist).
func TestBotPricePersistence(t *testing.T) {
	a, err := Parse(botParams(t, `{"ticker": "BTCUSDT", "price": 105, "condition": "above"}`,
		`"re_arm_config": "{\"enabled\": true, \"hysteresis\": 0.25, \"hysteresis_type\": \"percentage\", \"cooldown_minutes\": 0, \"persistence_bars\": 3}"`))
	if err != nil {
		t.Fatal(err)
	}
	if a.RuleString() != "close > 105" || a.Rearm.PersistenceBars != 3 {
		t.Fatalf("rule %q, rearm %+v", a.RuleString(), a.Rearm)
	}
	closes := []float64{100, 106, 107, 104, 106, 107, 108, 109, 110}
	evs, _ := replayEvents(t, a, barsFromCloses(closes...))
	if got := trace(evs); !strings.HasPrefix(got, "trigger@6") {
		t.Errorf("events %q, want the first trigger on bar 6 (third bar above 105 in a row)", got)
	}
	// An indicator crossover likewise: MACD above its signal on 3 bars.
	a, err = Parse(botParams(t, `{"ticker": "AAPL", "indicator": "MACD", "condition": "crossover", "value": 0}`, `"re_arm_config": "{\"persistence_bars\": 3}"`))
	if err != nil || a.RuleString() != "MACD().macd > MACD().signal" {
		t.Fatalf("MACD crossover with persistence: %v %q", err, a.RuleString())
	}
	// persistence 1 keeps the crossing.
	a, err = Parse(botParams(t, `{"ticker": "BTCUSDT", "price": 105, "condition": "below"}`, `"re_arm_config": "{\"persistence_bars\": 1}"`))
	if err != nil || a.RuleString() != "close crosses below 105" {
		t.Fatalf("persistence 1: %v %q", err, a.RuleString())
	}
}
