package jobs

import (
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestScreenerMatchesAndPerTickerErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, func(d *Deps) { d.TickerLists = map[string][]string{"mine": {"AAA", "BBB", "MISSING"}} })
		writeBars(t, f.dir, "AAA", "1h", hourly(60, lastClosed, 50, 120)) // crosses above 100
		writeBars(t, f.dir, "BBB", "1h", hourly(60, lastClosed, 50, 60))  // does not
		sc := f.schedule("breakouts", "screener", `{"tickers": "mine", "timeframe": "1h",
			"rule": {"crosses_above": {"lhs": {"field": "close"}, "rhs": {"value": 100}}},
			"notify": {"channels": ["log"]}}`)
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %s %q", r.Status, r.Error)
		}
		res := result(t, r)
		matches, _ := res["matches"].([]any)
		if len(matches) != 1 || matches[0].(map[string]any)["ticker"] != "AAA" {
			t.Fatalf("matches %v", res["matches"])
		}
		m := matches[0].(map[string]any)
		if vals, _ := m["values"].(map[string]any); vals["close"] != float64(120) || vals["close_prev"] != float64(50) {
			t.Fatalf("compared values %v", m["values"])
		}
		errs, _ := res["errors"].(map[string]any)
		if len(errs) != 1 || errs["MISSING"] == nil || res["screened"] != float64(3) || res["notifications"] != float64(1) {
			t.Fatalf("result %v", res)
		}
		ob := f.outbox(sc.ID)
		if len(ob) != 1 {
			t.Fatalf("want one notification listing the matches, got %d", len(ob))
		}
		if !strings.Contains(ob[0].Title, "1 of 3 match") || !strings.Contains(ob[0].Body, "AAA 120") || strings.Contains(ob[0].Body, "BBB") {
			t.Fatalf("notification %q\n%s", ob[0].Title, ob[0].Body)
		}
		if ms, _ := ob[0].Data["matches"].([]any); len(ms) != 1 {
			t.Fatalf("data %v", ob[0].Data)
		}

		// No match, no notification.
		none := f.schedule("none", "screener", `{"tickers": ["BBB"], "timeframe": "1h",
			"rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1000}}}}`)
		if r := f.run(none, 1); r.Status != store.StatusCompleted || len(f.outbox(none.ID)) != 0 {
			t.Fatalf("no-match run %s, %d notifications", r.Status, len(f.outbox(none.ID)))
		}

		// Every ticker failing fails the run.
		bad := f.schedule("all-bad", "screener", `{"tickers": ["NOPE1", "NOPE2"], "timeframe": "1h",
			"rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`)
		r = f.run(bad, 1)
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, "all 2 tickers failed") {
			t.Fatalf("all failing: %s %q", r.Status, r.Error)
		}
	})
}

func TestScreenerValidation(t *testing.T) {
	h := Handlers(Deps{})["screener"]
	rule := `"rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}`
	cases := []struct{ name, params, want string }{
		{"ok list", `{"tickers": ["BTCUSDT", "ETHUSDT"], "timeframe": "1h", ` + rule + `}`, ""},
		{"ok builtin list", `{"list": "crypto_majors", "timeframe": "4h", ` + rule + `}`, ""},
		{"no tickers", `{"timeframe": "1h", ` + rule + `}`, "tickers: required"},
		{"bad ticker", `{"tickers": ["BTC USDT"], "timeframe": "1h", ` + rule + `}`, `tickers[0]: "BTC USDT" is not a ticker symbol`},
		{"unknown list", `{"tickers": "nasdaq", "timeframe": "1h", ` + rule + `}`, `tickers: unknown ticker list "nasdaq" (known: crypto_majors)`},
		{"bad rule", `{"tickers": ["X"], "timeframe": "1h", "rule": {"gt": {"lhs": {"indicator": {"type": "RSX"}}, "rhs": {"value": 1}}}}`, `rule.gt.lhs.indicator.type: unknown indicator "RSX"`},
		{"bad timeframe", `{"tickers": ["X"], "timeframe": "2d", ` + rule + `}`, `timeframe`},
		{"unknown option", `{"tickers": ["X"], "timeframe": "1h", "options": {"speed": 1}, ` + rule + `}`, `options.speed: unknown option`},
		{"bad concurrency", `{"tickers": ["X"], "timeframe": "1h", "options": {"concurrency": 99}, ` + rule + `}`, `options.concurrency: 99`},
		{"unknown key", `{"tickers": ["X"], "timeframe": "1h", "rearm": {}, ` + rule + `}`, `rearm: unknown key`},
		{"bad channel", `{"tickers": ["X"], "timeframe": "1h", "notify": {"channels": ["pager"]}, ` + rule + `}`, `notify.channels[0]: unknown channel "pager"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := h.Validate([]byte(c.params))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}
