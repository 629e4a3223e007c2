package alerts

import (
	"strings"
	"testing"
)

// TestNeverTrueRejected: rule/option combinations that can never be true
// (or, for outside with lower above upper, are always true) are validation
// errors naming the path and the reason; their sound neighbours parse.
func TestNeverTrueRejected(t *testing.T) {
	rsi := `{"indicator":{"type":"RSI","params":{"period":14}}}`
	cross := `{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":65000}}}`
	cmp := func(op, lhs, rhs string) string { return `{"` + op + `":{"lhs":` + lhs + `,"rhs":` + rhs + `}}` }
	v := func(x string) string { return `{"value":` + x + `}` }
	tests := []struct {
		name, js string
		want     []string // every fragment must appear; nil means the config is valid
	}{
		{"crossing with persistence 2", alertJSON(cross, `"rearm":{"persistence_bars":2}`),
			[]string{"rearm.persistence_bars: 2 can never be reached: rule.crosses_above holds on one bar at a time", "never fire"}},
		{"crossing inside and with persistence 3", alertJSON(`{"and":[`+cmp("gt", rsi, v("50"))+`,`+cross+`]}`, `"rearm":{"persistence_bars":3}`),
			[]string{"rearm.persistence_bars: 3 can never be reached: rule.and[1].crosses_above holds on one bar at a time"}},
		{"bbands crossing with persistence", alertJSON(`{"plugin":"bbands_signal","params":{"type":"cross_lower_up"}}`, `"rearm":{"persistence_bars":2}`),
			[]string{"rearm.persistence_bars: 2 can never be reached: rule holds on one bar at a time"}},
		{"crossing rearm rule with persistence", alertJSON(cmp("lt", rsi, v("30")), `"rearm":{"persistence_bars":2,"crosses_above":{"lhs":`+rsi+`,"rhs":{"value":50}}}`),
			[]string{"rearm.persistence_bars: 2 can never be reached by the rearm condition: rearm.crosses_above holds on one bar at a time", "never re-arm"}},
		{"crossing with persistence 1 is fine", alertJSON(cross, `"rearm":{"persistence_bars":1}`), nil},
		{"crossing in or with persistence is fine", alertJSON(`{"or":[`+cross+`,`+cmp("gt", rsi, v("70"))+`]}`, `"rearm":{"persistence_bars":2}`), nil},
		{"not crossing with persistence is fine", alertJSON(`{"not":`+cross+`}`, `"rearm":{"persistence_bars":2}`), nil},
		{"comparison with persistence is fine", alertJSON(cmp("gt", `{"field":"close"}`, v("65000")), `"rearm":{"persistence_bars":3}`), nil},

		{"between lower above upper", alertJSON(`{"between":{"value":{"field":"close"},"lower":{"value":70},"upper":{"value":30}}}`),
			[]string{"rule.between: lower 70 is above upper 30, so no value is between them and the rule can never be true; swap them"}},
		{"inside_band lower above upper", alertJSON(`{"inside_band":{"value":` + rsi + `,"lower":{"value":70},"upper":{"value":30}}}`),
			[]string{"rule.inside_band: lower 70 is above upper 30", "never be true"}},
		{"outside lower above upper", alertJSON(`{"outside":{"value":{"field":"close"},"lower":{"value":70},"upper":{"value":30}}}`),
			[]string{"rule.outside: lower 70 is above upper 30, so every value is outside and the rule is always true; swap them"}},
		{"between lower equal upper is fine", alertJSON(`{"between":{"value":{"field":"close"},"lower":{"value":30},"upper":{"value":30}}}`), nil},

		{"RSI above 100", alertJSON(cmp("gt", rsi, v("100"))), []string{"rule.gt: RSI(14) is between 0 and 100, so comparing it with 100 this way can never be true"}},
		{"RSI at least 100 is possible", alertJSON(cmp("gte", rsi, v("100"))), nil},
		{"RSI below 0 written backwards", alertJSON(cmp("gt", v("0"), rsi)), []string{"rule.gt: RSI(14) is between 0 and 100"}},
		{"RSI crosses above 100", alertJSON(cmp("crosses_above", rsi, v("100"))), []string{"rule.crosses_above: RSI(14) is between 0 and 100"}},
		{"RSI crosses below 0", alertJSON(cmp("crosses_below", rsi, v("0"))), []string{"rule.crosses_below: RSI(14) is between 0 and 100"}},
		{"RSI crosses below 100 is possible", alertJSON(cmp("crosses_below", rsi, v("100"))), nil},
		{"Williams %R above 0", alertJSON(cmp("gt", `{"indicator":{"type":"WILLR"}}`, v("0"))), []string{"rule.gt: WILLR() is between -100 and 0"}},
		{"Stochastic %D below -5, offset", alertJSON(cmp("lt", `{"indicator":{"type":"STOCH","line":"d"},"offset":2}`, v("-5"))), []string{"rule.lt: STOCH().d[2] is between 0 and 100"}},
		{"ATR below 0", alertJSON(cmp("lt", `{"indicator":{"type":"ATR"}}`, v("0"))), []string{"rule.lt: ATR() is never below 0"}},
		{"volume at most -1", alertJSON(cmp("lte", `{"field":"volume"}`, v("-1"))), []string{"rule.lte: volume is never below 0"}},
		{"SUPERTREND direction equals 2", alertJSON(cmp("eq", `{"indicator":{"type":"SUPERTREND","line":"direction"}}`, v("2"))), []string{"rule.eq: SUPERTREND().direction is between -1 and 1"}},
		{"RSI between 120 and 150", alertJSON(`{"between":{"value":` + rsi + `,"lower":{"value":120},"upper":{"value":150}}}`),
			[]string{"rule.between: RSI(14) is between 0 and 100, so it can never be between 120 and 150"}},
		{"RSI outside -10 and 110", alertJSON(`{"outside":{"value":` + rsi + `,"lower":{"value":-10},"upper":{"value":110}}}`),
			[]string{"rule.outside: RSI(14) is between 0 and 100, so it can never be outside -10 and 110"}},
		{"change of RSI above 100 is possible", alertJSON(cmp("gt", `{"change":{"of":`+rsi+`,"bars":1}}`, v("100"))), nil},

		{"close crosses itself", alertJSON(cmp("crosses_above", `{"field":"close"}`, `{"field":"close"}`)), []string{"rule.crosses_above: compares close with itself, which can never be true"}},
		{"SMA greater than itself", alertJSON(cmp("gt", `{"indicator":{"type":"SMA","params":{"period":20}}}`, `{"indicator":{"type":"SMA","params":{"period":20}}}`)), []string{"rule.gt: compares SMA(20) with itself"}},
		{"close above its previous value is fine", alertJSON(cmp("gt", `{"field":"close"}`, `{"field":"close","offset":1}`)), nil},

		{"close above 100 and below 50", alertJSON(`{"and":[` + cmp("gt", `{"field":"close"}`, v("100")) + `,` + cmp("lt", `{"field":"close"}`, v("50")) + `]}`),
			[]string{"rule.and: close > 100 (and[0]) and close < 50 (and[1]) cannot both hold, so the rule can never be true"}},
		{"close above 100 and at most 100", alertJSON(`{"and":[` + cmp("gt", `{"field":"close"}`, v("100")) + `,` + cmp("lte", `{"field":"close"}`, v("100")) + `]}`),
			[]string{"rule.and: close > 100 (and[0]) and close <= 100 (and[1]) cannot both hold"}},
		{"and with between beyond a bound", alertJSON(`{"and":[` + cmp("lt", v("70"), rsi) + `,{"between":{"value":` + rsi + `,"lower":{"value":20},"upper":{"value":40}}}]}`),
			[]string{"rule.and: RSI(14) > 70 (and[0]) and RSI(14) <= 40 (and[1]) cannot both hold"}},
		{"close at least 100 and at most 100 is fine", alertJSON(`{"and":[` + cmp("gte", `{"field":"close"}`, v("100")) + `,` + cmp("lte", `{"field":"close"}`, v("100")) + `]}`), nil},
		{"different operands are fine", alertJSON(`{"and":[` + cmp("gt", `{"field":"close"}`, v("100")) + `,` + cmp("lt", `{"field":"open"}`, v("50")) + `]}`), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.js))
			if tc.want == nil {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("want an error containing %q, got none", tc.want)
			}
			if _, ok := err.(*ConfigError); !ok {
				t.Fatalf("error %T, want *ConfigError", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestOriginalConfigsStillValid: the rules and rearm objects of the
// framework's own tests (tests/test_alert_evaluator.py,
// src/common/tests/test_alert_evaluator.py) pass the never-true checks —
// e.g. close > 100 and close < 200 is no contradiction.
func TestOriginalConfigsStillValid(t *testing.T) {
	gt := func(x string) string { return `{"gt":{"lhs":{"field":"close"},"rhs":{"value":` + x + `}}}` }
	lt := func(x string) string { return `{"lt":{"lhs":{"field":"close"},"rhs":{"value":` + x + `}}}` }
	for _, js := range []string{
		alertJSON(gt("100")),
		alertJSON(`{"and":[` + gt("100") + `,` + lt("200") + `]}`),
		alertJSON(`{"and":[` + gt("100") + `,` + lt("120") + `]}`),
		alertJSON(`{"or":[` + lt("50") + `,` + gt("90") + `]}`),
		alertJSON(`{"or":[` + gt("200") + `,` + gt("100") + `]}`),
		alertJSON(`{"not":` + gt("1000") + `}`),
		alertJSON(`{"between":{"value":{"field":"close"},"lower":{"value":90},"upper":{"value":120}}}`),
		alertJSON(`{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":105}}}`),
		alertJSON(`{"gt":{"lhs":{"indicator":{"type":"RSI","output":"RSI"}},"rhs":{"value":70}}}`),
		alertJSON(`{"gt":{"lhs":{"indicator":{"type":"SMA","params":{"period":50}}},"rhs":{"value":100}}}`,
			`"rearm":{"gt":{"lhs":{"indicator":{"type":"EMA","params":{"period":20}}},"rhs":{"value":95}}}`),
		alertJSON(gt("100"), `"rearm":{"enabled":true,"cooldown_minutes":60}`),
		alertJSON(gt("100"), `"rearm":{"enabled":true,"persistence_bars":3}`),
		alertJSON(gt("105"), `"rearm":{"enabled":true,"threshold":105,"direction":"above","hysteresis":1.0,"hysteresis_type":"percentage","cooldown_minutes":15,"persistence_bars":1}`),
	} {
		if _, err := Parse([]byte(js)); err != nil {
			t.Errorf("%s: %v", js, err)
		}
	}
}
