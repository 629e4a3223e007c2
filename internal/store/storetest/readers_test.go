package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// captureTB records the failures of a check instead of failing the test;
// Fatal and Skip end the calling goroutine as the real ones do.
type captureTB struct {
	testing.TB
	mu      sync.Mutex
	errs    []string
	skipped string
}

func (c *captureTB) Helper() {}
func (c *captureTB) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, s)
}
func (c *captureTB) Errorf(f string, a ...any) { c.add(fmt.Sprintf(f, a...)) }
func (c *captureTB) Error(a ...any)            { c.add(fmt.Sprint(a...)) }
func (c *captureTB) Fatalf(f string, a ...any) { c.add(fmt.Sprintf(f, a...)); runtime.Goexit() }
func (c *captureTB) Fatal(a ...any)            { c.add(fmt.Sprint(a...)); runtime.Goexit() }
func (c *captureTB) Fail()                     { c.add("Fail") }
func (c *captureTB) FailNow()                  { c.add("FailNow"); runtime.Goexit() }
func (c *captureTB) Failed() bool              { c.mu.Lock(); defer c.mu.Unlock(); return len(c.errs) > 0 }
func (c *captureTB) Skip(a ...any)             { c.skipped = fmt.Sprint(a...); runtime.Goexit() }
func (c *captureTB) Skipf(f string, a ...any)  { c.skipped = fmt.Sprintf(f, a...); runtime.Goexit() }
func (c *captureTB) SkipNow()                  { c.skipped = "SkipNow"; runtime.Goexit() }
func (c *captureTB) Skipped() bool             { return c.skipped != "" }

// capture runs CheckReaders on db with a captureTB and returns the
// failures it reported; a skip (no python3 or pydantic) skips t.
func capture(t *testing.T, db *store.DB) []string {
	t.Helper()
	c := &captureTB{TB: t}
	done := make(chan struct{})
	go func() { defer close(done); CheckReaders(c, db) }()
	<-done
	if c.skipped != "" {
		t.Skip(c.skipped)
	}
	return c.errs
}

// fill writes through the store what the engine writes: a schedule, a
// pending fire, a skipped and a missed record, a manual run, a completion
// with state.
func fill(t *testing.T, db *store.DB) *store.Schedule {
	t.Helper()
	ctx := context.Background()
	sc := &store.Schedule{UserID: 1, Name: "etl", JobType: "script", Target: "src.etl", Cron: "* * * * * *",
		Enabled: true, TaskParams: json.RawMessage(`{"script_path": "src/etl.py"}`)}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	if _, _, err := db.ClaimDue(ctx, "", time.Now(), now.Add(time.Minute), 10, 0, func(s *store.Schedule) store.Fire {
		next := now.Add(time.Hour)
		return store.Fire{Next: &next, Runs: []store.NewRun{
			{Status: store.StatusMissed, Kind: store.KindMissed, ScheduledFor: now.Add(-time.Hour),
				Result: json.RawMessage(`{"missed_count": 3}`), Error: "missed 3 fires"},
			{Status: store.StatusSkipped, Kind: store.KindCron, ScheduledFor: now.Add(-time.Second), Error: "skipped"},
			{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: now, MaxAttempts: 1, Exclusive: true},
		}}
	}); err != nil {
		t.Fatal(err)
	}
	r, err := db.InsertRun(ctx, sc, now.Add(time.Millisecond), 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.ClaimRun(ctx, r.ID, "n", time.Now(), time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := db.CompleteRuns(ctx, []store.Completion{{RunID: r.ID, Owner: "n", Status: store.StatusCompleted,
		At: time.Now(), Result: json.RawMessage(`{"ok": true}`), ScheduleID: sc.ID, State: json.RawMessage(`{"n": 1}`)}}); err != nil {
		t.Fatal(err)
	}
	return sc
}

// What the store writes passes, on each framework variant and on our own
// schema.
func TestCheckReadersAcceptsWhatTheStoreWrites(t *testing.T) {
	for _, typ := range JobIDTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			db := Framework(t, typ)
			fill(t, db)
			if errs := capture(t, db); len(errs) > 0 {
				t.Fatalf("CheckReaders reported on rows the store wrote:\n%s", strings.Join(errs, "\n"))
			}
		})
	}
	t.Run("own-schema", func(t *testing.T) {
		t.Parallel()
		db := Postgres(t)
		fill(t, db)
		if errs := capture(t, db); len(errs) > 0 {
			t.Fatalf("CheckReaders reported on rows the store wrote:\n%s", strings.Join(errs, "\n"))
		}
	})
}

