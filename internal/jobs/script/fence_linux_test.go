package script

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv switches the test binary into a helper process that runs one
// script through RunWith and reports it on stdout (see TestMain).
const helperEnv = "SCRIPT_TEST_HELPER_ROOT"

func TestMain(m *testing.M) {
	if root := os.Getenv(helperEnv); root != "" {
		os.Exit(fenceHelper(root))
	}
	os.Exit(m.Run())
}

// fenceHelper runs src/leaver.sh (run id 4242) and writes
// "started PID PGID HOST BOOTID" once it runs; then it waits for the
// script, which waits forever: the test kills the helper.
func fenceHelper(root string) int {
	cfg := Config{Root: root, AllowedDirs: []string{"src"}, Python: DefaultPython, KillGrace: 100 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler)}
	info := RunInfo{RunID: 4242, ScheduleID: "7", Attempt: 1, OnStart: func(p Process) {
		fmt.Printf("started %d %d %s %s\n", p.PID, p.PGID, p.Host, p.BootID)
	}}
	_, err := RunWith(context.Background(), cfg, Params{ScriptPath: "src/leaver.sh", Args: os.Args[1:]}, info)
	fmt.Println("finished", err)
	return 0
}

// alive reports whether pid exists and has not exited (a zombie has
// exited; it only waits for its parent to reap it).
func alive(pid int) bool {
	st, err := readStat(pid)
	return err == nil && st.state != 'Z'
}

// waitDead polls until pid has exited or the deadline passes.
func waitDead(t *testing.T, pid int, d time.Duration, what string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs %s later", what, pid, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// readLine reads one line from r within d.
func readLine(t *testing.T, r *bufio.Reader, d time.Duration, what string) string {
	t.Helper()
	ch := make(chan string, 1)
	go func() {
		line, _ := r.ReadString('\n')
		ch <- line
	}()
	select {
	case line := <-ch:
		if line == "" {
			t.Fatalf("no %s: end of output", what)
		}
		return strings.TrimSpace(line)
	case <-time.After(d):
		t.Fatalf("no %s within %s", what, d)
		return ""
	}
}

// A scheduler killed with SIGKILL takes its script's main process with it
// (parent-death signal). What the script started in its group survives
// that, and KillLeftover kills it, but only for the right run.
func TestParentDeathAndKillLeftover(t *testing.T) {
	cfg := testRoot(t)
	fifoPath, fifo := makeFifo(t)
	writeScript(t, cfg.Root, "src/leaver.sh", "#!/bin/sh\nsleep 1000 &\necho $! > \"$1\"\nwait\n")

	helper := exec.Command(os.Args[0], fifoPath)
	helper.Env = append(os.Environ(), helperEnv+"="+cfg.Root)
	out, err := helper.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = helper.Process.Kill(); _ = helper.Wait() })
	line := readLine(t, bufio.NewReader(out), 10*time.Second, "started line from the helper")
	var p Process
	if _, err := fmt.Sscanf(line, "started %d %d %s %s", &p.PID, &p.PGID, &p.Host, &p.BootID); err != nil {
		t.Fatalf("helper wrote %q: %v", line, err)
	}
	host, boot := thisMachine()
	if p.PGID != p.PID || p.Host != host || p.BootID != boot || boot == "" {
		t.Fatalf("OnStart reported %+v; this machine is %s, boot %s", p, host, boot)
	}
	child, err := strconv.Atoi(readLine(t, bufio.NewReader(fifo), 10*time.Second, "the script's child pid"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(child, syscall.SIGKILL) })
	if !alive(p.PID) || !alive(child) {
		t.Fatalf("script %d or its child %d not running before the helper dies", p.PID, child)
	}
	if pg, _ := processGroup(child); pg != p.PGID {
		t.Fatalf("child's process group %d, want %d", pg, p.PGID)
	}

	if err := helper.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = helper.Wait()
	waitDead(t, p.PID, 5*time.Second, "the script's main process after its scheduler was SIGKILLed")
	// The parent-death signal reaches the direct child only.
	if !alive(child) {
		t.Fatalf("the script's child %d died with the scheduler; KillLeftover below would test nothing", child)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Another run's id: not ours, left alone.
	lo, err := KillLeftover(ctx, p, 4243)
	if !errors.Is(err, ErrNotOurs) || lo.Killed || !slices.Contains(lo.Unmarked, child) {
		t.Fatalf("KillLeftover(run 4243) = %+v, %v; want ErrNotOurs with %d unmarked", lo, err, child)
	}
	// Recorded on another machine: unreachable.
	other := p
	other.BootID = "another-boot"
	if _, err := KillLeftover(ctx, other, 4242); !errors.Is(err, ErrOtherMachine) {
		t.Fatalf("KillLeftover(other boot) error = %v, want ErrOtherMachine", err)
	}
	if !alive(child) {
		t.Fatal("the child was killed by a KillLeftover that should not have")
	}
	// The run's own id: killed, and gone when it returns.
	lo, err = KillLeftover(ctx, p, 4242)
	if err != nil || !lo.Killed || !slices.Contains(lo.Marked, child) {
		t.Fatalf("KillLeftover(run 4242) = %+v, %v; want the child %d killed", lo, err, child)
	}
	if alive(child) {
		t.Fatalf("child %d still runs after KillLeftover returned", child)
	}
	// Nothing left: no error, nothing killed.
	if lo, err := KillLeftover(ctx, p, 4242); err != nil || lo.Killed || len(lo.Marked)+len(lo.Unmarked) != 0 {
		t.Fatalf("second KillLeftover = %+v, %v; want nothing found", lo, err)
	}
}

