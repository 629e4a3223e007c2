package script

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Environment variables every script run through [RunWith] receives, so a
// script can tell its runs apart and make its side effects idempotent. A
// run that is retried (after a failure, or after the instance running it
// died) keeps its SCHEDULER_RUN_ID and gets a higher SCHEDULER_ATTEMPT.
const (
	// EnvRunID is the run's id (job_schedule_runs.id), the key to
	// deduplicate side effects on. [KillLeftover] also recognises a run's
	// processes by it.
	EnvRunID = "SCHEDULER_RUN_ID"
	// EnvScheduleID is the schedule's id (job_schedule_runs.job_id).
	EnvScheduleID = "SCHEDULER_SCHEDULE_ID"
	// EnvScheduledFor is the instant the run is for, RFC 3339 in UTC
	// ("2026-03-02T10:30:00Z"); the same on every attempt.
	EnvScheduledFor = "SCHEDULER_SCHEDULED_FOR"
	// EnvAttempt is the attempt number, 1 for the first.
	EnvAttempt = "SCHEDULER_ATTEMPT"
)

// RunInfo identifies one run of a script: what the script is told about it
// (the SCHEDULER_* environment variables) and what the caller learns about
// its processes (OnStart).
type RunInfo struct {
	// RunID is job_schedule_runs.id (SCHEDULER_RUN_ID). Zero passes none of
	// the SCHEDULER_* variables.
	RunID int64
	// ScheduleID is the schedule's id, job_schedule_runs.job_id
	// (SCHEDULER_SCHEDULE_ID).
	ScheduleID string
	// ScheduledFor is the run's instant (SCHEDULER_SCHEDULED_FOR, RFC 3339
	// UTC; omitted when zero).
	ScheduledFor time.Time
	// Attempt is the attempt number (SCHEDULER_ATTEMPT; omitted when 0).
	Attempt int
	// UserID is the schedule's user_id, passed as "--user-id N" to the
	// scripts whose Params.UserIDArg is set (not when 0).
	UserID int64
	// OnStart, when set, is called once the script's process has started,
	// before [RunWith] waits for it, with where its process group lives.
	// Record it (with the run) so that an instance taking over the run
	// after a crash can kill what is left with [KillLeftover]. It runs on
	// RunWith's goroutine while the script runs; it should not block long
	// (the output pipes are read meanwhile, so the script is not held up).
	OnStart func(Process)
}

// env returns the SCHEDULER_* entries for the script's environment.
func (ri RunInfo) env() []string {
	if ri.RunID == 0 {
		return nil
	}
	out := []string{EnvRunID + "=" + strconv.FormatInt(ri.RunID, 10), EnvScheduleID + "=" + ri.ScheduleID}
	if !ri.ScheduledFor.IsZero() {
		out = append(out, EnvScheduledFor+"="+ri.ScheduledFor.UTC().Format(time.RFC3339))
	}
	if ri.Attempt > 0 {
		out = append(out, EnvAttempt+"="+strconv.Itoa(ri.Attempt))
	}
	return out
}

// Process says where a started script's processes live: what a caller
// records so that [KillLeftover] can find them again after a crash.
type Process struct {
	// PID is the script's main process.
	PID int `json:"pid"`
	// PGID is its process group, which everything the script starts
	// belongs to unless it leaves it (setsid). It equals PID.
	PGID int `json:"pgid"`
	// Host is the host name of the machine (os.Hostname); process ids mean
	// nothing on another one.
	Host string `json:"host"`
	// BootID identifies the machine's boot (Linux:
	// /proc/sys/kernel/random/boot_id; "" elsewhere): after a reboot the
	// same ids belong to other processes, and the old ones are gone.
	BootID string `json:"boot_id,omitempty"`
	// StartedAt is when the script was started.
	StartedAt time.Time `json:"started_at"`
	// Attempt is the run's attempt that started it (RunInfo.Attempt; 0
	// when unknown, as in records of earlier versions). An instance that
	// recovers attempt N leaves a later attempt's processes alone: another
	// instance recovered the run first and started it again.
	Attempt int `json:"attempt,omitempty"`
}

// Errors of [KillLeftover].
var (
	// ErrOtherMachine: the process was recorded on another host or before
	// a reboot; it cannot be reached (or is gone) from here.
	ErrOtherMachine = errors.New("recorded on another host or boot")
	// ErrNotOurs: the process group exists but none of its members carries
	// SCHEDULER_RUN_ID of the run, so it was not killed (its id was reused).
	ErrNotOurs = errors.New("process group does not belong to the run")
	// ErrSurvived: members of the group were still there when the context
	// ended after SIGKILL (a process stuck in uninterruptible sleep).
	ErrSurvived = errors.New("leftover processes still exist after SIGKILL")
)

// Leftover reports what [KillLeftover] found in a run's process group.
type Leftover struct {
	// Marked are the members whose environment carried the run's
	// SCHEDULER_RUN_ID.
	Marked []int
	// Unmarked are the other members (a process that replaced its
	// environment). They are killed with the group when some member is
	// marked, and left alone otherwise.
	Unmarked []int
	// Killed reports whether SIGKILL was sent to the group.
	Killed bool
}

var machine struct {
	once         sync.Once
	host, bootID string
}

// thisMachine returns the host name and boot id of this machine.
func thisMachine() (host, bootID string) {
	machine.once.Do(func() {
		machine.host, _ = os.Hostname()
		if b, err := os.ReadFile("/proc/sys/kernel/random/boot_id"); err == nil {
			machine.bootID = strings.TrimSpace(string(b))
		}
	})
	return machine.host, machine.bootID
}

// Local reports whether p was recorded on this machine in its current boot,
// that is whether [KillLeftover] can reach it.
func (p Process) Local() bool {
	host, boot := thisMachine()
	return p.Host == host && p.BootID == boot
}

// newProcess describes a script of attempt just started as pid.
func newProcess(pid int, at time.Time, attempt int) Process {
	host, boot := thisMachine()
	return Process{PID: pid, PGID: pid, Host: host, BootID: boot, StartedAt: at, Attempt: attempt}
}
