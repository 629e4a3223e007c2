package script

import (
	"errors"
	"fmt"
	"os/exec"

	"golang.org/x/sys/unix"
)

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
