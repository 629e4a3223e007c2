//go:build unix

package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Script and portfolio jobs as the framework's schedules expect them
// (ORIGINAL-SYSTEM.md §5), with real subprocesses, through the engine, on
// SQLite and on the framework's live tables.

// eachScriptDB runs fn on SQLite, and on the framework's live schema
// (job_id int4) when TEST_DATABASE_URL is set; there the rows are checked
// against the framework's readers afterwards.
func eachScriptDB(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, storetest.SQLite(t)) })
	t.Run("framework-int4", func(t *testing.T) {
		db := storetest.Framework(t, storetest.JobIDInt4)
		fn(t, db)
		if !t.Failed() {
			storetest.CheckReaders(t, db)
		}
	})
}

// needPython3 skips t without python3: the framework's scripts are Python.
func needPython3(t *testing.T) string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	return py
}

// writeRootFile writes body at rel under root with mode.
func writeRootFile(t *testing.T, root, rel, body string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(root, rel)
	must(t, os.MkdirAll(filepath.Dir(p), 0o755))
	must(t, os.WriteFile(p, []byte(body), mode))
	must(t, os.Chmod(p, mode))
}

// fakeVenv writes ROOT/.venv/bin/python: a shell script that appends a
// line to ROOT/venv-used and execs python3, and returns the marker path.
func fakeVenv(t *testing.T, root, python3 string) string {
	t.Helper()
	marker := filepath.Join(root, "venv-used")
	writeRootFile(t, root, ".venv/bin/python", fmt.Sprintf("#!/bin/sh\necho used >> '%s'\nexec '%s' \"$@\"\n", marker, python3), 0o755)
	return marker
}

// argsPy is a pipeline script stand-in reporting its arguments and run
// identity as its result line.
const argsPy = `import json, os, sys
print("working", file=sys.stderr)
print("__SCHEDULER_RESULT__: " + json.dumps({"args": sys.argv[1:], "run_id": os.environ.get("SCHEDULER_RUN_ID"), "cwd": os.getcwd()}))
`

// scriptConfig reads the script configuration as the service does, with
// SCRIPT_ROOT = root and the other variables unset (or as given).
func scriptConfig(t *testing.T, root string, env map[string]string) script.Config {
	t.Helper()
	cfg, err := script.ConfigFromEnv(func(k string) string {
		if k == script.EnvRoot {
			return root
		}
		return env[k]
	})
	must(t, err)
	cfg.KillGrace, cfg.Logger = 100*time.Millisecond, quiet
	return cfg
}

// scheduleFor creates a schedule of user userID with a target.
func (f *fixture) scheduleFor(userID int64, name, jobType, target, params string) *store.Schedule {
	f.t.Helper()
	sc := &store.Schedule{UserID: userID, Name: name, JobType: jobType, Target: target, TaskParams: json.RawMessage(params), Cron: "0 * * * *"}
	if err := f.db.CreateSchedule(context.Background(), sc); err != nil {
		f.t.Fatalf("create schedule %s: %v", name, err)
	}
	return sc
}

