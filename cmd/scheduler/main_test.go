package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scheduler-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "scheduler")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		panic("build scheduler: " + err.Error() + "\n" + string(out))
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env returns the environment of a scheduler process on a temp SQLite file.
func testEnv(dir string) []string {
	return append(os.Environ(),
		"DATABASE_URL=sqlite:///"+filepath.Join(dir, "s.db"),
		"SCRIPT_ROOT="+dir, "SCRIPT_ALLOWED_DIRS=scripts", "HTTP_ADDR=127.0.0.1:0",
		"SCHEDULER_SHUTDOWN_GRACE=5", "LOG_LEVEL=INFO")
}

func runCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, testEnv(dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scheduler %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestBinaryRunsEverySecondScheduleAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho '__SCHEDULER_RESULT__: {\"value\": 42}'\n"
	if err := os.WriteFile(filepath.Join(dir, "scripts", "tick.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	runCLI(t, dir, "schedules", "add", "--user", "1", "--name", "tick", "--type", "script",
		"--cron", "* * * * * *", "--params", `{"script_path": "scripts/tick.sh"}`)

	// A fixed port, so that the CLI finds the running service.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	ln.Close()
	env := append(testEnv(dir), "HTTP_ADDR="+httpAddr)
	cmd, logs, exited := startBinary(t, dir, env, "start")

	db := storetest.Open(t, "sqlite", filepath.Join(dir, "s.db"))
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: 1, Status: "completed", Limit: 100})
		if err == nil && len(runs) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no 3 completed runs within 20 s; logs:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The HTTP API answers on the address it logged.
	addr := regexp.MustCompile(`HTTP API listening"? addr=(\S+)`).FindStringSubmatch(logs.String())
	if addr == nil {
		t.Fatalf("no HTTP address in logs:\n%s", logs.String())
	}
	for path, want := range map[string]string{"/healthz": "ok", "/readyz": `"ready": true`, "/metrics": "scheduler_runs_total", "/status": `"database": {`,
		"/status?providers": `"data_provider_config": [`} {
		resp, err := http.Get("http://" + addr[1] + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("GET %s = %d %.300s; want 200 containing %q", path, resp.StatusCode, body, want)
		}
	}
	// status and reload talk to the running service.
	for args, want := range map[string]string{"status": "service: running", "reload": "reloaded by the running service"} {
		c := exec.Command(binary, args)
		c.Dir, c.Env = dir, env
		out, err := c.CombinedOutput()
		if err != nil || !strings.Contains(string(out), want) {
			t.Fatalf("scheduler %s: %v\n%s\nwant %q", args, err, out, want)
		}
	}
	// SIGHUP reloads (systemd's ExecReload).
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	hupDeadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "reloaded schedules (SIGHUP)") {
		if time.Now().After(hupDeadline) {
			t.Fatalf("no reload after SIGHUP:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A second service on the same SQLite file is refused clearly.
	second := exec.Command(binary, "start")
	second.Dir, second.Env = dir, testEnv(dir)
	out, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "several instances need PostgreSQL") {
		t.Fatalf("second instance: %v\n%s", err, out)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("did not exit within 30 s of SIGTERM\n%s", logs.String())
	}
	runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: 1, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[time.Time]bool{}
	for _, r := range runs {
		if r.Status == "running" {
			t.Errorf("run %d left running after shutdown", r.ID)
		}
		if seen[r.ScheduledFor] {
			t.Errorf("instant %s ran twice", r.ScheduledFor)
		}
		seen[r.ScheduledFor] = true
		if r.Status == "completed" && !strings.Contains(string(r.Result), `"value":42`) {
			t.Errorf("run %d result %s lacks the script result", r.ID, r.Result)
		}
	}
	if !strings.Contains(logs.String(), "engine stopped") {
		t.Errorf("no clean stop in logs:\n%s", logs.String())
	}
}

func TestValidateReportsBadSchedule(t *testing.T) {
	dir := t.TempDir()
	runCLI(t, dir, "migrate")
	db := storetest.Open(t, "sqlite", filepath.Join(dir, "s.db"))
	if _, err := db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
		VALUES (1, 'broken', 'script', 'x', '{"script_path": "../etc/passwd"}', '* * * * 8', true)`); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binary, "validate")
	cmd.Dir, cmd.Env = dir, testEnv(dir)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("validate exit = %v, want status 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "day-of-week: 8 out of range 0-7") {
		t.Fatalf("validate output lacks the cron problem:\n%s", out)
	}
}

// startBinary starts the scheduler binary in dir with env and args, its
// stdout and stderr in logs; it is killed when the test ends, and exited
// receives what its Wait returned.
func startBinary(t *testing.T, dir string, env []string, args ...string) (cmd *exec.Cmd, logs *syncBuffer, exited <-chan error) {
	t.Helper()
	cmd = exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, env
	logs = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return cmd, logs, done
}

// syncBuffer is a bytes.Buffer safe for the process-output goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// An unreachable database at start is retried with backoff and said so in
// the log; the process keeps trying until it is stopped.
func TestBinaryRetriesUnreachableDatabaseAtStart(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	cmd, logs, exited := startBinary(t, dir, append(testEnv(dir),
		"DATABASE_URL=postgres://postgres@"+deadAddr+"/test?sslmode=disable&connect_timeout=1", "HTTP_ADDR=off"), "start")
	deadline := time.Now().Add(20 * time.Second)
	for strings.Count(logs.String(), "database not reachable; retrying") < 2 {
		select {
		case err := <-exited:
			t.Fatalf("exited (%v) instead of retrying:\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two retry messages within 20 s:\n%s", logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "in=2s") {
		t.Errorf("backoff does not grow (want a retry in 2s):\n%s", logs.String())
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatalf("did not stop on SIGTERM while waiting for the database")
	}
}

// A start that fails after the dispatcher is running (the HTTP port is
// taken) exits with its error instead of hanging.
func TestBinaryStartFailsWhenThePortIsTaken(t *testing.T) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, logs, exited := startBinary(t, dir, append(testEnv(dir), "HTTP_ADDR="+ln.Addr().String()), "start")
	select {
	case err := <-exited:
		if err == nil {
			t.Fatalf("exited 0 with the port taken:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), ln.Addr().String()) {
			t.Errorf("the error does not name the address %s:\n%s", ln.Addr(), logs.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("still running 20 s after failing to listen:\n%s", logs.String())
	}
}
