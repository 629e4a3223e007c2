package script

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnvDefaults(t *testing.T) {
	cfg, err := ConfigFromEnv(envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if cfg.Root != wd {
		t.Errorf("Root = %q, want current directory %q", cfg.Root, wd)
	}
	// Exactly the old service's five directories.
	if !slices.Equal(cfg.AllowedDirs, []string{"src/data", "src/ml/pipeline", "src/scheduler/scripts", "src/screeners", "src/strategy_pack"}) {
		t.Errorf("AllowedDirs = %q", cfg.AllowedDirs)
	}
	if cfg.Python != "python3" || !strings.HasPrefix(cfg.PythonSource, "default: SCRIPT_PYTHON unset and no .venv/bin/python or venv/bin/python under SCRIPT_ROOT") ||
		cfg.KillGrace != 5*time.Second {
		t.Errorf("Python = %q (%s), KillGrace = %s", cfg.Python, cfg.PythonSource, cfg.KillGrace)
	}
	if cfg.UserIDScripts != nil || !cfg.userIDScript("src/strategy_pack/run.py") || cfg.userIDScript("src/data/vix.py") {
		t.Errorf("UserIDScripts = %q", cfg.UserIDScripts)
	}
}

// TestConfigFromEnvVirtualenv checks the interpreter choice: SCRIPT_PYTHON,
// else .venv/bin/python, else venv/bin/python under the root (executable
// files only), else python3.
func TestConfigFromEnvVirtualenv(t *testing.T) {
	root := t.TempDir()
	py := func(env map[string]string) Config {
		t.Helper()
		env[EnvRoot] = root
		cfg, err := ConfigFromEnv(envMap(env))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	if cfg := py(map[string]string{}); cfg.Python != "python3" {
		t.Errorf("no virtualenv: Python = %q", cfg.Python)
	}
	writeFile(t, root, "venv/bin/python", "not executable", 0o644)
	if cfg := py(map[string]string{}); cfg.Python != "python3" {
		t.Errorf("non-executable venv/bin/python: Python = %q", cfg.Python)
	}
	writeFile(t, root, "venv/bin/python", "#!/bin/sh\n", 0o755)
	if cfg := py(map[string]string{}); cfg.Python != filepath.Join(root, "venv/bin/python") || !strings.Contains(cfg.PythonSource, "virtualenv") {
		t.Errorf("venv: Python = %q (%s)", cfg.Python, cfg.PythonSource)
	}
	writeFile(t, root, ".venv/bin/python", "#!/bin/sh\n", 0o755)
	if cfg := py(map[string]string{}); cfg.Python != filepath.Join(root, ".venv/bin/python") {
		t.Errorf(".venv first: Python = %q", cfg.Python)
	}
	if cfg := py(map[string]string{EnvPython: "/usr/bin/python3"}); cfg.Python != "/usr/bin/python3" || cfg.PythonSource != EnvPython {
		t.Errorf("SCRIPT_PYTHON wins: Python = %q (%s)", cfg.Python, cfg.PythonSource)
	}
	// A hand-built Config without Python gets the same choice.
	c, err := Config{Root: root, AllowedDirs: []string{"src"}}.check()
	if err != nil || c.Python != filepath.Join(root, ".venv/bin/python") {
		t.Errorf("check: Python = %q, %v", c.Python, err)
	}
}

func TestConfigFromEnvUserIDScripts(t *testing.T) {
	root := t.TempDir()
	cfg, err := ConfigFromEnv(envMap(map[string]string{EnvRoot: root, EnvUserIDScripts: " src/a.py, ./src/b/../c.py ,"}))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.UserIDScripts, []string{"src/a.py", "src/c.py"}) || cfg.userIDScript(DefaultUserIDScripts[0]) {
		t.Errorf("UserIDScripts = %q", cfg.UserIDScripts)
	}
	cfg, err = ConfigFromEnv(envMap(map[string]string{EnvRoot: root, EnvUserIDScripts: "none"}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UserIDScripts == nil || len(cfg.UserIDScripts) != 0 || cfg.userIDScript(DefaultUserIDScripts[0]) {
		t.Errorf("none: UserIDScripts = %q", cfg.UserIDScripts)
	}
	for _, bad := range []string{"/abs/x.py", "../x.py", ","} {
		_, err := ConfigFromEnv(envMap(map[string]string{EnvRoot: root, EnvUserIDScripts: bad}))
		if err == nil || !strings.Contains(err.Error(), EnvUserIDScripts+"=") {
			t.Errorf("%q: error = %v", bad, err)
		}
	}
}

func TestConfigFromEnvValues(t *testing.T) {
	root := t.TempDir()
	cfg, err := ConfigFromEnv(envMap(map[string]string{
		EnvRoot:        root,
		EnvAllowedDirs: " jobs/etl , ./tools/,",
		EnvPython:      "/opt/venv/bin/python",
		EnvKillGrace:   "2",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Root != root || cfg.Python != "/opt/venv/bin/python" || cfg.KillGrace != 2*time.Second {
		t.Errorf("got %+v", cfg)
	}
	if !slices.Equal(cfg.AllowedDirs, []string{filepath.Join("jobs", "etl"), "tools"}) {
		t.Errorf("AllowedDirs = %q", cfg.AllowedDirs)
	}
	cfg, err = ConfigFromEnv(envMap(map[string]string{EnvRoot: root, EnvKillGrace: "250ms", EnvAllowedDirs: "."}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KillGrace != 250*time.Millisecond || !slices.Equal(cfg.AllowedDirs, []string{"."}) {
		t.Errorf("got %+v", cfg)
	}
}

func TestConfigFromEnvErrors(t *testing.T) {
	root := t.TempDir()
	file := filepath.Join(root, "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{EnvRoot: filepath.Join(root, "missing")}, `SCRIPT_ROOT="` + filepath.Join(root, "missing") + `"`},
		{map[string]string{EnvRoot: file}, "not a directory"},
		{map[string]string{EnvRoot: root, EnvAllowedDirs: "src,../etc"}, `SCRIPT_ALLOWED_DIRS="src,../etc": directory "../etc" leaves SCRIPT_ROOT`},
		{map[string]string{EnvRoot: root, EnvAllowedDirs: "/usr/bin"}, `directory "/usr/bin" must be relative`},
		{map[string]string{EnvRoot: root, EnvAllowedDirs: " , "}, `SCRIPT_ALLOWED_DIRS=" , ": no directory listed`},
		{map[string]string{EnvRoot: root, EnvKillGrace: "soon"}, `SCRIPT_KILL_GRACE="soon"`},
		{map[string]string{EnvRoot: root, EnvKillGrace: "-1s"}, "must not be negative"},
		{map[string]string{EnvRoot: root, EnvKillGrace: "2h"}, "at most"},
		{map[string]string{EnvRoot: root, EnvPython: "  "}, `SCRIPT_PYTHON="  "`},
	}
	for _, tt := range tests {
		_, err := ConfigFromEnv(envMap(tt.env))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ConfigFromEnv(%v) error = %v, want it to contain %q", tt.env, err, tt.want)
		}
	}
}

func TestConfigCheckRejectsHandBuiltNonsense(t *testing.T) {
	root := t.TempDir()
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{}, "Root (SCRIPT_ROOT) is empty"},
		{Config{Root: root}, "AllowedDirs (SCRIPT_ALLOWED_DIRS) is empty"},
		{Config{Root: root, AllowedDirs: []string{".."}}, "AllowedDirs[0]"},
		{Config{Root: root, AllowedDirs: []string{"."}, KillGrace: -1}, "KillGrace"},
		{Config{Root: root, AllowedDirs: []string{"."}, Env: []string{"NOEQUALS"}}, `Env[0] "NOEQUALS"`},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("check(%+v) = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
