package script

import (
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// setProcessGroup makes the script the leader of a new process group, so
// that it and everything it starts can be signalled together, and asks the
// kernel to SIGKILL it when its parent dies (Pdeathsig): a scheduler killed
// with SIGKILL takes its scripts' main processes with it instead of leaving
// them running under init while another instance retries the run.
// Pdeathsig reaches the direct child only; what it started in its group is
// killed by [KillLeftover] or, under systemd, with the service's cgroup.
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// startProcess starts cmd on an OS thread that stays locked until release
// is called (after the child was reaped).
//
// Linux sends the parent-death signal when the *thread* that forked the
// child exits, not the process. Go exits a thread when a goroutine that
// locked it ends without unlocking; were the child forked on such a thread
// (a thread any goroutine may run on later), the script would be killed in
// the middle of its run. Locking the forking goroutine to its thread until
// the child is reaped keeps every other goroutine off that thread, so it
// lives exactly as long as the scheduler process does.
func startProcess(cmd *exec.Cmd) (release func(), err error) {
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		err := cmd.Start()
		started <- err
		if err == nil {
			<-done
		}
	}()
	if err := <-started; err != nil {
		return func() {}, err
	}
	var once sync.Once
	return func() { once.Do(func() { close(done) }) }, nil
}

// waitAndReap waits until the script's main process has exited without
// reaping it (waitid with WNOWAIT): as long as it is a zombie its pid, which
// is the group id, cannot be reused, so killing the rest of the group
// cannot hit an unrelated process. Then it reaps it with cmd.Wait.
func waitAndReap(cmd *exec.Cmd, g *procGroup) error {
	pid := cmd.Process.Pid
	var info unix.Siginfo
	var werr error
	for {
		werr = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(werr, unix.EINTR) {
			break
		}
	}
	g.finish(pid)
	err := cmd.Wait()
	if werr != nil && err == nil {
		err = fmt.Errorf("waitid: %w", werr)
	}
	return err
}
