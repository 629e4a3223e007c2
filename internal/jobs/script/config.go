// Package script runs pipeline-script jobs (job_type "data_processing" or
// "script"): it validates their task_params, runs the script without a shell
// inside a confined project root, and turns its output into a run result.
// It also runs the framework's Python pipelines as modules ([RunModule]).
//
// # Confinement
//
// task_params.script_path is relative to [Config.Root] (SCRIPT_ROOT). After
// all symbolic links are resolved it must lie inside the root and inside one
// of [Config.AllowedDirs] (SCRIPT_ALLOWED_DIRS). The check is repeated by
// [Run] just before the script starts, so a file swapped after validation is
// caught, and the resolved path is what gets executed.
//
// # Interpreter
//
// A script whose resolved file name ends in ".py" runs as cfg.Python with
// the script's absolute path as first argument. cfg.Python is SCRIPT_PYTHON
// when set, else the project's virtualenv under the root
// (".venv/bin/python", then "venv/bin/python"), else "python3" from PATH
// (see [FindPython]); the old service ran scripts with its own
// interpreter, which was the project's virtualenv. Any other file (".sh" included)
// is executed directly and must therefore be executable and start with a
// shebang line; no shell is ever involved, arguments are passed as argv.
// The working directory is the root.
//
// # Environment
//
// The script inherits only what it needs of the scheduler's environment
// (PATH, HOME, USER, LOGNAME, LANG, LANGUAGE, LC_*, TZ, TMPDIR, PYTHON*,
// VIRTUAL_ENV) and what [Config.Passthrough] (SCRIPT_ENV_PASSTHROUGH)
// names: the scheduler's own secrets (DATABASE_URL, API_TOKEN,
// TELEGRAM_BOT_TOKEN, SMTP_PASSWORD, …) never reach a script unless named
// there. The old service passed its whole environment. Then [Config.Env] is
// applied on top (later entries win). Python scripts also get
// PYTHONUNBUFFERED=1 unless the environment sets it, so their output up to a
// timeout is not lost in a buffer. task_params cannot set environment
// variables: variables such as LD_PRELOAD or PYTHONPATH would let whoever
// writes a schedule run code outside the allow-list. [RunWith] adds the
// run's identity last: SCHEDULER_RUN_ID, SCHEDULER_SCHEDULE_ID,
// SCHEDULER_SCHEDULED_FOR and SCHEDULER_ATTEMPT (see [RunInfo]).
//
// # Processes
//
// Each script runs in its own process group. When the script's main process
// exits, whatever it left running in that group is killed with SIGKILL; a
// script that must leave a daemon behind has to detach it (setsid). On
// timeout or cancellation the whole group gets SIGTERM, and SIGKILL after
// [Config.KillGrace]. Process groups are a Unix facility: on other systems
// [Run] returns an error.
//
// A process that left the group (setsid) is out of reach of these kills;
// only a cgroup reaches it (systemd kills the service's whole cgroup when
// the scheduler is gone, see deploy/scheduler.service).
//
// # Fencing after a crash
//
// On Linux the script's main process gets the parent-death signal SIGKILL:
// when the scheduler process dies, even by SIGKILL, the kernel kills it.
// (The signal follows the thread that forked the script, so that thread
// stays locked to the goroutine that started the script until the script is
// reaped.) The rest of its process group survives the scheduler; to find it
// again, [RunInfo.OnStart] reports a [Process] (host, boot id, process
// group) for the caller to record with the run, and [KillLeftover] kills
// that group before the run is retried, after checking that a member still
// carries the run's SCHEDULER_RUN_ID (process ids are reused).
//
// # Arguments
//
// The arguments are task_params.script_args, then "--user-id N" (N the
// schedule's user_id) for the scripts that declare that option: those
// listed in [Config.UserIDScripts] (SCRIPT_USER_ID_SCRIPTS, default
// [DefaultUserIDScripts], the seven the old service knew), or any script
// whose task_params.pass_user_id is true (false opts a listed one out).
//
// # Result line
//
// A script reports structured results by printing a line
//
//	__SCHEDULER_RESULT__: {"vix_current": 21.3}
//
// As in the old service the first such line whose JSON parses wins; its
// object becomes [Result.ScriptResult]. When no result line parses, the
// last malformed one gives ScriptResult {"parse_error": "...", "raw":
// "<first 200 characters>"} (logged, the run does not fail). Without a
// result line ScriptResult is {}.
package script

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Environment variable names read by [ConfigFromEnv].
const (
	EnvRoot          = "SCRIPT_ROOT"
	EnvAllowedDirs   = "SCRIPT_ALLOWED_DIRS"
	EnvPython        = "SCRIPT_PYTHON"
	EnvKillGrace     = "SCRIPT_KILL_GRACE"
	EnvUserIDScripts = "SCRIPT_USER_ID_SCRIPTS"
)

