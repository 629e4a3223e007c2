package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestScriptNotificationRules(t *testing.T) {
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "src"), 0o755))
	write := func(name, body string) {
		must(t, os.WriteFile(filepath.Join(root, "src", name), []byte("#!/bin/sh\n"+body), 0o755))
	}
	write("vix.sh", `echo '__SCHEDULER_RESULT__: {"vix_current": 23.5, "rows": 12}'`+"\n")
	write("fail.sh", "echo 'Traceback: boom' >&2\nexit 3\n")
	cfg := script.Config{Root: root, AllowedDirs: []string{"src"}, Python: script.DefaultPython, KillGrace: 100 * time.Millisecond, Logger: quiet}
	f := newFixture(t, storetest.SQLite(t), func(d *Deps) { d.Script = cfg })

	vix := f.schedule("vix", "script", `{"script_path": "src/vix.sh", "notification_rules": {"conditions": [
		{"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["log"]},
		{"check_field": "vix_current", "operator": "<", "threshold": 20, "channel": "email"},
		{"on": "failure", "channel": "telegram"}]}}`)
	r := f.run(vix, 1)
	if r.Status != store.StatusCompleted || result(t, r)["notification_sent"] != true {
		t.Fatalf("script run %s %s", r.Status, r.Result)
	}
	ob := f.outbox(vix.ID)
	if len(ob) != 1 || ob[0].Channel != "log" || ob[0].Type != "JOB" || ob[0].Title != "[Scheduler] vix" ||
		!strings.Contains(ob[0].Body, "vix_current: 23.5") || !strings.Contains(ob[0].Body, "Duration:") {
		t.Fatalf("notifications %+v", ob)
	}

	// A failure notifies on the last attempt only, with the error tail.
	fail := f.schedule("failing", "script", `{"script_path": "src/fail.sh", "notification_rules": {"conditions": [{"on": "failure", "channel": "log"}]}}`)
	r = f.run(fail, 2)
	if r.Status != store.StatusPending || len(f.outbox(fail.ID)) != 0 {
		t.Fatalf("first attempt: %s, %d notifications", r.Status, len(f.outbox(fail.ID)))
	}
	f.clk.set(t0.Add(time.Hour)) // past the retry delay
	r = f.rerun(r.ID)
	ob = f.outbox(fail.ID)
	if r.Status != store.StatusFailed || len(ob) != 1 || ob[0].Title != "[Scheduler] failing" || !strings.Contains(ob[0].Body, "**Status:** FAILED") || !strings.Contains(ob[0].Body, "Traceback: boom") {
		t.Fatalf("last attempt: %s %+v", r.Status, ob)
	}
	if result(t, r)["notification_sent"] != true {
		t.Fatalf("result %s", r.Result)
	}
}
