//go:build unix

package script_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/atf/scheduler/internal/jobs/script"
)

// exampleRoot makes a throw-away project root with one script in src/.
func exampleRoot() (string, func()) {
	root, err := os.MkdirTemp("", "script-example")
	if err != nil {
		panic(err)
	}
	body := "#!/bin/sh\necho \"checking $1\"\necho '__SCHEDULER_RESULT__: {\"vix_current\": 23.4}'\n"
	if err := os.MkdirAll(filepath.Join(root, "src", "data"), 0o755); err != nil {
		panic(err)
	}
	if err := os.WriteFile(filepath.Join(root, "src", "data", "vix.sh"), []byte(body), 0o755); err != nil {
		panic(err)
	}
	return root, func() { os.RemoveAll(root) }
}

// A schedule's task_params are parsed once, then the script runs and its
// result selects the notification channels.
func ExampleRun() {
	root, cleanup := exampleRoot()
	defer cleanup()

	cfg, err := script.ConfigFromEnv(func(name string) string {
		if name == script.EnvRoot {
			return root
		}
		return "" // defaults: SCRIPT_ALLOWED_DIRS=src,scripts, SCRIPT_PYTHON=python3
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	p, err := script.ParseParams([]byte(`{
	  "script_path": "src/data/vix.sh", "script_args": ["VIX"], "timeout_seconds": 60,
	  "notification_rules": {"conditions": [
	    {"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["email"]},
	    {"on": "failure", "channel": "telegram"}]}}`), cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := script.Run(context.Background(), cfg, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("success:", res.Success, "exit code:", res.ExitCode)
	fmt.Println("vix_current:", res.ScriptResult["vix_current"])
	fmt.Printf("stdout tail: %q\n", res.StdoutPreview)
	fmt.Println("notify:", p.Rules.Channels(res))
	// Output:
	// success: true exit code: 0
	// vix_current: 23.4
	// stdout tail: "checking VIX\n__SCHEDULER_RESULT__: {\"vix_current\": 23.4}\n"
	// notify: [email]
}

// Paths that leave the project root are refused with an error naming the
// field and the value.
func ExampleParseParams_traversal() {
	root, cleanup := exampleRoot()
	defer cleanup()
	cfg := script.Config{Root: root, AllowedDirs: []string{"src"}}

	_, err := script.ParseParams([]byte(`{"script_path": "../etc/passwd"}`), cfg)
	fmt.Println(err)
	_, err = script.ParseParams([]byte(`{"script_path": "src/data/vix.sh", "script_args": ["ok", 7]}`), cfg)
	fmt.Println(err)
	// Output:
	// task_params.script_path: "../etc/passwd" resolves outside SCRIPT_ROOT
	// task_params.script_args[1]: want a string, got 7
}

// Rules select channels from a run's outcome and its script result.
func ExampleRules_Channels() {
	rules, err := script.ParseRules([]byte(`{"conditions": [
	  {"check_field": "errors", "operator": ">", "threshold": 0, "channels": ["telegram", "log"]},
	  {"on": "failure", "channel": "telegram"},
	  {"on": "always", "channel": "log"}]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(rules.Channels(script.Result{Success: true, ScriptResult: map[string]any{"errors": 0}}))
	fmt.Println(rules.Channels(script.Result{Success: false, ScriptResult: map[string]any{"errors": 3}}))
	fmt.Println(rules.Channels(script.Result{Success: true})) // no "errors" field: that condition does not match

	_, err = script.ParseRules([]byte(`{"conditions": [{"on": "failure", "channel": "sms"}]}`))
	fmt.Println(err)
	// Output:
	// [log]
	// [telegram log]
	// [log]
	// notification_rules.conditions[0].channels: "sms" is not one of telegram, email, webhook, log
}
