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

// Result is what a script run records in job_schedule_runs.result. The
// first six keys are the old service's; timed_out and duration_ms are
// ours.
type Result struct {
	// Success is true when the script exited with status 0 in time.
	Success bool `json:"success"`
	// ExitCode is the exit status; -N when the script died of signal N
	// (as Python's subprocess reports it); -1 when it could not start.
	ExitCode int `json:"exit_code"`
	// ScriptResult is the JSON object of the first __SCHEDULER_RESULT__
	// line that parsed; {"parse_error": ..., "raw": ...} when none did;
	// {} when there was none. Nil only when the script did not run.
	ScriptResult map[string]any `json:"script_result"`
	// StdoutPreview holds the last 500 characters of stdout.
	StdoutPreview string `json:"stdout_preview"`
	// StderrPreview holds the last 2000 characters of stderr.
	StderrPreview string `json:"stderr_preview"`
	// NotificationSent is always false from [Run]: notifications are
	// chosen with [Rules.Channels] and sent by the caller, which sets it.
	NotificationSent bool `json:"notification_sent"`
	// TimedOut is true when the script was killed for running too long.
	TimedOut bool `json:"timed_out,omitempty"`
	// DurationMS is the wall time from start to exit in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// ErrorTailChars is how much of the stderr tail an [ExitError] message
// carries (the old service's error text kept 500 characters).
const ErrorTailChars = 500

// ExitError is the error of a script or module that ran and exited with a
// non-zero status (or died of a signal: Code -N).
type ExitError struct {
	// Code is the exit status, -N for signal N.
	Code int
	// StderrTail is the end of stderr (at most StderrTailChars).
	StderrTail string
}

// Error is the old service's failed-run text: "Script exited with code N;
// stderr tail: <last 500 characters of stderr>".
func (e *ExitError) Error() string {
	return fmt.Sprintf("Script exited with code %d; stderr tail: %s", e.Code, e.Tail(ErrorTailChars))
}

// Tail returns the last n characters of the stderr tail, without trailing
// white space.
func (e *ExitError) Tail(n int) string {
	return lastRunes(strings.TrimRight(e.StderrTail, " \t\r\n"), n)
}

// lastRunes returns the last n characters of s.
func lastRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		r = r[len(r)-n:]
	}
	return string(r)
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
// A non-zero exit returns an [*ExitError]: "Script exited with code 2;
// stderr tail: <stderr tail>". A failed run still returns the Result with
// everything known (tails, exit code, script result). Invalid params or
// config return an error and a Result with ExitCode -1.
//
// Run is [RunWith] without a RunInfo: the script gets no SCHEDULER_*
// variables and no --user-id.
func Run(ctx context.Context, cfg Config, p Params) (Result, error) {
	return RunWith(ctx, cfg, p, RunInfo{})
}

// RunWith is [Run] for one identified run: the script's environment also
// carries SCHEDULER_RUN_ID, SCHEDULER_SCHEDULE_ID, SCHEDULER_SCHEDULED_FOR
// and SCHEDULER_ATTEMPT from info (they override inherited values and
// Config.Env), info.OnStart learns where its process group lives, and
// "--user-id info.UserID" follows the arguments when p.UserIDArg is set
// and info.UserID > 0.
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
	args := append([]string{resolved}, p.Args...)
	if p.UserIDArg && info.UserID > 0 {
		args = append(args, "--user-id", strconv.FormatInt(info.UserID, 10))
	}
	sp := spec{label: "script " + p.ScriptPath, timeout: p.TimeoutSeconds, argv: args}
	if isPython(resolved) {
		sp.python = true
	}
	res, _, err = run(ctx, cfg, sp, info)
	return res, err
}

// spec is one process to run: argv[0] is the program, unless python is
// set, then argv follows cfg.Python.
type spec struct {
	label   string // "script src/x.py", "module src.portfolio.pnl_alert": names it in errors
	argv    []string
	python  bool
	timeout int // seconds, 0: only ctx
	stdout  int // characters of stdout's end to return besides the preview (0: none)
}

