//go:build unix

package jobs

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// pipelineCLI stands in for src/portfolio/<name>/cli.py: it parses
// --config, writes its log to stderr, exits 2 when the config file is
// missing, prints a JSON summary with indent=2 (after a stray stdout log
// line) and exits 1 when the config says "errors".
const pipelineCLI = `import argparse, json, os, sys
p = argparse.ArgumentParser()
p.add_argument("--config", default="unused-default")
a = p.parse_args()
print("INFO starting", file=sys.stderr)
if not os.path.exists(a.config):
    print("ERROR Config error: config file not found: " + a.config, file=sys.stderr)
    sys.exit(2)
text = open(a.config).read()
print("2026-01-01 - INFO - {not json} loading positions")
summary = {"ran_at": "2026-01-01T00:00:00Z", "config": a.config, "argv": sys.argv[1:],
           "module": __spec__.name if __spec__ else None, "run_id": os.environ.get("SCHEDULER_RUN_ID"),
           "errors": [{"ticker": "X", "error": "no price"}] if "errors" in text else [],
           "notification_sent": "errors" not in text, "alert_row_count": 3}
print(json.dumps(summary, indent=2, sort_keys=True))
sys.exit(1 if summary["errors"] else 0)
`

// portfolioRoot writes both pipeline stand-ins and their default configs
// under a new project root.
func portfolioRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"pnl_alert", "management"} {
		writeRootFile(t, root, "src/portfolio/"+name+"/__init__.py", "", 0o644)
		writeRootFile(t, root, "src/portfolio/"+name+"/__main__.py", pipelineCLI, 0o644)
	}
	writeRootFile(t, root, "src/portfolio/__init__.py", "", 0o644)
	writeRootFile(t, root, "src/__init__.py", "", 0o644)
	writeRootFile(t, root, "src/portfolio/pnl_alert/config/pnl_alert.yaml", "threshold_pct: 0.15\n", 0o644)
	writeRootFile(t, root, "src/portfolio/management/config_data/management.yaml", "lookahead_days: 7\n", 0o644)
	writeRootFile(t, root, "config/with-errors.yaml", "errors\n", 0o644)
	return root
}

// TestPortfolioTargets runs alert schedules with portfolio.* targets
// through the engine: the pipeline module runs with --config (given or
// default) in the project root, its JSON summary becomes {"target",
// "summary"}, exit 1 fails with the summary kept, exit 2 fails
// permanently with the stderr tail.
func TestPortfolioTargets(t *testing.T) {
	python3 := needPython3(t)
	eachScriptDB(t, func(t *testing.T, db *store.DB) {
		root := portfolioRoot(t)
		marker := fakeVenv(t, root, python3)
		f := newFixture(t, db, func(d *Deps) { d.Script = scriptConfig(t, root, nil) })

		summary := func(r *store.Run) map[string]any {
			t.Helper()
			res := result(t, r)
			s, _ := res["summary"].(map[string]any)
			return s
		}
		pnl := f.scheduleFor(7, "portfolio_pnl_alert", "alert", "portfolio.pnl_alert", `{"config_path": "src/portfolio/pnl_alert/config/pnl_alert.yaml"}`)
		if err := f.eng.Validate(pnl); err != nil {
			t.Fatalf("a portfolio target is a valid alert schedule: %v", err)
		}
		r := f.run(pnl, 3)
		res := result(t, r)
		s := summary(r)
		if r.Status != store.StatusCompleted || res["target"] != "portfolio.pnl_alert" || s == nil {
			t.Fatalf("pnl_alert run: %s %s %s", r.Status, r.Error, r.Result)
		}
		if s["module"] != "src.portfolio.pnl_alert.__main__" || fmt.Sprint(s["argv"]) != "[--config src/portfolio/pnl_alert/config/pnl_alert.yaml]" ||
			s["run_id"] != fmt.Sprint(r.ID) || fmt.Sprint(s["alert_row_count"]) != "3" || s["notification_sent"] != true {
			t.Errorf("summary %v", s)
		}
		if b, err := os.ReadFile(marker); err != nil || !strings.Contains(string(b), "used") {
			t.Errorf("the virtualenv interpreter did not run the pipeline (%v)", err)
		}

		// No config_path: the pipeline's own default, relative to the root.
		mgmt := f.scheduleFor(7, "portfolio_management", "alert", " portfolio.management", `{}`)
		r = f.run(mgmt, 1)
		if s := summary(r); r.Status != store.StatusCompleted || result(t, r)["target"] != "portfolio.management" ||
			s["module"] != "src.portfolio.management.__main__" || s["config"] != "src/portfolio/management/config_data/management.yaml" {
			t.Errorf("management run: %s %s %s", r.Status, r.Error, r.Result)
		}

		// Exit 1 (the summary lists errors): failed, retried, summary kept.
		errs := f.scheduleFor(7, "pnl_errors", "alert", "portfolio.pnl_alert", `{"config_path": "config/with-errors.yaml"}`)
		r = f.run(errs, 2)
		if r.Status != store.StatusPending || !strings.Contains(r.Error, "portfolio.pnl_alert: python -m src.portfolio.pnl_alert exited with code 1") {
			t.Errorf("exit 1: %s %q (want a retry)", r.Status, r.Error)
		}
		if s := summary(r); s == nil || fmt.Sprint(s["errors"]) != "[map[error:no price ticker:X]]" {
			t.Errorf("exit 1 result %s", r.Result)
		}

		// Exit 2 (configuration error): failed at once, not retried, with
		// the stderr tail.
		bad := f.scheduleFor(7, "pnl_bad_config", "alert", "portfolio.pnl_alert", `{"config_path": "config/missing.yaml"}`)
		r = f.run(bad, 3)
		if r.Status != store.StatusFailed || !strings.Contains(r.Error, "portfolio.pnl_alert: configuration error (python -m src.portfolio.pnl_alert exited with code 2, config config/missing.yaml); stderr tail: INFO starting\nERROR Config error: config file not found: config/missing.yaml") {
			t.Errorf("exit 2: %s %q", r.Status, r.Error)
		}
		if res := result(t, r); res["target"] != "portfolio.pnl_alert" || fmt.Sprint(res["exit_code"]) != "2" || res["summary"] != nil {
			t.Errorf("exit 2 result %s", r.Result)
		}
	})
}

