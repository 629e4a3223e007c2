package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// lastClosed is the open time of the last closed hourly bar at t0.
var lastClosed = time.Date(2024, 3, 4, 12, 0, 0, 0, time.UTC)

const crossAlert = `{"ticker": "BTCUSDT", "timeframe": "1h",
	"rule": {"crosses_above": {"lhs": {"field": "close"}, "rhs": {"value": 100}}},
	"notify": {"channels": ["log"], "priority": "normal"}}`

func TestAlertCrossingTriggersAndNotifiesOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		writeBars(t, f.dir, "BTCUSDT", "1h", hourly(50, lastClosed, 90, 110))
		sc := f.schedule("btc-cross", "alert", crossAlert)

		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run status %s, error %q", r.Status, r.Error)
		}
		res := result(t, r)
		if res["status"] != "TRIGGERED" || res["triggers"] != float64(1) || res["evaluated_bars"] != float64(1) {
			t.Fatalf("result %v", res)
		}
		st := f.state(sc.ID)
		if st["status"] != "TRIGGERED" || st["trigger_count"] != float64(1) || st["config_hash"] == nil {
			t.Fatalf("state %v", st)
		}
		ob := f.outbox(sc.ID)
		if len(ob) != 1 {
			t.Fatalf("outbox has %d rows, want 1: %+v", len(ob), ob)
		}
		n := ob[0]
		if n.Channel != "log" || n.Type != "ALERT" || n.Status != "pending" || n.Title != "🚨 btc-cross: BTCUSDT (1h)" {
			t.Fatalf("notification %+v", n)
		}
		for _, want := range []string{"**Alert Triggered: btc-cross**", "crossed above 100", "Bar: 2024-03-04 12:00 UTC", "💰 Current Price: 110", "Status: TRIGGERED"} {
			if !strings.Contains(n.Body, want) {
				t.Errorf("body lacks %q:\n%s", want, n.Body)
			}
		}
		for _, k := range []string{"ticker", "timeframe", "bar_time", "open", "high", "low", "close", "volume", "values", "rule", "status", "description"} {
			if _, ok := n.Data[k]; !ok {
				t.Errorf("data lacks %q: %v", k, n.Data)
			}
		}
		if n.Data["bar_time"] != "2024-03-04T12:00:00Z" || n.Data["close"] != float64(110) {
			t.Errorf("data %v", n.Data)
		}

		// Replaying the same run (another instance took it over after a
		// lease loss, from the old state) must not duplicate the
		// notification: the idempotency key is the same.
		f.exec(`UPDATE job_schedule_runs SET status = 'pending', finished_at = NULL WHERE id = $1`, r.ID)
		f.exec(`UPDATE job_schedules SET state_json = NULL WHERE id = $1`, sc.ID)
		r2 := f.rerun(r.ID)
		if r2.Status != store.StatusCompleted || result(t, r2)["triggers"] != float64(1) {
			t.Fatalf("replayed run %s %s", r2.Status, r2.Result)
		}
		if ob2 := f.outbox(sc.ID); len(ob2) != 1 || ob2[0].Key != n.Key {
			t.Fatalf("after replay the outbox has %d rows: %+v", len(ob2), ob2)
		}

		// The next hour, nothing crosses: no new notification; the alert
		// (without rearm) is armed again because the rule no longer holds.
		writeBars(t, f.dir, "BTCUSDT", "1h", hourly(51, lastClosed.Add(time.Hour), 90, 111, 110))
		f.clk.set(t0.Add(time.Hour))
		r3 := f.run(sc, 1)
		if r3.Status != store.StatusCompleted {
			t.Fatalf("third run %s %q", r3.Status, r3.Error)
		}
		if got := f.outbox(sc.ID); len(got) != 1 {
			t.Fatalf("no crossing, yet %d notifications", len(got))
		}
		if st := f.state(sc.ID); st["status"] != "ARMED" {
			t.Fatalf("state after a bar without crossing: %v", st)
		}
	})
}

func TestAlertCorruptStateRecovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		writeBars(t, f.dir, "BTCUSDT", "1h", hourly(50, lastClosed, 90, 110))
		sc := f.schedule("btc-corrupt", "alert", crossAlert)
		f.exec(`UPDATE job_schedules SET state_json = $1 WHERE id = $2`, `{"status": 42, "trigger_count": "many", "sides": [1], "last_bar_ts": "yesterday"}`, sc.ID)
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %s %q", r.Status, r.Error)
		}
		st := f.state(sc.ID)
		if st["status"] != "TRIGGERED" || st["trigger_count"] != float64(1) || st["version"] != float64(2) {
			t.Fatalf("state not rebuilt: %v", st)
		}
		if len(f.outbox(sc.ID)) != 1 {
			t.Fatal("no notification after recovering the state")
		}
	})
}

func TestAlertErrorsAndStateStatuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		writeBars(t, f.dir, "BTCUSDT", "1h", hourly(50, lastClosed, 90, 110))

		// Data error: retryable, state untouched.
		missing := f.schedule("no-data", "alert", strings.Replace(crossAlert, "BTCUSDT", "NODATA", 1))
		r := f.run(missing, 2)
		if r.Status != store.StatusPending || r.Attempt != 2 || !strings.Contains(r.Error, "market data NODATA 1h") {
			t.Fatalf("data error: status %s attempt %d error %q", r.Status, r.Attempt, r.Error)
		}
		if st := f.state(missing.ID); len(st) != 0 { // the default {} untouched
			t.Fatalf("state written on a data error: %v", st)
		}

		// Evaluation error (too few bars): status ERROR, run failed, the
		// previous status kept for the next run.
		long := f.schedule("too-long", "alert", `{"ticker": "BTCUSDT", "timeframe": "1h",
			"rule": {"gt": {"lhs": {"indicator": {"type": "SMA", "params": {"period": 120}}}, "rhs": {"value": 1}}}}`)
		f.exec(`UPDATE job_schedules SET state_json = $1 WHERE id = $2`, `{"version": 2, "status": "TRIGGERED"}`, long.ID)
		r = f.run(long, 1)
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, "not enough bars") {
			t.Fatalf("evaluation error: %s %q", r.Status, r.Error)
		}
		st := f.state(long.ID)
		if st["status"] != "ERROR" || !strings.Contains(st["error"].(string), "not enough bars") || st["status_before_error"] != "TRIGGERED" {
			t.Fatalf("state after evaluation error: %v", st)
		}
		if res := result(t, r); res["status"] != "ERROR" {
			t.Fatalf("result %v", res)
		}
	})
}

func TestAlertPausedResetWhenConfigChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		writeBars(t, f.dir, "BTCUSDT", "1h", hourly(50, lastClosed, 90, 110))
		sc := f.schedule("paused", "alert", crossAlert)
		// Find the hash of the configuration.
		r := f.run(sc, 1)
		hash, _ := f.state(sc.ID)["config_hash"].(string)
		if r.Status != store.StatusCompleted || hash == "" {
			t.Fatalf("first run %s, hash %q", r.Status, hash)
		}
		paused := `{"version": 2, "status": "PAUSED", "error": "paused by the flood guard", "config_hash": "` + hash + `"}`
		f.exec(`UPDATE job_schedules SET state_json = $1 WHERE id = $2`, paused, sc.ID)
		f.clk.set(t0.Add(time.Minute))
		r = f.run(sc, 1)
		if st := f.state(sc.ID); r.Status != store.StatusCompleted || st["status"] != "PAUSED" {
			t.Fatalf("unchanged config must stay paused: %s %v", r.Status, st)
		}

		// Editing the alert resumes it.
		sc.TaskParams = []byte(strings.Replace(crossAlert, `"priority": "normal"`, `"priority": "high"`, 1))
		must(t, db.UpdateSchedule(t.Context(), sc))
		f.clk.set(t0.Add(2 * time.Minute))
		r = f.run(sc, 1)
		res := result(t, r)
		if st := f.state(sc.ID); st["status"] != "TRIGGERED" || !strings.Contains(res["state_reset"].(string), "PAUSED -> ARMED") {
			t.Fatalf("edited alert not reset: state %v result %v", st, res)
		}
		ob := f.outbox(sc.ID)
		if len(ob) != 2 {
			t.Fatalf("want the first and the post-reset notification, got %d", len(ob))
		}
	})
}

func TestAlertValidation(t *testing.T) {
	h := Handlers(Deps{})["alert"]
	cases := []struct{ name, params, want string }{
		{"ok", crossAlert, ""},
		{"unknown indicator", `{"ticker": "X", "timeframe": "1h", "rule": {"gt": {"lhs": {"indicator": {"type": "RSX", "params": {"period": 14}}}, "rhs": {"value": 1}}}}`,
			`rule.gt.lhs.indicator.type: unknown indicator "RSX"`},
		{"bad timeframe", `{"ticker": "X", "timeframe": "7h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`, `timeframe`},
		{"provider ok", `{"ticker": "X", "timeframe": "1h", "options": {"provider": "csv"}, "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`, ""},
		{"provider not a string", `{"ticker": "X", "timeframe": "1h", "options": {"provider": 3}, "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`, `options.provider = 3`},
		{"template does not parse", `{"ticker": "X", "timeframe": "1h", "notify": {"template": "{{.Tickr}}"}, "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`, `notify.template`},
		{"bad email", `{"ticker": "X", "timeframe": "1h", "notify": {"email": "nope"}, "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`, `notify.email = "nope"`},
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