// Defaults used by [ConfigFromEnv] when a variable is unset or empty.
const (
	// DefaultAllowedDirs is the allow-list when SCRIPT_ALLOWED_DIRS is
	// unset: exactly the five directories the old service allowed
	// (src/scheduler/scheduler_service.py, _ALLOWED_SCRIPT_DIRS).
	DefaultAllowedDirs = "src/data,src/ml/pipeline,src/scheduler/scripts,src/screeners,src/strategy_pack"
	// DefaultPython is the interpreter for ".py" scripts when SCRIPT_PYTHON
	// is unset and the root has no virtualenv.
	DefaultPython = "python3"
	// DefaultTimeoutSeconds is a script's timeout when its task_params has
	// no timeout_seconds (the old service's default).
	DefaultTimeoutSeconds = 600
	// UserIDNone is the SCRIPT_USER_ID_SCRIPTS value that appends
	// --user-id to no script (unless its task_params.pass_user_id is true).
	UserIDNone = "none"
	// DefaultKillGrace is the time between SIGTERM and SIGKILL on timeout.
	DefaultKillGrace = 5 * time.Second
	// MaxKillGrace bounds SCRIPT_KILL_GRACE so a typo cannot keep a timed-out
	// script alive for hours.
	MaxKillGrace = 5 * time.Minute
)

// DefaultUserIDScripts are the scripts that get "--user-id N" when
// SCRIPT_USER_ID_SCRIPTS is unset: the seven whose argparse declares the
// option in the framework (the old service's _SCRIPTS_ACCEPTING_USER_ID);
// any other script would exit 2 on the unknown option.
var DefaultUserIDScripts = []string{
	"src/ml/pipeline/p05_ai_selector/run_p05_scan.py",
	"src/ml/pipeline/p06_emps2/run_emps2_scan.py",
	"src/ml/pipeline/p10_emps3/run_emps3_scan.py",
	"src/ml/pipeline/p17_penny_stocks/run_p17.py",
	"src/ml/pipeline/p18_institutional_flow_tracker/run_p18_scan.py",
	"src/ml/pipeline/p19_penny_intraday/run_p19.py",
	"src/strategy_pack/run.py",
}

// venvPythons are the virtualenv interpreters looked for under the root,
// in order, when SCRIPT_PYTHON is unset.
var venvPythons = []string{".venv/bin/python", "venv/bin/python"}

// Config is the operator's configuration for script jobs. Build it with
// [ConfigFromEnv] or by hand; [ParseParams] and [Run] check it and return
// an error naming the bad field.
type Config struct {
	// Root is the project root (SCRIPT_ROOT): the working directory of every
	// script and the base of task_params.script_path. Default: the current
	// directory. A relative Root is taken relative to the current directory.
	Root string
	// AllowedDirs are directories relative to Root (SCRIPT_ALLOWED_DIRS,
	// comma-separated, default [DefaultAllowedDirs]) under which scripts
	// may live. "." allows the whole root.
	AllowedDirs []string
	// Python is the interpreter for ".py" scripts and modules: a path, or
	// a name looked up in PATH when the script runs. It is one program
	// name, not a command line. Empty means [FindPython] on Root.
	Python string
	// PythonSource says why Python was chosen ("SCRIPT_PYTHON", "the
	// virtualenv under SCRIPT_ROOT", "default: ..."), for the start log.
	PythonSource string
	// UserIDScripts are script paths relative to Root that get "--user-id
	// N" appended (SCRIPT_USER_ID_SCRIPTS). nil means
	// [DefaultUserIDScripts]; an empty non-nil list means none.
	UserIDScripts []string
	// Passthrough names further variables of the scheduler's environment
	// that scripts receive (SCRIPT_ENV_PASSTHROUGH; a trailing "*" is a
	// prefix). By default they get only PATH, HOME, USER, LOGNAME, LANG,
	// LANGUAGE, LC_*, TZ, TMPDIR, PYTHON* and VIRTUAL_ENV.
	Passthrough []string
	// Env holds extra "KEY=value" entries added to the inherited environment
	// of every script; they override inherited values.
	Env []string
	// KillGrace is the time between SIGTERM and SIGKILL to the process group
	// when a script times out or is cancelled (SCRIPT_KILL_GRACE, default
	// 5s). Zero sends SIGKILL at once.
	KillGrace time.Duration
	// Logger receives warnings (malformed result line) and debug records;
	// nil means slog.Default().
	Logger *slog.Logger
}

