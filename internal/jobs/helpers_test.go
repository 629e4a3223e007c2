package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// t0 is the test clock: a few minutes after the 12:00 UTC bar closed.
var t0 = time.Date(2024, 3, 4, 13, 2, 0, 0, time.UTC)

var quiet = slog.New(slog.DiscardHandler)

// hourly returns n hourly bars ending with the bar that opens at last,
// all with close c except where closes overrides by index from the end
// (closes[0] is the last bar).
func hourly(n int, last time.Time, c float64, closes ...float64) []marketdata.Bar {
	bars := make([]marketdata.Bar, n)
	for i := range bars {
		v := c
		if k := n - 1 - i; k < len(closes) {
			v = closes[k]
		}
		bars[i] = marketdata.Bar{Time: last.Add(-time.Duration(n-1-i) * time.Hour), Open: v, High: v + 1, Low: v - 1, Close: v, Volume: 10}
	}
	return bars
}

// writeBars writes dir/SYMBOL_TF.csv.
func writeBars(t testing.TB, dir, symbol, tf string, bars []marketdata.Bar) {
	t.Helper()
	f, err := os.Create(filepath.Join(dir, symbol+"_"+tf+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := marketdata.WriteCSV(f, bars); err != nil {
		t.Fatal(err)
	}
}

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }

// csvClient is a market data client on the csv provider alone, without
// its cache (files change between runs in the tests).
func csvClient(t testing.TB, dir string, clk *clock) *marketdata.Client {
	t.Helper()
	o := marketdata.DefaultOptions()
	o.Providers, o.CSVDir, o.Now, o.CacheEnabled, o.Logger = []string{"csv"}, dir, clk.now, false, quiet
	o.Sleep = func(context.Context, time.Duration) error { return nil }
	c, err := marketdata.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// fixture is a store, handlers and an engine with a test clock.
type fixture struct {
	t   *testing.T
	db  *store.DB
	clk *clock
	dir string
	h   map[string]engine.Handler
	eng *engine.Engine
}

func newFixture(t *testing.T, db *store.DB, mut func(*Deps)) *fixture {
	t.Helper()
	f := &fixture{t: t, db: db, clk: newClock(t0), dir: t.TempDir()}
	d := Deps{Market: csvClient(t, f.dir, f.clk), DB: db, Now: f.clk.now, Logger: quiet,
		Planner: &notify.Planner{Options: notify.DefaultOptions(), Logger: quiet}}
	if mut != nil {
		mut(&d)
	}
	f.h = Handlers(d)
	f.eng = engine.New(db, f.h, engine.Options{NodeID: "test", Now: f.clk.now, Logger: quiet})
	return f
}

// schedule creates a disabled schedule (runs are started by hand).
func (f *fixture) schedule(name, jobType, params string) *store.Schedule {
	f.t.Helper()
	sc := &store.Schedule{UserID: 1, Name: name, JobType: jobType, TaskParams: json.RawMessage(params), Cron: "0 * * * *"}
	if err := f.db.CreateSchedule(context.Background(), sc); err != nil {
		f.t.Fatalf("create schedule %s: %v", name, err)
	}
	return sc
}

// run inserts a run of sc for the clock's instant and executes it through
// the engine (claim, handler, completion in one transaction).
func (f *fixture) run(sc *store.Schedule, maxAttempts int) *store.Run {
	f.t.Helper()
	ctx := context.Background()
	r, err := f.db.InsertRun(ctx, sc, f.clk.now(), maxAttempts)
	if err != nil {
		f.t.Fatalf("insert run: %v", err)
	}
	return f.rerun(r.ID)
}

// rerun executes an existing pending run.
func (f *fixture) rerun(id int64) *store.Run {
	f.t.Helper()
	ctx := context.Background()
	if err := f.eng.TriggerRun(ctx, id); err != nil {
		f.t.Fatalf("trigger run %d: %v", id, err)
	}
	r, err := f.db.GetRun(ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) state(id int64) map[string]any {
	f.t.Helper()
	sc, err := f.db.GetSchedule(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]any
	if len(sc.StateJSON) > 0 {
		if err := json.Unmarshal(sc.StateJSON, &m); err != nil {
			f.t.Fatalf("state_json %s: %v", sc.StateJSON, err)
		}
	}
	return m
}

// outboxRow is what the tests read back from the notifications table.
type outboxRow struct {
	Key, Channel, Recipient, Type, Title, Body, Status string
	Data                                               map[string]any
}

func (f *fixture) outbox(scheduleID int64) []outboxRow {
	f.t.Helper()
	rows, err := f.db.SQL().Query(`SELECT idempotency_key, channel, recipient, notification_type, title, body, status,
		COALESCE(CAST(data AS TEXT), '') FROM notifications WHERE schedule_id = $1 ORDER BY id`, scheduleID)
	if err != nil {
		f.t.Fatal(err)
	}
	defer rows.Close()
	var out []outboxRow
	for rows.Next() {
		var r outboxRow
		var data string
		if err := rows.Scan(&r.Key, &r.Channel, &r.Recipient, &r.Type, &r.Title, &r.Body, &r.Status, &data); err != nil {
			f.t.Fatal(err)
		}
		if data != "" {
			if err := json.Unmarshal([]byte(data), &r.Data); err != nil {
				f.t.Fatalf("notification data %s: %v", data, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func (f *fixture) exec(q string, args ...any) {
	f.t.Helper()
	if _, err := f.db.SQL().Exec(q, args...); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
}

func (f *fixture) count(q string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.SQL().QueryRow(q, args...).Scan(&n); err != nil {
		f.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func result(t *testing.T, r *store.Run) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Result, &m); err != nil {
		t.Fatalf("run %d result %s: %v", r.ID, r.Result, err)
	}
	return m
}

// fakeBinance serves /api/v3/klines with synthetic bars and counts requests.
func fakeBinance(t testing.TB) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		q := r.URL.Query()
		tf := marketdata.Timeframe(q.Get("interval"))
		from, _ := strconv.ParseInt(q.Get("startTime"), 10, 64)
		to, _ := strconv.ParseInt(q.Get("endTime"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		var rows [][]any
		for ts := tf.Open(time.UnixMilli(from)); !ts.After(time.UnixMilli(to)) && len(rows) < limit; ts = tf.Next(ts) {
			if ts.Before(time.UnixMilli(from)) {
				continue
			}
			p := 100 + float64(ts.Unix()%97)
			s := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
			rows = append(rows, []any{ts.UnixMilli(), s(p), s(p + 1), s(p - 1), s(p), "5", tf.Next(ts).UnixMilli() - 1, "0", 1, "0", "0", "0"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rows)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var _ = fmt.Sprintf
