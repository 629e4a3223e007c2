package script

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParseParamsFull(t *testing.T) {
	cfg := testRoot(t)
	cfg.Python, _ = os.Executable()                                // any existing program: ParseParams only looks it up
	writeFile(t, cfg.Root, "src/data/vix.py", "print(1)\n", 0o644) // .py need not be executable
	raw := `{"script_path": "src/data/vix.py", "script_args": ["--days", "5"], "timeout_seconds": 600,
	  "notification_rules": {"conditions": [
	     {"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["email"]},
	     {"on": "failure", "channel": "telegram"}]},
	  "description": "kept for compatibility"}`
	p, err := ParseParams([]byte(raw), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.ScriptPath != "src/data/vix.py" || !slices.Equal(p.Args, []string{"--days", "5"}) || p.TimeoutSeconds != 600 {
		t.Errorf("got %+v", p)
	}
	if len(p.Rules.Conditions) != 2 || p.Rules.Conditions[0].Threshold != 20.0 || p.Rules.Conditions[1].Channels[0] != "telegram" {
		t.Errorf("rules = %+v", p.Rules)
	}
	if !slices.Equal(p.UnknownFields, []string{"description"}) {
		t.Errorf("UnknownFields = %q", p.UnknownFields)
	}
}

func TestParseParamsMinimalAndNulls(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "scripts/run.sh", "#!/bin/sh\n")
	p, err := ParseParams([]byte(`{"script_path":"scripts/run.sh","script_args":null,"timeout_seconds":null,"notification_rules":null}`), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.Args != nil || p.TimeoutSeconds != DefaultTimeoutSeconds || len(p.Rules.Conditions) != 0 || p.UserIDArg || p.PassUserID != nil {
		t.Errorf("got %+v", p)
	}
}

func TestParseParamsSymlinkInsideAllowed(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "scripts/real.sh", "#!/bin/sh\n")
	if err := os.Symlink("../scripts/real.sh", filepath.Join(cfg.Root, "src", "link.sh")); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseParams([]byte(`{"script_path":"src/link.sh"}`), cfg); err != nil {
		t.Errorf("symlink to another allowed directory rejected: %v", err)
	}
	// The root itself reached through a symbolic link works too.
	alias := filepath.Join(t.TempDir(), "alias")
	if err := os.Symlink(cfg.Root, alias); err != nil {
		t.Fatal(err)
	}
	cfg.Root = alias
	if _, err := ParseParams([]byte(`{"script_path":"scripts/real.sh"}`), cfg); err != nil {
		t.Errorf("root behind a symlink: %v", err)
	}
}

