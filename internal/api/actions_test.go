package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// POST /run gives the run 1 + options.retry_count attempts (the action the
// CLI's `schedules run` calls).
func TestRunNowHonoursRetryCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		var s store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("retried", yearly, `{"options": {"retry_count": 4}}`), 201, &s)
		var rs api.RunStarted
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", s.ID), "", 202, &rs)
		r, err := db.GetRun(context.Background(), rs.RunID)
		if err != nil {
			t.Fatal(err)
		}
		if r.MaxAttempts != 5 || r.Kind != store.KindManual || r.Status != store.StatusPending {
			t.Fatalf("run %+v, want a pending manual run with max_attempts 5", r)
		}
		var e errorBody
		f.expect("POST", "/api/v1/schedules/999999/run", "", 404, &e)
		if !strings.Contains(e.Error, "schedule 999999") {
			t.Fatalf("404 error %q", e.Error)
		}
	})
}

// POST /api/v1/reload fills a next_run_at that raw SQL left NULL and leaves
// a due one alone, as `scheduler reload` does.
func TestReloadFillsNullNextRun(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		ctx := context.Background()
		if _, err := db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
			VALUES (1, 'raw-null', 'script', 'x', '{}', '0 * * * *', true), (1, 'raw-due', 'script', 'x', '{}', '0 * * * *', true)`); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListSchedules(ctx, store.ScheduleFilter{})
		if err != nil || len(list) != 2 || list[0].NextRunAt != nil {
			t.Fatalf("raw rows %+v, %v", list, err)
		}
		null, due := list[0].ID, list[1].ID
		past := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
		if err := db.SetNextRun(ctx, due, &past); err != nil {
			t.Fatal(err)
		}
		hourly, _ := cronexpr.Parse("0 * * * *", time.UTC)
		before := hourly.Next(time.Now())
		var res api.ReloadResult
		f.expect("POST", "/api/v1/reload", "", 200, &res)
		after := hourly.Next(time.Now())
		if res.Schedules != 2 || res.Valid != 2 || res.Invalid != 0 || res.NextRunSet != 1 || len(res.Problems) != 0 {
			t.Fatalf("reload = %+v", res)
		}
		got, err := db.GetSchedule(ctx, null)
		if err != nil {
			t.Fatal(err)
		}
		if got.NextRunAt == nil || !(got.NextRunAt.Equal(before) || got.NextRunAt.Equal(after)) {
			t.Fatalf("next_run_at after reload = %v, want %s", got.NextRunAt, before)
		}
		if d, _ := db.GetSchedule(ctx, due); d.NextRunAt == nil || !d.NextRunAt.Equal(past) {
			t.Fatalf("a due next_run_at was moved: %v, want %s", d.NextRunAt, past)
		}
		// /status lists the filled next fire.
		var st struct {
			NextFires []struct {
				ID        int64      `json:"id"`
				NextRunAt *time.Time `json:"next_run_at"`
			} `json:"next_fires"`
		}
		f.expect("GET", "/status", "", 200, &st)
		found := false
		for _, n := range st.NextFires {
			found = found || (n.ID == null && n.NextRunAt != nil && n.NextRunAt.Equal(*got.NextRunAt))
		}
		if !found {
			t.Fatalf("/status next_fires %+v lack schedule %d at %s", st.NextFires, null, got.NextRunAt)
		}
	})
}
