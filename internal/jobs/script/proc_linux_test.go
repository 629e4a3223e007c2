package script

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// makeFifo creates a named pipe in dir and opens it read-write (so the open
// does not block) for the test to read what a script writes into it.
func makeFifo(t *testing.T) (string, *os.File) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return path, f
}

// readPID reads one line holding a pid from the fifo, or fails when the run
// ends first.
func readPID(t *testing.T, fifo *os.File, done <-chan runOutcome) int {
	t.Helper()
	pidc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(fifo).ReadString('\n')
		pidc <- line
	}()
	select {
	case line := <-pidc:
		pid, err := strconv.Atoi(strings.TrimSpace(line))
		if err != nil {
			t.Fatalf("script wrote %q, want a pid", line)
		}
		return pid
	case o := <-done:
		t.Fatalf("run ended before the script reported its child: %+v, %v", o.res, o.err)
		return 0
	}
}

// assertGone waits (bounded) for process pid to terminate, using a pidfd,
// which becomes readable when the process exits.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return // already exited and reaped
	}
	if err != nil {
		t.Skipf("pidfd_open unavailable (%v); cannot check process %d", err, pid)
	}
	defer unix.Close(fd)
	fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, 10_000)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			t.Fatalf("poll pidfd: %v", err)
		}
		if n != 1 {
			t.Fatalf("process %d (the script's child) still runs 10 s after the run ended", pid)
		}
		return
	}
}

// groupScript starts a background `sleep 1000`, reports its pid through the
// fifo given as first argument, then waits (or exits at once with "exit").
const groupScript = `#!/bin/sh
%s
sleep 1000 &
echo $! > "$1"
%s
`

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	cfg := testRoot(t)
	fifoPath, fifo := makeFifo(t)
	// SIGTERM is ignored by the script and, inherited, by its child: only
	// the SIGKILL after the grace period ends them.
	writeScript(t, cfg.Root, "src/stubborn.sh", fmt.Sprintf(groupScript, "trap '' TERM", "wait; wait; wait"))
	done := runAsync(context.Background(), cfg, Params{ScriptPath: "src/stubborn.sh", Args: []string{fifoPath}, TimeoutSeconds: 1})
	child := readPID(t, fifo, done)
	o := <-done
	if o.err == nil || o.err.Error() != "script src/stubborn.sh timed out after 1 s" || !errors.Is(o.err, context.DeadlineExceeded) {
		t.Errorf("error = %v", o.err)
	}
	if !o.res.TimedOut || o.res.Success || o.res.ExitCode != -9 {
		t.Errorf("result = %+v", o.res)
	}
	assertGone(t, child)
}

func TestRunCancelKillsProcessGroup(t *testing.T) {
	cfg := testRoot(t)
	cfg.KillGrace = 10 * time.Second // SIGTERM suffices; the grace must not be waited for
	fifoPath, fifo := makeFifo(t)
	writeScript(t, cfg.Root, "src/waiter.sh", fmt.Sprintf(groupScript, "echo started >&2", "wait"))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := runAsync(ctx, cfg, Params{ScriptPath: "src/waiter.sh", Args: []string{fifoPath}})
	child := readPID(t, fifo, done)
	cancel()
	o := <-done
	if !errors.Is(o.err, context.Canceled) || !strings.HasPrefix(o.err.Error(), "script src/waiter.sh cancelled: context canceled") {
		t.Errorf("error = %v", o.err)
	}
	if o.res.TimedOut || o.res.Success || o.res.ExitCode != -int(syscall.SIGTERM) || o.res.StderrPreview != "started\n" {
		t.Errorf("result = %+v", o.res)
	}
	assertGone(t, child)
}

func TestRunKillsLeftoverChildren(t *testing.T) {
	cfg := testRoot(t)
	fifoPath, fifo := makeFifo(t)
	// The script exits at once, leaving a child that holds stdout open.
	writeScript(t, cfg.Root, "src/leaver.sh", fmt.Sprintf(groupScript, "", "echo '__SCHEDULER_RESULT__: {\"left\": 1}'"))
	done := runAsync(context.Background(), cfg, Params{ScriptPath: "src/leaver.sh", Args: []string{fifoPath}})
	child := readPID(t, fifo, done)
	o := <-done
	if o.err != nil || !o.res.Success || o.res.ScriptResult["left"] == nil {
		t.Errorf("Run = %+v, %v", o.res, o.err)
	}
	assertGone(t, child)
}
