//go:build unix

package script

import (
	"context"
	"strings"
	"testing"
)

// argsScript prints its arguments one per line between < and >.
const argsScript = "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\n"

// TestUserIDArgument checks which scripts get "--user-id N": the seven of
// DefaultUserIDScripts, any script with pass_user_id true, none with
// pass_user_id false; and that it follows script_args.
func TestUserIDArgument(t *testing.T) {
	cfg := testRoot(t)
	cfg.AllowedDirs = []string{"src"}
	writeScript(t, cfg.Root, "src/strategy_pack/run.py.sh", argsScript) // not the listed path
	writeScript(t, cfg.Root, "src/data/vix.sh", argsScript)
	// A listed path: a .py file run through a "python" that is sh.
	writeFile(t, cfg.Root, "src/strategy_pack/run.py", argsScript, 0o644)
	cfg.Python = "sh"
	tests := []struct {
		raw  string
		want string
	}{
		{`{"script_path": "src/strategy_pack/run.py", "script_args": ["--dry"]}`, "<--dry>\n<--user-id>\n<42>\n"},
		{`{"script_path": "src/strategy_pack/./run.py"}`, "<--user-id>\n<42>\n"},
		{`{"script_path": "src/strategy_pack/run.py", "pass_user_id": false}`, ""},
		{`{"script_path": "src/data/vix.sh"}`, ""},
		{`{"script_path": "src/data/vix.sh", "pass_user_id": true}`, "<--user-id>\n<42>\n"},
		{`{"script_path": "src/strategy_pack/run.py.sh"}`, ""},
	}
	for _, tt := range tests {
		p, err := ParseParams([]byte(tt.raw), cfg)
		if err != nil {
			t.Fatalf("%s: %v", tt.raw, err)
		}
		res, err := RunWith(context.Background(), cfg, p, RunInfo{RunID: 7, ScheduleID: "3", UserID: 42})
		if err != nil {
			t.Fatalf("%s: %v", tt.raw, err)
		}
		if res.StdoutPreview != tt.want {
			t.Errorf("%s: arguments\n%s\nwant\n%s", tt.raw, res.StdoutPreview, tt.want)
		}
	}
	// No user id known (0): nothing appended, as in the old service.
	p, err := ParseParams([]byte(`{"script_path": "src/data/vix.sh", "pass_user_id": true}`), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := RunWith(context.Background(), cfg, p, RunInfo{}); err != nil || res.StdoutPreview != "" {
		t.Errorf("user id 0: %q, %v", res.StdoutPreview, err)
	}
	// SCRIPT_USER_ID_SCRIPTS replaces the list.
	cfg.UserIDScripts = []string{"src/data/vix.sh"}
	for raw, want := range map[string]bool{`{"script_path": "src/data/vix.sh"}`: true, `{"script_path": "src/strategy_pack/run.py"}`: false} {
		p, err := ParseParams([]byte(raw), cfg)
		if err != nil || p.UserIDArg != want {
			t.Errorf("UserIDScripts %q: %s: UserIDArg = %v, %v", cfg.UserIDScripts, raw, p.UserIDArg, err)
		}
	}
}

// TestDefaultAllowList checks that with SCRIPT_ALLOWED_DIRS unset a script
// under scripts/ (allowed before) is refused with an error naming the
// setting, and one under src/data is accepted.
func TestDefaultAllowList(t *testing.T) {
	root := t.TempDir()
	writeScript(t, root, "scripts/ops.sh", "#!/bin/sh\n")
	writeScript(t, root, "src/data/ok.sh", "#!/bin/sh\n")
	writeScript(t, root, "src/portfolio/x.sh", "#!/bin/sh\n")
	cfg, err := ConfigFromEnv(envMap(map[string]string{EnvRoot: root}))
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range []string{"scripts/ops.sh", "src/portfolio/x.sh"} {
		_, err = ParseParams([]byte(`{"script_path": "`+sp+`"}`), cfg)
		if err == nil || !strings.Contains(err.Error(), `task_params.script_path: "`+sp+`" is not inside an allowed directory (SCRIPT_ALLOWED_DIRS=src/data,src/ml/pipeline,src/scheduler/scripts,src/screeners,src/strategy_pack; add its directory to SCRIPT_ALLOWED_DIRS`) {
			t.Errorf("%s: error = %v", sp, err)
		}
	}
	if _, err := ParseParams([]byte(`{"script_path": "src/data/ok.sh"}`), cfg); err != nil {
		t.Error(err)
	}
}
