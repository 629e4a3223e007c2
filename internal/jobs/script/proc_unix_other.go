//go:build unix && !linux

package script

import (
	"os/exec"
	"syscall"
)

// setProcessGroup makes the script the leader of a new process group, so
// that it and everything it starts can be signalled together. There is no
// parent-death signal outside Linux: a scheduler killed with SIGKILL leaves
// its scripts running (see [KillLeftover]).
func setProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// startProcess starts cmd; release does nothing here.
func startProcess(cmd *exec.Cmd) (release func(), err error) {
	return func() {}, cmd.Start()
}

// waitAndReap reaps the script's main process, then kills what it left in
// its group. Without Linux's waitid(WNOWAIT) the group id could in theory
// be reused between the two steps; the window is a few microseconds.
func waitAndReap(cmd *exec.Cmd, g *procGroup) error {
	err := cmd.Wait()
	g.finish(cmd.Process.Pid)
	return err
}
