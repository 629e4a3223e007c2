package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// BenchmarkPages renders every page server-side on PostgreSQL holding
// 10,000 schedules and 1,000,000 runs (README: Dashboard). Loading the data
// takes about half a minute and is not timed.
func BenchmarkPages(b *testing.B) {
	db := storetest.Postgres(b)
	ctx := context.Background()
	now := time.Now().UTC()
	start := time.Now()
	if err := db.LoadDashboardScratch(ctx, store.DashboardScratch{Prefix: "bench-", Schedules: 10_000, Runs: 800_000,
		HeavyRuns: 200_000, Now: now}); err != nil {
		b.Fatal(err)
	}
	b.Logf("loaded 10,000 schedules and 1,000,000 runs (200,000 of one schedule) in %s", time.Since(start).Round(time.Second))
	acts := actionsOn(db)
	h := api.New(api.Deps{Store: db, Actions: acts, Addr: "127.0.0.1:8090", Logger: quietLog()})
	dash, err := New(Deps{Store: db, Actions: acts, API: h, Addr: "127.0.0.1:8090", Logger: quietLog()})
	if err != nil {
		b.Fatal(err)
	}
	page, err := db.SchedulePage(ctx, store.SchedulePageQuery{Limit: 1, Offset: 4999})
	if err != nil || len(page.Schedules) == 0 {
		b.Fatalf("a schedule: %v", err)
	}
	sid := page.Schedules[0].ID
	runs, err := db.RunPage(ctx, store.RunPageQuery{ScheduleID: sid, Limit: 1})
	if err != nil || len(runs.Runs) == 0 {
		b.Fatalf("a run: %v", err)
	}
	rid := runs.Runs[0].ID
	heavy, err := db.SchedulePage(ctx, store.SchedulePageQuery{Name: "bench-0", Limit: 1})
	if err != nil || len(heavy.Schedules) == 0 {
		b.Fatalf("the schedule with 200,000 runs: %v", err)
	}
	hid := heavy.Schedules[0].ID
	cookie := &http.Cookie{Name: SessionCookie, Value: randomHex(32)}
	for _, p := range []struct{ name, path string }{
		{"overview", "/"},
		{"schedules", "/schedules"},
		{"schedules_sorted_by_name_page_100", "/schedules?sort=name&dir=desc&offset=4950"},
		{"schedules_filtered", "/schedules?type=alert&state=enabled&name=99"},
		{"schedule_detail", fmt.Sprintf("/schedules/%d", sid)},
		{"schedule_edit", fmt.Sprintf("/schedules/%d/edit", sid)},
		{"runs", "/runs"},
		{"runs_failed", "/runs?status=failed"},
		{"runs_missed_none_exist", "/runs?status=missed"},
		{"runs_of_schedule", fmt.Sprintf("/runs?schedule=%d", sid)},
		{"schedule_detail_200k_runs", fmt.Sprintf("/schedules/%d", hid)},
		{"runs_of_schedule_200k_runs", fmt.Sprintf("/runs?schedule=%d", hid)},
		{"runs_last_hour_page_10", fmt.Sprintf("/runs?from=%s&offset=500", now.Add(-time.Hour).Format("2006-01-02T15:04"))},
		{"run_detail", fmt.Sprintf("/runs/%d", rid)},
		{"notifications", "/notifications"},
	} {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest(http.MethodGet, p.path, nil)
				req.Host = "127.0.0.1:8090"
				req.AddCookie(cookie)
				rec := httptest.NewRecorder()
				dash.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%s", p.path, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

// BenchmarkChart500 builds (replay and indicators) and draws the chart of
// an alert over 500 bars.
func BenchmarkChart500(b *testing.B) {
	a, err := alerts.Parse([]byte(rsiAlert))
	if err != nil {
		b.Fatal(err)
	}
	bars := waveBars(500+a.Lookback(), time.Now())
	for b.Loop() {
		c, err := BuildChart(a, bars, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(DrawChart(c)) == 0 {
			b.Fatal("empty chart")
		}
	}
}
