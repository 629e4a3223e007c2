package jobs

import (
	"testing"

	"github.com/atf/scheduler/internal/alerts"
)

func TestServiceAlertDefaults(t *testing.T) {
	parse := func(raw string) *alerts.Alert {
		t.Helper()
		p, err := parseAlertParams([]byte(raw), "")
		if err != nil {
			t.Fatal(err)
		}
		return p.alert
	}
	const plain = `{"ticker": "BTCUSDT", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`
	const explicit = `{"ticker": "BTCUSDT", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}},
		"options": {"lookback": 50, "trigger": "once_per_bar_close"}}`
	d := &Deps{AlertDefaultLookback: 500, AlertEveryEvaluation: true}
	a := parse(plain)
	d.applyAlertDefaults(a, []byte(plain))
	if a.Options.Lookback != 500 || a.Options.Trigger != alerts.TriggerEveryTime {
		t.Fatalf("defaults not applied: %+v", a.Options)
	}
	a = parse(explicit)
	d.applyAlertDefaults(a, []byte(explicit))
	if a.Options.Lookback != 50 || a.Options.Trigger != alerts.TriggerOncePerBarClose {
		t.Fatalf("explicit options overridden: %+v", a.Options)
	}
	a = parse(plain)
	(&Deps{}).applyAlertDefaults(a, []byte(plain))
	if a.Options.Lookback != 0 || a.Options.Trigger != alerts.TriggerOncePerBarClose {
		t.Fatalf("zero Deps changed options: %+v", a.Options)
	}
}
