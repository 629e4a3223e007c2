package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/jobs/script"
)

// PortfolioPrefix starts the target of an alert schedule that is not a
// rule alert but one of the framework's portfolio pipelines
// (ORIGINAL-SYSTEM.md §5).
const PortfolioPrefix = "portfolio."

// portfolioPipeline is a portfolio target: the module its CLI lives in and
// the configuration it reads when task_params names none (the framework's
// DEFAULT_CONFIG_PATH, relative to the project root).
type portfolioPipeline struct {
	module        string
	defaultConfig string
}

// portfolioPipelines are the supported portfolio targets. Their CLIs
// (src/portfolio/*/cli.py) print a JSON summary on stdout and exit 0, 1
// when the summary lists errors, 2 on a configuration error.
var portfolioPipelines = map[string]portfolioPipeline{
	"portfolio.pnl_alert":  {module: "src.portfolio.pnl_alert", defaultConfig: "src/portfolio/pnl_alert/config/pnl_alert.yaml"},
	"portfolio.management": {module: "src.portfolio.management", defaultConfig: "src/portfolio/management/config_data/management.yaml"},
}

// portfolioTargets lists the supported targets, sorted, for messages.
func portfolioTargets() string {
	ts := make([]string, 0, len(portfolioPipelines))
	for t := range portfolioPipelines {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	return strings.Join(ts, ", ")
}

// isPortfolioTarget reports whether an alert schedule's target names a
// portfolio pipeline (the old service stripped the target first too).
func isPortfolioTarget(target string) bool {
	return strings.HasPrefix(strings.TrimSpace(target), PortfolioPrefix)
}

// defaultJobTimeout is SCHEDULER_JOB_TIMEOUT when Deps.JobTimeout is zero.
const defaultJobTimeout = 300 * time.Second

// outerGrace is what the engine's limit of a script or pipeline run adds to
// the run's own timeout, so that the run's own timeout (SIGTERM, SIGKILL
// after SCRIPT_KILL_GRACE, stderr tail kept) fires first: the old service's
// max(SCHEDULER_JOB_TIMEOUT, timeout_seconds + 60).
const outerGrace = 60 * time.Second

// jobTimeout is SCHEDULER_JOB_TIMEOUT.
func (e *env) jobTimeout() time.Duration {
	if e.JobTimeout > 0 {
		return e.JobTimeout
	}
	return defaultJobTimeout
}

// outerTimeout is the engine's limit for a run whose own timeout is inner.
func (e *env) outerTimeout(inner time.Duration) time.Duration {
	return max(e.jobTimeout(), inner+outerGrace)
}

// alertRoute is the handler of job_type "alert": schedules whose target
// starts with "portfolio." go to the portfolio pipelines, all others to the
// rule alerts (alertHandler), before either looks at task_params.
type alertRoute struct {
	alert     *alertHandler
	portfolio *portfolioHandler
}

// Validate implements engine.Handler for a schedule without a target: a
// rule alert.
func (r *alertRoute) Validate(raw json.RawMessage) error { return r.alert.Validate(raw) }

// ValidateTarget implements engine.TargetValidator: a portfolio target is
// checked as a pipeline run, any other as a rule alert.
func (r *alertRoute) ValidateTarget(target string, raw json.RawMessage) error {
	if isPortfolioTarget(target) {
		_, err := r.portfolio.parse(target, raw)
		return err
	}
	return r.alert.Validate(raw)
}

// Handle implements engine.Handler.
func (r *alertRoute) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	if isPortfolioTarget(job.Schedule.Target) {
		return r.portfolio.Handle(ctx, job)
	}
	return r.alert.Handle(ctx, job)
}

// Timeout implements engine.Timeouter: a pipeline run gets
// max(SCHEDULER_JOB_TIMEOUT, its timeout + 60 s); rule alerts keep the
// engine's rule (ALERT_MAX_EVAL_TIME).
func (r *alertRoute) Timeout(job *engine.Job) time.Duration {
	if !isPortfolioTarget(job.Schedule.Target) {
		return 0
	}
	p, err := r.portfolio.parse(job.Schedule.Target, job.Schedule.TaskParams)
	if err != nil {
		return 0 // Handle fails it at once
	}
	return r.portfolio.sh.env.outerTimeout(time.Duration(p.timeout) * time.Second)
}

