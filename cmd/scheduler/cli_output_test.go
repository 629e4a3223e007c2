package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
)

// runExit runs the binary in dir with env and returns stdout, stderr and
// the exit status.
func runExit(t *testing.T, dir string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = dir, env
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return out.String(), errb.String(), 0
	case errors.As(err, &ee):
		return out.String(), errb.String(), ee.ExitCode()
	}
	t.Fatalf("scheduler %s: %v", strings.Join(args, " "), err)
	return "", "", -1
}

// cleanEnv is the process environment without the service's variables.
func cleanEnv(extra ...string) []string {
	env := extra
	for _, kv := range os.Environ() {
		if !hasServicePrefix(kv) {
			env = append(env, kv)
		}
	}
	return env
}

// TestStatusWithoutDatabaseRefuses: status, and every command that needs
// existing data, in a folder without the configured SQLite file exits 1
// naming the path, and creates nothing.
func TestStatusWithoutDatabaseRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{{"status"}, {"status", "--json"}, {"runs", "list"}, {"runs", "show", "1"},
		{"schedules", "list"}, {"schedules", "show", "1"}, {"schedules", "run", "hello"}, {"reload"}, {"validate"},
		{"notify", "retry", "--dead"}} {
		out, errOut, code := runExit(t, dir, cleanEnv("HTTP_ADDR=off"), args...)
		want := "no database at " + filepath.Join(dir, "data", "scheduler.db")
		if args[0] == "validate" { // a problem line on stdout, exit 1
			errOut += out
			out = ""
		}
		if code != 1 || !strings.Contains(errOut, want) || out != "" {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit 1 naming %s", args, code, out, errOut, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("status created %s (err %v)", filepath.Join(dir, "data"), err)
	}
}

