//go:build unix

package script

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestRunResultLineAndArgs(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "scripts/job.sh", `#!/bin/sh
for a in "$@"; do printf '<%s>\n' "$a"; done
echo '__SCHEDULER_RESULT__: {"rows": 42, "ok": true, "name": "vix"}'
echo '__SCHEDULER_RESULT__: {"rows": 1}'
echo done
`)
	args := []string{"two words", "$(touch pwned)", "*", `"quoted"`, "; rm -rf /", ""}
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "scripts/job.sh", Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || res.ExitCode != 0 {
		t.Errorf("Success=%v ExitCode=%d", res.Success, res.ExitCode)
	}
	want := "<two words>\n<$(touch pwned)>\n<*>\n<\"quoted\">\n<; rm -rf />\n<>\n"
	if !strings.HasPrefix(res.StdoutPreview, want) {
		t.Errorf("arguments not passed verbatim; stdout:\n%s", res.StdoutPreview)
	}
	if got, _ := json.Marshal(res.ScriptResult); string(got) != `{"name":"vix","ok":true,"rows":42}` {
		t.Errorf("ScriptResult = %s", got)
	}
	if res.StderrPreview != "" || res.NotificationSent {
		t.Errorf("unexpected %+v", res)
	}
	if _, err := exec.LookPath("touch"); err == nil {
		if m, _ := filepath.Glob(filepath.Join(cfg.Root, "pwned")); len(m) != 0 {
			t.Error("an argument was interpreted by a shell")
		}
	}
}

func TestRunInvalidResultLineIsRecorded(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "src/bad.sh", "#!/bin/sh\necho '__SCHEDULER_RESULT__: {\"a\": }'\n")
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/bad.sh"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Success || !strings.Contains(fmt.Sprint(res.ScriptResult["parse_error"]), "not valid JSON") || res.ScriptResult["raw"] != `{"a": }` {
		t.Errorf("got %+v", res)
	}
}

func TestRunTails(t *testing.T) {
	cfg := testRoot(t)
	// 20,000 two-byte characters to stdout, 50,000 bytes to stderr, each
	// ending with a marker.
	writeScript(t, cfg.Root, "src/loud.sh", `#!/bin/sh
i=0
while [ $i -lt 100 ]; do
  printf 'éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé'
  printf 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' >&2
  i=$((i+1))
done
echo END-OUT
echo END-ERR >&2
exit 3
`)
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/loud.sh"})
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || !strings.HasPrefix(err.Error(), "Script exited with code 3; stderr tail: xxx") ||
		!strings.HasSuffix(err.Error(), "END-ERR") || utf8.RuneCountInString(err.Error()) != len("Script exited with code 3; stderr tail: ")+ErrorTailChars {
		t.Fatalf("error = %v", err)
	}
	if res.Success || res.ExitCode != 3 {
		t.Errorf("Success=%v ExitCode=%d", res.Success, res.ExitCode)
	}
	if n := utf8.RuneCountInString(res.StdoutPreview); n != StdoutTailChars || !utf8.ValidString(res.StdoutPreview) || !strings.HasSuffix(res.StdoutPreview, "ééEND-OUT\n") {
		t.Errorf("stdout tail: %d chars, valid=%v, ends %q", n, utf8.ValidString(res.StdoutPreview), res.StdoutPreview[len(res.StdoutPreview)-20:])
	}
	if n := utf8.RuneCountInString(res.StderrPreview); n != StderrTailChars || !strings.HasSuffix(res.StderrPreview, "xxEND-ERR\n") {
		t.Errorf("stderr tail: %d chars", n)
	}
}

func TestRunNonZeroExit(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "src/fail.sh", "#!/bin/sh\necho partial\necho 'Traceback: boom' >&2\nexit 2\n")
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/fail.sh"})
	if err == nil || err.Error() != "Script exited with code 2; stderr tail: Traceback: boom" {
		t.Errorf("error = %v", err)
	}
	if res.Success || res.ExitCode != 2 || res.StdoutPreview != "partial\n" || res.StderrPreview != "Traceback: boom\n" {
		t.Errorf("result = %+v", res)
	}
}

func TestRunKilledBySignal(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "src/suicide.sh", "#!/bin/sh\nkill -9 $$\n")
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/suicide.sh"})
	if err == nil || err.Error() != "Script exited with code -9; stderr tail: " || res.ExitCode != -9 {
		t.Errorf("ExitCode=%d error=%v", res.ExitCode, err)
	}
}

func TestRunEnvAndWorkingDirectory(t *testing.T) {
	cfg := testRoot(t)
	t.Setenv("SCRIPT_TEST_INHERITED", "from-parent")
	t.Setenv("SCRIPT_TEST_OVERRIDDEN", "parent")
	cfg.Passthrough = []string{"SCRIPT_TEST_*"} // inherited only when named
	cfg.Env = []string{"SCRIPT_TEST_EXTRA=extra value", "SCRIPT_TEST_OVERRIDDEN=config"}
	writeScript(t, cfg.Root, "src/env.sh", `#!/bin/sh
echo "inherited=$SCRIPT_TEST_INHERITED"
echo "extra=$SCRIPT_TEST_EXTRA"
echo "overridden=$SCRIPT_TEST_OVERRIDDEN"
echo "pwd=$(pwd -P)"
`)
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "src/env.sh"})
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.EvalSymlinks(cfg.Root)
	want := "inherited=from-parent\nextra=extra value\noverridden=config\npwd=" + root + "\n"
	if res.StdoutPreview != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", res.StdoutPreview, want)
	}
}

