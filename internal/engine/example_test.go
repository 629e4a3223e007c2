package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
)

// hello is a Handler for the "notification" job type.
type hello struct{}

func (hello) Validate(raw json.RawMessage) error { return nil }
func (hello) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	return &engine.Outcome{Result: map[string]string{"said": "hello from " + job.Schedule.Name}}, nil
}

// An engine executes runs with the handler of their job type; here a manual
// run is triggered directly, as `scheduler schedules run ID --local` does.
func ExampleEngine_TriggerRun() {
	dir, _ := os.MkdirTemp("", "engine-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, _ := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db")})
	defer db.Close()
	_ = db.Migrate(ctx)
	sc := &store.Schedule{UserID: 1, Name: "greeter", JobType: "notification", Cron: "@hourly", Enabled: true}
	_ = db.CreateSchedule(ctx, sc)

	e := engine.New(db, map[string]engine.Handler{"notification": hello{}}, engine.Options{
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))})
	if err := e.Validate(sc); err != nil {
		fmt.Println("invalid:", err)
	}
	run, _ := db.InsertRun(ctx, sc, time.Now(), 1)
	if err := e.TriggerRun(ctx, run.ID); err != nil {
		panic(err)
	}
	done, _ := db.GetRun(ctx, run.ID)
	fmt.Println(done.Status, string(done.Result))

	sc.Cron = "* * * * 8"
	fmt.Println(e.Validate(sc))
	// Output:
	// completed {"said":"hello from greeter"}
	// cron "* * * * 8": day-of-week: 8 out of range 0-7
}
