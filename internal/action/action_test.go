package action_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

const yearly = "0 0 1 1 *"

func TestCreateValidateUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, rec := setup(t, db, time.Now())

		s, err := a.Create(ctx, spec("nightly", "0 3 * * *", ""))
		if err != nil {
			t.Fatal(err)
		}
		if s.ID == 0 || !s.Enabled || string(s.TaskParams) != "{}" || s.Name != "nightly" {
			t.Fatalf("created %+v", s)
		}
		if n, wakes := rec.last(); n != (note{store.ChannelUpdates, strconv.FormatInt(s.ID, 10)}) || wakes != 1 {
			t.Fatalf("after create: last notification %+v, %d wakes", n, wakes)
		}

		// Every problem, with its field and value.
		bad := action.Spec{UserID: ptr(int64(0)), Name: " ", JobType: "script", Cron: "61 * * * *",
			Timezone: "Mars/Olympus", TaskParams: json.RawMessage(`{"reject": true}`)}
		_, err = a.Create(ctx, bad)
		var inv *action.InvalidError
		if !errors.As(err, &inv) {
			t.Fatalf("create of a bad spec: %v, want *InvalidError", err)
		}
		want := []action.Problem{
			{Field: "user_id", Value: "0", Message: "user_id: must be >= 1, got 0"},
			{Field: "name", Value: " ", Message: "name: must not be empty"},
			{Field: "timezone", Value: "Mars/Olympus", Message: `timezone: unknown time zone "Mars/Olympus"`},
			{Field: "cron", Value: "61 * * * *", Message: `cron "61 * * * *": minute: 61 out of range 0-59`},
			{Field: "task_params", Value: `{"reject": true}`, Message: "task_params.reject: true is not allowed"},
		}
		if !slices.Equal(inv.Problems, want) {
			t.Fatalf("problems\n%+v\nwant\n%+v", inv.Problems, want)
		}
		_, err = a.Create(ctx, action.Spec{Name: "n", JobType: "backup", Cron: "* * * * *"})
		if !errors.As(err, &inv) || !slices.Equal(inv.Lines(), []string{"user_id: required, a whole number >= 1", `job_type: unknown job type "backup"`}) {
			t.Fatalf("missing user and handler: %v", err)
		}

		// Validate saves nothing.
		if _, err := a.Validate(ctx, spec("other", "*/10 * * * *", `{}`)); err != nil {
			t.Fatalf("validate: %v", err)
		}
		if n, _ := db.CountSchedules(ctx); n != 1 {
			t.Fatalf("%d schedules after failed creates and a validate, want 1", n)
		}

		// The name is taken: a typed error that is store.ErrDuplicate.
		_, err = a.Create(ctx, spec("nightly", yearly, `{}`))
		var dup *action.DuplicateError
		if !errors.As(err, &dup) || !errors.Is(err, store.ErrDuplicate) || dup.ExistingID != s.ID || dup.UserID != 1 {
			t.Fatalf("duplicate create: %v", err)
		}

		// Update: validated, the stored schedule is untouched when invalid.
		_, err = a.Update(ctx, s.ID, spec("nightly", "0 0 * * 8", `{}`))
		if !errors.As(err, &inv) || inv.ScheduleID != s.ID || inv.Problems[0].Field != "cron" {
			t.Fatalf("invalid update: %v", err)
		}
		if got := get(t, db, s.ID); got.Cron != "0 3 * * *" {
			t.Fatalf("an invalid update changed the cron to %q", got.Cron)
		}
		up, err := a.Update(ctx, s.ID, spec("renamed", "0 4 * * *", `{}`))
		if err != nil || up.Name != "renamed" || up.Cron != "0 4 * * *" || !up.Enabled {
			t.Fatalf("update: %+v, %v", up, err)
		}
		if _, err := a.Update(ctx, 999999, spec("x", yearly, `{}`)); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update of a missing schedule: %v", err)
		}
		other, err := a.Create(ctx, spec("other", yearly, `{}`))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.Update(ctx, other.ID, spec("renamed", yearly, `{}`)); !errors.Is(err, store.ErrDuplicate) {
			t.Fatalf("update to a taken name: %v", err)
		}
	})
}

func TestEnableDisableDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		a, rec := setup(t, db, time.Now())
		s, err := a.Create(ctx, spec("s", yearly, `{}`))
		if err != nil {
			t.Fatal(err)
		}
		if got, err := a.Disable(ctx, s.ID); err != nil || got.Enabled {
			t.Fatalf("disable: %+v, %v", got, err)
		}
		if got, err := a.Enable(ctx, s.ID); err != nil || !got.Enabled {
			t.Fatalf("enable: %+v, %v", got, err)
		}
		if err := a.Delete(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if n, wakes := rec.last(); n != (note{store.ChannelUpdates, strconv.FormatInt(s.ID, 10)}) || wakes != 4 {
			t.Fatalf("after create, disable, enable, delete: last notification %+v, %d wakes", n, wakes)
		}
		for name, f := range map[string]func() error{
			"enable":  func() error { _, err := a.Enable(ctx, s.ID); return err },
			"disable": func() error { _, err := a.Disable(ctx, s.ID); return err },
			"delete":  func() error { return a.Delete(ctx, s.ID) },
			"run":     func() error { _, err := a.RunNow(ctx, s.ID, action.RunOptions{}); return err },
		} {
			if err := f(); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s of a deleted schedule: %v, want store.ErrNotFound", name, err)
			}
		}
	})
}

// executor records the runs it is asked to execute.
type executor struct{ ids []int64 }

func (e *executor) TriggerRun(_ context.Context, id int64) error {
	e.ids = append(e.ids, id)
	return nil
}

func TestRunNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2030, 5, 6, 7, 8, 9, 123456789, time.UTC) // a fixed clock: instants must still differ
		a, rec := setup(t, db, now)
		withRetries, err := a.Create(ctx, spec("retries", yearly, `{"options": {"retry_count": 4}}`))
		if err != nil {
			t.Fatal(err)
		}
		plain, err := a.Create(ctx, spec("plain", yearly, `{}`))
		if err != nil {
			t.Fatal(err)
		}

		var listen chan string
		if db.CanListen() {
			listen = make(chan string, 10)
			lctx, cancel := context.WithCancel(ctx)
			t.Cleanup(cancel)
			ready := make(chan struct{}, 1)
			go func() {
				_ = db.Listen(lctx, []string{store.ChannelManualTrigger}, func(ch, payload string) {
					if ch == "" {
						ready <- struct{}{}
						return
					}
					listen <- payload
				})
			}()
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("LISTEN did not connect within 10 s")
			}
		}

		r1, err := a.RunNow(ctx, withRetries.ID, action.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		r2, err := a.RunNow(ctx, withRetries.ID, action.RunOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if r1.Run.MaxAttempts != 5 || r1.Run.Kind != store.KindManual || r1.Run.Status != store.StatusPending || r1.Executed {
			t.Fatalf("run of a schedule with options.retry_count 4: %+v", r1.Run)
		}
		if !r2.Run.ScheduledFor.After(r1.Run.ScheduledFor) || r1.Run.ScheduledFor.Sub(now.Truncate(time.Microsecond)) != 0 {
			t.Fatalf("instants %s and %s under a fixed clock %s", r1.Run.ScheduledFor, r2.Run.ScheduledFor, now)
		}
		payload := fmt.Sprintf(`{"run_id":%d,"schedule_id":%d}`, r2.Run.ID, withRetries.ID)
		if n, wakes := rec.last(); n != (note{store.ChannelManualTrigger, payload}) || wakes != 4 {
			t.Fatalf("last notification %+v, %d wakes", n, wakes)
		}
		if listen != nil {
			for _, want := range []int64{r1.Run.ID, r2.Run.ID} {
				select {
				case got := <-listen:
					var p struct {
						RunID      int64 `json:"run_id"`
						ScheduleID int64 `json:"schedule_id"`
					}
					if err := json.Unmarshal([]byte(got), &p); err != nil || p.RunID != want || p.ScheduleID != withRetries.ID {
						t.Fatalf("NOTIFY payload %s, want run %d of schedule %d", got, want, withRetries.ID)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("no NOTIFY for run %d within 10 s", want)
				}
			}
		}

		// Without options.retry_count: 1 + Config.RetryCount; executed here.
		ex := &executor{}
		r3, err := a.RunNow(ctx, plain.ID, action.RunOptions{Here: ex})
		if err != nil {
			t.Fatal(err)
		}
		if r3.Run.MaxAttempts != 3 || !r3.Executed || !slices.Equal(ex.ids, []int64{r3.Run.ID}) {
			t.Fatalf("local run %+v executed %v by %v", r3.Run, r3.Executed, ex.ids)
		}
		if n, _ := rec.last(); n.channel != store.ChannelManualTrigger || n.payload != payload {
			t.Fatalf("a run executed here was announced: %+v", n)
		}

		// An invalid schedule does not run.
		broken := &store.Schedule{UserID: 1, Name: "broken", JobType: "script", Cron: yearly, TaskParams: json.RawMessage(`{"reject": 1}`), Enabled: true}
		if err := db.CreateSchedule(ctx, broken); err != nil {
			t.Fatal(err)
		}
		_, err = a.RunNow(ctx, broken.ID, action.RunOptions{})
		var inv *action.InvalidError
		if !errors.As(err, &inv) || inv.ScheduleID != broken.ID || !slices.Equal(inv.Lines(), []string{"task_params.reject: 1 is not allowed"}) {
			t.Fatalf("run of an invalid schedule: %v", err)
		}
		if runs, _ := db.ListRuns(ctx, store.RunFilter{ScheduleID: broken.ID}); len(runs) != 0 {
			t.Fatalf("an invalid schedule got %d runs", len(runs))
		}
	})
}

