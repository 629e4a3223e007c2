package script

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// EnvPassthrough names the variable listing further environment variables
// that scripts receive (SCRIPT_ENV_PASSTHROUGH).
const EnvPassthrough = "SCRIPT_ENV_PASSTHROUGH"

// baseEnv are the variables of the scheduler's environment every script
// receives: what a program needs to run (search path, home, user, locale,
// time zone, temporary directory) and the Python interpreter's own
// settings. A name ending in "*" is a prefix. Nothing else of the
// scheduler's environment reaches a script — its own secrets
// (DATABASE_URL, API_TOKEN, TELEGRAM_BOT_TOKEN, SMTP_PASSWORD,
// WEBHOOK_SECRET, …) never do — unless SCRIPT_ENV_PASSTHROUGH names it.
var baseEnv = []string{"PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "LC_*", "TZ", "TMPDIR",
	"PYTHON*", "VIRTUAL_ENV"}

// envNameRE is a variable name, optionally ending in "*" (a prefix).
var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*\*?$`)

// parsePassthrough reads a comma-separated SCRIPT_ENV_PASSTHROUGH value.
func parsePassthrough(s string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if !envNameRE.MatchString(n) {
			return nil, fmt.Errorf("%q is not a variable name (letters, digits, _; a trailing * for a prefix)", n)
		}
		out = append(out, n)
	}
	return out, nil
}

// scriptEnviron is the part of environ (KEY=value entries, normally
// os.Environ()) that scripts receive: the names of baseEnv and pass.
func scriptEnviron(environ, pass []string) []string {
	allowed := func(key string) bool {
		for _, lists := range [][]string{baseEnv, pass} {
			for _, n := range lists {
				if p, ok := strings.CutSuffix(n, "*"); ok {
					if strings.HasPrefix(key, p) {
						return true
					}
				} else if key == n {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for _, kv := range environ {
		if k, _, ok := strings.Cut(kv, "="); ok && allowed(k) {
			out = append(out, kv)
		}
	}
	return out
}

// inherited is the scheduler's environment as cfg's scripts see it.
func (cfg Config) inherited() []string { return scriptEnviron(os.Environ(), cfg.Passthrough) }
