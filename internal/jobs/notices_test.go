package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// noticeFixture is a fixture whose engine sends failure notices, with a
// script root holding src/flaky.sh: it fails (stderr "Traceback: boom",
// exit 3) until the file "healthy" exists in the root.
func noticeFixture(t *testing.T, db *store.DB, mut func(*Deps)) (*fixture, string) {
	t.Helper()
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "src"), 0o755))
	body := "#!/bin/sh\n[ -f \"$SCRIPT_ROOT_TEST/healthy\" ] && { echo '__SCHEDULER_RESULT__: {\"ok\": true}'; exit 0; }\n" +
		"echo 'Traceback: boom (see https://user:secret@db.example/x)' >&2\nexit 3\n"
	must(t, os.WriteFile(filepath.Join(root, "src", "flaky.sh"), []byte(strings.ReplaceAll(body, "$SCRIPT_ROOT_TEST", root)), 0o755))
	cfg := script.Config{Root: root, AllowedDirs: []string{"src"}, Python: script.DefaultPython, KillGrace: 100 * time.Millisecond, Logger: quiet}
	f := newFixture(t, db, func(d *Deps) {
		d.Script = cfg
		if mut != nil {
			mut(d)
		}
	})
	f.eng = noticeEngine(f, "test")
	return f, root
}

// noticeEngine is an engine of f with failure notices on (log channel).
func noticeEngine(f *fixture, node string) *engine.Engine {
	return engine.New(f.db, f.h, engine.Options{NodeID: node, Now: f.clk.now, Logger: quiet, RetryDelay: time.Second,
		Notices: &notify.Planner{Options: notify.DefaultOptions(), Logger: quiet}})
}

// notices returns the failure notices (not the jobs' own notifications)
// of schedule id in the outbox.
func (f *fixture) notices(id int64) []outboxRow {
	var out []outboxRow
	for _, r := range f.outbox(id) {
		if strings.Contains(r.Key, ":streak:") {
			out = append(out, r)
		}
	}
	return out
}

func kinds(rows []outboxRow) []string {
	var ks []string
	for _, r := range rows {
		ev, _ := r.Data["event"].(string)
		ks = append(ks, strings.TrimPrefix(ev, "schedule_"))
	}
	return ks
}

func TestFailureNoticesOfAScriptSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, root := noticeFixture(t, db, nil)
		sc := f.schedule("flaky", "script", `{"script_path": "src/flaky.sh"}`)
		first := t0

		// Attempt 1 of 2 fails: retried, nobody told yet.
		r := f.run(sc, 2)
		if r.Status != store.StatusPending || len(f.notices(sc.ID)) != 0 {
			t.Fatalf("first attempt: %s, notices %+v", r.Status, f.notices(sc.ID))
		}
		// Attempt 2 fails for good: one failure notice.
		f.clk.set(first.Add(time.Minute))
		r = f.rerun(r.ID)
		ns := f.notices(sc.ID)
		if r.Status != store.StatusFailed || len(ns) != 1 || ns[0].Title != "❌ flaky failing" ||
			!strings.Contains(ns[0].Body, "Traceback: boom") || !strings.Contains(ns[0].Body, "Failed runs in a row: 1") {
			t.Fatalf("final failure: %s, notices %+v", r.Status, ns)
		}
		if strings.Contains(ns[0].Body, "secret") {
			t.Fatalf("secret in the notice: %s", ns[0].Body)
		}
		if ns[0].Channel != "log" || ns[0].Recipient != "user:1" || ns[0].Type != "JOB" {
			t.Fatalf("notice goes to %s %s (%s), want the owner's default channel", ns[0].Channel, ns[0].Recipient, ns[0].Type)
		}
		// More failures within a day: nothing more.
		for _, d := range []time.Duration{time.Hour, 12 * time.Hour, 23 * time.Hour} {
			f.clk.set(first.Add(d))
			if r := f.run(sc, 1); r.Status != store.StatusFailed {
				t.Fatalf("run %s", r.Status)
			}
		}
		if ns := f.notices(sc.ID); len(ns) != 1 {
			t.Fatalf("within a day: %v", kinds(ns))
		}
		// A day after the message: one reminder with the streak's facts.
		f.clk.set(first.Add(24*time.Hour + 2*time.Minute))
		f.run(sc, 1)
		f.clk.set(first.Add(25 * time.Hour))
		f.run(sc, 1)
		ns = f.notices(sc.ID)
		if got := strings.Join(kinds(ns), ","); got != "failure,reminder" {
			t.Fatalf("after a day: %s", got)
		}
		if !strings.Contains(ns[1].Title, "still failing") || !strings.Contains(ns[1].Body, "Failed runs in a row: 5") ||
			!strings.Contains(ns[1].Body, "since 2024-03-04 13:03 UTC") {
			t.Fatalf("reminder %q %q", ns[1].Title, ns[1].Body)
		}
		// The first success: one recovery notice, to the same recipient.
		must(t, os.WriteFile(filepath.Join(root, "healthy"), nil, 0o644))
		f.clk.set(first.Add(26 * time.Hour))
		if r := f.run(sc, 1); r.Status != store.StatusCompleted {
			t.Fatalf("healthy run %s %q", r.Status, r.Error)
		}
		f.clk.set(first.Add(27 * time.Hour))
		f.run(sc, 1)
		ns = f.notices(sc.ID)
		if got := strings.Join(kinds(ns), ","); got != "failure,reminder,recovery" {
			t.Fatalf("after recovery: %s", got)
		}
		if ns[2].Title != "✅ flaky recovered" || !strings.Contains(ns[2].Body, "after 6 failed runs") || ns[2].Recipient != "user:1" {
			t.Fatalf("recovery %q %q to %s", ns[2].Title, ns[2].Body, ns[2].Recipient)
		}
		// A new streak is told again.
		must(t, os.Remove(filepath.Join(root, "healthy")))
		f.clk.set(first.Add(28 * time.Hour))
		f.run(sc, 1)
		ns = f.notices(sc.ID)
		if got := strings.Join(kinds(ns), ","); got != "failure,reminder,recovery,failure" || !strings.Contains(ns[3].Key, ":streak:2:failure:") {
			t.Fatalf("second streak: %s (%s)", got, ns[len(ns)-1].Key)
		}
		st, err := db.GetFailureStreak(context.Background(), sc.ID)
		if err != nil || st.Streak != 2 || st.Failures != 1 {
			t.Fatalf("streak %+v %v", st, err)
		}
	})
}