// TestJSONOutputAndRunsShow drives a failing script schedule through the
// CLI with --json everywhere: add, disable, enable, run, runs list, runs
// show, reload, validate, status and delete print JSON, and the run's long
// error is never cut outside the text table.
func TestJSONOutputAndRunsShow(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 300) + "END"
	script := "#!/bin/sh\necho '" + long + "' >&2\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "scripts", "fail.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	env := cleanEnv("DATABASE_URL=sqlite:///"+filepath.Join(dir, "s.db"), "SCRIPT_ROOT="+dir, "SCRIPT_ALLOWED_DIRS=scripts",
		"HTTP_ADDR=off", "SCHEDULER_RETRY_COUNT=0")
	jsonOf := func(v any, args ...string) {
		t.Helper()
		out, errOut, code := runExit(t, dir, env, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s%s", args, code, out, errOut)
		}
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("%v: not JSON (%v): %s", args, err, out)
		}
	}
	var sched struct {
		ID      int64  `json:"id"`
		Name    string `json:"name"`
		Enabled bool   `json:"enabled"`
	}
	jsonOf(&sched, "schedules", "add", "--json", "--user", "1", "--name", "failing", "--type", "script", "--cron", "0 0 * * *",
		"--params", `{"script_path": "scripts/fail.sh"}`)
	if sched.ID != 1 || sched.Name != "failing" || !sched.Enabled {
		t.Fatalf("add --json = %+v", sched)
	}
	jsonOf(&sched, "schedules", "disable", "failing", "--json")
	if sched.Enabled {
		t.Fatalf("disable --json = %+v", sched)
	}
	jsonOf(&sched, "schedules", "enable", "1", "--json")
	if !sched.Enabled {
		t.Fatalf("enable --json = %+v", sched)
	}
	var run struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	jsonOf(&run, "schedules", "run", "failing", "--json")
	if run.Status != "failed" || !strings.Contains(run.Error, "Script exited with code 3") || !strings.Contains(run.Error, "END") {
		t.Fatalf("run --json = %+v", run)
	}
	var list []struct {
		ID    int64  `json:"id"`
		Error string `json:"error"`
	}
	jsonOf(&list, "runs", "list", "--schedule", "failing", "--json")
	if len(list) != 1 || list[0].Error != run.Error {
		t.Fatalf("runs list --json = %+v; want the full error %q", list, run.Error)
	}
	var detail struct {
		ID         int64           `json:"id"`
		Error      string          `json:"error"`
		Result     json.RawMessage `json:"result"`
		LagSeconds *float64        `json:"lag_seconds"`
		Attempts   []any           `json:"attempts"`
	}
	jsonOf(&detail, "runs", "show", "1", "--json")
	if detail.ID != run.ID || detail.Error != run.Error || detail.LagSeconds == nil || detail.Attempts == nil ||
		!strings.Contains(string(detail.Result), `"exit_code": 3`) {
		t.Fatalf("runs show --json = %+v", detail)
	}
	out, errOut, code := runExit(t, dir, env, "runs", "show", "1")
	if code != 0 || !strings.Contains(out, "run 1: failed (manual), attempt 1 of 1") || !strings.Contains(out, long) ||
		!regexp.MustCompile(`(?m)^started: .*\(lag \S+\)$`).MatchString(out) || !strings.Contains(out, `"exit_code": 3`) {
		t.Fatalf("runs show: exit %d\n%s%s", code, out, errOut)
	}
	if _, errOut, code := runExit(t, dir, env, "runs", "show", "99"); code != 1 || !strings.Contains(errOut, "99") {
		t.Fatalf("runs show 99: exit %d, %s; want 1 naming the run", code, errOut)
	}
	if _, errOut, code := runExit(t, dir, env, "runs", "show", "x"); code != 2 || !strings.Contains(errOut, `"x"`) {
		t.Fatalf("runs show x: exit %d, %s; want 2 naming the value", code, errOut)
	}
	for _, bad := range [][]string{{"--workers", "-3"}, {"--schedules", "0"}, {"--engines", "2000000"}} {
		args := append([]string{"bench", "--db", "sqlite://" + dir + "/bench.db"}, bad...)
		if _, errOut, code := runExit(t, dir, env, args...); code != 2 || !strings.Contains(errOut, bad[0]+" "+bad[1]) {
			t.Fatalf("bench %s %s: exit %d, %s; want 2 naming the flag and value", bad[0], bad[1], code, errOut)
		}
	}
	if _, errOut, code := runExit(t, dir, env, "schedules", "run", "nosuch"); code != 1 || !strings.Contains(errOut, `"nosuch"`) {
		t.Fatalf("schedules run nosuch: exit %d, %s; want 1 naming the name", code, errOut)
	}
	var reload struct {
		Valid int `json:"valid"`
	}
	jsonOf(&reload, "reload", "--json")
	if reload.Valid != 1 {
		t.Fatalf("reload --json = %+v", reload)
	}
	var valid struct {
		Valid    bool     `json:"valid"`
		Problems []string `json:"problems"`
	}
	jsonOf(&valid, "validate", "--json")
	if !valid.Valid || valid.Problems == nil {
		t.Fatalf("validate --json = %+v", valid)
	}
	var st struct {
		Service  struct{ Running bool } `json:"service"`
		Database struct {
			Dialect  string `json:"dialect"`
			Location string `json:"location"`
		} `json:"database"`
		RecentFailures []struct {
			ScheduleID int64 `json:"schedule_id"`
		} `json:"recent_failures"`
	}
	jsonOf(&st, "status", "--json")
	if st.Service.Running || st.Database.Dialect != "sqlite" || st.Database.Location != filepath.Join(dir, "s.db") ||
		len(st.RecentFailures) != 1 || st.RecentFailures[0].ScheduleID != 1 {
		t.Fatalf("status --json = %+v", st)
	}
	out, errOut, code = runExit(t, dir, env, "status")
	if code != 0 || !strings.Contains(out, "database: sqlite "+filepath.Join(dir, "s.db")+"\n") {
		t.Fatalf("status: exit %d\n%s%s", code, out, errOut)
	}
	var del struct {
		ID      int64 `json:"id"`
		Deleted bool  `json:"deleted"`
	}
	jsonOf(&del, "schedules", "delete", "failing", "--json")
	if del.ID != 1 || !del.Deleted {
		t.Fatalf("delete --json = %+v", del)
	}
}