// A run stored with status 'skipped' (as this service once did) is one the
// web UI's run model rejects: both the Go check and readers.py say so.
func TestCheckReadersFailsOnSkippedStatus(t *testing.T) {
	db := Framework(t, JobIDInt4)
	sc := fill(t, db)
	if errs := capture(t, db); len(errs) != 0 {
		t.Fatalf("clean database reported: %v", errs)
	}
	var id int64
	if err := db.SQL().QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for)
		VALUES ('script', $1, 1, 'skipped', now()) RETURNING id`, sc.ID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	errs := capture(t, db)
	all := strings.Join(errs, "\n")
	t.Logf("CheckReaders reported:\n%s", all)
	for _, want := range []string{
		fmt.Sprintf(`run %d: status "skipped" is not one of`, id),
		fmt.Sprintf("REJECTED job_schedule_runs id=%d: status:", id),
		"the framework's pydantic readers reject 1 of",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("CheckReaders did not report %q; it reported:\n%s", want, all)
		}
	}
}

// Each kind of row the readers reject or misread is reported, by the Go
// check, by readers.py, or both.
func TestCheckReadersFailsOnEachBadRow(t *testing.T) {
	ctx := context.Background()
	insertRun := func(t *testing.T, db *store.DB, status, snapshot, result string, at time.Time) int64 {
		var id int64
		if err := db.SQL().QueryRowContext(ctx, `INSERT INTO job_schedule_runs (job_type, job_id, user_id, status,
			scheduled_for, job_snapshot, result, kind) VALUES ('script', 1, 1, $1, $2, $3::jsonb, $4::jsonb, 'cron') RETURNING id`,
			status, at, snapshot, result).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	snap := func(id, name string) string {
		return `{"schedule_id": ` + id + `, "schedule_name": ` + name + `, "execution_time": "2026-01-01T00:00:00Z"}`
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		setup func(t *testing.T, db *store.DB) int64 // returns the row id
		want  []string                               // %d is the row id
	}{
		{"NULL state_json", func(t *testing.T, db *store.DB) int64 {
			_, err := db.SQL().ExecContext(ctx, `UPDATE job_schedules SET state_json = NULL WHERE id = 1`)
			if err != nil {
				t.Fatal(err)
			}
			return 1
		}, []string{"schedule %d: state_json is NULL", "REJECTED job_schedules id=%d: state_json"}},
		{"state_json not an object", func(t *testing.T, db *store.DB) int64 {
			_, err := db.SQL().ExecContext(ctx, `UPDATE job_schedules SET state_json = '[1]' WHERE id = 1`)
			if err != nil {
				t.Fatal(err)
			}
			return 1
		}, []string{"schedule %d: state_json \"[1]\" is not a JSON object", "REJECTED job_schedules id=%d: state_json"}},
		{"unknown job_type", func(t *testing.T, db *store.DB) int64 {
			_, err := db.SQL().ExecContext(ctx, `UPDATE job_schedules SET job_type = 'bogus' WHERE id = 1`)
			if err != nil {
				t.Fatal(err)
			}
			return 1
		}, []string{"REJECTED job_schedules id=%d: job_type"}},
		{"result an array", func(t *testing.T, db *store.DB) int64 {
			return insertRun(t, db, "completed", snap("1", `"etl"`), `[1, 2]`, at)
		}, []string{"run %d: result is a JSON array", "REJECTED job_schedule_runs id=%d: result"}},
		{"schedule_id a string", func(t *testing.T, db *store.DB) int64 {
			return insertRun(t, db, "completed", snap(`"1"`, `"etl"`), `{}`, at)
		}, []string{`run %d: job_snapshot.schedule_id "1" is a JSON string`}},
		{"schedule_id of another schedule", func(t *testing.T, db *store.DB) int64 {
			return insertRun(t, db, "completed", snap("2", `"etl"`), `{}`, at)
		}, []string{"run %d: job_snapshot.schedule_id 2 differs from job_id 1"}},
		{"schedule_name missing", func(t *testing.T, db *store.DB) int64 {
			return insertRun(t, db, "completed", `{"schedule_id": 1}`, `{}`, at)
		}, []string{"run %d (kind cron): job_snapshot has no schedule_name"}},
		{"schedule_name wrong", func(t *testing.T, db *store.DB) int64 {
			return insertRun(t, db, "completed", snap("1", `"other"`), `{}`, at)
		}, []string{`run %d: job_snapshot.schedule_name "other" differs from the name "etl"`}},
		{"NULL status", func(t *testing.T, db *store.DB) int64 {
			id := insertRun(t, db, "completed", snap("1", `"etl"`), `{}`, at)
			if _, err := db.SQL().ExecContext(ctx, `UPDATE job_schedule_runs SET status = NULL WHERE id = $1`, id); err != nil {
				t.Fatal(err)
			}
			return id
		}, []string{"run %d: status null is not one of"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			db := Framework(t, JobIDInt4)
			fill(t, db)
			id := c.setup(t, db)
			all := strings.Join(capture(t, db), "\n")
			for _, w := range c.want {
				if w = strings.ReplaceAll(w, "%d", fmt.Sprint(id)); !strings.Contains(all, w) {
					t.Errorf("CheckReaders did not report %q; it reported:\n%s", w, all)
				}
			}
		})
	}
}