// TestPortfolioValidation checks the targets and task_params of portfolio
// runs as validation sees them (engine.Compile, as `scheduler validate`).
func TestPortfolioValidation(t *testing.T) {
	root := portfolioRoot(t)
	cfg := scriptConfig(t, root, nil)
	f := newFixture(t, storetest.SQLite(t), func(d *Deps) { d.Script = cfg })
	for _, c := range []struct{ target, params, want string }{
		{"portfolio.pnl_alert", `{"config_path": "x.yaml", "timeout_seconds": 60, "options": {"retry_count": 0}}`, ""},
		{"portfolio.management", `{}`, ""},
		{"portfolio.pnl", `{}`, `target: "portfolio.pnl" is not a portfolio pipeline; an alert schedule whose target starts with "portfolio." must name one of portfolio.management, portfolio.pnl_alert`},
		{"portfolio.pnl_alert", `{"config_path": 5}`, `task_params.config_path: want a string, got 5`},
		{"portfolio.pnl_alert", `{"config_path": ""}`, `task_params.config_path: empty`},
		{"portfolio.pnl_alert", `{"config_path": "--dry-run"}`, `task_params.config_path: "--dry-run" starts with "-"`},
		{"portfolio.pnl_alert", `{"timeout_seconds": 0}`, `task_params.timeout_seconds: want a whole number of seconds >= 1, got 0`},
		{"portfolio.pnl_alert", `[]`, `task_params: want a JSON object`},
		// A rule alert is still checked as one.
		{"BTCUSDT", `{"config_path": "x.yaml"}`, `ticker`},
	} {
		sc := &store.Schedule{ID: 1, UserID: 1, Name: "p", JobType: "alert", Target: c.target, TaskParams: json.RawMessage(c.params), Cron: "0 * * * *"}
		err := f.eng.Validate(sc)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s %s: %v", c.target, c.params, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s %s: error %v, want %q", c.target, c.params, err, c.want)
		}
	}
	// The pipeline's module must exist under SCRIPT_ROOT.
	must(t, os.RemoveAll(filepath.Join(root, "src/portfolio/management")))
	sc := &store.Schedule{ID: 2, UserID: 1, Name: "m", JobType: "alert", Target: "portfolio.management", TaskParams: json.RawMessage(`{}`), Cron: "0 * * * *"}
	if err := f.eng.Validate(sc); err == nil || !strings.Contains(err.Error(), "module src.portfolio.management not found under SCRIPT_ROOT") {
		t.Errorf("missing module: %v", err)
	}
}

func TestLastJSONObject(t *testing.T) {
	for _, c := range []struct{ stdout, want string }{
		{"{\n  \"a\": 1\n}\n", `{"a":1}`},
		{`{"a": 1}`, `{"a":1}`},
		{"log {x} line\n2026 INFO {\"b\": 2}\n{\n  \"a\": {\n    \"n\": [\n      {\"k\": 1},\n      {\n        \"k\": 2\n      }\n    ]\n  }\n}\n\n", `{"a":{"n":[{"k":1},{"k":2}]}}`},
		{"{\"first\": 1}\n{\"second\": 2}\n", `{"second":2}`},
		{"{\"a\": 1}\ntrailing log line\n", ""},
		{"", ""},
		{"[1, 2]\n", ""},
	} {
		m, err := lastJSONObject(c.stdout)
		got := ""
		if err == nil {
			b, _ := json.Marshal(m)
			got = string(b)
		}
		if got != c.want {
			t.Errorf("%q: got %s (%v), want %s", c.stdout, got, err, c.want)
		}
	}
}
