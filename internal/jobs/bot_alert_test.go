package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// chatID is the bot user's Telegram chat id in these tests.
const chatID = "859865894"

// botDBs runs fn on SQLite and on the framework's live PostgreSQL schema
// (skipped without TEST_DATABASE_URL); on the latter the framework's
// readers must accept every row afterwards.
func botDBs(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLite(t)) })
	t.Run("framework", func(t *testing.T) {
		db := storetest.Framework(t, storetest.JobIDInt4)
		fn(t, db)
		if !t.Failed() {
			storetest.CheckReaders(t, db)
		}
	})
}

// botTaskParams builds task_params as telegram_service.add_json_alert does:
// the config as JSON text, email, status, re_arm_config as JSON text or
// null, and the chat id.
func botTaskParams(t *testing.T, config any, email any, status string, reArm any) string {
	t.Helper()
	cfg, err := json.Marshal(config)
	must(t, err)
	var ra any
	if reArm != nil {
		b, err := json.Marshal(reArm)
		must(t, err)
		ra = string(b)
	}
	b, err := json.Marshal(map[string]any{"config_json": string(cfg), "email": email, "status": status,
		"re_arm_config": ra, "telegram_user_id": chatID})
	must(t, err)
	return string(b)
}

// botInsert inserts an alert schedule the way the bot does (raw SQL, cron
// every minute, enabled when ARMED) and returns it as the store reads it.
func (f *fixture) botInsert(ticker, taskParams string, enabled bool) *store.Schedule {
	f.t.Helper()
	// The bot's naming: Alert_<ticker>_<user id>_<unix time>.
	name := fmt.Sprintf("Alert_%s_7_%d", ticker, 1709550000+f.count(`SELECT COUNT(*) FROM job_schedules`))
	var id int64
	err := f.db.SQL().QueryRow(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled, created_at, updated_at)
		VALUES (7, $1, 'alert', $2, $3, '* * * * *', $4, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) RETURNING id`,
		name, ticker, taskParams, enabled).Scan(&id)
	if err != nil {
		f.t.Fatalf("bot insert: %v", err)
	}
	sc, err := f.db.GetSchedule(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return sc
}

// quarterly returns n 15-minute bars ending with the bar that opens at
// last, close c except closes[k] for the k-th bar from the end.
func quarterly(n int, last time.Time, c float64, closes ...float64) []marketdata.Bar {
	bars := make([]marketdata.Bar, n)
	for i := range bars {
		v := c
		if k := n - 1 - i; k < len(closes) {
			v = closes[k]
		}
		bars[i] = marketdata.Bar{Time: last.Add(-time.Duration(n-1-i) * 15 * time.Minute), Open: v, High: v + 1, Low: v - 1, Close: v, Volume: 10}
	}
	return bars
}

// telegramRows returns the outbox rows of the telegram channel.
func telegramRows(rows []outboxRow) []outboxRow {
	var out []outboxRow
	for _, r := range rows {
		if r.Channel == "telegram" {
			out = append(out, r)
		}
	}
	return out
}

func TestBotPriceAlertNotifiesOncePerCrossing(t *testing.T) {
	botDBs(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		// telegram_service.add_alert: the config the bot writes for
		// "/alerts add BTCUSDT 65000 above -email".
		cfg := map[string]any{"ticker": "BTCUSDT", "price": 65000.0, "condition": "above", "email": true}
		sc := f.botInsert("BTCUSDT", botTaskParams(t, cfg, true, "ARMED", nil), true)
		must(t, f.h["alert"].Validate(sc.TaskParams))

		// The last closed 15-minute bar at t0 (13:02) opens at 12:45.
		last := time.Date(2024, 3, 4, 12, 45, 0, 0, time.UTC)
		closes := []float64{65500} // the newest bar crosses above 65000
		step := func(i int, c float64) *store.Run {
			t.Helper()
			closes = append([]float64{c}, closes...)
			at := last.Add(time.Duration(i) * 15 * time.Minute)
			writeBars(t, f.dir, "BTCUSDT", "15m", quarterly(60+i, at, 64000, closes...))
			f.clk.set(t0.Add(time.Duration(i) * 15 * time.Minute))
			r := f.run(sc, 1)
			if r.Status != store.StatusCompleted {
				t.Fatalf("run %d: %s %q", i, r.Status, r.Error)
			}
			return r
		}
		writeBars(t, f.dir, "BTCUSDT", "15m", quarterly(60, last, 64000, closes...))
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("first run %s %q", r.Status, r.Error)
		}
		if res := result(t, r); res["status"] != "TRIGGERED" || res["triggers"] != float64(1) || res["timeframe"] != "15m" {
			t.Fatalf("first run result %v", res)
		}
		ob := f.outbox(sc.ID)
		tg := telegramRows(ob)
		if len(tg) != 1 || tg[0].Recipient != chatID || tg[0].Type != "ALERT" || !strings.Contains(tg[0].Body, "crossed above 65000") {
			t.Fatalf("telegram notification %+v", ob)
		}
		if len(ob) != 2 || (ob[0].Channel != "email" && ob[1].Channel != "email") {
			t.Fatalf("email: true must add the email channel: %+v", ob)
		}
		if !strings.Contains(tg[0].Data["rearm"].(string), "64837.5") {
			t.Errorf("the bot's default re-arm (0.25 %% below 65000) is not in %v", tg[0].Data["rearm"])
		}

		step(1, 65600) // still above: no new notification
		step(2, 65700)
		if got := telegramRows(f.outbox(sc.ID)); len(got) != 1 {
			t.Fatalf("bars above the price notified again: %d notifications", len(got))
		}
		step(3, 64000) // back below the re-arm level
		if st := f.state(sc.ID); st["status"] != "ARMED" {
			t.Fatalf("not re-armed below 64837.5: %v", st)
		}
		r = step(4, 65100) // the second crossing
		if res := result(t, r); res["triggers"] != float64(1) {
			t.Fatalf("second crossing: %v", res)
		}
		got := telegramRows(f.outbox(sc.ID))
		if len(got) != 2 || got[1].Recipient != chatID {
			t.Fatalf("want one notification per crossing (2), got %+v", got)
		}
		if st := f.state(sc.ID); st["trigger_count"] != float64(2) {
			t.Fatalf("state %v", st)
		}
	})
}

// rsiDrop is hourly closes that oscillate and then fall for six bars, so
// that RSI(14) ends well below 30.
func rsiDrop(n int) []float64 {
	closes := make([]float64, 0, n)
	for _, c := range []float64{85, 87, 89, 91, 93, 95} { // newest first
		closes = append(closes, c)
	}
	for i := len(closes); i < n; i++ {
		closes = append(closes, 100+float64(i%2))
	}
	return closes
}

func TestBotIndicatorAlertWithReArmConfig(t *testing.T) {
	botDBs(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		// "/alerts add_indicator AAPL '{...}' -timeframe=15m": the bot
		// stores the user's JSON as text in "condition" with indicator
		// "custom"; the user's JSON names the 1h timeframe and BUY.
		user := `{"type":"indicator","indicator":"RSI","parameters":{"period":14},"condition":{"operator":"<","value":30},"alert_action":"BUY","timeframe":"1h"}`
		cfg := map[string]any{"ticker": "AAPL", "indicator": "custom", "condition": user, "value": 0.0,
			"timeframe": "15m", "alert_action": "notify", "email": false}
		reArm := map[string]any{"enabled": true, "hysteresis": 5, "hysteresis_type": "fixed", "cooldown_minutes": 0,
			"persistence_bars": 1, "close_only": true}
		sc := f.botInsert("AAPL", botTaskParams(t, cfg, false, "ARMED", reArm), true)

		writeBars(t, f.dir, "AAPL", "1h", hourly(200, lastClosed, 100, rsiDrop(200)...))
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %s %q", r.Status, r.Error)
		}
		res := result(t, r)
		if res["status"] != "TRIGGERED" || res["timeframe"] != "1h" || res["triggers"] != float64(1) {
			t.Fatalf("result %v", res)
		}
		ob := f.outbox(sc.ID)
		if len(ob) != 1 || ob[0].Channel != "telegram" || ob[0].Recipient != chatID {
			t.Fatalf("outbox %+v", ob)
		}
		n := ob[0]
		if !strings.Contains(n.Body, "RSI(14)") || n.Data["alert_action"] != "BUY" {
			t.Fatalf("notification %+v", n)
		}
		// re_arm_config applied: re-arms at 30 + 5 (fixed), not at the
		// default 30.075 (0.25 %).
		if rearm, _ := n.Data["rearm"].(string); !strings.Contains(rearm, "35") {
			t.Fatalf("re_arm_config not applied, rearm %q", rearm)
		}
	})
}

func TestBotWebUIAlert(t *testing.T) {
	botDBs(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		// telegram_app_service.create_alert(user_id=chat id, ticker, condition
		// "custom", config_json=<a full rule config>, timeframe "1h",
		// alert_type "custom"): {"ticker", "condition", "alert_type",
		// **user config, "timeframe"}, inserted by add_json_alert.
		cfg := map[string]any{"ticker": "ETHUSDT", "condition": "custom", "alert_type": "custom",
			"rule": map[string]any{"crosses_above": map[string]any{"lhs": map[string]any{"field": "close"},
				"rhs": map[string]any{"indicator": map[string]any{"type": "SMA", "params": map[string]any{"period": 5}}}}},
			"notify":    map[string]any{"priority": "high"},
			"timeframe": "1h"}
		sc := f.botInsert("ETHUSDT", botTaskParams(t, cfg, nil, "ARMED", nil), true)
		writeBars(t, f.dir, "ETHUSDT", "1h", hourly(50, lastClosed, 100, 110))
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %s %q", r.Status, r.Error)
		}
		if res := result(t, r); res["status"] != "TRIGGERED" || res["triggers"] != float64(1) {
			t.Fatalf("result %v", res)
		}
		tg := telegramRows(f.outbox(sc.ID))
		if len(tg) != 1 || tg[0].Recipient != chatID || !strings.Contains(tg[0].Body, "crossed above SMA(5)") {
			t.Fatalf("outbox %+v", f.outbox(sc.ID))
		}

		// The web UI's JSON generator form of a price alert, with its
		// re_arm_config inside the config.
		price := map[string]any{"ticker": "ETHUSDT", "condition": "custom", "alert_type": "price", "threshold": 105,
			"direction": "above", "timeframe": "1h", "notification_config": map[string]any{"channels": []string{"telegram"},
				"template": "{ticker} crossed {direction} {threshold} at {current_price}"},
			"re_arm_config": map[string]any{"enabled": true, "hysteresis": 2, "hysteresis_type": "fixed", "cooldown_minutes": 15,
				"persistence_bars": 1, "close_only": false}}
		sc2 := f.botInsert("ETHUSDT2", botTaskParams(t, price, nil, "ARMED", nil), true)
		r = f.run(sc2, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("run %s %q", r.Status, r.Error)
		}
		tg = telegramRows(f.outbox(sc2.ID))
		if len(tg) != 1 || tg[0].Recipient != chatID || !strings.HasPrefix(tg[0].Body, "ETHUSDT crossed above 105 at 110") {
			t.Fatalf("outbox %+v", f.outbox(sc2.ID))
		}
		if rearm, _ := tg[0].Data["rearm"].(string); !strings.Contains(rearm, "103") {
			t.Fatalf("re_arm_config inside config_json not applied: %q", rearm)
		}
	})
}

func TestBotAlertUnsupportedAndNotArmed(t *testing.T) {
	botDBs(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		writeBars(t, f.dir, "AAPL", "15m", quarterly(60, time.Date(2024, 3, 4, 12, 45, 0, 0, time.UTC), 100, 120))

		// An indicator the bot's users might type but we do not have.
		bad := f.botInsert("AAPL", botTaskParams(t, map[string]any{"ticker": "AAPL", "indicator": "FOO", "condition": ">",
			"value": 3, "timeframe": "15m", "alert_action": "notify", "email": false}, false, "ARMED", nil), true)
		err := f.h["alert"].Validate(bad.TaskParams)
		want := `config_json.indicator: indicator "FOO" is not supported; use one of RSI, MACD, BollingerBands`
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate: %v, want %q", err, want)
		}
		r := f.run(bad, 3)
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, want) {
			t.Fatalf("run %s attempt %d %q", r.Status, r.Attempt, r.Error)
		}

		// A paused bot alert (status other than ARMED) is not evaluated,
		// and that is no failure.
		paused := f.botInsert("AAPL", botTaskParams(t, map[string]any{"ticker": "AAPL", "price": 110, "condition": "above",
			"email": false}, false, "PAUSED", nil), false)
		must(t, f.h["alert"].Validate(paused.TaskParams))
		r = f.run(paused, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("paused: %s %q", r.Status, r.Error)
		}
		if res := result(t, r); res["status"] != "PAUSED" || res["evaluated_bars"] != float64(0) {
			t.Fatalf("paused result %v", res)
		}
		if n := len(f.outbox(paused.ID)); n != 0 {
			t.Fatalf("paused alert notified %d times", n)
		}
	})
}

func TestBotScheduleScreenerIsExplained(t *testing.T) {
	h := Handlers(Deps{})["screener"]
	for _, p := range []string{
		`{"ticker": "AAPL", "scheduled_time": "09:00", "telegram_user_id": "42"}`,
		`{"config_json": "{\"type\": \"report\", \"ticker\": \"AAPL\"}", "schedule_config": "report", "telegram_user_id": "42"}`,
	} {
		err := h.Validate([]byte(p))
		if err == nil || !strings.Contains(err.Error(), "report schedule of the Telegram bot") {
			t.Fatalf("%s: %v", p, err)
		}
	}
}
