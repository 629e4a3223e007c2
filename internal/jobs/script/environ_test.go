package script

import (
	"context"
	"slices"
	"strings"
	"testing"
)

// A script gets what it needs to run and what SCRIPT_ENV_PASSTHROUGH names,
// never the scheduler's secrets.
func TestScriptEnvironmentIsScrubbed(t *testing.T) {
	secrets := map[string]string{"DATABASE_URL": "postgres://u:hunter2@db/x", "API_TOKEN": "tok", "TELEGRAM_BOT_TOKEN": "123:abc",
		"SMTP_PASSWORD": "pw", "WEBHOOK_SECRET": "ws", "TELEGRAM_API_KEY": "k"}
	for k, v := range secrets {
		t.Setenv(k, v)
	}
	t.Setenv("BINANCE_KEY", "b1")
	t.Setenv("BINANCE_SECRET", "b2")
	t.Setenv("MY_PIPELINE_DSN", "dsn")
	t.Setenv("LC_ALL", "C")
	t.Setenv("PYTHONPATH", "/opt/lib")
	cfg := testRoot(t)
	var err error
	if cfg.Passthrough, err = parsePassthrough("MY_PIPELINE_DSN, BINANCE_*"); err != nil {
		t.Fatal(err)
	}
	writeScript(t, cfg.Root, "scripts/env.sh", "#!/bin/sh\nenv\n")
	res, err := Run(context.Background(), cfg, Params{ScriptPath: "scripts/env.sh"})
	if err != nil {
		t.Fatal(err)
	}
	env := strings.Split(res.StdoutPreview, "\n")
	for k := range secrets {
		for _, kv := range env {
			if strings.HasPrefix(kv, k+"=") {
				t.Errorf("the script received %s", k)
			}
		}
	}
	for _, want := range []string{"MY_PIPELINE_DSN=dsn", "BINANCE_KEY=b1", "BINANCE_SECRET=b2", "LC_ALL=C", "PYTHONPATH=/opt/lib"} {
		if !slices.Contains(env, want) {
			t.Errorf("the script lacks %s; it got %q", want, res.StdoutPreview)
		}
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Errorf("the script has no PATH")
	}
}

func TestPassthroughNames(t *testing.T) {
	if _, err := parsePassthrough("OK,BAD-NAME"); err == nil || !strings.Contains(err.Error(), `"BAD-NAME"`) {
		t.Fatalf("bad name: %v", err)
	}
	got, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvPassthrough: "A, B_*", EnvRoot: t.TempDir()}[k]
	})
	if err != nil || !slices.Equal(got.Passthrough, []string{"A", "B_*"}) {
		t.Fatalf("ConfigFromEnv = %v, %v", got.Passthrough, err)
	}
	if _, err := ConfigFromEnv(func(k string) string {
		return map[string]string{EnvPassthrough: "A=1", EnvRoot: t.TempDir()}[k]
	}); err == nil || !strings.Contains(err.Error(), EnvPassthrough) {
		t.Fatalf("error does not name %s: %v", EnvPassthrough, err)
	}
}
