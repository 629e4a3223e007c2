package alerts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// realConfigs are alert task_params in the forms of ORIGINAL-SYSTEM.md §3.
var realConfigs = map[string]string{
	"spec example RSI": `{"ticker":"BTCUSDT","timeframe":"1h",
		"rule":{"crosses_below":{"lhs":{"indicator":{"type":"RSI","params":{"period":14,"source":"close"},"output":"rsi_14"}},"rhs":{"value":30}}},
		"options":{"lookback":200,"evaluate_once_per_bar":true},
		"notify":{"channels":["telegram"],"priority":"normal","recipient_id":"123"}}`,
	"price above with hysteresis rearm": `{"ticker":"BTCUSDT","timeframe":"15m",
		"rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":65000}}},
		"rearm":{"enabled":true,"cooldown_minutes":30,"persistence_bars":2,"threshold":65000,"hysteresis":0.5,"hysteresis_type":"percentage","direction":"above"},
		"notify":{"channels":["telegram","email"],"priority":"high"}}`,
	"bollinger band original form": `{"ticker":"ETHUSDT","timeframe":"4h",
		"rule":{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"BOLLINGER","params":{"period":20,"std_dev":2,"band":"upper"},"output":"bb_upper"}}}},
		"notify":{"channels":["telegram"]}}`,
	"macd and ema": `{"ticker":"AAPL","timeframe":"1d",
		"rule":{"and":[{"gt":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"output":"macd"}},"rhs":{"value":0}}},
		               {"gt":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"EMA","params":{"period":50,"source":"close"},"output":"ema_50"}}}}]},
		"options":{"lookback":300}}`,
	"or/not with sma": `{"ticker":"SOLUSDT","timeframe":"1h",
		"rule":{"or":[{"lt":{"lhs":{"indicator":{"type":"SMA","params":{"period":20}}},"rhs":{"indicator":{"type":"SMA","params":{"period":50}}}}},
		              {"not":{"between":{"value":{"field":"close"},"lower":{"value":100},"upper":{"value":200}}}}]}}`,
	"bands":         `{"ticker":"BTCUSDT","timeframe":"5m","rule":{"outside_band":{"value":{"indicator":{"type":"RSI","params":{"period":14}}},"lower":{"value":30},"upper":{"value":70}}}}`,
	"inside band":   `{"ticker":"BTCUSDT","timeframe":"5m","rule":{"inside_band":{"value":{"field":"close"},"lower":{"value":60000},"upper":{"value":70000}}}}`,
	"bbands plugin": `{"ticker":"BTCUSDT","timeframe":"1h","rule":{"plugin":"bbands_signal","params":{"type":"cross_lower_up","period":20,"dev_up":2.0,"dev_down":2.0}},"rearm":{"cooldown_minutes":60}}`,
	"rearm rule tree": `{"ticker":"BTCUSDT","timeframe":"1h",
		"rule":{"lt":{"lhs":{"indicator":{"type":"RSI","params":{"period":14}}},"rhs":{"value":30}}},
		"rearm":{"enabled":true,"gt":{"lhs":{"indicator":{"type":"RSI","params":{"period":14}}},"rhs":{"value":50}}}}`,
	"rearm original schema keys": `{"ticker":"BTCUSDT","timeframe":"1h","rule":{"crosses_below":{"lhs":{"field":"close"},"rhs":{"value":60000}}},
		"rearm":{"type":"crossing","value":60000,"bars":3,"side":"below"}}`,
	"rearm original schema keys beside cooldown": `{"ticker":"BTCUSDT","timeframe":"1h","rule":{"lt":{"lhs":{"field":"close"},"rhs":{"value":60000}}},
		"rearm":{"cooldown_minutes":30,"bars":3,"side":"above"}}`,
	"atr hysteresis": `{"ticker":"BTCUSDT","timeframe":"1h","rule":{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":65000}}},
		"rearm":{"hysteresis_type":"atr","hysteresis":0.5}}`,
	"rearm disabled": `{"ticker":"BTCUSDT","timeframe":"1h","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}},"rearm":{"enabled":false}}`,
	"new forms": `{"ticker":"BTCUSDT","timeframe":"1h","name":"macd signal cross",
		"rule":{"and":[{"crosses_above":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"macd"}},"rhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"signal"}}}},
		               {"gt":{"lhs":{"change_pct":{"of":{"field":"close"},"bars":24}},"rhs":{"value":2}}},
		               {"touches":{"level":{"value":65000}}},
		               {"moving_up":{"value":{"field":"close"},"bars":6,"pct":3}},
		               {"gt":{"lhs":{"field":"close"},"rhs":{"field":"close","offset":1}}},
		               {"gt":{"lhs":{"indicator":{"type":"ADX","params":{"period":14},"line":"plus_di"}},"rhs":{"indicator":{"type":"ADX","params":{"period":14},"line":"minus_di"}}}},
		               {"lt":{"lhs":{"indicator":{"type":"STOCH","line":"k"}},"rhs":{"value":20}}}]},
		"options":{"trigger":"once_per_bar","expires_at":"2030-01-01T00:00:00Z"},
		"notify":{"channels":["log","webhook"],"priority":"CRITICAL","user_id":42,"template":"{{.Description}}","webhook_url":"https://example.invalid/hook"}}`,
}

