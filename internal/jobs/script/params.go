package script

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Params are the task_params of a script job:
//
//	{"script_path": "src/data/vix.py", "script_args": ["--days", "5"],
//	 "timeout_seconds": 600, "pass_user_id": true,
//	 "notification_rules": {"conditions": [...]}}
type Params struct {
	// ScriptPath is task_params.script_path, relative to Config.Root.
	ScriptPath string
	// Args is task_params.script_args: plain strings passed as argv.
	Args []string
	// TimeoutSeconds is task_params.timeout_seconds; [ParseParams] sets
	// [DefaultTimeoutSeconds] when it is absent. 0 (in Params built by
	// hand) means no timeout of the script's own: only the context given
	// to [Run] limits it.
	TimeoutSeconds int
	// PassUserID is task_params.pass_user_id: nil when absent (then
	// [Config.UserIDScripts] decides), true or false to opt the script in
	// or out of "--user-id N".
	PassUserID *bool
	// UserIDArg says whether "--user-id N" is appended after Args (N =
	// [RunInfo.UserID]): PassUserID when set, else whether the script is
	// one of [Config.UserIDScripts]. [ParseParams] sets it.
	UserIDArg bool
	// Rules is task_params.notification_rules.
	Rules Rules
	// UnknownFields lists task_params keys this package does not know,
	// sorted. They are tolerated because existing databases may carry them,
	// but a validating caller should warn: they may be typos.
	UnknownFields []string
}

// knownParams are the task_params keys of a script job.
var knownParams = []string{"script_path", "script_args", "timeout_seconds", "pass_user_id", "notification_rules"}

// ParseParams decodes and validates the task_params of a script job against
// cfg. script_path must be relative, resolve (symbolic links included) to an
// existing regular file inside cfg.Root and inside one of cfg.AllowedDirs,
// and be executable unless it ends in ".py" (then cfg.Python must be
// found). script_args must be strings without NUL bytes; timeout_seconds a
// whole number >= 1 when present (default [DefaultTimeoutSeconds]);
// pass_user_id true or false; notification_rules as described at [Rules].
// Errors name the field and the value, e.g.
//
//	task_params.script_path: "../etc/passwd" resolves outside SCRIPT_ROOT
func ParseParams(raw []byte, cfg Config) (Params, error) {
	cfg, err := cfg.check()
	if err != nil {
		return Params{}, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Params{}, fmt.Errorf("task_params: want a JSON object, got %s", abbrev(raw))
	}

	var p Params
	for k := range fields {
		if !slices.Contains(knownParams, k) {
			p.UnknownFields = append(p.UnknownFields, k)
		}
	}
	slices.Sort(p.UnknownFields)

	rawPath, ok := fields["script_path"]
	if !ok || isNull(rawPath) {
		return Params{}, errors.New("task_params.script_path: missing")
	}
	if err := json.Unmarshal(rawPath, &p.ScriptPath); err != nil {
		return Params{}, fmt.Errorf("task_params.script_path: want a string, got %s", abbrev(rawPath))
	}

	if rawArgs, ok := fields["script_args"]; ok && !isNull(rawArgs) {
		var items []json.RawMessage
		if err := json.Unmarshal(rawArgs, &items); err != nil {
			return Params{}, fmt.Errorf("task_params.script_args: want a list of strings, got %s", abbrev(rawArgs))
		}
		p.Args = make([]string, len(items))
		for i, it := range items {
			if err := json.Unmarshal(it, &p.Args[i]); err != nil || isNull(it) {
				return Params{}, fmt.Errorf("task_params.script_args[%d]: want a string, got %s", i, abbrev(it))
			}
		}
	}

	if rawT, ok := fields["timeout_seconds"]; ok && !isNull(rawT) {
		var f float64
		if err := json.Unmarshal(rawT, &f); err != nil {
			return Params{}, fmt.Errorf("task_params.timeout_seconds: want a number of seconds, got %s", abbrev(rawT))
		}
		if f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
			return Params{}, fmt.Errorf("task_params.timeout_seconds: want a whole number of seconds >= 1, got %s", abbrev(rawT))
		}
		p.TimeoutSeconds = int(f)
	} else {
		p.TimeoutSeconds = DefaultTimeoutSeconds
	}

	if rawU, ok := fields["pass_user_id"]; ok && !isNull(rawU) {
		var b bool
		if err := json.Unmarshal(rawU, &b); err != nil {
			return Params{}, fmt.Errorf("task_params.pass_user_id: want true or false, got %s", abbrev(rawU))
		}
		p.PassUserID = &b
	}

	if rawR, ok := fields["notification_rules"]; ok && !isNull(rawR) {
		if p.Rules, err = ParseRules(rawR); err != nil {
			return Params{}, fmt.Errorf("task_params.%w", err)
		}
	}

	resolved, err := p.validate(cfg)
	if err != nil {
		return Params{}, err
	}
	if p.PassUserID != nil {
		p.UserIDArg = *p.PassUserID
	} else {
		p.UserIDArg = cfg.userIDScript(filepath.ToSlash(filepath.Clean(p.ScriptPath))) || cfg.userIDScript(relTo(cfg.Root, resolved))
	}
	if isPython(resolved) {
		if _, err := exec.LookPath(cfg.Python); err != nil {
			return Params{}, fmt.Errorf("task_params.script_path: %q needs %s %q: %w", p.ScriptPath, EnvPython, cfg.Python, err)
		}
	}
	return p, nil
}