// ConfigFromEnv reads SCRIPT_ROOT, SCRIPT_ALLOWED_DIRS, SCRIPT_PYTHON,
// SCRIPT_KILL_GRACE and SCRIPT_USER_ID_SCRIPTS through getenv (typically
// os.Getenv). An unset or empty variable takes its default (see the
// [Config] fields). SCRIPT_KILL_GRACE accepts a Go duration ("2s",
// "500ms") or a number of seconds ("5"). SCRIPT_USER_ID_SCRIPTS is a
// comma-separated list of script paths relative to the root, or "none".
// An invalid value gives an error naming the variable and the value.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{KillGrace: DefaultKillGrace}

	root := strings.TrimSpace(getenv(EnvRoot))
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return Config{}, fmt.Errorf("%s unset and current directory unknown: %w", EnvRoot, err)
		}
		root = wd
	}
	abs, err := checkRoot(root)
	if err != nil {
		return Config{}, fmt.Errorf("%s=%q: %w", EnvRoot, root, err)
	}
	cfg.Root = abs

	dirs := getenv(EnvAllowedDirs)
	if strings.TrimSpace(dirs) == "" {
		dirs = DefaultAllowedDirs
	}
	cfg.AllowedDirs, err = parseAllowedDirs(dirs)
	if err != nil {
		return Config{}, fmt.Errorf("%s=%q: %w", EnvAllowedDirs, dirs, err)
	}

	if py := getenv(EnvPython); py != "" {
		if strings.TrimSpace(py) == "" || strings.ContainsRune(py, 0) {
			return Config{}, fmt.Errorf("%s=%q: not a program name", EnvPython, py)
		}
		cfg.Python, cfg.PythonSource = py, EnvPython
	} else {
		cfg.Python, cfg.PythonSource = FindPython(cfg.Root)
	}

	if s := strings.TrimSpace(getenv(EnvPassthrough)); s != "" {
		if cfg.Passthrough, err = parsePassthrough(s); err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", EnvPassthrough, s, err)
		}
	}
	if s := strings.TrimSpace(getenv(EnvUserIDScripts)); s != "" {
		cfg.UserIDScripts, err = parseUserIDScripts(s)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", EnvUserIDScripts, s, err)
		}
	}

	if g := strings.TrimSpace(getenv(EnvKillGrace)); g != "" {
		cfg.KillGrace, err = parseGrace(g)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", EnvKillGrace, g, err)
		}
	}
	return cfg, nil
}

// FindPython chooses the interpreter when SCRIPT_PYTHON is unset: the
// project's virtualenv under root (".venv/bin/python", then
// "venv/bin/python", the first that is an executable file; the path is
// kept as it is, not resolved, so that Python finds its virtualenv), else
// [DefaultPython] from PATH. It returns the interpreter and why it was
// chosen.
func FindPython(root string) (python, why string) {
	if root != "" {
		for _, rel := range venvPythons {
			p := filepath.Join(root, rel)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
				return p, fmt.Sprintf("the virtualenv under %s (%s unset)", EnvRoot, EnvPython)
			}
		}
	}
	return DefaultPython, fmt.Sprintf("default: %s unset and no %s under %s %s", EnvPython,
		strings.Join(venvPythons, " or "), EnvRoot, root)
}

// parseUserIDScripts parses SCRIPT_USER_ID_SCRIPTS: script paths relative
// to the root, comma-separated, or "none" (an empty, non-nil list).
func parseUserIDScripts(s string) ([]string, error) {
	out := []string{}
	if strings.EqualFold(s, UserIDNone) {
		return out, nil
	}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := cleanScriptPath(item)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no script listed (%q lists none)", UserIDNone)
	}
	return out, nil
}

