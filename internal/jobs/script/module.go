package script

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// ModuleStdoutChars is how much of the end of a module's stdout
// [RunModule] returns (the framework's pipelines print their JSON summary
// last).
const ModuleStdoutChars = 256 << 10

// Module is a Python module of the project run as "python -m Name Args…"
// (the framework's portfolio pipelines: src.portfolio.pnl_alert,
// src.portfolio.management). The module name is chosen by the caller, not
// taken from task_params, so [Config.AllowedDirs] does not apply to it;
// its file must still lie inside the root.
type Module struct {
	// Name is the dotted module name, e.g. "src.portfolio.pnl_alert".
	Name string
	// Args are passed as argv after "-m Name".
	Args []string
	// TimeoutSeconds limits the run; 0 means only the context does.
	TimeoutSeconds int
}

// moduleName is a dotted Python module name.
var moduleName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// CheckModule checks that module name exists under cfg.Root as a package
// with a __main__.py ("src/portfolio/pnl_alert/__main__.py") or a module
// file ("src/portfolio/pnl_alert.py") that resolves inside the root, and
// that cfg.Python can be found. Errors name the module, the file looked
// for and the setting.
func CheckModule(cfg Config, name string) error {
	cfg, err := cfg.check()
	if err != nil {
		return err
	}
	_, err = moduleFile(cfg, name)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(cfg.Python); err != nil {
		return fmt.Errorf("module %s needs %s %q: %w", name, EnvPython, cfg.Python, err)
	}
	return nil
}

// moduleFile returns the resolved file that "python -m name" runs from the
// root.
func moduleFile(cfg Config, name string) (string, error) {
	if !moduleName.MatchString(name) {
		return "", fmt.Errorf("module %q is not a dotted Python module name", name)
	}
	root, err := filepath.EvalSymlinks(cfg.Root)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", EnvRoot, cfg.Root, err)
	}
	base := filepath.Join(strings.Split(name, ".")...)
	candidates := []string{filepath.Join(base, "__main__.py"), base + ".py"}
	for _, rel := range candidates {
		resolved, err := filepath.EvalSymlinks(filepath.Join(root, rel))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("module %s: %s: %w", name, rel, err)
		}
		if !within(root, resolved) {
			return "", fmt.Errorf("module %s: %s resolves outside %s (to %s)", name, rel, EnvRoot, resolved)
		}
		fi, err := os.Stat(resolved)
		if err != nil || !fi.Mode().IsRegular() {
			return "", fmt.Errorf("module %s: %s is not a regular file", name, rel)
		}
		return resolved, nil
	}
	return "", fmt.Errorf("module %s not found under %s %s: neither %s nor %s exists",
		name, EnvRoot, root, filepath.ToSlash(candidates[0]), filepath.ToSlash(candidates[1]))
}

// RunModule runs m as "<cfg.Python> -m m.Name m.Args…" with the root as
// working directory, under the same rules as a script run by [RunWith]:
// no shell, its own process group (what the main process leaves in it is
// killed), the parent-death signal on Linux, SIGTERM then SIGKILL after
// cfg.KillGrace on timeout or cancellation, the inherited environment
// plus cfg.Env, PYTHONUNBUFFERED=1 and the SCHEDULER_* variables of info
// (info.UserID is not passed). It returns the Result (previews, exit code,
// duration), the last [ModuleStdoutChars] characters of stdout, and the
// error: an [*ExitError] for a non-zero exit, a timeout or cancellation
// error, or a start failure.
func RunModule(ctx context.Context, cfg Config, m Module, info RunInfo) (Result, string, error) {
	res := Result{ExitCode: -1}
	if err := supported(); err != nil {
		return res, "", err
	}
	cfg, err := cfg.check()
	if err != nil {
		return res, "", err
	}
	if _, err := moduleFile(cfg, m.Name); err != nil {
		return res, "", err
	}
	for i, a := range m.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return res, "", fmt.Errorf("module %s: argument %d %q contains a NUL byte", m.Name, i, a)
		}
	}
	if m.TimeoutSeconds < 0 {
		return res, "", fmt.Errorf("module %s: timeout %d s is negative", m.Name, m.TimeoutSeconds)
	}
	sp := spec{label: "module " + m.Name, python: true, timeout: m.TimeoutSeconds, stdout: ModuleStdoutChars,
		argv: append([]string{"-m", m.Name}, m.Args...)}
	return run(ctx, cfg, sp, info)
}
