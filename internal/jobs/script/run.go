package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Result is what a script run records in job_schedule_runs.result.
type Result struct {
	// Success is true when the script exited with status 0 in time.
	Success bool `json:"success"`
	// ExitCode is the exit status; -N when the script died of signal N
	// (as Python's subprocess reports it); -1 when it could not start.
	ExitCode int `json:"exit_code"`
	// ScriptResult is the JSON object of the last __SCHEDULER_RESULT__ line.
	ScriptResult map[string]any `json:"script_result,omitempty"`
	// ResultError says why the last result line could not be used.
	ResultError string `json:"result_error,omitempty"`
	// StdoutTail holds the last 500 characters of stdout.
	StdoutTail string `json:"stdout_tail"`
	// StderrTail holds the last 2000 characters of stderr.
	StderrTail string `json:"stderr_tail"`
	// NotificationSent is always false from [Run]: notifications are
	// chosen with [Rules.Channels] and sent by the caller, which sets it.
	NotificationSent bool `json:"notification_sent"`
	// TimedOut is true when the script was killed for running too long.
	TimedOut bool `json:"timed_out,omitempty"`
	// DurationMS is the wall time from start to exit in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// errScriptTimeout is the cancellation cause of the timeout Run sets from
// Params.TimeoutSeconds.
var errScriptTimeout = errors.New("script timeout")

// drainTimeout bounds how long output is still read after the script's
// process group was killed; only a process that left the group can hold
// the pipes that long.
const drainTimeout = 2 * time.Second

// Run validates p against cfg again (the file system may have changed since
// [ParseParams]) and runs the script to completion.
//
// Timeouts: when p.TimeoutSeconds > 0, Run limits the run to that many
// seconds; a deadline or cancellation of ctx applies as well. A timed-out
// run returns an error "script src/x.py timed out after N s" that wraps
// context.DeadlineExceeded, where N is p.TimeoutSeconds or, when the
// caller's deadline came first, the time from Run's start to that deadline.
// A cancelled ctx gives an error wrapping context.Canceled (or ctx's
// cause). In both cases the whole process group gets SIGTERM, then SIGKILL
// after cfg.KillGrace.
//
// A non-zero exit returns an error "script src/x.py exited with status 2:
// <stderr tail>". A failed run still returns the Result with everything
// known (tails, exit code, script result). Invalid params or config return
// an error and a Result with ExitCode -1.
//
// Run is [RunWith] without a RunInfo: the script gets no SCHEDULER_*
// variables.
func Run(ctx context.Context, cfg Config, p Params) (Result, error) {
	return RunWith(ctx, cfg, p, RunInfo{})
}

// RunWith is [Run] for one identified run: the script's environment also
// carries SCHEDULER_RUN_ID, SCHEDULER_SCHEDULE_ID, SCHEDULER_SCHEDULED_FOR
// and SCHEDULER_ATTEMPT from info (they override inherited values and
// Config.Env), and info.OnStart learns where its process group lives.
//
// On Linux the script's main process is killed by the kernel when the
// scheduler dies, even by SIGKILL (parent-death signal); what it started
// in its process group is not, and is found and killed by [KillLeftover].
func RunWith(ctx context.Context, cfg Config, p Params, info RunInfo) (Result, error) {
	res := Result{ExitCode: -1}
	if err := supported(); err != nil {
		return res, err
	}
	cfg, err := cfg.check()
	if err != nil {
		return res, err
	}
	resolved, err := p.validate(cfg)
	if err != nil {
		return res, err
	}

	start := time.Now()
	parent := ctx
	if p.TimeoutSeconds > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(p.TimeoutSeconds)*time.Second, errScriptTimeout)
		defer cancel()
	}
	// Refuse to start when already cancelled: exec would start the process
	// and kill it at once.
	if ctx.Err() != nil {
		return res, interruptError(ctx, parent, p, start)
	}

	argv := []string{resolved}
	env := os.Environ()
	if isPython(resolved) {
		py, err := exec.LookPath(cfg.Python)
		if err != nil {
			return res, fmt.Errorf("%s %q: %w", EnvPython, cfg.Python, err)
		}
		argv = []string{py, resolved}
		env = append([]string{"PYTHONUNBUFFERED=1"}, env...)
	}
	argv = append(argv, p.Args...)
	env = append(env, cfg.Env...)
	env = append(env, info.env()...) // last: exec keeps the last of duplicate keys

	stdoutTail, stderrTail := newTail(StdoutTailChars), newTail(StderrTailChars)
	scanner := &resultScanner{}
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, fmt.Errorf("script %s: stdout pipe: %w", p.ScriptPath, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return res, fmt.Errorf("script %s: stderr pipe: %w", p.ScriptPath, err)
	}

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = cfg.Root
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = outW, errW // *os.File: handed to the child, no copying goroutine in exec
	group := &procGroup{grace: cfg.KillGrace}
	setProcessGroup(cmd)
	// exec sets cmd.Process before it starts watching ctx, so Cancel sees it.
	cmd.Cancel = func() error { return group.interrupt(cmd.Process.Pid) }

	release, err := startProcess(cmd)
	if err != nil {
		closeAll(outR, outW, errR, errW)
		return res, fmt.Errorf("script %s: start: %w", p.ScriptPath, err)
	}
	closeAll(outW, errW) // the child holds its own copies
	cfg.Logger.Debug("script started", "script", p.ScriptPath, "pid", cmd.Process.Pid, "args", len(p.Args), "run_id", info.RunID)

	var readers sync.WaitGroup
	readers.Go(func() { copyQuiet(io.MultiWriter(stdoutTail, scanner), outR) })
	readers.Go(func() { copyQuiet(stderrTail, errR) })
	if info.OnStart != nil {
		info.OnStart(newProcess(cmd.Process.Pid, start))
	}

	// Wait for the main process, kill what it left in its group, reap it.
	err = waitAndReap(cmd, group)
	release()
	res.DurationMS = time.Since(start).Milliseconds()

	drained := make(chan struct{})
	go func() { readers.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
		// A detached process still holds the pipes: stop reading.
		closeAll(outR, errR)
		<-drained
	}
	closeAll(outR, errR)
	scanner.finish()

	res.StdoutTail = stdoutTail.String(StdoutTailChars)
	res.StderrTail = stderrTail.String(StderrTailChars)
	if sr, rerr := scanner.result(); rerr != nil {
		res.ResultError = rerr.Error()
		cfg.Logger.Warn("script result line unusable", "script", p.ScriptPath, "err", rerr)
	} else {
		res.ScriptResult = sr
	}

	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = exitCode(ps)
	}
	if group.wasInterrupted() {
		ierr := interruptError(ctx, parent, p, start)
		res.TimedOut = errors.Is(ierr, context.DeadlineExceeded)
		return res, withStderr(ierr, res.StderrTail)
	}
	if cmd.ProcessState == nil {
		return res, fmt.Errorf("script %s: %w", p.ScriptPath, err)
	}
	if res.ExitCode != 0 {
		status := "status " + strconv.Itoa(res.ExitCode)
		if res.ExitCode < 0 {
			status = "signal " + strconv.Itoa(-res.ExitCode)
		}
		return res, withStderr(fmt.Errorf("script %s exited with %s", p.ScriptPath, status), res.StderrTail)
	}
	res.Success = true
	return res, nil
}

