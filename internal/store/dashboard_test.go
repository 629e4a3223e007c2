package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func mkSchedule(t *testing.T, db *store.DB, user int64, name, typ string, enabled bool) *store.Schedule {
	t.Helper()
	sc := &store.Schedule{UserID: user, Name: name, JobType: typ, Cron: "0 * * * *", TaskParams: json.RawMessage(`{}`), Enabled: enabled}
	if err := db.CreateSchedule(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	return sc
}

func names(list []store.Schedule) []string {
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = s.Name
	}
	return out
}

func TestSchedulePageFiltersSortsAndCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		mkSchedule(t, db, 1, "Beta report", "report", true)
		a := mkSchedule(t, db, 1, "alpha_rsi", "alert", true)
		mkSchedule(t, db, 2, "gamma 100%", "alert", false)
		if err := db.SetScheduleError(ctx, a.ID, "cron broken", time.Now()); err != nil {
			t.Fatal(err)
		}
		uid := int64(1)
		for _, c := range []struct {
			name  string
			q     store.SchedulePageQuery
			want  []string
			total int
		}{
			{"all by id", store.SchedulePageQuery{Limit: 10}, []string{"Beta report", "alpha_rsi", "gamma 100%"}, 3},
			{"by name desc", store.SchedulePageQuery{Limit: 10, Sort: "name", Desc: true}, []string{"gamma 100%", "alpha_rsi", "Beta report"}, 3},
			{"type", store.SchedulePageQuery{Limit: 10, JobType: "alert"}, []string{"alpha_rsi", "gamma 100%"}, 2},
			{"disabled", store.SchedulePageQuery{Limit: 10, State: "disabled"}, []string{"gamma 100%"}, 1},
			{"invalid", store.SchedulePageQuery{Limit: 10, State: "invalid"}, []string{"alpha_rsi"}, 1},
			{"user", store.SchedulePageQuery{Limit: 10, UserID: &uid}, []string{"Beta report", "alpha_rsi"}, 2},
			{"name any case", store.SchedulePageQuery{Limit: 10, Name: "BETA"}, []string{"Beta report"}, 1},
			{"name with LIKE characters", store.SchedulePageQuery{Limit: 10, Name: "_"}, []string{"alpha_rsi"}, 1},
			{"percent is literal", store.SchedulePageQuery{Limit: 10, Name: "0%"}, []string{"gamma 100%"}, 1},
			{"second page", store.SchedulePageQuery{Limit: 2, Offset: 2}, []string{"gamma 100%"}, 3},
		} {
			p, err := db.SchedulePage(ctx, c.q)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if got := names(p.Schedules); p.Total != c.total || len(got) != len(c.want) || (len(got) > 0 && got[0] != c.want[0]) || got[len(got)-1] != c.want[len(c.want)-1] {
				t.Errorf("%s: %v (total %d), want %v (total %d)", c.name, got, p.Total, c.want, c.total)
			}
		}
		if _, err := db.SchedulePage(ctx, store.SchedulePageQuery{Limit: 10, Sort: "name; DROP TABLE x"}); !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("unknown sort: %v", err)
		}
	})
}

func TestRunPageAndOverview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		flaky := mkSchedule(t, db, 1, "flaky", "report", true)
		fine := mkSchedule(t, db, 1, "fine", "report", true)
		// flaky: ok, then three failures (newest last); fine: a failure, then ok.
		finish := func(sc *store.Schedule, ago time.Duration, status string) int64 {
			r, err := db.InsertRun(ctx, sc, now.Add(-ago), 1)
			if err != nil {
				t.Fatal(err)
			}
			claimed, err := db.ClaimRun(ctx, r.ID, "test", now.Add(-ago), time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.CompleteRuns(ctx, []store.Completion{{RunID: claimed.ID, Owner: "test", Status: status,
				Error: map[bool]string{true: "boom"}[status == store.StatusFailed], At: now.Add(-ago + time.Second)}}); err != nil {
				t.Fatal(err)
			}
			return r.ID
		}
		finish(flaky, 4*time.Hour, store.StatusCompleted)
		finish(flaky, 3*time.Hour, store.StatusFailed)
		finish(flaky, 2*time.Hour, store.StatusFailed)
		last := finish(flaky, 30*time.Minute, store.StatusFailed)
		finish(fine, 3*time.Hour, store.StatusFailed)
		finish(fine, 20*time.Minute, store.StatusCompleted)
		old := finish(fine, 48*time.Hour, store.StatusFailed)

		p, err := db.RunPage(ctx, store.RunPageQuery{ScheduleID: flaky.ID, Status: store.StatusFailed, Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Runs) != 2 || !p.More || p.Runs[0].ID != last {
			t.Fatalf("failed runs of flaky: %d runs, more %v, first %d (want %d)", len(p.Runs), p.More, p.Runs[0].ID, last)
		}
		p, err = db.RunPage(ctx, store.RunPageQuery{To: now.Add(-24 * time.Hour), Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Runs) != 1 || p.Runs[0].ID != old || p.More {
			t.Fatalf("runs before a day ago: %+v", p.Runs)
		}
		p, err = db.RunPage(ctx, store.RunPageQuery{JobType: "alert", Limit: 10})
		if err != nil || len(p.Runs) != 0 {
			t.Fatalf("alert runs: %v %v", p, err)
		}

		// A missed-fire record is stored as cancelled with its reason.
		if _, err := db.SQL().Exec(`UPDATE job_schedule_runs SET status = 'cancelled', reason = 'missed' WHERE id = $1`, old); err != nil {
			t.Fatal(err)
		}
		for status, want := range map[string]int{store.StatusMissed: 1, store.StatusSkipped: 0, store.StatusCancelled: 0} {
			p, err := db.RunPage(ctx, store.RunPageQuery{Status: status, Limit: 10})
			if err != nil || len(p.Runs) != want || (want == 1 && (p.Runs[0].ID != old || p.Runs[0].Status != store.StatusMissed)) {
				t.Errorf("%s runs: %+v %v, want %d", status, p, err, want)
			}
		}
		if _, err := db.SQL().Exec(`UPDATE job_schedule_runs SET status = 'failed', reason = NULL WHERE id = $1`, old); err != nil {
			t.Fatal(err)
		}

		o, err := db.Overview(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		if o.Schedules != 2 || o.Enabled != 2 || o.RunsByStatus[store.StatusFailed] != 4 || o.RunsByStatus[store.StatusCompleted] != 2 {
			t.Errorf("counts: %d schedules, %d enabled, runs %v", o.Schedules, o.Enabled, o.RunsByStatus)
		}
		if len(o.Failing) != 1 || o.Failing[0].Schedule.ID != flaky.ID || o.Failing[0].Streak != 3 || o.Failing[0].LastRunID != last || o.Failing[0].LastError != "boom" {
			t.Errorf("failing: %+v, want flaky with a streak of 3", o.Failing)
		}
		if o.LastHour.Started != 2 || o.LastHour.Failed != 1 || o.LastHour.Completed != 1 || len(o.LastHour.Lags) != 2 {
			t.Errorf("last hour: %+v", o.LastHour)
		}
	})
}

func TestNotificationPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, _, err := db.NotificationPage(ctx, "", 0, 0); !errors.Is(err, store.ErrInvalidInput) {
			t.Fatalf("limit 0: %v", err)
		}
		list, more, err := db.NotificationPage(ctx, "dead", 10, 0)
		if err != nil || len(list) != 0 || more {
			t.Fatalf("empty outbox: %v %v %v", list, more, err)
		}
	})
}
