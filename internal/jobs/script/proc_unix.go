//go:build unix

package script

import (
	"os"
	"sync"
	"syscall"
	"time"
)

// supported reports whether Run can work here: process groups exist.
func supported() error { return nil }

// procGroup signals the process group of one script run. Signals are only
// sent while the group leader has not been reaped (see waitAndReap), so the
// group id cannot belong to another process.
type procGroup struct {
	grace       time.Duration
	mu          sync.Mutex
	done        bool // the leader exited; no more interrupts
	interrupted bool
	timer       *time.Timer
}

// interrupt is the exec.Cmd.Cancel hook: SIGTERM to the group, SIGKILL
// after the grace period (at once when the grace is zero).
func (g *procGroup) interrupt(pgid int) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return os.ErrProcessDone
	}
	g.interrupted = true
	if g.grace <= 0 {
		killGroup(pgid, syscall.SIGKILL)
		return nil
	}
	killGroup(pgid, syscall.SIGTERM)
	g.timer = time.AfterFunc(g.grace, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if !g.done {
			killGroup(pgid, syscall.SIGKILL)
		}
	})
	return nil
}

// finish is called once the leader has exited but before it is reaped:
// it stops any pending SIGKILL and kills whatever is left in the group.
func (g *procGroup) finish(pgid int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.done = true
	if g.timer != nil {
		g.timer.Stop()
	}
	killGroup(pgid, syscall.SIGKILL)
}

// wasInterrupted reports whether interrupt signalled the group.
func (g *procGroup) wasInterrupted() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.interrupted
}

// killGroup sends sig to process group pgid. Errors are ignored: ESRCH
// means everything already exited, and EPERM (a member that changed its
// credentials) leaves nothing more to try.
func killGroup(pgid int, sig syscall.Signal) {
	_ = syscall.Kill(-pgid, sig)
}

// exitCode returns the exit status, or -signal when the process was killed
// by a signal (as Python's subprocess reports it).
func exitCode(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return -int(ws.Signal())
	}
	return ps.ExitCode()
}
