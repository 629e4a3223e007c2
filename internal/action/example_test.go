package action_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// exampleDB opens a migrated SQLite store in a temporary directory.
func exampleDB() (*store.DB, func()) {
	dir, _ := os.MkdirTemp("", "action-example")
	db, err := store.Open(context.Background(), store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db"), Logger: quiet()})
	if err != nil {
		panic(err)
	}
	if err := db.Migrate(context.Background()); err != nil {
		panic(err)
	}
	return db, func() { db.Close(); os.RemoveAll(dir) }
}

// exampleNow is the fixed clock of the examples.
var exampleNow = time.Date(2030, 1, 2, 10, 20, 0, 0, time.UTC)

// Creating a schedule: the one validation shared by `scheduler schedules
// add`, POST /api/v1/schedules and PUT /api/v1/schedules/{id}.
func ExampleActions_Create() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})
	ctx := context.Background()

	s, err := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "nightly", JobType: "script", Cron: "0 3 * * *"})
	fmt.Println(s.ID, s.Name, s.Enabled, string(s.TaskParams), err)

	_, err = a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "nightly", JobType: "script", Cron: "0 4 * * *"})
	fmt.Println(errors.Is(err, store.ErrDuplicate), err)
	// Output:
	// 1 nightly true {} <nil>
	// true name: user 1 already has a schedule named "nightly" (id 1)
}

// Bad input is an *InvalidError listing every problem with its field and
// value; the API answers 400 with the lines, the CLI exits 2.
func ExampleInvalidError() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})

	_, err := a.Validate(context.Background(), action.Spec{Name: "x", JobType: "script", Cron: "0 0 * * 8", Timezone: "Mars/Base"})
	var inv *action.InvalidError
	if errors.As(err, &inv) {
		for _, p := range inv.Problems {
			fmt.Printf("%s=%q: %s\n", p.Field, p.Value, p.Message)
		}
	}
	// Output:
	// user_id="": user_id: required, a whole number >= 1
	// timezone="Mars/Base": timezone: unknown time zone "Mars/Base"
	// cron="0 0 * * 8": cron "0 0 * * 8": day-of-week: 8 out of range 0-7
}