// TestVersion: `version` and `--version` print the same line; with VCS
// stamping the commit and version come from the build info, not from the
// -X fallbacks.
func TestVersion(t *testing.T) {
	out, _, code := runExit(t, ".", os.Environ(), "version")
	out2, _, code2 := runExit(t, ".", os.Environ(), "--version")
	if code != 0 || code2 != 0 || out != out2 || !regexp.MustCompile(`^scheduler \S+ \(.*go1\.\d+`).MatchString(out) {
		t.Fatalf("version %q (exit %d), --version %q (exit %d)", out, code, out2, code2)
	}
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("no git checkout to stamp a build from (%v): only the unstamped form was checked", err)
	}
	// The go command stamps only checkouts whose .git is a directory, not
	// git worktrees (.git is a file there).
	if fi, err := os.Stat(filepath.Join("..", "..", ".git")); err != nil || !fi.IsDir() {
		t.Skip("the checkout is a git worktree (.git is not a directory), which the go command does not stamp: only the unstamped form was checked")
	}
	bin := filepath.Join(t.TempDir(), "scheduler")
	build := exec.Command("go", "build", "-buildvcs=true", "-ldflags", "-X main.version=v9.8.7 -X main.commit=fallback", "-o", bin, ".")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, b)
	}
	js, err := exec.Command(bin, "version", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var v versionInfo
	if err := json.Unmarshal(js, &v); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(v.Version, "v") || v.Version == "v9.8.7" || v.Commit != strings.TrimSpace(string(head)) || v.Date == "" {
		t.Fatalf("stamped build: %+v; want the module (pseudo-)version, commit %s and its time from the build info", v, head)
	}
}

// TestReadVersion checks the build-info fields used and the ldflags
// fallback without building.
func TestReadVersion(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	v := readVersion(bi, true)
	if v.Version != "v1.2.3" || v.Commit != "0123456789abcdef" || v.Date != "2026-12-01T10:00:00Z" || !v.Modified {
		t.Fatalf("readVersion = %+v", v)
	}
	if s := v.String(); s != "scheduler v1.2.3 (commit 0123456789ab, modified, 2026-12-01T10:00:00Z, go1.99)" {
		t.Fatalf("String() = %q", s)
	}
	bi.Main.Version = "(devel)"
	bi.Settings = nil
	if v := readVersion(bi, true); v.Version != "devel" || v.Commit != "" {
		t.Fatalf("plain build without VCS: %+v", v)
	}
	oldV, oldC, oldD := version, commit, buildDate
	version, commit, buildDate = "v2.0.0", "feedface", "2026-11-30T00:00:00Z"
	defer func() { version, commit, buildDate = oldV, oldC, oldD }()
	if v := readVersion(bi, true); v.Version != "v2.0.0" || v.Commit != "feedface" || v.Date != "2026-11-30T00:00:00Z" {
		t.Fatalf("ldflags fallbacks not used for what the build info lacks: %+v", v)
	}
	bi.Main.Version = "v1.2.3"
	bi.Settings = []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}}
	if v := readVersion(bi, true); v.Version != "v1.2.3" || v.Commit != "0123456789abcdef" || v.Date != "2026-11-30T00:00:00Z" {
		t.Fatalf("the build info should win over the ldflags: %+v", v)
	}
}

// TestDatabaseLocation: status shows a SQLite file's absolute path and a
// PostgreSQL URL without its password.
func TestDatabaseLocation(t *testing.T) {
	wd, _ := os.Getwd()
	if got := databaseLocation("sqlite", "data/scheduler.db", ""); got != filepath.Join(wd, "data", "scheduler.db") {
		t.Errorf("sqlite: %q", got)
	}
	got := databaseLocation("postgres", "", "postgresql+psycopg2://trader:s3cret@db.example:5432/trading")
	if strings.Contains(got, "s3cret") || !strings.Contains(got, "trader:") || !strings.Contains(got, "db.example:5432/trading") {
		t.Errorf("postgres: %q; want the URL without its password", got)
	}
}