func TestRunPython(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed; the .py path is not tested")
	}
	cfg := testRoot(t)
	cfg.Python = py
	cfg.Env = []string{"VIX_SOURCE=test"}
	writeFile(t, cfg.Root, "src/data/vix.py", `import json, os, sys
print("loading", file=sys.stderr)
print("__SCHEDULER_RESULT__: " + json.dumps({"vix_current": 21.5, "args": sys.argv[1:],
      "source": os.environ["VIX_SOURCE"], "unbuffered": os.environ.get("PYTHONUNBUFFERED")}))
`, 0o644)
	raw := `{"script_path": "src/data/vix.py", "script_args": ["--days", "5"],
	  "notification_rules": {"conditions": [{"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["email"]}]}}`
	p, err := ParseParams([]byte(raw), cfg)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), cfg, p)
	if err != nil {
		t.Fatalf("%v (stderr %q)", err, res.StderrPreview)
	}
	got, _ := json.Marshal(res.ScriptResult)
	if string(got) != `{"args":["--days","5"],"source":"test","unbuffered":"1","vix_current":21.5}` {
		t.Errorf("ScriptResult = %s", got)
	}
	if res.StderrPreview != "loading\n" {
		t.Errorf("stderr = %q", res.StderrPreview)
	}
	if ch := p.Rules.Channels(res); !slices.Equal(ch, []string{"email"}) {
		t.Errorf("channels = %q", ch)
	}
}

func TestRunMissingPython(t *testing.T) {
	cfg := testRoot(t)
	cfg.Python = filepath.Join(cfg.Root, "no-such-python")
	writeFile(t, cfg.Root, "src/x.py", "", 0o644)
	_, err := Run(context.Background(), cfg, Params{ScriptPath: "src/x.py"})
	if err == nil || !strings.Contains(err.Error(), `SCRIPT_PYTHON "`+cfg.Python+`"`) {
		t.Errorf("error = %v", err)
	}
}

func TestRunRevalidates(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "other/x.sh", "#!/bin/sh\n")
	writeScript(t, cfg.Root, "src/ok.sh", "#!/bin/sh\n")
	tests := []struct {
		p    Params
		want string
	}{
		{Params{ScriptPath: "other/x.sh"}, "not inside an allowed directory"},
		{Params{ScriptPath: "../x.sh"}, "resolves outside SCRIPT_ROOT"},
		{Params{ScriptPath: "src/ok.sh", Args: []string{"a\x00"}}, "task_params.script_args[0]"},
		{Params{ScriptPath: "src/ok.sh", TimeoutSeconds: -1}, "task_params.timeout_seconds: -1 is negative"},
	}
	for _, tt := range tests {
		res, err := Run(context.Background(), cfg, tt.p)
		if err == nil || !strings.Contains(err.Error(), tt.want) || res.Success || res.ExitCode != -1 {
			t.Errorf("Run(%+v) = %+v, %v; want error %q", tt.p, res, err, tt.want)
		}
	}
}

func TestRunAlreadyCancelled(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "src/ok.sh", "#!/bin/sh\ntouch started\n")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, cfg, Params{ScriptPath: "src/ok.sh"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(cfg.Root, "started")); len(m) != 0 {
		t.Error("script started although the context was already cancelled")
	}
}

func TestRunCallerDeadline(t *testing.T) {
	cfg := testRoot(t)
	cfg.KillGrace = 0
	writeScript(t, cfg.Root, "src/hang.sh", "#!/bin/sh\nexec sleep 1000\n")
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, cfg, Params{ScriptPath: "src/hang.sh"})
	if !errors.Is(err, context.DeadlineExceeded) || !regexp.MustCompile(`^script src/hang.sh timed out after 0\.[0-9]+ s$`).MatchString(err.Error()) {
		t.Errorf("error = %v", err)
	}
	if !res.TimedOut || res.Success || res.ExitCode != -9 {
		t.Errorf("result = %+v", res)
	}
}

func TestResultJSONFieldNames(t *testing.T) {
	b, err := json.Marshal(Result{Success: true, ScriptResult: map[string]any{"a": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"success", "exit_code", "script_result", "stdout_preview", "stderr_preview", "notification_sent", "duration_ms"} {
		if _, ok := m[k]; !ok {
			t.Errorf("result JSON %s lacks %q", b, k)
		}
	}
}

func BenchmarkRunTrivialScript(b *testing.B) {
	cfg := testRoot(b)
	writeScript(b, cfg.Root, "src/noop.sh", "#!/bin/sh\necho '__SCHEDULER_RESULT__: {\"ok\": true}'\n")
	p := Params{ScriptPath: "src/noop.sh"}
	for b.Loop() {
		if _, err := Run(context.Background(), cfg, p); err != nil {
			b.Fatal(err)
		}
	}
}