// KillLeftover never kills a group none of whose members carries the
// run's id, e.g. a process group whose id was reused by an unrelated one.
func TestKillLeftoverSparesUnmarkedGroup(t *testing.T) {
	cmd := exec.Command("sleep", "1000")
	cmd.Env = []string{"SCHEDULER_RUN_ID=99x"} // a near miss of 99
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	p := newProcess(cmd.Process.Pid, time.Now(), 1)
	lo, err := KillLeftover(context.Background(), p, 99)
	if !errors.Is(err, ErrNotOurs) || lo.Killed {
		t.Fatalf("KillLeftover = %+v, %v; want ErrNotOurs", lo, err)
	}
	if !alive(cmd.Process.Pid) {
		t.Fatal("an unmarked process group was killed")
	}
	if _, err := KillLeftover(context.Background(), Process{PGID: 1}, 99); err == nil {
		t.Fatal("KillLeftover accepted process group 1")
	}
}

// The parent-death signal follows the thread that forked the script, and
// Go ends threads whose goroutine exits while locked to them. RunWith
// keeps the forking thread locked until the script is reaped, so such
// thread exits while the script runs do not kill it. (OnStart blocks here
// so that RunWith's goroutine leaves the forking thread idle meanwhile.)
func TestScriptSurvivesThreadExits(t *testing.T) {
	cfg := testRoot(t)
	writeScript(t, cfg.Root, "src/waiter.sh", "#!/bin/sh\nexec sleep 1000\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan Process, 1)
	churned := make(chan struct{})
	done := make(chan runOutcome, 1)
	go func() {
		res, err := RunWith(ctx, cfg, Params{ScriptPath: "src/waiter.sh"}, RunInfo{RunID: 1, ScheduleID: "1",
			OnStart: func(p Process) { started <- p; <-churned }})
		done <- runOutcome{res, err}
	}()
	var p Process
	select {
	case p = <-started:
	case o := <-done:
		t.Fatalf("run ended before it started: %+v, %v", o.res, o.err)
	}
	// Many goroutines that end locked to their thread: each takes its
	// thread down with it.
	for range 20 {
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() {
				runtime.LockOSThread()
				time.Sleep(time.Millisecond) // park, so that the others spread over idle threads
			})
		}
		wg.Wait()
	}
	close(churned)
	// A parent-death signal would have been delivered by now; give a dying
	// script a moment to be seen as such.
	deadline := time.Now().Add(200 * time.Millisecond)
	for time.Now().Before(deadline) && alive(p.PID) {
		time.Sleep(10 * time.Millisecond)
	}
	if !alive(p.PID) {
		o := <-done
		t.Fatalf("script died when unrelated threads exited: %+v, %v", o.res, o.err)
	}
	cancel()
	if o := <-done; !errors.Is(o.err, context.Canceled) {
		t.Fatalf("run after cancel: %+v, %v", o.res, o.err)
	}
}

// Process-group kills cannot reach a grandchild that left the group with
// setsid: only the service's cgroup does (systemd, see deploy/). The direct
// group is killed all the same.
func TestSetsidGrandchildEscapesGroupKill(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("setsid not installed")
	}
	cfg := testRoot(t)
	fifoPath, fifo := makeFifo(t)
	writeScript(t, cfg.Root, "src/escaper.sh", `#!/bin/sh
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
echo $! > "$1"
sleep 1000 &
echo $! > "$1"
wait
`)
	done := runAsync(context.Background(), cfg, Params{ScriptPath: "src/escaper.sh", Args: []string{fifoPath}, TimeoutSeconds: 1})
	r := bufio.NewReader(fifo)
	escaped, err1 := strconv.Atoi(readLine(t, r, 10*time.Second, "the setsid grandchild's pid"))
	inGroup, err2 := strconv.Atoi(readLine(t, r, 10*time.Second, "the grandchild's pid"))
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(escaped, syscall.SIGKILL) })
	o := <-done
	if !o.res.TimedOut {
		t.Fatalf("run = %+v, %v; want a timeout", o.res, o.err)
	}
	waitDead(t, inGroup, 5*time.Second, "the grandchild in the script's group")
	if !alive(escaped) {
		t.Fatal("the setsid grandchild was killed by the process-group kill; update the package doc and README")
	}
	if pg, _ := processGroup(escaped); pg == 0 {
		t.Fatal("no process group for the setsid grandchild")
	}
}