func TestFailureNoticeOptOutAndJobOwnMessages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f, _ := noticeFixture(t, db, nil)
		quietSc := f.schedule("quiet", "script", `{"script_path": "src/flaky.sh", "options": {"notify_on_failure": false}}`)
		if r := f.run(quietSc, 1); r.Status != store.StatusFailed || !strings.Contains(r.Error, "exited with code 3") {
			t.Fatalf("opted-out run %s %q", r.Status, r.Error)
		}
		if ob := f.outbox(quietSc.ID); len(ob) != 0 {
			t.Fatalf("opted out, but %+v", ob)
		}
		if st, err := db.GetFailureStreak(context.Background(), quietSc.ID); err != nil || st.Failures != 1 {
			t.Fatalf("the streak is kept: %+v %v", st, err)
		}

		// notification_rules on failure: the job's own message, no second one.
		rules := f.schedule("ruled", "script", `{"script_path": "src/flaky.sh", "notification_rules": {"conditions": [{"on": "failure", "channel": "log"}]}}`)
		f.run(rules, 1)
		if ob := f.outbox(rules.ID); len(ob) != 1 || ob[0].Title != "[Scheduler] ruled" {
			t.Fatalf("one message per event, got %+v", ob)
		}
		// A schedule job with on_failure: likewise.
		sync := f.schedule("sync", "schedule", `{"action": "data_sync", "parameters": {"symbols": ["NODATA"], "timeframes": ["1h"]},
			"notify": {"on_failure": true, "channels": ["log"]}}`)
		if r := f.run(sync, 1); r.Status != store.StatusFailed {
			t.Fatalf("data_sync without data: %s", r.Status)
		}
		if ob := f.outbox(sync.ID); len(ob) != 1 || !strings.Contains(ob[0].Title, "sync failed") {
			t.Fatalf("one message per event, got %+v", ob)
		}
	})
}

