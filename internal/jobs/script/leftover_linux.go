package script

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// leftoverPoll is how often KillLeftover looks whether the killed group is
// gone.
const leftoverPoll = 10 * time.Millisecond

// KillLeftover kills what is left of a run's processes: those of process
// group p.PGID on this machine, if they belong to run runID. Call it before
// a run is started again (retried) after the instance that ran it died, with
// the Process that [RunInfo.OnStart] reported for it.
//
// Process ids are reused, so the group is only killed when one of its
// members carries SCHEDULER_RUN_ID=runID in its environment
// (/proc/<pid>/environ), which [RunWith] gives every script and which its
// children inherit. Then the whole group gets SIGKILL (members that replaced
// their environment included), and KillLeftover waits until every member is
// gone or ctx ends ([ErrSurvived]). A group that no longer exists is not an
// error (Leftover is empty); one whose members are all unmarked is left
// alone and gives [ErrNotOurs]. A Process recorded on another host or
// before a reboot gives [ErrOtherMachine]: its processes cannot be reached
// from here. Processes a script moved out of its group (setsid) are not
// found: under systemd the service's cgroup reaches them (see README,
// Deployment).
//
// Only processes the scheduler may signal are seen (the same user, as
// scripts run as the scheduler's user).
func KillLeftover(ctx context.Context, p Process, runID int64) (Leftover, error) {
	var lo Leftover
	if runID <= 0 || p.PGID <= 1 {
		return lo, fmt.Errorf("kill leftover of run %d, process group %d: invalid run id or group", runID, p.PGID)
	}
	if !p.Local() {
		host, boot := thisMachine()
		return lo, fmt.Errorf("kill leftover of run %d, process group %d on %s (boot %s); this is %s (boot %s): %w",
			runID, p.PGID, p.Host, p.BootID, host, boot, ErrOtherMachine)
	}
	marker := []byte(EnvRunID + "=" + strconv.FormatInt(runID, 10))
	members, err := groupMembers(p.PGID)
	if err != nil {
		return lo, fmt.Errorf("kill leftover of run %d: %w", runID, err)
	}
	// Pin each member with a pidfd before reading its environment, so the
	// check and the signal below concern the same process even if ids are
	// reused meanwhile.
	var fds []int
	defer func() {
		for _, fd := range fds {
			_ = unix.Close(fd)
		}
	}()
	for _, pid := range members {
		fd, err := unix.PidfdOpen(pid, 0)
		switch {
		case err == nil:
			if pg, err := processGroup(pid); err != nil || pg != p.PGID {
				_ = unix.Close(fd)
				continue // exited, or another process now has this id
			}
			fds = append(fds, fd)
		case errors.Is(err, unix.ESRCH):
			continue // exited
		default:
			// No pidfds (Linux < 5.3): unpinned, the group id alone
			// (not reusable while a member lives) must do.
		}
		if env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ"); err == nil && hasEntry(env, marker) {
			lo.Marked = append(lo.Marked, pid)
		} else {
			lo.Unmarked = append(lo.Unmarked, pid)
		}
	}
	if len(lo.Marked) == 0 {
		if len(lo.Unmarked) > 0 {
			return lo, fmt.Errorf("kill leftover of run %d: process group %d has members %v without %s: %w",
				runID, p.PGID, lo.Unmarked, marker, ErrNotOurs)
		}
		return lo, nil
	}
	// A marked member is alive (pinned and checked just now), so the group
	// id cannot have been reused: kill the group, then each pinned member.
	if err := syscall.Kill(-p.PGID, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return lo, fmt.Errorf("kill leftover of run %d: kill process group %d: %w", runID, p.PGID, err)
	}
	lo.Killed = true
	for _, fd := range fds {
		_ = unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0)
	}
	for {
		left, err := liveMembers(p.PGID)
		if err != nil {
			return lo, fmt.Errorf("kill leftover of run %d: %w", runID, err)
		}
		if len(left) == 0 {
			return lo, nil
		}
		select {
		case <-ctx.Done():
			return lo, fmt.Errorf("kill leftover of run %d: process group %d still has %v: %w (%w)", runID, p.PGID, left, ErrSurvived, ctx.Err())
		case <-time.After(leftoverPoll):
		}
		// Members forked between the scan and the kill got SIGKILL with
		// the group; kill again in case one was forked after it.
		_ = syscall.Kill(-p.PGID, syscall.SIGKILL)
	}
}

// hasEntry reports whether the NUL-separated environment env holds entry.
func hasEntry(env, entry []byte) bool {
	for _, kv := range bytes.Split(env, []byte{0}) {
		if bytes.Equal(kv, entry) {
			return true
		}
	}
	return false
}

// groupMembers and liveMembers list the processes of group pgid that have
// not exited (zombies are dead: they only wait to be reaped by their parent,
// and cannot be killed).
func groupMembers(pgid int) ([]int, error) { return liveMembers(pgid) }

func liveMembers(pgid int) ([]int, error) {
	d, err := os.Open("/proc")
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("list processes: %w", err)
	}
	var out []int
	for _, name := range names {
		pid, err := strconv.Atoi(name)
		if err != nil {
			continue
		}
		st, err := readStat(pid)
		if err != nil || st.pgrp != pgid || st.state == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out, nil
}

// processGroup returns the process group of pid.
func processGroup(pid int) (int, error) {
	st, err := readStat(pid)
	return st.pgrp, err
}

type procStat struct {
	state byte
	pgrp  int
}

// readStat parses state and process group from /proc/<pid>/stat:
// "pid (comm) state ppid pgrp ...", where comm may contain spaces and
// parentheses, so the fields are counted from the last ')'.
func readStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	pg, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return procStat{}, fmt.Errorf("/proc/%d/stat: process group %q: %w", pid, f[2], err)
	}
	return procStat{state: f[0][0], pgrp: pg}, nil
}
