//go:build unix

package script

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunModule(t *testing.T) {
	cfg := testRoot(t)
	py := filepath.Join(cfg.Root, "fakepy")
	// A "python" that prints its argv and a summary, and exits with the
	// code named by the file given to --config.
	writeScript(t, cfg.Root, "fakepy", `#!/bin/sh
echo "argv: $*"
echo "run: $SCHEDULER_RUN_ID"
printf '{\n  "ok": true\n}\n'
echo "to stderr" >&2
exit "$(cat "$4")"
`)
	cfg.Python = py
	writeFile(t, cfg.Root, "src/portfolio/pnl_alert/__main__.py", "", 0o644)
	writeFile(t, cfg.Root, "zero", "0", 0o644)
	writeFile(t, cfg.Root, "two", "2", 0o644)

	res, out, err := RunModule(context.Background(), cfg, Module{Name: "src.portfolio.pnl_alert", Args: []string{"--config", "zero"}}, RunInfo{RunID: 9, ScheduleID: "1", UserID: 5})
	if err != nil || !res.Success || out != "argv: -m src.portfolio.pnl_alert --config zero\nrun: 9\n{\n  \"ok\": true\n}\n" {
		t.Fatalf("RunModule: %v %+v stdout %q", err, res, out)
	}
	_, _, err = RunModule(context.Background(), cfg, Module{Name: "src.portfolio.pnl_alert", Args: []string{"--config", "two"}}, RunInfo{})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 2 || ee.Tail(500) != "to stderr" {
		t.Errorf("exit 2: %v", err)
	}

	for name, want := range map[string]string{
		"src.portfolio.management": "module src.portfolio.management not found under SCRIPT_ROOT",
		"src/portfolio":            `module "src/portfolio" is not a dotted Python module name`,
		"src..x":                   "is not a dotted Python module name",
		"escape":                   "resolves outside SCRIPT_ROOT",
	} {
		if name == "escape" {
			if err := os.Symlink(t.TempDir(), filepath.Join(cfg.Root, "escape")); err != nil {
				t.Fatal(err)
			}
			writeFile(t, filepath.Join(cfg.Root, "escape"), "__main__.py", "", 0o644)
		}
		if err := CheckModule(cfg, name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckModule(%q) = %v, want %q", name, err, want)
		}
		if res, _, err := RunModule(context.Background(), cfg, Module{Name: name}, RunInfo{}); err == nil || res.ExitCode != -1 {
			t.Errorf("RunModule(%q) ran: %v", name, err)
		}
	}
}