// cleanScriptPath checks that p is a relative path inside the root and
// returns it cleaned, with forward slashes.
func cleanScriptPath(p string) (string, error) {
	if strings.ContainsRune(p, 0) {
		return "", fmt.Errorf("script %q contains a NUL byte", p)
	}
	if filepath.IsAbs(p) {
		return "", fmt.Errorf("script %q must be relative to %s", p, EnvRoot)
	}
	c := filepath.Clean(p)
	if !filepath.IsLocal(c) {
		return "", fmt.Errorf("script %q leaves %s", p, EnvRoot)
	}
	return filepath.ToSlash(c), nil
}

// userIDScript reports whether script path rel (relative to the root,
// cleaned, forward slashes) is one of c.UserIDScripts.
func (c Config) userIDScript(rel string) bool {
	list := c.UserIDScripts
	if list == nil {
		list = DefaultUserIDScripts
	}
	for _, s := range list {
		if filepath.ToSlash(filepath.Clean(s)) == rel {
			return true
		}
	}
	return false
}

// checkRoot makes root absolute and checks that it is an existing directory.
func checkRoot(root string) (string, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", errors.New("not a directory")
	}
	return abs, nil
}

// parseAllowedDirs splits a comma-separated list of relative directories.
// Empty items (a trailing comma) are skipped; at least one must remain.
func parseAllowedDirs(s string) ([]string, error) {
	var out []string
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		d, err := cleanAllowedDir(item)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	if len(out) == 0 {
		return nil, errors.New("no directory listed")
	}
	return out, nil
}

// cleanAllowedDir checks that d is a relative path that stays inside the
// root and returns it cleaned.
func cleanAllowedDir(d string) (string, error) {
	if strings.ContainsRune(d, 0) {
		return "", fmt.Errorf("directory %q contains a NUL byte", d)
	}
	if filepath.IsAbs(d) {
		return "", fmt.Errorf("directory %q must be relative to %s", d, EnvRoot)
	}
	c := filepath.Clean(d)
	if !filepath.IsLocal(c) && c != "." {
		return "", fmt.Errorf("directory %q leaves %s", d, EnvRoot)
	}
	return c, nil
}

// parseGrace parses a kill grace period: a Go duration or whole seconds.
func parseGrace(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		n, nerr := strconv.Atoi(s)
		if nerr != nil {
			return 0, errors.New(`want a duration such as "5s" or a number of seconds`)
		}
		d = time.Duration(n) * time.Second
	}
	if d < 0 {
		return 0, errors.New("must not be negative")
	}
	if d > MaxKillGrace {
		return 0, fmt.Errorf("must be at most %s", MaxKillGrace)
	}
	return d, nil
}

// Validate checks a Config that may have been built by hand: Root must be
// an existing directory, AllowedDirs non-empty relative paths inside it,
// KillGrace not negative, Env entries KEY=value.
func (c Config) Validate() error {
	_, err := c.check()
	return err
}

// check validates a Config and returns it with Root made absolute, the
// allowed directories cleaned and the defaults of Python and Logger set.
func (c Config) check() (Config, error) {
	if c.Root == "" {
		return c, errors.New("script config: Root (SCRIPT_ROOT) is empty")
	}
	abs, err := checkRoot(c.Root)
	if err != nil {
		return c, fmt.Errorf("script config: Root %q: %w", c.Root, err)
	}
	c.Root = abs
	if len(c.AllowedDirs) == 0 {
		return c, errors.New("script config: AllowedDirs (SCRIPT_ALLOWED_DIRS) is empty")
	}
	dirs := make([]string, len(c.AllowedDirs))
	for i, d := range c.AllowedDirs {
		if dirs[i], err = cleanAllowedDir(d); err != nil {
			return c, fmt.Errorf("script config: AllowedDirs[%d]: %w", i, err)
		}
	}
	c.AllowedDirs = dirs
	if c.Python == "" {
		c.Python, c.PythonSource = FindPython(c.Root)
	}
	for i, s := range c.UserIDScripts {
		if _, err := cleanScriptPath(s); err != nil {
			return c, fmt.Errorf("script config: UserIDScripts[%d]: %w", i, err)
		}
	}
	if c.KillGrace < 0 {
		return c, fmt.Errorf("script config: KillGrace %s is negative", c.KillGrace)
	}
	for i, kv := range c.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsRune(kv, 0) {
			return c, fmt.Errorf("script config: Env[%d] %q is not KEY=value", i, kv)
		}
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, nil
}
