package jobs

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// memProcesses is an in-memory ScriptProcesses.
type memProcesses struct {
	mu   sync.Mutex
	byID map[int64]script.Process
}

func (m *memProcesses) RecordScriptProcess(_ context.Context, runID int64, p script.Process) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[runID] = p
	return nil
}

func (m *memProcesses) ScriptProcess(_ context.Context, runID int64) (*script.Process, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.byID[runID]; ok {
		return &p, nil
	}
	return nil, nil
}

// A script sees its run's identity in SCHEDULER_* variables; the handler
// records its process group; a retried attempt first kills what an earlier
// attempt of the same run left running.
func TestScriptRunIdentityAndLeftovers(t *testing.T) {
	root := t.TempDir()
	must(t, os.Mkdir(filepath.Join(root, "src"), 0o755))
	must(t, os.WriteFile(filepath.Join(root, "src", "env.sh"), []byte("#!/bin/sh\nenv | grep '^SCHEDULER_' | sort\nexit 3\n"), 0o755))
	cfg := script.Config{Root: root, AllowedDirs: []string{"src"}, Python: script.DefaultPython, KillGrace: 100 * time.Millisecond, Logger: quiet}
	procs := &memProcesses{byID: map[int64]script.Process{}}
	f := newFixture(t, storetest.SQLite(t), func(d *Deps) { d.Script = cfg; d.ScriptProcesses = procs })
	sc := f.schedule("env", "script", `{"script_path": "src/env.sh"}`)

	r := f.run(sc, 2) // fails (exit 3): retried
	want := fmt.Sprintf("SCHEDULER_ATTEMPT=1\nSCHEDULER_RUN_ID=%d\nSCHEDULER_SCHEDULED_FOR=%s\nSCHEDULER_SCHEDULE_ID=%d\n",
		r.ID, t0.UTC().Format(time.RFC3339), sc.ID)
	if got := result(t, r)["stdout_preview"]; got != want {
		t.Fatalf("first attempt's environment:\n%v\nwant:\n%s", got, want)
	}
	first, ok := procs.byID[r.ID]
	if !ok || first.PID <= 0 || first.PGID != first.PID || !first.Local() {
		t.Fatalf("recorded process %+v (recorded: %v)", first, ok)
	}

	// Pretend the first attempt left a process behind in a group of ours:
	// a process group marked with the run's id, recorded for the run.
	left := exec.Command("sleep", "1000")
	left.Env = []string{fmt.Sprintf("SCHEDULER_RUN_ID=%d", r.ID)}
	left.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(t, left.Start())
	exited := make(chan error, 1)
	go func() { exited <- left.Wait() }()
	t.Cleanup(func() { _ = left.Process.Kill() })
	leftover := first
	leftover.PID, leftover.PGID = left.Process.Pid, left.Process.Pid
	must(t, procs.RecordScriptProcess(context.Background(), r.ID, leftover))

	f.clk.set(t0.Add(time.Hour)) // past the retry delay
	r = f.rerun(r.ID)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		t.Fatal("the earlier attempt's leftover was not killed before the retry")
	}
	if left.ProcessState == nil || left.ProcessState.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("leftover ended with %v, want SIGKILL", left.ProcessState)
	}
	if got := result(t, r)["stdout_preview"]; got != strings.Replace(want, "SCHEDULER_ATTEMPT=1", "SCHEDULER_ATTEMPT=2", 1) {
		t.Fatalf("second attempt's environment:\n%v", got)
	}
	if second := procs.byID[r.ID]; second.PID == leftover.PID || second.PID <= 0 || second.Attempt != 2 || first.Attempt != 1 {
		t.Fatalf("attempts recorded %+v then %+v; want attempt 1 then 2", first, second)
	}
}

// Two instances recover the same run of a dead one at about the same time:
// the first retries it at once (attempt 2 runs and records its process
// group); the fence of the second, recovering attempt 1, must not kill
// attempt 2 — it found it in the record, under the same run id. It still
// kills a group recorded by the attempt it recovers.
func TestFenceSparesALaterAttempt(t *testing.T) {
	procs := &memProcesses{byID: map[int64]script.Process{}}
	fence := KillLeftovers(procs, quiet)
	start := func(runID int64) *exec.Cmd {
		cmd := exec.Command("sleep", "1000")
		cmd.Env = []string{fmt.Sprintf("SCHEDULER_RUN_ID=%d", runID)}
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		must(t, cmd.Start())
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		return cmd
	}
	host, _ := os.Hostname()
	boot, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	record := func(runID int64, cmd *exec.Cmd, attempt int) {
		must(t, procs.RecordScriptProcess(context.Background(), runID, script.Process{PID: cmd.Process.Pid, PGID: cmd.Process.Pid,
			Host: host, BootID: strings.TrimSpace(string(boot)), StartedAt: time.Now(), Attempt: attempt}))
	}

	second := start(41)
	record(41, second, 2)
	if err := fence(context.Background(), store.Run{ID: 41, JobID: "7", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(second.Process.Pid, 0); err != nil {
		t.Fatalf("the fence recovering attempt 1 killed attempt 2's process: %v", err)
	}

	first := start(42)
	record(42, first, 1)
	done := make(chan error, 1)
	go func() { done <- first.Wait() }()
	if err := fence(context.Background(), store.Run{ID: 42, JobID: "7", Attempt: 1}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the fence did not kill the recovered attempt's leftover")
	}
}