// portfolioHandler runs the framework's portfolio pipelines as
// "<python> -m src.portfolio.<name> --config PATH" inside SCRIPT_ROOT, with
// the script runner's confinement (no shell, own process group,
// parent-death signal, timeouts, SCHEDULER_* variables, leftover fencing).
type portfolioHandler struct {
	sh *scriptHandler // configuration, fencing and run identity of script jobs
}

// portfolioParams are the parsed task_params of a portfolio run.
type portfolioParams struct {
	target     string
	pipeline   portfolioPipeline
	configPath string
	timeout    int // seconds
}

// portfolioKnown are the task_params keys a portfolio run reads; others
// (options read by the engine, anything the framework's tools add) are
// ignored, as the old service did.
var portfolioKnown = []string{"config_path", "timeout_seconds"}

// parse checks the target and task_params of a portfolio run:
// config_path (default: the pipeline's own default configuration) a
// non-empty string without NUL bytes that does not start with "-";
// timeout_seconds (default SCHEDULER_JOB_TIMEOUT) a whole number >= 1.
// With a configured SCRIPT_ROOT the pipeline's module must exist under it.
func (h *portfolioHandler) parse(target string, raw []byte) (portfolioParams, error) {
	target = strings.TrimSpace(target)
	pl, ok := portfolioPipelines[target]
	if !ok {
		return portfolioParams{}, fmt.Errorf("target: %q is not a portfolio pipeline; an alert schedule whose target starts with %q must name one of %s",
			target, PortfolioPrefix, portfolioTargets())
	}
	p := portfolioParams{target: target, pipeline: pl, configPath: pl.defaultConfig,
		timeout: int(h.sh.env.jobTimeout() / time.Second)}
	var fields map[string]json.RawMessage
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := json.Unmarshal(raw, &fields); err != nil {
			return p, fmt.Errorf("task_params: want a JSON object, got %s", shorten(string(raw), 80))
		}
	}
	if v, ok := fields["config_path"]; ok && !isJSONNull(v) {
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return p, fmt.Errorf("task_params.config_path: want a string, got %s", shorten(string(v), 80))
		}
		switch {
		case strings.TrimSpace(s) == "":
			return p, errors.New("task_params.config_path: empty (leave it out for the pipeline's default " + pl.defaultConfig + ")")
		case strings.ContainsRune(s, 0):
			return p, fmt.Errorf("task_params.config_path: %q contains a NUL byte", s)
		case strings.HasPrefix(s, "-"):
			return p, fmt.Errorf("task_params.config_path: %q starts with \"-\" (it would be read as an option)", s)
		}
		p.configPath = s
	}
	if v, ok := fields["timeout_seconds"]; ok && !isJSONNull(v) {
		var f float64
		if err := json.Unmarshal(v, &f); err != nil || f != math.Trunc(f) || f < 1 || f > math.MaxInt32 {
			return p, fmt.Errorf("task_params.timeout_seconds: want a whole number of seconds >= 1, got %s", shorten(string(v), 80))
		}
		p.timeout = int(f)
	}
	if h.sh.cfg.Root != "" {
		if err := script.CheckModule(h.sh.cfg, pl.module); err != nil {
			return p, fmt.Errorf("target %s: %w", target, err)
		}
	}
	return p, nil
}

// PortfolioResult is the run result of a portfolio pipeline: the old
// service's {"target", "summary"} and, beside them, how the process ended.
type PortfolioResult struct {
	// Target is the schedule's target, e.g. "portfolio.pnl_alert".
	Target string `json:"target"`
	// Summary is the JSON object the pipeline printed last on stdout; null
	// when it printed none.
	Summary map[string]any `json:"summary"`
	// ConfigPath is the --config given to the pipeline.
	ConfigPath string `json:"config_path"`
	// ExitCode is the exit status (-N: signal N; -1: did not start).
	ExitCode int `json:"exit_code"`
	// StderrPreview holds the last 2000 characters of stderr.
	StderrPreview string `json:"stderr_preview"`
	// TimedOut is true when the run was killed for running too long.
	TimedOut bool `json:"timed_out,omitempty"`
	// DurationMS is the wall time of the process in milliseconds.
	DurationMS int64 `json:"duration_ms"`
}