func TestParseRealConfigsRoundTrip(t *testing.T) {
	for name, js := range realConfigs {
		t.Run(name, func(t *testing.T) {
			a := mustParse(t, js)
			out, err := json.Marshal(a)
			if err != nil {
				t.Fatal(err)
			}
			b, err := Parse(out)
			if err != nil {
				t.Fatalf("canonical form does not parse: %v\n%s", err, out)
			}
			out2, _ := json.Marshal(b)
			if string(out) != string(out2) {
				t.Errorf("canonical form not stable:\n%s\n%s", out, out2)
			}
			if a.RuleString() != b.RuleString() || a.RearmString() != b.RearmString() || a.Lookback() != b.Lookback() {
				t.Errorf("round trip changed the alert: %q/%q/%d vs %q/%q/%d", a.RuleString(), a.RearmString(), a.Lookback(),
					b.RuleString(), b.RearmString(), b.Lookback())
			}
		})
	}
}

func TestParseDetails(t *testing.T) {
	a := mustParse(t, realConfigs["spec example RSI"])
	if a.Ticker != "BTCUSDT" || a.Timeframe != "1h" || a.Options.Lookback != 200 || a.Options.Trigger != TriggerOncePerBarClose {
		t.Errorf("alert = %+v", a)
	}
	if a.Notify.RecipientID != "123" || a.Notify.Priority != "NORMAL" || strings.Join(a.Notify.Channels, ",") != "telegram" {
		t.Errorf("notify = %+v", a.Notify)
	}
	if a.RuleString() != "RSI(14) crosses below 30" {
		t.Errorf("rule = %q", a.RuleString())
	}
	// RSI(14) has a lookback of 139 bars (TA-Lib 14 + unstable period), the
	// crossing one more bar: 141 closed bars; options.lookback 200 wins.
	if a.MinBars() != 141 || a.Lookback() != 200 {
		t.Errorf("MinBars, Lookback = %d, %d; want 141, 200", a.MinBars(), a.Lookback())
	}

	n := mustParse(t, realConfigs["new forms"])
	if n.Name != "macd signal cross" || n.Options.Trigger != TriggerOncePerBar || n.Options.ExpiresAt.Year() != 2030 {
		t.Errorf("options = %+v", n.Options)
	}
	if n.Notify.UserID != "42" || n.Notify.Priority != "CRITICAL" || n.Notify.Template == "" || n.Notify.Extra["webhook_url"] == nil {
		t.Errorf("notify = %+v", n.Notify)
	}
	if want := "MACD(12,26,9).macd crosses above MACD(12,26,9).signal and change_pct(close, 24) > 2"; !strings.HasPrefix(n.RuleString(), want) {
		t.Errorf("rule = %q, want prefix %q", n.RuleString(), want)
	}
	// Both MACD lines come from one computation.
	if len(n.groups) != 3 { // MACD, ADX, STOCH
		t.Errorf("indicator computations = %d, want 3 (MACD, ADX, STOCH)", len(n.groups))
	}

	bb := mustParse(t, realConfigs["bollinger band original form"])
	if bb.RuleString() != "close crosses above BOLLINGER(20,2).upper" {
		t.Errorf("bollinger rule = %q", bb.RuleString())
	}

	r := mustParse(t, realConfigs["price above with hysteresis rearm"])
	if r.Rearm.Mode != "hysteresis" || r.Rearm.PersistenceBars != 2 || r.Rearm.CooldownMinutes != 30 || r.RearmString() != "close <= 64675.00 (65000 − 0.5%)" {
		t.Errorf("rearm = %+v %q", r.Rearm, r.RearmString())
	}
	// type, value, bars and side were never read by the original evaluator:
	// alone they mean no re-arming (every crossing notifies, as there) ...
	al := mustParse(t, realConfigs["rearm original schema keys"])
	if al.Rearm.Enabled || al.persist != 1 || al.RearmString() != "" || strings.Join(al.Rearm.Ignored, ",") != "bars,side,type,value" {
		t.Errorf("original-schema rearm = %+v %q", al.Rearm, al.RearmString())
	}
	// ... and beside other keys they change nothing (bars is no persistence,
	// side no direction).
	ac := mustParse(t, realConfigs["rearm original schema keys beside cooldown"])
	if !ac.Rearm.Enabled || ac.persist != 1 || ac.Rearm.CooldownMinutes != 30 || ac.RearmString() != "close >= 60150.00 (60000 + 0.25%)" || strings.Join(ac.Rearm.Ignored, ",") != "bars,side" {
		t.Errorf("original-schema keys beside cooldown = %+v %q", ac.Rearm, ac.RearmString())
	}
	rt := mustParse(t, realConfigs["rearm rule tree"])
	if rt.Rearm.Mode != "rule" || rt.RearmString() != "RSI(14) > 50" {
		t.Errorf("rule rearm = %+v %q", rt.Rearm, rt.RearmString())
	}
	pl := mustParse(t, realConfigs["bbands plugin"])
	if pl.Rearm.Mode != "rule_false" || pl.RearmString() != "not (close crosses above lower Bollinger band BB(20,2,2))" {
		t.Errorf("plugin rearm = %+v %q", pl.Rearm, pl.RearmString())
	}
	if mustParse(t, realConfigs["rearm disabled"]).rearm != nil {
		t.Error("enabled: false must switch the rearm state machine off")
	}
}

