// Package script runs pipeline-script jobs (job_type "data_processing" or
// "script"): it validates their task_params, runs the script without a shell
// inside a confined project root, and turns its output into a run result.
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
// A script whose resolved file name ends in ".py" runs as cfg.Python
// (SCRIPT_PYTHON, default python3) with the script's absolute path as first
// argument. Any other file (".sh" included)
// is executed directly and must therefore be executable and start with a
// shebang line; no shell is ever involved, arguments are passed as argv.
// The working directory is the root.
//
// # Environment
//
// The script inherits the scheduler's environment, then [Config.Env] is
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
// # Result line
//
// A script reports structured results by printing a line
//
//	__SCHEDULER_RESULT__: {"vix_current": 21.3}
//
// The last such line wins; its JSON object becomes [Result.ScriptResult].
// A malformed last result line does not fail the run: the problem is
// recorded in [Result.ResultError] and logged.
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
	EnvRoot        = "SCRIPT_ROOT"
	EnvAllowedDirs = "SCRIPT_ALLOWED_DIRS"
	EnvPython      = "SCRIPT_PYTHON"
	EnvKillGrace   = "SCRIPT_KILL_GRACE"
)

// Defaults used by [ConfigFromEnv] when a variable is unset or empty.
const (
	// DefaultAllowedDirs is the allow-list when SCRIPT_ALLOWED_DIRS is unset:
	// the pipeline scripts of the original project live under src/ (for
	// example src/data/vix.py); scripts/ is the conventional place for
	// operator scripts.
	DefaultAllowedDirs = "src,scripts"
	// DefaultPython is the interpreter for ".py" scripts.
	DefaultPython = "python3"
	// DefaultKillGrace is the time between SIGTERM and SIGKILL on timeout.
	DefaultKillGrace = 5 * time.Second
	// MaxKillGrace bounds SCRIPT_KILL_GRACE so a typo cannot keep a timed-out
	// script alive for hours.
	MaxKillGrace = 5 * time.Minute
)

// Config is the operator's configuration for script jobs. Build it with
// [ConfigFromEnv] or by hand; [ParseParams] and [Run] check it and return
// an error naming the bad field.
type Config struct {
	// Root is the project root (SCRIPT_ROOT): the working directory of every
	// script and the base of task_params.script_path. Default: the current
	// directory. A relative Root is taken relative to the current directory.
	Root string
	// AllowedDirs are directories relative to Root (SCRIPT_ALLOWED_DIRS,
	// comma-separated, default "src,scripts") under which scripts may live.
	// "." allows the whole root.
	AllowedDirs []string
	// Python is the interpreter for ".py" scripts (SCRIPT_PYTHON, default
	// "python3"): a path, or a name looked up in PATH when the script runs.
	// It is one program name, not a command line. Empty means "python3".
	Python string
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

// ConfigFromEnv reads SCRIPT_ROOT, SCRIPT_ALLOWED_DIRS, SCRIPT_PYTHON and
// SCRIPT_KILL_GRACE through getenv (typically os.Getenv). An unset or empty
// variable takes its default (see the [Config] fields). SCRIPT_KILL_GRACE
// accepts a Go duration ("2s", "500ms") or a number of seconds ("5").
// An invalid value gives an error naming the variable and the value.
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	cfg := Config{KillGrace: DefaultKillGrace, Python: DefaultPython}

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
		cfg.Python = py
	}

	if g := strings.TrimSpace(getenv(EnvKillGrace)); g != "" {
		cfg.KillGrace, err = parseGrace(g)
		if err != nil {
			return Config{}, fmt.Errorf("%s=%q: %w", EnvKillGrace, g, err)
		}
	}
	return cfg, nil
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
		c.Python = DefaultPython
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