// Reload fills the next_run_at that a raw SQL insert left NULL, so that
// status shows the next fire with no service running.
func ExampleActions_Reload() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet(),
		Now: func() time.Time { return exampleNow }})
	ctx := context.Background()
	_, _ = db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
		VALUES (1, 'vix', 'script', 'x', '{}', '0 * * * *', true), (1, 'broken', 'script', 'x', '{}', '0 0 * * 8', true)`)

	res, err := a.Reload(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%d valid, %d invalid, next_run_at set for %d\n", res.Valid, res.Invalid, res.NextRunSet)
	for _, p := range res.Problems {
		fmt.Println(p)
	}
	s, _ := db.GetSchedule(ctx, 1)
	fmt.Println(s.Name, s.NextRunAt.Format(time.RFC3339))
	// Output:
	// 1 valid, 1 invalid, next_run_at set for 1
	// schedule 2 (broken): cron "0 0 * * 8": day-of-week: 8 out of range 0-7
	// vix 2030-01-02T11:00:00Z
}

// A manual run gets 1 + options.retry_count attempts (else 1 +
// Config.RetryCount); without RunOptions.Here it is announced to the
// running instances (NOTIFY scheduler_manual_trigger on PostgreSQL).
func ExampleActions_RunNow() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, RetryCount: 3, Logger: quiet(),
		Now: func() time.Time { return exampleNow }})
	ctx := context.Background()
	s, _ := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "retried", JobType: "script", Cron: "@daily",
		TaskParams: json.RawMessage(`{"options": {"retry_count": 1}}`)})
	plain, _ := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "plain", JobType: "script", Cron: "@daily"})

	for _, id := range []int64{s.ID, plain.ID} {
		st, err := a.RunNow(ctx, id, action.RunOptions{})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(st.Schedule.Name, st.Run.Kind, st.Run.Status, st.Run.MaxAttempts, st.Run.ScheduledFor.Format(time.RFC3339Nano))
	}
	_, err := a.RunNow(ctx, 99, action.RunOptions{})
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// retried manual pending 2 2030-01-02T10:20:00Z
	// plain manual pending 4 2030-01-02T10:20:00.000001Z
	// true
}

// Enable, Disable and Delete report a missing schedule as store.ErrNotFound.
func ExampleActions_Disable() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})
	ctx := context.Background()
	s, _ := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "s", JobType: "script", Cron: "@hourly"})

	off, err := a.Disable(ctx, s.ID)
	fmt.Println(off.Enabled, err)
	on, err := a.Enable(ctx, s.ID)
	fmt.Println(on.Enabled, err)
	fmt.Println(a.Delete(ctx, s.ID))
	fmt.Println(errors.Is(a.Delete(ctx, s.ID), store.ErrNotFound))
	// Output:
	// false <nil>
	// true <nil>
	// <nil>
	// true
}

// Status is what `scheduler status` and GET /status show from the database.
func ExampleActions_Status() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet(),
		Now: func() time.Time { return exampleNow }})
	ctx := context.Background()
	_, _ = a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "a", JobType: "script", Cron: "30 * * * *"})
	_, _ = a.Reload(ctx)

	st, err := a.Status(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(st.Dialect, st.Stats.Schedules, st.Stats.Enabled, len(st.Stats.Invalid))
	for _, s := range st.Stats.NextDue {
		fmt.Println(s.Name, s.NextRunAt.Format(time.RFC3339))
	}
	// Output:
	// sqlite 1 1 0
	// a 2030-01-02T10:30:00Z
}

// ValidateAll checks every stored schedule, enabled or not, and changes
// nothing (`scheduler validate`).
func ExampleActions_ValidateAll() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})
	_, _ = db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
		VALUES (1, 'off', 'script', 'x', '{"reject": 1}', '@daily', false)`)

	rep, _ := a.ValidateAll(context.Background())
	fmt.Println(rep.Schedules, rep.Valid, rep.Invalid)
	fmt.Println(rep.Problems[0])
	// Output:
	// 1 0 1
	// schedule 1 (off): task_params.reject: 1 is not allowed
}

// MaxAttempts is 1 + options.retry_count, else 1 + Config.RetryCount.
func ExampleActions_MaxAttempts() {
	a := action.New(action.Config{RetryCount: 3})
	fmt.Println(a.MaxAttempts(&store.Schedule{TaskParams: json.RawMessage(`{"options": {"retry_count": 0}}`)}))
	fmt.Println(a.MaxAttempts(&store.Schedule{TaskParams: json.RawMessage(`{}`)}))
	// Output:
	// 1
	// 4
}

// SpecOf turns a schedule value into the description Create takes.
func ExampleSpecOf() {
	sp := action.SpecOf(&store.Schedule{UserID: 7, Name: "n", JobType: "report", Cron: "@weekly", Enabled: true})
	fmt.Println(*sp.UserID, sp.Name, sp.JobType, sp.Cron, *sp.Enabled)
	// Output:
	// 7 n report @weekly true
}

// Update replaces the editable fields; an invalid update leaves the stored
// schedule alone.
func ExampleActions_Update() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})
	ctx := context.Background()
	s, _ := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "s", JobType: "script", Cron: "@hourly"})

	_, err := a.Update(ctx, s.ID, action.Spec{UserID: ptr(int64(1)), Name: "s", JobType: "script", Cron: "@often"})
	fmt.Println(err)
	up, err := a.Update(ctx, s.ID, action.Spec{UserID: ptr(int64(1)), Name: "s", JobType: "script", Cron: "@daily"})
	fmt.Println(up.Cron, err)
	// Output:
	// schedule 1 is invalid: cron "@often": unknown descriptor "@often"
	// @daily <nil>
}