func TestParseParamsRejects(t *testing.T) {
	cfg := testRoot(t)
	outside := t.TempDir()
	writeScript(t, outside, "evil.sh", "#!/bin/sh\n")
	writeScript(t, cfg.Root, "other/tool.sh", "#!/bin/sh\n")
	writeScript(t, cfg.Root, "src/ok.sh", "#!/bin/sh\n")
	writeFile(t, cfg.Root, "src/plain.sh", "#!/bin/sh\n", 0o644)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.Symlink(filepath.Join(outside, "evil.sh"), filepath.Join(cfg.Root, "src", "escape.sh")))
	must(os.Symlink("../other/tool.sh", filepath.Join(cfg.Root, "src", "sideways.sh")))
	must(os.Symlink(outside, filepath.Join(cfg.Root, "src", "outdir")))
	must(os.Mkdir(filepath.Join(cfg.Root, "src", "dir"), 0o755))

	tests := []struct {
		raw  string
		want string
	}{
		{`[]`, "task_params: want a JSON object"},
		{`null`, "task_params: want a JSON object"},
		{`{}`, "task_params.script_path: missing"},
		{`{"script_path": 5}`, "task_params.script_path: want a string, got 5"},
		{`{"script_path": ""}`, "task_params.script_path: empty"},
		{`{"script_path": "../etc/passwd"}`, `task_params.script_path: "../etc/passwd" resolves outside SCRIPT_ROOT`},
		{`{"script_path": "src/../../x.sh"}`, `"src/../../x.sh" resolves outside SCRIPT_ROOT`},
		{`{"script_path": "/bin/sh"}`, `"/bin/sh" must be relative to SCRIPT_ROOT`},
		{`{"script_path": "src/escape.sh"}`, `"src/escape.sh" resolves outside SCRIPT_ROOT`},
		{`{"script_path": "src/outdir/evil.sh"}`, `"src/outdir/evil.sh" resolves outside SCRIPT_ROOT`},
		{`{"script_path": "src/sideways.sh"}`, `"src/sideways.sh" is not inside an allowed directory (SCRIPT_ALLOWED_DIRS=src,scripts; add its directory to SCRIPT_ALLOWED_DIRS to allow it)`},
		{`{"script_path": "other/tool.sh"}`, `"other/tool.sh" is not inside an allowed directory`},
		{`{"script_path": "src/nope.py"}`, `"src/nope.py" does not exist`},
		{`{"script_path": "src/dir"}`, `"src/dir" is not a regular file`},
		{`{"script_path": "src/plain.sh"}`, `"src/plain.sh" is not executable`},
		{`{"script_path": "src/ok.sh\u0000"}`, `contains a NUL byte`},
		{`{"script_path": "src/ok.sh", "script_args": "x"}`, `task_params.script_args: want a list of strings, got "x"`},
		{`{"script_path": "src/ok.sh", "script_args": ["a", 3]}`, `task_params.script_args[1]: want a string, got 3`},
		{`{"script_path": "src/ok.sh", "script_args": ["a", null]}`, `task_params.script_args[1]: want a string, got null`},
		{`{"script_path": "src/ok.sh", "script_args": ["a\u0000b"]}`, `task_params.script_args[0]: "a\x00b" contains a NUL byte`},
		{`{"script_path": "src/ok.sh", "timeout_seconds": 0}`, `task_params.timeout_seconds: want a whole number of seconds >= 1, got 0`},
		{`{"script_path": "src/ok.sh", "timeout_seconds": -5}`, `got -5`},
		{`{"script_path": "src/ok.sh", "timeout_seconds": 1.5}`, `got 1.5`},
		{`{"script_path": "src/ok.sh", "timeout_seconds": "600"}`, `task_params.timeout_seconds: want a number of seconds, got "600"`},
		{`{"script_path": "src/ok.sh", "pass_user_id": "yes"}`, `task_params.pass_user_id: want true or false, got "yes"`},
		{`{"script_path": "src/ok.sh", "pass_user_id": 1}`, `task_params.pass_user_id: want true or false, got 1`},
		{`{"script_path": "src/ok.sh", "notification_rules": {"conditions": [{"on": "sometimes", "channel": "email"}]}}`,
			`task_params.notification_rules.conditions[0].on: "sometimes" is not one of success, failure, always`},
	}
	for _, tt := range tests {
		_, err := ParseParams([]byte(tt.raw), cfg)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseParams(%s)\n  error = %v\n  want it to contain %q", tt.raw, err, tt.want)
		}
	}
}

func TestParseParamsPythonMissing(t *testing.T) {
	cfg := testRoot(t)
	cfg.Python = filepath.Join(cfg.Root, "no-python")
	writeFile(t, cfg.Root, "src/x.py", "", 0o644)
	_, err := ParseParams([]byte(`{"script_path":"src/x.py"}`), cfg)
	if err == nil || !strings.Contains(err.Error(), `task_params.script_path: "src/x.py" needs SCRIPT_PYTHON "`+cfg.Python+`"`) {
		t.Errorf("error = %v", err)
	}
}

func TestParseParamsMissingAllowedDirAllowsNothing(t *testing.T) {
	cfg := testRoot(t)
	cfg.AllowedDirs = []string{"absent"}
	writeScript(t, cfg.Root, "src/ok.sh", "#!/bin/sh\n")
	_, err := ParseParams([]byte(`{"script_path":"src/ok.sh"}`), cfg)
	if err == nil || !strings.Contains(err.Error(), "not inside an allowed directory") {
		t.Errorf("error = %v", err)
	}
	cfg.AllowedDirs = []string{"."}
	if _, err := ParseParams([]byte(`{"script_path":"src/ok.sh"}`), cfg); err != nil {
		t.Errorf(`AllowedDirs ["."]: %v`, err)
	}
}