// Handle runs the pipeline and records its summary. Exit 0 completes the
// run; exit 1 (the summary lists errors) and other failures fail it with
// the stderr tail and are retried; exit 2 (configuration error) and a
// missing module or summary fail it permanently.
func (h *portfolioHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := h.parse(job.Schedule.Target, job.Schedule.TaskParams)
	if err != nil {
		return nil, engine.Permanent(err)
	}
	if err := script.CheckModule(h.sh.cfg, p.pipeline.module); err != nil {
		return nil, engine.Permanent(fmt.Errorf("target %s: %w", p.target, err))
	}
	if err := h.sh.killLeftover(ctx, job); err != nil {
		return nil, err
	}
	m := script.Module{Name: p.pipeline.module, Args: []string{"--config", p.configPath}, TimeoutSeconds: p.timeout}
	res, stdout, runErr := script.RunModule(ctx, h.sh.cfg, m, h.sh.runInfo(ctx, job))
	out := PortfolioResult{Target: p.target, ConfigPath: p.configPath, ExitCode: res.ExitCode,
		StderrPreview: res.StderrPreview, TimedOut: res.TimedOut, DurationMS: res.DurationMS}
	summary, serr := lastJSONObject(stdout)
	out.Summary = summary
	outcome := &engine.Outcome{Result: out}
	cmd := "python -m " + p.pipeline.module
	var exit *script.ExitError
	switch {
	case errors.As(runErr, &exit) && exit.Code == 2:
		return outcome, engine.Permanent(fmt.Errorf("%s: configuration error (%s exited with code 2, config %s); stderr tail: %s",
			p.target, cmd, p.configPath, exit.Tail(script.ErrorTailChars)))
	case errors.As(runErr, &exit):
		return outcome, fmt.Errorf("%s: %s exited with code %d; stderr tail: %s", p.target, cmd, exit.Code, exit.Tail(script.ErrorTailChars))
	case runErr != nil:
		return outcome, fmt.Errorf("%s: %w", p.target, runErr)
	case serr != nil:
		// Exit 0 without a summary: not the CLI we know; running it again
		// would repeat whatever it did.
		return outcome, engine.Permanent(fmt.Errorf("%s: %s exited 0 but printed no JSON summary on stdout: %w", p.target, cmd, serr))
	}
	return outcome, nil
}

// maxSummaryTries bounds the candidate starts lastJSONObject decodes from.
const maxSummaryTries = 1000

// lastJSONObject returns the JSON object that ends stdout: the framework's
// CLIs print json.dumps(summary, indent=2) last, possibly after log lines.
// Candidates are the "{" that start a line (after blanks), tried from the
// last; the first that decodes to an object followed only by white space
// wins. Numbers stay json.Number.
func lastJSONObject(stdout string) (map[string]any, error) {
	s := strings.TrimRight(stdout, " \t\r\n")
	if s == "" {
		return nil, errors.New("stdout is empty")
	}
	tries := 0
	for end := len(s); end > 0 && tries < maxSummaryTries; {
		i := strings.LastIndexByte(s[:end], '{')
		if i < 0 {
			break
		}
		end = i
		lineStart := strings.LastIndexByte(s[:i], '\n') + 1
		if strings.TrimLeft(s[lineStart:i], " \t") != "" {
			continue // a "{" inside a line: a nested value or log text
		}
		tries++
		dec := json.NewDecoder(strings.NewReader(s[i:]))
		dec.UseNumber()
		var m map[string]any
		if dec.Decode(&m) != nil || m == nil {
			continue
		}
		if _, err := dec.Token(); errors.Is(err, io.EOF) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("no JSON object at its end (last line %q)", shorten(lastLine(s), 120))
}

// lastLine returns the last line of s.
func lastLine(s string) string {
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// isJSONNull reports whether raw is the JSON literal null.
func isJSONNull(raw json.RawMessage) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// shorten cuts s to at most n bytes for an error message.
func shorten(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n-3] + "..."
	}
	return s
}
