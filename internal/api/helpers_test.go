package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/store"
)

// scriptHandler is the trivial "script" handler of the tests: Validate
// rejects a "reject" parameter, Handle fails when "fail" is true and
// completes otherwise.
type scriptHandler struct{}

func (scriptHandler) Validate(raw json.RawMessage) error {
	var p map[string]json.RawMessage
	if err := json.Unmarshal(raw, &p); err != nil {
		return fmt.Errorf("want a JSON object, got %s", raw)
	}
	if v, ok := p["reject"]; ok {
		return fmt.Errorf("task_params.reject: %s is not allowed", v)
	}
	return nil
}

func (scriptHandler) Handle(_ context.Context, job *engine.Job) (*engine.Outcome, error) {
	var p struct{ Fail bool }
	_ = json.Unmarshal(job.Schedule.TaskParams, &p)
	if p.Fail {
		return nil, errors.New("asked to fail")
	}
	return &engine.Outcome{Result: map[string]bool{"ok": true}}, nil
}

type fixture struct {
	t      *testing.T
	db     *store.DB
	eng    *engine.Engine
	m      *metrics.Metrics
	srv    *httptest.Server
	token  string
	cancel context.CancelFunc
	done   chan struct{}
}

type options struct {
	token     string
	noEngine  bool // do not start the engine loop
	status    func(context.Context) map[string]any
	retryWait time.Duration
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// newFixture serves the real router over db with a real engine and metrics.
func newFixture(t *testing.T, db *store.DB, o options) *fixture {
	t.Helper()
	m := metrics.New(metrics.Options{Version: "test", NoRuntime: true})
	m.Registry().MustRegister(metrics.NewStoreCollector(db, nil, quiet()))
	handlers := map[string]engine.Handler{"script": scriptHandler{}}
	eng := engine.New(db, handlers, engine.Options{
		NodeID: "api-test", Workers: 4, PollInterval: 200 * time.Millisecond, RetryDelay: 10 * time.Millisecond,
		Lease: 5 * time.Second, ShutdownGrace: 5 * time.Second, Observer: m, Logger: quiet()})
	f := &fixture{t: t, db: db, eng: eng, m: m, token: o.token, done: make(chan struct{})}
	acts := action.New(action.Config{Store: db, Handlers: handlers, RetryCount: 1, Engine: eng, Logger: quiet()})
	h := api.New(api.Deps{Store: db, Actions: acts, Engine: eng, Token: o.token, Version: "1.0.0-test", Environment: "test",
		Started: time.Now().Add(-time.Minute), Status: o.status, Gatherer: m.Registry(), Logger: quiet()})
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	if !o.noEngine {
		ctx, cancel := context.WithCancel(context.Background())
		f.cancel = cancel
		var wg sync.WaitGroup
		wg.Go(func() { _ = eng.Run(ctx) })
		t.Cleanup(func() { cancel(); wg.Wait() })
		waitFor(t, 10*time.Second, "engine running", func() bool { ok, _ := eng.Running(); return ok })
	}
	return f
}

// do sends a request with the fixture's token (when set) and returns the
// status and body.
func (f *fixture) do(method, path, body string) (int, []byte) {
	f.t.Helper()
	return f.doAuth(method, path, body, f.token)
}

func (f *fixture) doAuth(method, path, body, token string) (int, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/json") // as every JSON client sends
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// Errors are reported with Errorf so that do is usable from goroutines.
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Errorf("%s %s: reading body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// expect sends a request, checks the status and decodes the JSON answer into v (when non-nil).
func (f *fixture) expect(method, path, body string, status int, v any) []byte {
	f.t.Helper()
	code, b := f.do(method, path, body)
	if code != status {
		f.t.Fatalf("%s %s: status %d, want %d; body: %s", method, path, code, status, b)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			f.t.Fatalf("%s %s: decoding %s: %v", method, path, b, err)
		}
	}
	return b
}

// errorBody is an error answer.
type errorBody struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems"`
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func scheduleJSON(name, cron, params string) string {
	return fmt.Sprintf(`{"user_id": 1, "name": %q, "job_type": "script", "cron": %q, "task_params": %s}`, name, cron, params)
}

// jsonEq reports whether got and want hold equal JSON values.
func jsonEq(got json.RawMessage, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
