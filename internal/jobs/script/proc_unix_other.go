//go:build unix && !linux

package script

import "os/exec"

// waitAndReap reaps the script's main process, then kills what it left in
// its group. Without Linux's waitid(WNOWAIT) the group id could in theory
// be reused between the two steps; the window is a few microseconds.
func waitAndReap(cmd *exec.Cmd, g *procGroup) error {
	err := cmd.Wait()
	g.finish(cmd.Process.Pid)
	return err
}
