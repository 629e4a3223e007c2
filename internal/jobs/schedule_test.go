package jobs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// seedRun inserts a finished run row directly.
func (f *fixture) seedRun(jobType, jobID, status string, finished time.Time, errText string) int64 {
	f.t.Helper()
	var id int64
	err := f.db.SQL().QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, kind, scheduled_for,
		enqueued_at, started_at, finished_at, error) VALUES ($1, $2, 1, $3, 'cron', $4, $4, $5, $6, $7) RETURNING id`,
		jobType, jobID, status, f.db.TimeArg(finished.Add(-time.Minute)), f.db.TimeArg(finished.Add(-2*time.Second)),
		f.db.TimeArg(finished), nullable(errText)).Scan(&id)
	if err != nil {
		f.t.Fatalf("seed run: %v", err)
	}
	return id
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// seedNotification inserts an outbox row directly.
func (f *fixture) seedNotification(key, status, typ string, runID, scheduleID int64, at time.Time) {
	f.t.Helper()
	f.exec(`INSERT INTO notifications (idempotency_key, channel, recipient, notification_type, status, run_id, schedule_id,
		created_at, updated_at, next_attempt_at) VALUES ($1, 'log', 'user:1', $2, $3, $4, $5, $6, $6, $6)`,
		key, typ, status, runID, scheduleID, f.db.TimeArg(at))
}

func TestScheduleCleanupDeletesOnlyOldRowsInBatches(t *testing.T) {
	old := cleanupBatch
	cleanupBatch = 10
	t.Cleanup(func() { cleanupBatch = old })
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		long := t0.Add(-40 * 24 * time.Hour)
		recent := t0.Add(-2 * 24 * time.Hour)
		var oldIDs []int64
		for i := range 25 {
			id := f.seedRun("script", "99", []string{"completed", "failed", "skipped"}[i%3], long.Add(time.Duration(i)*time.Minute), "")
			oldIDs = append(oldIDs, id)
			f.exec(`INSERT INTO job_run_attempts (run_id, attempt, finished_at, error) VALUES ($1, 1, $2, 'boom')`, id, db.TimeArg(long))
		}
		for i := range 3 {
			f.seedRun("script", "99", "completed", recent.Add(time.Duration(i)*time.Minute), "")
		}
		// An old run that never finished is kept.
		f.exec(`INSERT INTO job_schedule_runs (job_type, job_id, status, scheduled_for) VALUES ('script', '98', 'pending', $1)`, db.TimeArg(long))
		keep := f.seedRun("script", "97", "completed", recent, "")
		f.exec(`INSERT INTO job_run_attempts (run_id, attempt, finished_at) VALUES ($1, 1, $2)`, keep, db.TimeArg(recent))
		for i := range 12 {
			f.seedNotification(fmt.Sprintf("old-sent-%d", i), []string{"sent", "suppressed"}[i%2], "ALERT", 1, 99, long)
		}
		f.seedNotification("old-dead", "dead", "ALERT", 1, 99, long)
		f.seedNotification("old-pending", "pending", "ALERT", 1, 99, long)
		f.seedNotification("new-sent", "sent", "ALERT", 1, 99, recent)

		sc := f.schedule("cleanup", "schedule", `{"action": "cleanup", "parameters": {"cleanup_older_than": 30}}`)
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("cleanup %s %q", r.Status, r.Error)
		}
		res := result(t, r)
		if res["runs"] != float64(25) || res["attempts"] != float64(25) || res["notifications"] != float64(12) {
			t.Fatalf("result %v", res)
		}
		// 25 runs in batches of 10 = 3, 12 notifications = 2.
		if res["batches"] != float64(5) {
			t.Fatalf("batches %v, want 5", res["batches"])
		}
		if n := f.count(`SELECT COUNT(*) FROM job_schedule_runs WHERE job_id IN ('99', '98', '97')`); n != 5 {
			t.Fatalf("%d runs left, want 3 recent + 1 pending + 1 kept", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM job_run_attempts`); n != 1 {
			t.Fatalf("%d attempts left, want the recent run's one", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM notifications WHERE idempotency_key IN ('old-dead', 'old-pending', 'new-sent')`); n != 3 {
			t.Fatalf("kept notifications: %d, want 3", n)
		}
		if n := f.count(`SELECT COUNT(*) FROM notifications WHERE idempotency_key LIKE 'old-sent-%'`); n != 0 {
			t.Fatalf("%d old sent notifications left", n)
		}
	})
}

func TestScheduleBackupSQLite(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), nil)
	dir := t.TempDir()
	sc := f.schedule("backup", "schedule", `{"action": "backup", "parameters": {"backup_path": "`+filepath.Join(dir, "sched-{date}.db")+`"},
		"notify": {"on_failure": true, "channels": ["log"]}}`)
	r := f.run(sc, 1)
	if r.Status != store.StatusCompleted {
		t.Fatalf("backup %s %q", r.Status, r.Error)
	}
	path := filepath.Join(dir, "sched-2024-03-04.db")
	if res := result(t, r); res["path"] != path || res["bytes"].(float64) <= 0 || res["tool"] != "VACUUM INTO" {
		t.Fatalf("result %v", res)
	}
	// The copy is a readable SQLite database with the schedule in it.
	cp, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: path})
	must(t, err)
	defer cp.Close()
	got, err := cp.GetSchedule(context.Background(), sc.ID)
	if err != nil || got.Name != "backup" {
		t.Fatalf("schedule in the backup: %v %v", got, err)
	}

	// The same path again: a permanent failure, notified once.
	f.clk.set(t0.Add(time.Hour))
	r = f.run(sc, 3)
	if r.Status != store.StatusFailed || !strings.Contains(r.Error, "already exists") {
		t.Fatalf("second backup to an existing path: %s %q", r.Status, r.Error)
	}
	ob := f.outbox(sc.ID)
	if len(ob) != 1 || ob[0].Type != "JOB" || !strings.Contains(ob[0].Title, "backup failed") || !strings.Contains(ob[0].Body, "already exists") {
		t.Fatalf("failure notification %+v", ob)
	}

	// backup job type = schedule action backup.
	b := f.schedule("backup-type", "backup", `{"parameters": {"backup_path": "`+filepath.Join(dir, "b-{timestamp}.db")+`"}}`)
	if r := f.run(b, 1); r.Status != store.StatusCompleted {
		t.Fatalf("backup job type %s %q", r.Status, r.Error)
	}
	if _, err := os.Stat(filepath.Join(dir, "b-20240304T140200Z.db")); err != nil {
		t.Fatal(err)
	}
}

func TestScheduleBackupPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	db := storetest.Open(t, "postgres", url)
	f := newFixture(t, db, func(d *Deps) { d.DatabaseURL = url })
	path := filepath.Join(t.TempDir(), "pg.dump")
	sc := f.schedule("pg-backup", "schedule", `{"action": "backup", "parameters": {"backup_path": "`+path+`"}}`)
	r := f.run(sc, 1)
	if r.Status != store.StatusCompleted {
		t.Fatalf("pg backup %s %q", r.Status, r.Error)
	}
	b, err := os.ReadFile(path)
	if err != nil || !strings.HasPrefix(string(b), "PGDMP") {
		t.Fatalf("dump file: %d bytes, %v", len(b), err)
	}

	f2 := newFixture(t, db, func(d *Deps) { d.DatabaseURL = url; d.PgDump = filepath.Join(t.TempDir(), "no-pg_dump") })
	sc2 := f2.schedule("pg-backup-2", "schedule", `{"action": "backup", "parameters": {"backup_path": "`+path+`.2"}}`)
	if r := f2.run(sc2, 1); r.Status != store.StatusFailed || !strings.Contains(r.Error, "pg_dump") {
		t.Fatalf("missing pg_dump: %s %q", r.Status, r.Error)
	}
}

func TestScheduleMaintenance(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		sc := f.schedule("maint", "schedule", `{"action": "maintenance", "notify": {"on_success": true, "channels": ["log"]}}`)
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("maintenance %s %q", r.Status, r.Error)
		}
		res := result(t, r)
		stmts := fmt.Sprint(res["statements"])
		if !strings.Contains(stmts, "ANALYZE") || (db.Dialect() == "sqlite" && !strings.Contains(stmts, "VACUUM")) {
			t.Fatalf("statements %v", stmts)
		}
		ob := f.outbox(sc.ID)
		if len(ob) != 1 || !strings.Contains(ob[0].Title, "maint completed") || !strings.Contains(ob[0].Body, "Duration:") {
			t.Fatalf("success notification %+v", ob)
		}
	})
}

func TestScheduleDataSyncWarmsTheCache(t *testing.T) {
	srv, requests := fakeBinance(t)
	clk := newClock(t0)
	o := marketdata.DefaultOptions()
	o.Providers, o.BinanceBaseURL, o.Now, o.Logger = []string{"binance"}, srv.URL, clk.now, quiet
	client, err := marketdata.New(o)
	must(t, err)
	f := newFixture(t, storetest.SQLite(t), func(d *Deps) { d.Market = client; d.Now = clk.now })
	sc := f.schedule("sync", "schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTCUSDT", "ETHUSDT"], "timeframes": ["1h", "4h"]}}`)
	r := f.run(sc, 1)
	if r.Status != store.StatusCompleted {
		t.Fatalf("data_sync %s %q", r.Status, r.Error)
	}
	series, _ := result(t, r)["series"].([]any)
	if len(series) != 4 {
		t.Fatalf("series %v", series)
	}
	for _, s := range series {
		m := s.(map[string]any)
		if m["bars"] != float64(200) || m["provider"] != "binance" || m["cached"] != false {
			t.Fatalf("series %v", m)
		}
	}
	after := requests.Load()
	if after < 4 {
		t.Fatalf("%d requests for 4 series", after)
	}
	// An alert on a warmed series fetches nothing.
	a := f.schedule("warm-alert", "alert", `{"ticker": "BTCUSDT", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`)
	if r := f.run(a, 1); r.Status != store.StatusCompleted {
		t.Fatalf("alert %s %q", r.Status, r.Error)
	}
	if n := requests.Load(); n != after {
		t.Fatalf("alert after data_sync made %d more requests", n-after)
	}

	// days_back out of range is rejected before any fetch.
	bad := f.schedule("sync-bad", "schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTCUSDT"], "timeframes": ["1h"], "days_back": 400}}`)
	if err := f.h["schedule"].Validate(bad.TaskParams); err == nil || !strings.Contains(err.Error(), "parameters.days_back: 400: out of range 1..365") {
		t.Fatalf("validation: %v", err)
	}
}

func TestReportsAndMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, nil)
		alert := f.schedule("rsi-alert", "alert", crossAlert)
		aid := fmt.Sprint(alert.ID)
		in := t0.Add(-3 * time.Hour)
		r1 := f.seedRun("alert", aid, "completed", in, "")
		r2 := f.seedRun("alert", aid, "completed", in.Add(time.Minute), "")
		f.seedRun("alert", aid, "failed", in.Add(2*time.Minute), "market data BTCUSDT 1h: provider down\nmore")
		f.seedRun("script", "77", "completed", in, "")
		f.seedRun("script", "77", "completed", t0.Add(-48*time.Hour), "") // outside the day
		f.seedNotification("a1", "sent", "ALERT", r1, alert.ID, in)
		f.seedNotification("a1b", "dead", "ALERT", r1, alert.ID, in)
		f.seedNotification("a2", "sent", "ALERT", r2, alert.ID, in)

		sc := f.schedule("daily", "schedule", `{"action": "report", "parameters": {"report_type": "daily", "recipients": ["ops@example.com"]},
			"notify": {"channels": ["log"], "on_success": true}}`)
		r := f.run(sc, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("report %s %q", r.Status, r.Error)
		}
		res := result(t, r)
		if runs := res["runs"].(map[string]any); runs["completed"] != float64(3) || runs["failed"] != float64(1) || res["alert_runs_notified"] != float64(2) {
			t.Fatalf("report %v", res)
		}
		ob := f.outbox(sc.ID)
		// The log channel plus one email to the explicit recipient; the
		// report replaces the on_success message.
		if len(ob) != 2 || ob[0].Channel != "log" || ob[1].Channel != "email" || ob[1].Recipient != "ops@example.com" {
			t.Fatalf("report notifications %+v", ob)
		}
		for _, want := range []string{"4 runs, 1 failed, 2 alert triggers"} {
			if !strings.Contains(ob[0].Title, want) {
				t.Errorf("title %q lacks %q", ob[0].Title, want)
			}
		}
		for _, want := range []string{"alert: completed 2, failed 1", "rsi-alert (#" + aid + "): 2", "provider down", "Notifications: dead 1, sent 2"} {
			if !strings.Contains(ob[0].Body, want) {
				t.Errorf("body lacks %q:\n%s", want, ob[0].Body)
			}
		}

		// report job type over 72 hours, performance figures.
		rep := f.schedule("weekly", "report", `{"report_type": "performance", "period_hours": 72, "notify": {"channels": ["log"]}}`)
		r = f.run(rep, 1)
		if r.Status != store.StatusCompleted {
			t.Fatalf("report job %s %q", r.Status, r.Error)
		}
		ob = f.outbox(rep.ID)
		if len(ob) != 1 || !strings.Contains(ob[0].Title, "5 runs") || !strings.Contains(ob[0].Body, "avg 2s, max 2s") {
			t.Fatalf("report job notification %+v", ob)
		}

		// notification job type.
		msg := f.schedule("reminder", "notification", `{"title": "Weekly check", "message": "Review open positions", "channels": ["log"], "priority": "high"}`)
		r = f.run(msg, 1)
		ob = f.outbox(msg.ID)
		if r.Status != store.StatusCompleted || len(ob) != 1 || ob[0].Title != "Weekly check" || ob[0].Body != "Review open positions" || ob[0].Type != "SYSTEM" {
			t.Fatalf("message job %s %+v", r.Status, ob)
		}
	})
}

func TestScheduleValidation(t *testing.T) {
	h := Handlers(Deps{})
	cases := []struct{ typ, params, want string }{
		{"schedule", `{"action": "cleanup"}`, ""},
		{"schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTCUSDT"], "timeframes": ["1h", "1d"], "days_back": 30},
			"options": {"timeout": 600, "retry_count": 2, "retry_delay": 30, "parallel": false, "skip_if_running": true},
			"notify": {"on_success": true, "on_failure": true, "channels": ["telegram", "email", "webhook"]}}`, ""},
		{"schedule", `{}`, "action: required"},
		{"schedule", `{"action": "explode"}`, `action: "explode": want one of data_sync, cleanup, backup, report, maintenance`},
		{"schedule", `{"action": "data_sync"}`, "parameters.symbols: required for action data_sync"},
		{"schedule", `{"action": "data_sync", "parameters": {"symbols": ["btc-usd"]}}`, `parameters.symbols[0]: "btc-usd" does not match ^[A-Z0-9]+$`},
		{"schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTC"], "timeframes": ["2h"]}}`, `parameters.timeframes[0]: "2h": want one of 1m 5m 15m 30m 1h 4h 1d`},
		{"schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTC"], "days_back": 0}}`, "parameters.days_back: 0: out of range 1..365"},
		{"schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTC"], "days_back": 1.5}}`, "parameters.days_back: 1.5: want a whole number"},
		{"schedule", `{"action": "cleanup", "parameters": {"cleanup_older_than": 0}}`, "parameters.cleanup_older_than: 0: must be at least 1"},
		{"schedule", `{"action": "backup"}`, "parameters.backup_path: required for action backup"},
		{"schedule", `{"action": "report", "parameters": {"report_type": "hourly"}}`, `parameters.report_type: "hourly": want one of daily, weekly, monthly, performance`},
		{"schedule", `{"action": "report", "parameters": {"recipients": ["ops@example.com", "nobody"]}}`, `parameters.recipients[1]: "nobody" is not an email address`},
		{"schedule", `{"action": "cleanup", "options": {"timeout": 30}}`, "options.timeout: 30: out of range 60..3600"},
		{"schedule", `{"action": "cleanup", "options": {"retry_count": 6}}`, "options.retry_count: 6: out of range 0..5"},
		{"schedule", `{"action": "cleanup", "options": {"retry_delay": 0.5}}`, "options.retry_delay: 0.5: out of range 1..300"},
		{"schedule", `{"action": "cleanup", "options": {"parallel": "yes"}}`, `options.parallel: "yes": want true or false`},
		{"schedule", `{"action": "cleanup", "options": {"skip_if_running": 1}}`, `options.skip_if_running: 1: want true or false`},
		{"schedule", `{"action": "cleanup", "options": {"retries": 1}}`, `options.retries: unknown key`},
		{"schedule", `{"action": "cleanup", "notify": {"on_failure": "no"}}`, `notify.on_failure: "no": want true or false`},
		{"schedule", `{"action": "cleanup", "notify": {"channels": ["sms"]}}`, `"sms": unknown channel`},
		{"schedule", `{"action": "cleanup", "parameters": {"symbol": "X"}}`, `parameters.symbol: unknown key`},
		{"backup", `{"parameters": {"backup_path": "/tmp/x.db"}}`, ""},
		{"backup", `{"action": "cleanup"}`, `action: "cleanup": a backup job runs action backup only`},
		{"report", `{"report_type": "weekly", "period_hours": 48}`, ""},
		{"report", `{"period_hours": 0}`, "period_hours: 0: out of range 1..8760"},
		{"report", `{"report_type": "yearly"}`, `report_type: "yearly"`},
		{"notification", `{"message": "hi", "channel": "log"}`, ""},
		{"notification", `{"title": "x"}`, "message: required"},
		{"notification", `{"message": "hi", "priority": "urgent"}`, `priority "urgent"`},
		{"notification", `{"message": "hi", "colour": "red"}`, "colour: unknown key"},
	}
	for _, c := range cases {
		t.Run(c.typ+" "+c.params, func(t *testing.T) {
			err := h[c.typ].Validate([]byte(c.params))
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("error %v, want it to contain %q", err, c.want)
			}
		})
	}
}
