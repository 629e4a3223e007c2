package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// rawInsert is how users of the original service insert schedules.
const rawInsert = `INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled, created_at, updated_at)
VALUES (1, 'vix', 'data_processing', 'src.data.vix', '{"script_path": "src/data/vix.py"}', '0 * * * *', true, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)
ON CONFLICT (user_id, name) DO NOTHING`

func TestRawSQLInsertIsClaimed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for range 2 { // the second insert is a no-op, as in the users' scripts
			if _, err := db.SQL().Exec(rawInsert); err != nil {
				t.Fatalf("raw insert: %v", err)
			}
		}
		if n, _ := db.CountSchedules(ctx); n != 1 {
			t.Fatalf("schedules = %d, want 1", n)
		}
		next, hasNull, err := db.NextDue(ctx)
		if err != nil || !hasNull || next != nil {
			t.Fatalf("NextDue = %v, %v, %v; want nil, true", next, hasNull, err)
		}
		now := time.Date(2026, 1, 1, 10, 30, 0, 0, time.UTC)
		want := now.Add(30 * time.Minute)
		claimed, _, err := db.ClaimDue(ctx, "", now, now, 10, 0, func(s *store.Schedule) store.Fire {
			if s.NextRunAt != nil || s.Name != "vix" || string(s.TaskParams) == "" {
				t.Errorf("claimed %+v", s)
			}
			return store.Fire{Next: &want}
		})
		if err != nil || claimed != 1 {
			t.Fatalf("ClaimDue = %d, %v", claimed, err)
		}
		s, err := db.GetSchedule(ctx, 1)
		if err != nil || s.NextRunAt == nil || !s.NextRunAt.Equal(want) {
			t.Fatalf("next_run_at = %v, %v; want %v", s.NextRunAt, err, want)
		}
	})
}

func TestClaimInsertsRunsOnceAndClaimsThem(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := &store.Schedule{UserID: 1, Name: "a", JobType: "script", Cron: "* * * * *", Enabled: true, TaskParams: []byte(`{}`)}
		if err := db.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		at := time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)
		plan := func(s *store.Schedule) store.Fire {
			next := at.Add(time.Minute)
			return store.Fire{Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: at, Exclusive: true, MaxAttempts: 2}}, Next: &next}
		}
		if _, ins, err := db.ClaimDue(ctx, "", at, at, 10, 0, plan); err != nil || len(ins) != 1 {
			t.Fatalf("claim: %v %v", ins, err)
		}
		// Force it due again: the same instant must not produce a second run.
		if err := db.SetNextRun(ctx, sc.ID, &at); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.ClaimDue(ctx, "", at, at, 10, 0, plan); err != nil {
			t.Fatal(err)
		}
		runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: sc.ID})
		if err != nil || len(runs) != 1 {
			t.Fatalf("runs = %d, %v; want exactly 1", len(runs), err)
		}
		got, err := db.ClaimRuns(ctx, "n1", at, 10, time.Minute, nil)
		if err != nil || len(got) != 1 || got[0].Status != "running" || got[0].LeaseOwner != "n1" {
			t.Fatalf("ClaimRuns = %+v, %v", got, err)
		}
		if again, _ := db.ClaimRuns(ctx, "n2", at, 10, time.Minute, nil); len(again) != 0 {
			t.Fatalf("second claim got %d runs", len(again))
		}
		// Retry then complete: the failed attempt is kept.
		retryAt := at.Add(time.Second)
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: got[0].ID, Owner: "n1", Status: store.StatusPending, Retry: true, Error: "boom", At: at, RetryAt: &retryAt}}); err != nil {
			t.Fatal(err)
		}
		if r, _ := db.ClaimRuns(ctx, "n1", at, 10, time.Minute, nil); len(r) != 0 {
			t.Fatalf("retry claimed before its time")
		}
		r2, err := db.ClaimRuns(ctx, "n2", retryAt, 10, time.Minute, nil)
		if err != nil || len(r2) != 1 || r2[0].Attempt != 2 {
			t.Fatalf("retry claim = %+v, %v", r2, err)
		}
		// A stale owner cannot complete it any more.
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: r2[0].ID, Owner: "n1", Status: store.StatusFailed, At: at}}); err != nil {
			t.Fatal(err)
		}
		if r, _ := db.GetRun(ctx, r2[0].ID); r.Status != "running" {
			t.Fatalf("stale owner changed run to %s", r.Status)
		}
		if err := db.CompleteRuns(ctx, []store.Completion{{RunID: r2[0].ID, Owner: "n2", Status: store.StatusCompleted, At: retryAt, Result: []byte(`{"ok":true}`)}}); err != nil {
			t.Fatal(err)
		}
		r, _ := db.GetRun(ctx, r2[0].ID)
		if r.Status != "completed" || string(r.Result) == "" || r.FinishedAt == nil {
			t.Fatalf("run after completion = %+v", r)
		}
		atts, err := db.ListAttempts(ctx, r.ID)
		if err != nil || len(atts) != 1 || atts[0].Error != "boom" || atts[0].Attempt != 1 {
			t.Fatalf("attempts = %+v, %v", atts, err)
		}
	})
}