// TestScriptJobsAsTheFrameworkExpects runs the framework's kind of
// schedules through the engine: --user-id for the p05 scan (the
// schedule's user_id) and not for other scripts, pass_user_id in both
// directions, the virtualenv under the root as interpreter, a scripts/
// script refused by the default allow-list, the first result line that
// parses, a malformed one as parse_error/raw, and the old service's
// result keys and failure text.
func TestScriptJobsAsTheFrameworkExpects(t *testing.T) {
	python3 := needPython3(t)
	eachScriptDB(t, func(t *testing.T, db *store.DB) {
		root := t.TempDir()
		marker := fakeVenv(t, root, python3)
		writeRootFile(t, root, "src/ml/pipeline/p05_ai_selector/run_p05_scan.py", argsPy, 0o644)
		writeRootFile(t, root, "src/data/trf_downloader.py", argsPy, 0o644)
		writeRootFile(t, root, "scripts/ops.py", argsPy, 0o644)
		writeRootFile(t, root, "src/data/results.py", `print("__SCHEDULER_RESULT__: {broken")
print("__SCHEDULER_RESULT__: {\"vix_current\": 21.5}")
print("__SCHEDULER_RESULT__: {\"vix_current\": 99}")
`, 0o644)
		writeRootFile(t, root, "src/data/malformed.py", `print("__SCHEDULER_RESULT__: {\"a\": }")`+"\n", 0o644)
		writeRootFile(t, root, "src/data/fails.py", "import sys\nprint('Traceback: boom', file=sys.stderr)\nsys.exit(3)\n", 0o644)
		cfg := scriptConfig(t, root, nil)
		if cfg.Python != filepath.Join(root, ".venv/bin/python") {
			t.Fatalf("interpreter %q (%s), want the virtualenv under the root", cfg.Python, cfg.PythonSource)
		}
		f := newFixture(t, db, func(d *Deps) { d.Script = cfg })

		args := func(name, params string) []any {
			t.Helper()
			r := f.run(f.scheduleFor(7, name, "data_processing", "src.x", params), 1)
			if r.Status != store.StatusCompleted {
				t.Fatalf("%s: %s %s %s", name, r.Status, r.Error, r.Result)
			}
			res := result(t, r)
			sr, _ := res["script_result"].(map[string]any)
			if sr["run_id"] != fmt.Sprint(r.ID) {
				t.Errorf("%s: SCHEDULER_RUN_ID %v, want %d", name, sr["run_id"], r.ID)
			}
			a, _ := sr["args"].([]any)
			return a
		}
		userID := []any{"--user-id", "7"}
		if got := args("p05", `{"script_path": "src/ml/pipeline/p05_ai_selector/run_p05_scan.py", "script_args": ["--top", "5"]}`); !slices.Equal(got, []any{"--top", "5", "--user-id", "7"}) {
			t.Errorf("p05 scan got %q, want script_args then --user-id 7", got)
		}
		if got := args("trf", `{"script_path": "src/data/trf_downloader.py"}`); len(got) != 0 {
			t.Errorf("a script outside the list got %q", got)
		}
		if got := args("trf-in", `{"script_path": "src/data/trf_downloader.py", "pass_user_id": true}`); !slices.Equal(got, userID) {
			t.Errorf("pass_user_id true got %q", got)
		}
		if got := args("p05-out", `{"script_path": "src/ml/pipeline/p05_ai_selector/run_p05_scan.py", "pass_user_id": false}`); len(got) != 0 {
			t.Errorf("pass_user_id false got %q", got)
		}
		if b, err := os.ReadFile(marker); err != nil || strings.Count(string(b), "used") != 4 {
			t.Errorf("the virtualenv interpreter ran %q times (%v), want 4", b, err)
		}

		// The first result line that parses wins; the keys are the old
		// service's, ours beside them.
		r := f.run(f.scheduleFor(7, "results", "script", "src.data.results", `{"script_path": "src/data/results.py"}`), 1)
		res := result(t, r)
		if sr, _ := res["script_result"].(map[string]any); r.Status != store.StatusCompleted || fmt.Sprint(sr) != "map[vix_current:21.5]" {
			t.Errorf("first parsable line: %s %s", r.Status, r.Result)
		}
		for _, k := range []string{"success", "exit_code", "script_result", "stdout_preview", "stderr_preview", "notification_sent", "duration_ms"} {
			if _, ok := res[k]; !ok {
				t.Errorf("result lacks %q: %s", k, r.Result)
			}
		}
		r = f.run(f.scheduleFor(7, "malformed", "script", "src.data.malformed", `{"script_path": "src/data/malformed.py"}`), 1)
		sr, _ := result(t, r)["script_result"].(map[string]any)
		if pe, _ := sr["parse_error"].(string); r.Status != store.StatusCompleted || !strings.Contains(pe, "not valid JSON") || sr["raw"] != `{"a": }` {
			t.Errorf("malformed line: %s %s", r.Status, r.Result)
		}

		// A failed run: the old service's error text.
		r = f.run(f.scheduleFor(7, "fails", "script", "src.data.fails", `{"script_path": "src/data/fails.py"}`), 1)
		if r.Status != store.StatusFailed || r.Error != "Script exited with code 3; stderr tail: Traceback: boom" {
			t.Errorf("failed run: %s %v", r.Status, r.Error)
		}

		// scripts/ is not in the default allow-list: invalid, and a run
		// fails permanently, both naming the setting.
		ops := f.scheduleFor(7, "ops", "script", "scripts.ops", `{"script_path": "scripts/ops.py"}`)
		err := f.eng.Validate(ops)
		if err == nil || !strings.Contains(err.Error(), `"scripts/ops.py" is not inside an allowed directory (SCRIPT_ALLOWED_DIRS=src/data,src/ml/pipeline,src/scheduler/scripts,src/screeners,src/strategy_pack; add its directory to SCRIPT_ALLOWED_DIRS`) {
			t.Errorf("scripts/ops.py validation: %v", err)
		}
		r = f.run(ops, 3)
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, "SCRIPT_ALLOWED_DIRS") {
			t.Errorf("scripts/ops.py run: %s %v (want failed at once, no retry)", r.Status, r.Error)
		}
	})
}