// interruptError describes why ctx ended: the script's own timeout, the
// caller's deadline, or a cancellation.
func interruptError(ctx, parent context.Context, p Params, start time.Time) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errScriptTimeout):
		return &timeoutError{fmt.Sprintf("script %s timed out after %d s", p.ScriptPath, p.TimeoutSeconds)}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		n := "?"
		if dl, ok := parent.Deadline(); ok {
			n = formatSeconds(dl.Sub(start))
		}
		return &timeoutError{fmt.Sprintf("script %s timed out after %s s", p.ScriptPath, n)}
	default:
		return fmt.Errorf("script %s cancelled: %w", p.ScriptPath, cause)
	}
}

// timeoutError is a timeout whose message does not repeat "context
// deadline exceeded" but which matches it with errors.Is.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string { return e.msg }
func (e *timeoutError) Unwrap() error { return context.DeadlineExceeded }

// formatSeconds renders d in seconds, to the millisecond, without trailing
// zeros ("600", "0.25").
func formatSeconds(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	return strconv.FormatFloat(d.Round(time.Millisecond).Seconds(), 'f', -1, 64)
}

// withStderr appends the stderr tail to err's message, keeping err wrapped.
func withStderr(err error, stderr string) error {
	s := strings.TrimSpace(stderr)
	if s == "" {
		return err
	}
	return fmt.Errorf("%w: %s", err, s)
}

// copyQuiet copies until EOF or a read error; the writers never fail and
// a read error only means the pipe was closed.
func copyQuiet(w io.Writer, r io.Reader) {
	_, _ = io.Copy(w, r)
}

// closeAll closes files, ignoring errors (they are pipe ends).
func closeAll(fs ...*os.File) {
	for _, f := range fs {
		_ = f.Close()
	}
}