func TestMigrateAdoptsOldDatabase(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: path})
	if err != nil {
		t.Fatal(err)
	}
	// The tables as the Python service created them, with one old pending run.
	for _, q := range []string{
		`CREATE TABLE job_schedules (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, name VARCHAR(255), job_type VARCHAR(50),
			target VARCHAR(255), task_params JSON, cron VARCHAR(100), enabled BOOLEAN DEFAULT 1, next_run_at DATETIME,
			created_at DATETIME, updated_at DATETIME, state_json JSON, UNIQUE (user_id, name))`,
		`CREATE TABLE job_schedule_runs (id INTEGER PRIMARY KEY, job_type TEXT, job_id VARCHAR(255), user_id INTEGER,
			status TEXT, scheduled_for DATETIME, enqueued_at DATETIME, started_at DATETIME, finished_at DATETIME,
			job_snapshot JSON, result JSON, error TEXT, UNIQUE (job_type, job_id, scheduled_for))`,
		`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron) VALUES (7, 'old', 'alert', 'x', '{}', '0 * * * *')`,
		`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for, enqueued_at) VALUES ('alert', '1', 7, 'pending', '2024-01-01 00:00:00', '2024-01-01 00:00:00')`,
	} {
		if _, err := db.SQL().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	db.Close()
	db = storetest.Open(t, "sqlite", path)
	s, err := db.GetSchedule(ctx, 1)
	if err != nil || s.Name != "old" || s.UserID != 7 {
		t.Fatalf("adopted schedule = %+v, %v", s, err)
	}
	r, err := db.GetRun(ctx, 1)
	if err != nil || r.Status != "cancelled" {
		t.Fatalf("stale run = %+v, %v; want cancelled", r, err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
}

func TestConcurrentMigrateOnPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			db, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: url})
			if err != nil {
				errs <- err
				return
			}
			defer db.Close()
			errs <- db.Migrate(context.Background())
		}()
	}
	for range 4 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent migrate: %v", err)
		}
	}
}

// LISTEN delivers scheduler_updates and scheduler_manual_trigger payloads,
// after announcing the (re)connection with an empty channel.
func TestListenDeliversNotifications(t *testing.T) {
	url := storetest.PostgresURL(t)
	db := storetest.Open(t, "postgres", url)
	other := storetest.Open(t, "postgres", url)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan [2]string, 10)
	go func() {
		_ = db.Listen(ctx, []string{store.ChannelUpdates, store.ChannelManualTrigger}, func(ch, payload string) {
			got <- [2]string{ch, payload}
		})
	}()
	// The channels are the server's, not the schema's: other tests'
	// notifications (the framework's triggers, their manual runs) are
	// skipped.
	const manual = `{"run_id": 77777, "schedule_id": 77777}`
	next := func() [2]string {
		deadline := time.After(10 * time.Second)
		for {
			select {
			case m := <-got:
				if m[0] != "" && m[1] != "77777" && m[1] != manual {
					continue
				}
				return m
			case <-deadline:
				t.Fatal("no notification within 10 s")
				return [2]string{}
			}
		}
	}
	if m := next(); m[0] != "" {
		t.Fatalf("first callback = %v, want the connect signal", m)
	}
	_ = other.Notify(ctx, store.ChannelUpdates, "77777")
	_ = other.Notify(ctx, store.ChannelManualTrigger, manual)
	if m := next(); m != [2]string{store.ChannelUpdates, "77777"} {
		t.Fatalf("got %v", m)
	}
	if m := next(); m != [2]string{store.ChannelManualTrigger, manual} {
		t.Fatalf("got %v", m)
	}
}

// A new SQLite database, its folder and its WAL files are this user's only.
func TestSQLiteFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	db := storetest.Open(t, "sqlite", filepath.Join(dir, "s.db"))
	if _, err := db.SQL().Exec(`INSERT INTO scheduler_nodes (node_id, started_at, heartbeat_at, expires_at) VALUES ('x', '', '', '')`); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "s.db"): 0o600, filepath.Join(dir, "s.db-wal"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%s mode %o, want %o", path, got, want)
		}
	}
}