// run starts sp in its own process group with cwd cfg.Root, waits for it
// and returns the Result, the last sp.stdout characters of stdout and the
// error (timeout, cancellation, [*ExitError], or a start failure).
func run(ctx context.Context, cfg Config, sp spec, info RunInfo) (Result, string, error) {
	res := Result{ExitCode: -1}
	start := time.Now()
	parent := ctx
	if sp.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, time.Duration(sp.timeout)*time.Second, errScriptTimeout)
		defer cancel()
	}
	// Refuse to start when already cancelled: exec would start the process
	// and kill it at once.
	if ctx.Err() != nil {
		return res, "", interruptError(ctx, parent, sp, start)
	}

	argv := sp.argv
	env := cfg.inherited()
	if sp.python {
		py, err := exec.LookPath(cfg.Python)
		if err != nil {
			return res, "", fmt.Errorf("%s %q: %w", EnvPython, cfg.Python, err)
		}
		argv = append([]string{py}, argv...)
		env = append([]string{"PYTHONUNBUFFERED=1"}, env...)
	}
	env = append(env, cfg.Env...)
	env = append(env, info.env()...) // last: exec keeps the last of duplicate keys

	stdoutTail, stderrTail := newTail(StdoutTailChars), newTail(StderrTailChars)
	var stdout io.Writer = stdoutTail
	var captured *tail
	if sp.stdout > 0 {
		captured = newTail(sp.stdout)
		stdout = io.MultiWriter(stdoutTail, captured)
	}
	scanner := &resultScanner{}
	outR, outW, err := os.Pipe()
	if err != nil {
		return res, "", fmt.Errorf("%s: stdout pipe: %w", sp.label, err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		closeAll(outR, outW)
		return res, "", fmt.Errorf("%s: stderr pipe: %w", sp.label, err)
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
		return res, "", fmt.Errorf("%s: start: %w", sp.label, err)
	}
	closeAll(outW, errW) // the child holds its own copies
	cfg.Logger.Debug("script started", "what", sp.label, "pid", cmd.Process.Pid, "args", len(argv)-1, "run_id", info.RunID)

	var readers sync.WaitGroup
	readers.Go(func() { copyQuiet(io.MultiWriter(stdout, scanner), outR) })
	readers.Go(func() { copyQuiet(stderrTail, errR) })
	if info.OnStart != nil {
		info.OnStart(newProcess(cmd.Process.Pid, start, info.Attempt))
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

	res.StdoutPreview = stdoutTail.String(StdoutTailChars)
	res.StderrPreview = stderrTail.String(StderrTailChars)
	var out string
	if captured != nil {
		out = captured.String(sp.stdout)
	}
	sr, rerr := scanner.result()
	res.ScriptResult = sr
	if rerr != nil {
		cfg.Logger.Warn("script result line unusable", "what", sp.label, "err", rerr)
	}

	if ps := cmd.ProcessState; ps != nil {
		res.ExitCode = exitCode(ps)
	}
	if group.wasInterrupted() {
		ierr := interruptError(ctx, parent, sp, start)
		res.TimedOut = errors.Is(ierr, context.DeadlineExceeded)
		return res, out, withStderr(ierr, res.StderrPreview)
	}
	if cmd.ProcessState == nil {
		return res, out, fmt.Errorf("%s: %w", sp.label, err)
	}
	if res.ExitCode != 0 {
		return res, out, &ExitError{Code: res.ExitCode, StderrTail: res.StderrPreview}
	}
	var tooLong *ResultTooLongError
	if errors.As(rerr, &tooLong) {
		// The script finished, but the result it reported is lost: the
		// run fails rather than completing without it.
		return res, out, fmt.Errorf("%s: %w", sp.label, tooLong)
	}
	res.Success = true
	return res, out, nil
}

// interruptError describes why ctx ended: the script's own timeout, the
// caller's deadline, or a cancellation.
func interruptError(ctx, parent context.Context, sp spec, start time.Time) error {
	cause := context.Cause(ctx)
	switch {
	case errors.Is(cause, errScriptTimeout):
		return &timeoutError{fmt.Sprintf("%s timed out after %d s", sp.label, sp.timeout)}
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		n := "?"
		if dl, ok := parent.Deadline(); ok {
			n = formatSeconds(dl.Sub(start))
		}
		return &timeoutError{fmt.Sprintf("%s timed out after %s s", sp.label, n)}
	default:
		return fmt.Errorf("%s cancelled: %w", sp.label, cause)
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