// TestScriptTimeoutDefaults checks the engine's limit of a script run:
// max(SCHEDULER_JOB_TIMEOUT, timeout_seconds + 60), timeout_seconds
// defaulting to 600; and that a script without timeout_seconds outlives a
// SCHEDULER_JOB_TIMEOUT shorter than it.
func TestScriptTimeoutDefaults(t *testing.T) {
	h := Handlers(Deps{JobTimeout: 300 * time.Second})
	to := func(jobType, target, params string) time.Duration {
		tr, ok := h[jobType].(engine.Timeouter)
		if !ok {
			t.Fatalf("%s handler is not an engine.Timeouter", jobType)
		}
		return tr.Timeout(&engine.Job{Schedule: store.Snapshot{JobType: jobType, Target: target, TaskParams: json.RawMessage(params)}})
	}
	for _, c := range []struct {
		jobType, target, params string
		want                    time.Duration
	}{
		{"script", "", `{"script_path": "src/data/x.py"}`, 660 * time.Second},
		{"data_processing", "", `{"script_path": "src/data/x.py", "timeout_seconds": 1000}`, 1060 * time.Second},
		{"script", "", `{"script_path": "src/data/x.py", "timeout_seconds": 30}`, 300 * time.Second},
		{"alert", "portfolio.pnl_alert", `{}`, 360 * time.Second},
		{"alert", "portfolio.management", `{"timeout_seconds": 900}`, 960 * time.Second},
		{"alert", "BTCUSDT", `{}`, 0}, // rule alerts: the engine's rule (ALERT_MAX_EVAL_TIME)
	} {
		if got := to(c.jobType, c.target, c.params); got != c.want {
			t.Errorf("%s %s %s: limit %s, want %s", c.jobType, c.target, c.params, got, c.want)
		}
	}

	// Through the engine: SCHEDULER_JOB_TIMEOUT 0.2 s does not cut a script
	// without timeout_seconds short.
	root := t.TempDir()
	writeRootFile(t, root, "src/data/slow.sh", "#!/bin/sh\nsleep 1\necho '__SCHEDULER_RESULT__: {\"done\": true}'\n", 0o755)
	cfg := scriptConfig(t, root, nil)
	db := storetest.SQLite(t)
	f := newFixture(t, db, func(d *Deps) { d.Script, d.JobTimeout = cfg, 200*time.Millisecond })
	f.eng = engine.New(db, f.h, engine.Options{NodeID: "test", Now: f.clk.now, Logger: quiet, JobTimeout: 200 * time.Millisecond})
	r := f.run(f.schedule("slow", "script", `{"script_path": "src/data/slow.sh"}`), 1)
	if r.Status != store.StatusCompleted {
		t.Fatalf("slow script: %s %v", r.Status, r.Error)
	}
}