func TestReload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		a, rec := setup(t, db, now)
		hourly, _ := cronexpr.Parse("0 * * * *", time.UTC)
		minutely, _ := cronexpr.Parse("* * * * *", time.UTC)

		null := insertRaw(t, db, "raw-null", "0 * * * *")
		due := insertRaw(t, db, "raw-due", "0 * * * *")
		past := now.Add(-90 * time.Minute).Truncate(time.Hour)
		if err := db.SetNextRun(ctx, due, &past); err != nil {
			t.Fatal(err)
		}
		stale := insertRaw(t, db, "raw-stale", "0 * * * *") // cron edited by SQL: a future value not its next fire
		farAway := now.Add(30 * 24 * time.Hour).Truncate(time.Hour)
		if err := db.SetNextRun(ctx, stale, &farAway); err != nil {
			t.Fatal(err)
		}
		// A running engine claimed the next fire ahead: next_run_at is the fire after.
		claimed := insertRaw(t, db, "raw-claimed", "* * * * *")
		c1 := minutely.Next(now)
		c2 := minutely.Next(c1)
		if err := db.SetNextRun(ctx, claimed, &c1); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ClaimDue(ctx, "other-node", now, c1, 100, time.Minute, func(s *store.Schedule) store.Fire {
			if s.ID != claimed {
				return store.Fire{Next: s.NextRunAt}
			}
			return store.Fire{Next: &c2, Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron,
				ScheduledFor: c1, MaxAttempts: 1, Exclusive: true}}}
		}); err != nil {
			t.Fatal(err)
		}
		if got := get(t, db, claimed); got.NextRunAt == nil || !got.NextRunAt.Equal(c2) {
			t.Fatalf("claimed ahead: next_run_at %v, want %s", got.NextRunAt, c2)
		}
		invalid := insertRaw(t, db, "raw-invalid", "0 0 * * 8")
		// Broken by SQL while it waited for a fire a day away: due now,
		// so that a running engine tells its owner at once.
		brokenLater := insertRaw(t, db, "raw-broken-later", "0 0 31 * *")
		if err := db.SetNextRun(ctx, brokenLater, &farAway); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().Exec(`UPDATE job_schedules SET cron = '0 0 32 * *' WHERE name = 'raw-broken-later'`); err != nil {
			t.Fatal(err)
		}
		insertRaw(t, db, "raw-disabled", "0 0 * * 9")
		if _, err := db.SQL().Exec(`UPDATE job_schedules SET enabled = false WHERE name = 'raw-disabled'`); err != nil {
			t.Fatal(err)
		}

		res, err := a.Reload(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Schedules != 6 || res.Valid != 4 || res.Invalid != 2 || res.NextRunSet != 2 || len(res.Problems) != 2 ||
			res.Problems[0] != (action.ScheduleReport{ID: invalid, Name: "raw-invalid", Error: `cron "0 0 * * 8": day-of-week: 8 out of range 0-7`}) {
			t.Fatalf("reload = %+v", res)
		}
		if got := get(t, db, brokenLater); got.LastError == "" || got.NextRunAt == nil || got.NextRunAt.After(now) {
			t.Fatalf("schedule broken while it waited: last_error %q next_run_at %v, want due now (%s)", got.LastError, got.NextRunAt, now)
		}
		if _, err := db.SQL().Exec(`DELETE FROM job_schedules WHERE name = 'raw-broken-later'`); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			id   int64
			want time.Time
		}{
			{"NULL", null, hourly.Next(now)},
			{"due", due, past},
			{"stale future", stale, hourly.Next(now)},
			{"claimed ahead", claimed, c2},
		} {
			if got := get(t, db, c.id); got.NextRunAt == nil || !got.NextRunAt.Equal(c.want) {
				t.Errorf("%s: next_run_at %v after reload, want %s", c.name, got.NextRunAt, c.want)
			}
		}
		if got := get(t, db, invalid); got.LastError != `cron "0 0 * * 8": day-of-week: 8 out of range 0-7` || got.NextRunAt != nil {
			t.Fatalf("invalid schedule after reload: last_error %q next_run_at %v", got.LastError, got.NextRunAt)
		}
		if n, wakes := rec.last(); n != (note{store.ChannelUpdates, "reload"}) || wakes != 1 {
			t.Fatalf("after reload: last notification %+v, %d wakes", n, wakes)
		}

		// Status shows the filled next fire, with no engine anywhere.
		st, err := a.Status(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.Dialect != db.Dialect() || st.Stats.Schedules != 6 || st.Stats.Enabled != 5 || len(st.Stats.Invalid) != 1 || st.Outbox == nil {
			t.Fatalf("status %+v stats %+v", st, st.Stats)
		}
		found := false
		for _, s := range st.Stats.NextDue {
			found = found || (s.ID == null && s.NextRunAt != nil && s.NextRunAt.Equal(hourly.Next(now)))
		}
		if !found {
			t.Fatalf("status next fires %+v lack schedule %d at %s", st.Stats.NextDue, null, hourly.Next(now))
		}

		// Fixed by SQL, reloaded: the error is cleared and the next fire set.
		if _, err := db.SQL().Exec(`UPDATE job_schedules SET cron = '0 0 * * 0' WHERE name = 'raw-invalid'`); err != nil {
			t.Fatal(err)
		}
		if res, err = a.Reload(ctx); err != nil || res.Invalid != 0 || res.Valid != 5 || res.NextRunSet != 1 {
			t.Fatalf("reload after the fix = %+v, %v", res, err)
		}
		if got := get(t, db, invalid); got.LastError != "" || got.NextRunAt == nil {
			t.Fatalf("fixed schedule: last_error %q next_run_at %v", got.LastError, got.NextRunAt)
		}

		// ValidateAll checks disabled schedules too and writes nothing.
		rep, err := a.ValidateAll(ctx)
		if err != nil || rep.Schedules != 6 || rep.Invalid != 1 || rep.Problems[0].Name != "raw-disabled" {
			t.Fatalf("validate all = %+v, %v", rep, err)
		}
		if got := get(t, db, rep.Problems[0].ID); got.LastError != "" {
			t.Fatalf("ValidateAll recorded last_error %q", got.LastError)
		}
	})
}