func TestNotifyOnFailureValidation(t *testing.T) {
	f, _ := noticeFixture(t, storetest.SQLite(t), nil)
	for jobType, params := range map[string]string{
		"script":   `{"script_path": "src/flaky.sh", "options": {"notify_on_failure": "no"}}`,
		"alert":    strings.Replace(crossAlert, `"notify"`, `"options": {"notify_on_failure": 0}, "notify"`, 1),
		"schedule": `{"action": "maintenance", "options": {"notify_on_failure": null}}`,
	} {
		err := engine.ValidateParams(f.h[jobType], "", []byte(params))
		if err == nil || !strings.Contains(err.Error(), "options.notify_on_failure = ") || !strings.Contains(err.Error(), "want true or false") {
			t.Errorf("%s: %v", jobType, err)
		}
	}
	for jobType, params := range map[string]string{
		"script":   `{"script_path": "src/flaky.sh", "options": {"notify_on_failure": false}}`,
		"alert":    strings.Replace(crossAlert, `"notify"`, `"options": {"notify_on_failure": false, "provider": "csv"}, "notify"`, 1),
		"schedule": `{"action": "maintenance", "options": {"notify_on_failure": true, "retry_count": 1}}`,
		"screener": `{"tickers": ["BTCUSDT"], "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}, "options": {"notify_on_failure": false}}`,
		"report":   `{"report_type": "daily", "options": {"notify_on_failure": false}}`,
	} {
		if err := engine.ValidateParams(f.h[jobType], "", []byte(params)); err != nil {
			t.Errorf("%s: %v", jobType, err)
		}
	}
}

// failingProvider is a Binance endpoint answering 500 until healthy is
// set, then real klines.
func failingProvider(t *testing.T) (*httptest.Server, *atomic.Bool) {
	var healthy atomic.Bool
	good, _ := fakeBinance(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !healthy.Load() {
			http.Error(w, `{"code": -1000, "msg": "internal error"}`, http.StatusInternalServerError)
			return
		}
		good.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &healthy
}

// failingMarket is a market data client on a failingProvider, without a
// cache or pauses between attempts; set healthy to let it answer.
func failingMarket(t *testing.T, clk *clock) (*marketdata.Client, *atomic.Bool) {
	srv, healthy := failingProvider(t)
	o := marketdata.DefaultOptions()
	o.Providers, o.BinanceBaseURL, o.Now, o.Logger, o.CacheEnabled = []string{"binance"}, srv.URL, clk.now, quiet, false
	o.Sleep = func(context.Context, time.Duration) error { return nil }
	client, err := marketdata.New(o)
	must(t, err)
	return client, healthy
}

func TestFailureNoticesOfAnAlertWithoutData(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock(t0)
		client, healthy := failingMarket(t, clk)
		f, _ := noticeFixture(t, db, func(d *Deps) { d.Market = client; d.Now = clk.now })
		f.clk = clk
		f.eng = noticeEngine(f, "test")
		cfg := strings.Replace(crossAlert, `"timeframe"`, `"options": {"provider": "binance"}, "timeframe"`, 1)
		cfg = strings.Replace(cfg, `"channels": ["log"]`, `"channels": ["telegram"], "recipient_id": "859865894"`, 1)
		sc := f.schedule("btc-alert", "alert", cfg)

		for i := range 3 {
			clk.set(t0.Add(time.Duration(i) * 5 * time.Minute))
			r := f.run(sc, 2)
			if r.Status == store.StatusPending {
				clk.set(clk.now().Add(time.Minute))
				r = f.rerun(r.ID)
			}
			if r.Status != store.StatusFailed || !strings.Contains(r.Error, "market data") {
				t.Fatalf("run %d: %s %q", i, r.Status, r.Error)
			}
		}
		ns := f.notices(sc.ID)
		if len(ns) != 1 || ns[0].Title != "❌ btc-alert failing" || !strings.Contains(ns[0].Body, "market data BTCUSDT 1h") {
			t.Fatalf("notices %+v", ns)
		}
		healthy.Store(true)
		clk.set(t0.Add(time.Hour))
		if r := f.run(sc, 1); r.Status != store.StatusCompleted {
			t.Fatalf("healthy run %s %q", r.Status, r.Error)
		}
		if got := strings.Join(kinds(f.notices(sc.ID)), ","); got != "failure,recovery" {
			t.Fatalf("notices %s", got)
		}
		// The alert's notify config is where its notices go.
		for _, n := range f.notices(sc.ID) {
			if n.Channel != "telegram" || n.Recipient != "859865894" {
				t.Fatalf("notice to %s %s", n.Channel, n.Recipient)
			}
		}
	})
}

