package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// A claim turns a due schedule into a run keyed by its exact instant and
// moves next_run_at; claiming the same instant again inserts nothing.
func ExampleDB_ClaimDue() {
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		panic(err)
	}
	at := time.Date(2026, 1, 5, 9, 30, 0, 0, time.UTC)
	sc := &store.Schedule{UserID: 1, Name: "open", JobType: "script", Cron: "30 9 * * MON-FRI", Enabled: true,
		TaskParams: []byte(`{"script_path": "src/open.py"}`), NextRunAt: &at}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		panic(err)
	}
	plan := func(s *store.Schedule) store.Fire {
		next := s.NextRunAt.AddDate(0, 0, 1)
		return store.Fire{Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron,
			ScheduledFor: *s.NextRunAt, Exclusive: true, MaxAttempts: 4}}, Next: &next}
	}
	claimed, queued, _ := db.ClaimDue(ctx, "", at, at, 100, 0, plan)
	fmt.Println("claimed", claimed, "queued", len(queued))
	_ = db.SetNextRun(ctx, sc.ID, &at) // as if a second instance saw it due too
	_, queued, _ = db.ClaimDue(ctx, "", at, at, 100, 0, plan)
	fmt.Println("second claim queued", len(queued))
	runs, _ := db.ListRuns(ctx, store.RunFilter{ScheduleID: sc.ID})
	fmt.Println(len(runs), runs[0].Status, runs[0].ScheduledFor.Format(time.RFC3339))
	// Output:
	// claimed 1 queued 1
	// second claim queued 0
	// 1 pending 2026-01-05T09:30:00Z
}

// The dashboard's schedule page: filtered by type and a piece of the name
// (case-insensitive), sorted, with the number of matches.
func ExampleDB_SchedulePage() {
	dir, _ := os.MkdirTemp("", "store-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		panic(err)
	}
	for _, n := range []string{"BTC rsi", "eth rsi", "nightly report"} {
		typ := "alert"
		if n == "nightly report" {
			typ = "report"
		}
		if err := db.CreateSchedule(ctx, &store.Schedule{UserID: 1, Name: n, JobType: typ, Cron: "0 * * * *", Enabled: true}); err != nil {
			panic(err)
		}
	}
	page, err := db.SchedulePage(ctx, store.SchedulePageQuery{JobType: "alert", Name: "RSI", Sort: "name", Desc: true, Limit: 1})
	if err != nil {
		panic(err)
	}
	fmt.Println(page.Total, "match; first:", page.Schedules[0].Name)
	// Output:
	// 2 match; first: eth rsi
}