// validate checks the script path and the arguments against cfg (which must
// have passed Config.check) and returns the resolved absolute script path.
func (p Params) validate(cfg Config) (string, error) {
	resolved, err := resolveScript(cfg, p.ScriptPath)
	if err != nil {
		return "", err
	}
	for i, a := range p.Args {
		if strings.IndexByte(a, 0) >= 0 {
			return "", fmt.Errorf("task_params.script_args[%d]: %q contains a NUL byte", i, a)
		}
	}
	if p.TimeoutSeconds < 0 {
		return "", fmt.Errorf("task_params.timeout_seconds: %d is negative", p.TimeoutSeconds)
	}
	return resolved, nil
}

// resolveScript confines script path sp to cfg.Root and cfg.AllowedDirs and
// returns its absolute path with every symbolic link resolved.
func resolveScript(cfg Config, sp string) (string, error) {
	field := func(format string, a ...any) error {
		return fmt.Errorf("task_params.script_path: %q "+format, append([]any{sp}, a...)...)
	}
	switch {
	case strings.TrimSpace(sp) == "":
		return "", errors.New("task_params.script_path: empty")
	case strings.IndexByte(sp, 0) >= 0:
		return "", field("contains a NUL byte")
	case filepath.IsAbs(sp):
		return "", field("must be relative to %s", EnvRoot)
	case !filepath.IsLocal(sp):
		return "", field("resolves outside %s", EnvRoot)
	}

	root, err := filepath.EvalSymlinks(cfg.Root)
	if err != nil {
		return "", fmt.Errorf("%s %q: %w", EnvRoot, cfg.Root, err)
	}
	resolved, err := filepath.EvalSymlinks(filepath.Join(root, sp))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", field("does not exist under %s %s", EnvRoot, root)
		}
		return "", field("cannot be resolved: %w", err)
	}
	if !within(root, resolved) {
		return "", field("resolves outside %s (to %s)", EnvRoot, resolved)
	}
	allowed := false
	for _, d := range cfg.AllowedDirs {
		dir, err := filepath.EvalSymlinks(filepath.Join(root, d))
		if err != nil {
			continue // a missing allowed directory allows nothing
		}
		if within(root, dir) && within(dir, resolved) {
			allowed = true
			break
		}
	}
	if !allowed {
		return "", field("is not inside an allowed directory (%s=%s; add its directory to %s to allow it)",
			EnvAllowedDirs, strings.Join(cfg.AllowedDirs, ","), EnvAllowedDirs)
	}

	fi, err := os.Stat(resolved)
	if err != nil {
		return "", field("%w", err)
	}
	if !fi.Mode().IsRegular() {
		return "", field("is not a regular file")
	}
	if !isPython(resolved) && fi.Mode().Perm()&0o111 == 0 {
		return "", field("is not executable (only .py files run through %s; make it executable with a shebang line)", EnvPython)
	}
	return resolved, nil
}

// relTo returns resolved path p relative to root (symbolic links of root
// resolved too), with forward slashes, or "" when it is not below root.
func relTo(root, p string) string {
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	rel, err := filepath.Rel(root, p)
	if err != nil || !filepath.IsLocal(rel) {
		return ""
	}
	return filepath.ToSlash(rel)
}

// within reports whether path p equals dir or lies below it. Both must be
// clean absolute paths.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// isPython reports whether a script runs through the Python interpreter.
func isPython(path string) bool {
	return filepath.Ext(path) == ".py"
}

// isNull reports whether a raw JSON value is the literal null.
func isNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// abbrev renders raw JSON for an error message, shortened to 80 bytes.
func abbrev(raw []byte) string {
	s := strings.TrimSpace(string(raw))
	if s == "" {
		return "nothing"
	}
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}
