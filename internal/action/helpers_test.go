package action_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
)

// testHandler is the "script" handler of the tests: Validate rejects a
// "reject" parameter; Handle completes, or fails when "fail" is true.
type testHandler struct{}

func (testHandler) Validate(raw json.RawMessage) error {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("want a JSON object, got %s", raw)
	}
	if v, ok := p["reject"]; ok {
		return fmt.Errorf("task_params.reject: %s is not allowed", v)
	}
	return nil
}

func (testHandler) Handle(_ context.Context, job *engine.Job) (*engine.Outcome, error) {
	var p struct{ Fail bool }
	_ = json.Unmarshal(job.Schedule.TaskParams, &p)
	if p.Fail {
		return nil, errors.New("asked to fail")
	}
	return &engine.Outcome{Result: map[string]bool{"ok": true}}, nil
}

var handlers = map[string]engine.Handler{"script": testHandler{}}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// note is one notification sent.
type note struct{ channel, payload string }

// recorder records notifications (and forwards them to the store) and
// counts engine wakes.
type recorder struct {
	next  action.Notifier
	mu    sync.Mutex
	notes []note
	wakes int
}

func (r *recorder) Notify(ctx context.Context, channel, payload string) error {
	r.mu.Lock()
	r.notes = append(r.notes, note{channel, payload})
	r.mu.Unlock()
	return r.next.Notify(ctx, channel, payload)
}

func (r *recorder) Wake() {
	r.mu.Lock()
	r.wakes++
	r.mu.Unlock()
}

// last returns the last notification and the number of wakes.
func (r *recorder) last() (note, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.notes) == 0 {
		return note{}, r.wakes
	}
	return r.notes[len(r.notes)-1], r.wakes
}

// setup returns actions over db with a recorder as notifier and engine, a
// retry count of 2 and the clock now.
func setup(t *testing.T, db *store.DB, now time.Time) (*action.Actions, *recorder) {
	t.Helper()
	rec := &recorder{next: db}
	a := action.New(action.Config{Store: db, Handlers: handlers, RetryCount: 2, Engine: rec, Notifier: rec,
		Outbox: db.Outbox(), Logger: quiet(), Now: func() time.Time { return now }})
	return a, rec
}

func ptr[T any](v T) *T { return &v }

// spec is a valid schedule description of user 1.
func spec(name, cron, params string) action.Spec {
	return action.Spec{UserID: ptr(int64(1)), Name: name, JobType: "script", Cron: cron, TaskParams: json.RawMessage(params)}
}

// insertRaw inserts an enabled schedule the way the old web UI and SQL
// scripts do, leaving next_run_at NULL, and returns its id.
func insertRaw(t *testing.T, db *store.DB, name, cron string) int64 {
	t.Helper()
	if _, err := db.SQL().Exec(fmt.Sprintf(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
		VALUES (1, '%s', 'script', 'x', '{}', '%s', true)`, name, cron)); err != nil {
		t.Fatal(err)
	}
	var id int64
	if err := db.SQL().QueryRow(fmt.Sprintf(`SELECT id FROM job_schedules WHERE name = '%s'`, name)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func get(t *testing.T, db *store.DB, id int64) *store.Schedule {
	t.Helper()
	s, err := db.GetSchedule(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