func TestParseOutputSelectsLine(t *testing.T) {
	// An "output" that names a line of a multi-output indicator selects it.
	a := mustParse(t, alertJSON(`{"gt":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"output":"signal"}},"rhs":{"value":0}}}`))
	if a.refs[0].line != "signal" {
		t.Errorf("line = %q, want signal", a.refs[0].line)
	}
	a = mustParse(t, alertJSON(`{"gt":{"lhs":{"indicator":{"type":"BBANDS","params":{"period":20},"line":"lower_band"}},"rhs":{"value":0}}}`))
	if a.refs[0].line != "lower" {
		t.Errorf("alias line = %q, want lower", a.refs[0].line)
	}
}

func TestParseErrors(t *testing.T) {
	rsi := `{"indicator":{"type":"RSI","params":{"period":14}}}`
	tests := []struct {
		name, js string
		want     []string
	}{
		{"unknown indicator with path", alertJSON(`{"and":[{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}},{"crosses_above":{"lhs":{"indicator":{"type":"RSX","params":{"period":14}}},"rhs":{"value":30}}}]}`),
			[]string{`rule.and[1].crosses_above.lhs.indicator.type: unknown indicator "RSX" (known: `, "RSI"}},
		{"unknown operator", alertJSON(`{"greater":{"lhs":{"field":"close"},"rhs":{"value":1}}}`), []string{`rule.greater: unknown operator "greater"`}},
		{"unknown field", alertJSON(`{"gt":{"lhs":{"field":"closing"},"rhs":{"value":1}}}`), []string{`rule.gt.lhs.field: unknown field string "closing"`}},
		{"non-numeric value", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":"65000"}}}`), []string{`rule.gt.rhs.value: must be a number, got string "65000"`}},
		{"missing rhs", alertJSON(`{"gt":{"lhs":{"field":"close"}}}`), []string{`rule.gt.rhs: required`}},
		{"extra key in comparison", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1},"mid":{"value":2}}}`), []string{`rule.gt.mid: unknown key`}},
		{"two operators in one node", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}},"lt":{"lhs":{"field":"close"},"rhs":{"value":2}}}`), []string{`rule: rule node must have exactly one operator key, got 2 (gt, lt)`}},
		{"empty and", alertJSON(`{"and":[]}`), []string{`rule.and: must be a non-empty array`}},
		{"not with array", alertJSON(`{"not":[{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}]}`), []string{`rule.not: takes one rule node`}},
		{"two constants", alertJSON(`{"gt":{"lhs":{"value":2},"rhs":{"value":1}}}`), []string{`rule.gt: compares two constants`}},
		{"period below 1", alertJSON(`{"lt":{"lhs":{"indicator":{"type":"SMA","params":{"period":0}}},"rhs":{"value":1}}}`), []string{`rule.lt.lhs.indicator.params: `, "period"}},
		{"unknown param", alertJSON(`{"lt":{"lhs":{"indicator":{"type":"RSI","params":{"length":14}}},"rhs":{"value":1}}}`), []string{`rule.lt.lhs.indicator.params: `, `"length"`}},
		{"non-numeric param", alertJSON(`{"lt":{"lhs":{"indicator":{"type":"RSI","params":{"period":"14"}}},"rhs":{"value":1}}}`), []string{`rule.lt.lhs.indicator.params.period: must be a number, got string "14"`}},
		{"unknown line", alertJSON(`{"lt":{"lhs":{"indicator":{"type":"MACD","line":"sig"}},"rhs":{"value":1}}}`), []string{`rule.lt.lhs.indicator.line: unknown line "sig" for MACD (lines: macd, signal, hist)`}},
		{"band on non-bollinger", alertJSON(`{"lt":{"lhs":{"indicator":{"type":"RSI","params":{"band":"upper"}}},"rhs":{"value":1}}}`), []string{`rule.lt.lhs.indicator.params.band: band applies only to BOLLINGER/BBANDS`}},
		{"bad offset", alertJSON(`{"gt":{"lhs":{"field":"close","offset":-1},"rhs":{"value":1}}}`), []string{`rule.gt.lhs.offset: must be a whole number from 0 to 100000, got -1`}},
		{"fractional offset", alertJSON(`{"gt":{"lhs":{"field":"close","offset":1.5},"rhs":{"value":1}}}`), []string{`rule.gt.lhs.offset: must be a whole number`}},
		{"between reversed", alertJSON(`{"between":{"value":{"field":"close"},"lower":{"value":5},"upper":{"value":1}}}`), []string{`rule.between: lower 5 is above upper 1`}},
		{"change_pct with value instead of of", alertJSON(`{"gte":{"lhs":{"change_pct":{"value":{"field":"close"},"bars":24}},"rhs":{"value":10}}}`),
			[]string{`rule.gte.lhs.change_pct.value: unknown key: the operand of a change is given as "of", e.g. {"of": {"field": "close"}, "bars": 24}`}},
		{"moving without amount", alertJSON(`{"moving_up":{"value":{"field":"close"},"bars":3}}`), []string{`rule.moving_up: needs exactly one of "pct" or "amount"`}},
		{"plugin type", alertJSON(`{"plugin":"bbands_signal","params":{"type":"cross_middle"}}`), []string{`rule.params.type: unknown bbands_signal type string "cross_middle"`}},
		{"unknown plugin", alertJSON(`{"plugin":"vwap_signal","params":{}}`), []string{`rule.plugin: unknown plugin string "vwap_signal"`}},
		{"unknown timeframe", `{"ticker":"X","timeframe":"2d","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}}`, []string{`timeframe: unknown timeframe "2d"`}},
		{"unknown channel", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"notify":{"channels":["telegram","sms"]}`), []string{`notify.channels[1]: unknown channel "sms" (known: telegram, email, webhook, log)`}},
		{"unknown priority", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"notify":{"priority":"urgent"}`), []string{`notify.priority: unknown priority "urgent"`}},
		{"unknown top-level key", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"rules":{}`), []string{"rules"}},
		{"missing rule", `{"ticker":"X","timeframe":"1h"}`, []string{"rule"}},
		{"lookback zero", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"options":{"lookback":0}`), []string{"options.lookback"}},
		{"bad trigger", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"options":{"trigger":"always"}`), []string{"options.trigger"}},
		{"contradicting once-per-bar", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"options":{"trigger":"every_time","evaluate_once_per_bar":true}`), []string{`options.trigger: every_time contradicts evaluate_once_per_bar: true`}},
		{"bad expires_at", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"options":{"expires_at":"next week"}`), []string{`options.expires_at: invalid time "next week"`}},
		{"rearm rule and hysteresis", alertJSON(`{"lt":`+`{"lhs":`+rsi+`,"rhs":{"value":30}}}`, `"rearm":{"threshold":30,"gt":{"lhs":`+rsi+`,"rhs":{"value":50}}}`), []string{`rearm: has both a rearm rule (gt) and hysteresis keys (threshold)`}},
		{"rearm threshold needed", alertJSON(`{"plugin":"bbands_signal","params":{"type":"touch_upper"}}`, `"rearm":{"hysteresis":1}`), []string{`rearm.threshold: required`}},
		{"rearm unknown key", alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`, `"rearm":{"cooldown":5}`), []string{"rearm", "cooldown"}},
		{"invalid json", `{"ticker":`, []string{"invalid JSON"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.js))
			if err == nil {
				t.Fatalf("Parse accepted %s", tc.js)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestParseReportsSeveralProblems(t *testing.T) {
	_, err := Parse([]byte(`{"ticker":"X","timeframe":"7h","rule":{"and":[{"gt":{"lhs":{"field":"clos"},"rhs":{"value":1}}},{"lt":{"lhs":{"field":"close"},"rhs":{"value":"2"}}}]},"notify":{"channels":["fax"]}}`))
	var ce *ConfigError
	if !errorsAs(err, &ce) {
		t.Fatalf("err = %v (%T), want *ConfigError", err, err)
	}
	paths := map[string]bool{}
	for _, p := range ce.Problems {
		paths[p.Path] = true
	}
	for _, want := range []string{"timeframe", "rule.and[0].gt.lhs.field", "rule.and[1].lt.rhs.value", "notify.channels[0]"} {
		if !paths[want] {
			t.Errorf("missing problem at %s in %v", want, ce.Problems)
		}
	}
}

func TestParseWithSchemaDir(t *testing.T) {
	dir := t.TempDir()
	raw, err := SchemaFS().ReadFile("schemas/" + SchemaFile)
	if err != nil {
		t.Fatal(err)
	}
	// A stricter copy: tickers of at most 3 characters.
	strict := strings.Replace(string(raw), `"maxLength": 32`, `"maxLength": 3`, 1)
	if strict == string(raw) {
		t.Fatal("schema text changed; update the test")
	}
	if err := os.WriteFile(filepath.Join(dir, SchemaFile), []byte(strict), 0o644); err != nil {
		t.Fatal(err)
	}
	js := []byte(alertJSON(`{"gt":{"lhs":{"field":"close"},"rhs":{"value":1}}}`))
	if _, err := ParseWithSchemaDir(js, ""); err != nil {
		t.Fatalf("embedded schema: %v", err)
	}
	_, err = ParseWithSchemaDir(js, dir)
	if err == nil || !strings.Contains(err.Error(), "ticker") {
		t.Errorf("schema from dir not applied: %v", err)
	}
	if _, err := ParseWithSchemaDir(js, filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "alert schema") {
		t.Errorf("missing schema dir: %v", err)
	}
}

func TestLookbackCoversRule(t *testing.T) {
	a := mustParse(t, alertJSON(`{"crosses_above":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"macd"}},"rhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"signal"}}}}`,
		`"options":{"lookback":50}`))
	// MACD(12,26,9) lookback 195 (TA-Lib 33 + unstable periods) → 196 bars
	// for one value, 197 for a crossing; more than options.lookback.
	if a.MinBars() != 197 || a.Lookback() != 197 {
		t.Errorf("MinBars, Lookback = %d, %d; want 197, 197", a.MinBars(), a.Lookback())
	}
	b := mustParse(t, alertJSON(`{"gt":{"lhs":{"field":"close","offset":3},"rhs":{"value":1}}}`, `"options":{"lookback":500}`))
	if b.MinBars() != 4 || b.Lookback() != 500 {
		t.Errorf("MinBars, Lookback = %d, %d; want 4, 500", b.MinBars(), b.Lookback())
	}
}