// Two instances finishing failed runs of one schedule at once tell its
// owner once.
func TestFailureNoticeOnceWithTwoEngines(t *testing.T) {
	db := storetest.Postgres(t)
	f, root := noticeFixture(t, db, nil)
	sc := f.schedule("shared", "script", `{"script_path": "src/flaky.sh", "options": {"parallel": true}}`)
	engines := []*engine.Engine{noticeEngine(f, "a"), noticeEngine(f, "b")}
	ctx := context.Background()
	const runs = 8
	// runAll runs n runs of sc side by side, half on each engine.
	runAll := func(from time.Time) {
		var ids []int64
		for i := range runs {
			r, err := db.InsertRun(ctx, sc, from.Add(time.Duration(i)*time.Second), 1)
			must(t, err)
			ids = append(ids, r.ID)
		}
		// Manual runs are exclusive; these may run side by side, like
		// cron fires of a parallel schedule.
		f.exec(`UPDATE job_schedule_runs SET exclusive = false WHERE job_id = $1`, strconv.FormatInt(sc.ID, 10))
		var wg sync.WaitGroup
		for i, id := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := engines[i%2].TriggerRun(ctx, id); err != nil {
					t.Errorf("run %d: %v", id, err)
				}
			}()
		}
		wg.Wait()
	}
	runAll(t0)
	if n := f.count(`SELECT COUNT(*) FROM job_schedule_runs WHERE status = 'failed' AND job_id = $1`, strconv.FormatInt(sc.ID, 10)); n != runs {
		t.Fatalf("%d failed runs, want %d", n, runs)
	}
	if ns := f.notices(sc.ID); len(ns) != 1 {
		t.Fatalf("%d notices, want 1: %v", len(ns), kinds(ns))
	}
	st, err := db.GetFailureStreak(ctx, sc.ID)
	if err != nil || st.Failures != runs || st.Streak != 1 {
		t.Fatalf("streak %+v %v", st, err)
	}
	// Successes side by side: one recovery.
	must(t, os.WriteFile(filepath.Join(root, "healthy"), nil, 0o644))
	runAll(t0.Add(time.Hour))
	if got := strings.Join(kinds(f.notices(sc.ID)), ","); got != "failure,recovery" {
		t.Fatalf("notices %s, want failure,recovery", got)
	}
}

// On the framework's database, a bot alert's failure and recovery notices
// go to the bot user's chat through the framework's queue (msg_messages),
// written with the run.
func TestFailureNoticesOnTheFrameworkQueue(t *testing.T) {
	db := storetest.Framework(t, storetest.JobIDInt4)
	must(t, db.UseFrameworkQueue(true))
	clk := newClock(t0)
	client, healthy := failingMarket(t, clk)
	f := newFixture(t, db, func(d *Deps) { d.Market = client; d.Now = clk.now })
	f.clk = clk
	opts := notify.DefaultOptions()
	opts.FrameworkQueue = true
	f.eng = engine.New(f.db, f.h, engine.Options{NodeID: "test", Now: clk.now, Logger: quiet,
		Notices: &notify.Planner{Options: opts, Logger: quiet}})
	cfg := map[string]any{"ticker": "BTCUSDT", "price": 65000.0, "condition": "above"}
	sc := f.botInsert("BTCUSDT", botTaskParams(t, cfg, false, "ARMED", nil), true)
	for i := range 2 {
		clk.set(t0.Add(time.Duration(i) * 15 * time.Minute))
		if r := f.run(sc, 1); r.Status != store.StatusFailed {
			t.Fatalf("run %d: %s %q", i, r.Status, r.Error)
		}
	}
	healthy.Store(true)
	clk.set(t0.Add(time.Hour))
	if r := f.run(sc, 1); r.Status != store.StatusCompleted {
		t.Fatalf("healthy run %s %q", r.Status, r.Error)
	}
	rows, err := db.SQL().Query(`SELECT recipient_id, content::json->>'title' FROM msg_messages ORDER BY id`)
	must(t, err)
	defer rows.Close()
	var got []string
	for rows.Next() {
		var rcpt, title string
		must(t, rows.Scan(&rcpt, &title))
		got = append(got, rcpt+" "+title)
	}
	want := chatID + " ❌ " + sc.Name + " failing|" + chatID + " ✅ " + sc.Name + " recovered"
	if strings.Join(got, "|") != want {
		t.Fatalf("msg_messages %q, want %q", got, want)
	}
	storetest.CheckReaders(t, db)
}
