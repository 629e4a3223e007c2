// Package jobs holds one engine.Handler per job_type and the registry that
// wires them to their dependencies.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// MarketData fetches bar series; *marketdata.Client implements it.
type MarketData interface {
	Series(ctx context.Context, req marketdata.Request) (marketdata.Series, error)
}

// ScheduleReader reads a schedule's current row (for its state_json);
// *store.DB implements it.
type ScheduleReader interface {
	GetSchedule(ctx context.Context, id int64) (*store.Schedule, error)
}

// Deps are what the handlers need from the rest of the service. Only
// Script is needed to validate task_params; the other fields are needed to
// run jobs, and a job whose dependency is missing fails with an error
// naming the field.
type Deps struct {
	// Script configures script and data_processing jobs.
	Script script.Config
	// ScriptProcesses, when set, records where each script run's process
	// group lives and is asked for it again when the run is retried, so
	// that what an instance that died left running is killed (on this
	// machine) before the run starts again. nil: no such fencing (the
	// parent-death signal still kills a dead scheduler's scripts' main
	// processes on Linux).
	ScriptProcesses ScriptProcesses
	// JobTimeout is SCHEDULER_JOB_TIMEOUT (0: 300 s). Script runs and
	// portfolio pipeline runs get max(JobTimeout, their own timeout +
	// 60 s) as the engine's limit (engine.Timeouter), so that their own
	// timeout fires first; portfolio runs without timeout_seconds get
	// JobTimeout as their own timeout.
	JobTimeout time.Duration

	// Market fetches bars for alert, screener and schedule/data_sync jobs
	// (the process's one *marketdata.Client, so its cache is shared).
	Market MarketData
	// DB is the store: alert state, and the schedule actions cleanup,
	// backup, report and maintenance, and the report job type.
	DB *store.DB
	// States reads a schedule's state_json for alert jobs; nil means DB.
	States ScheduleReader
	// Planner turns notification requests into outbox rows (recipients,
	// channels, suppression). nil means a planner with
	// notify.DefaultOptions() (log channel) and no directory.
	Planner *notify.Planner
	// Indicators is the indicator cache shared by all alert and screener
	// evaluations; nil means a cache of 4096 results owned by the handlers.
	Indicators *indicators.Cache
	// AlertSchemaDir is ALERT_SCHEMA_DIR ("" = the embedded schema).
	AlertSchemaDir string
	// AlertLimits are the flood-guard limits (ALERT_MAX_TRIGGERS,
	// ALERT_FLOOD_WINDOW); zero values mean the alerts package defaults.
	AlertLimits alerts.Limits
	// AlertDefaultLookback is ALERT_DEFAULT_LOOKBACK: the bars an alert
	// fetches at least when its options.lookback is absent (0: 200).
	AlertDefaultLookback int
	// AlertEveryEvaluation is ALERT_ONCE_PER_BAR=false: alerts that set
	// neither options.trigger nor options.evaluate_once_per_bar may notify on
	// every evaluation instead of once per closed bar.
	AlertEveryEvaluation bool
	// TickerLists are named ticker lists a screener may name instead of a
	// list of tickers; they add to (and override) BuiltinTickerLists.
	TickerLists map[string][]string
	// DatabaseURL is the PostgreSQL URL given to pg_dump by
	// schedule/backup jobs on PostgreSQL (DATABASE_URL).
	DatabaseURL string
	// PgDump is the pg_dump program; "" looks "pg_dump" up on PATH.
	PgDump string
	// OnAlertTriggered, when set, is called with the job type and the number
	// of triggers of each alert or screener run (metrics).
	OnAlertTriggered func(jobType string, n int)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives job logs with schedule_id and run_id; nil means
	// slog.Default().
	Logger *slog.Logger
}

// defaultIndicatorCache is the size of the indicator cache when Deps has none.
const defaultIndicatorCache = 4096

// env is Deps with the defaults filled in, shared by the handlers.
type env struct {
	Deps
	planner *notify.Planner
	ind     *indicators.Cache
	lists   map[string][]string
}

func newEnv(d Deps) *env {
	e := &env{Deps: d, planner: d.Planner, ind: d.Indicators}
	if e.planner == nil {
		e.planner = &notify.Planner{Options: notify.DefaultOptions(), Logger: d.Logger}
	}
	if e.ind == nil {
		e.ind = indicators.NewCache(defaultIndicatorCache)
	}
	if e.Now == nil {
		e.Now = time.Now
	}
	if e.Logger == nil {
		e.Logger = slog.Default()
	}
	if e.States == nil && e.DB != nil {
		e.States = e.DB
	}
	e.lists = map[string][]string{}
	for k, v := range BuiltinTickerLists {
		e.lists[k] = v
	}
	for k, v := range d.TickerLists {
		e.lists[k] = v
	}
	return e
}

// log returns the logger with the job's fields.
func (e *env) log(job *engine.Job) *slog.Logger {
	return e.Logger.With("schedule_id", job.Schedule.ID, "run_id", job.Run.ID, "job_type", job.Schedule.JobType)
}

// market returns the market data client or a permanent error naming the
// missing dependency.
func (e *env) market() (MarketData, error) {
	if e.Market == nil {
		return nil, permanent(errors.New("no market data client configured (jobs.Deps.Market)"))
	}
	return e.Market, nil
}

// db returns the store or a permanent error naming the missing dependency.
func (e *env) db() (*store.DB, error) {
	if e.DB == nil {
		return nil, permanent(errors.New("no database configured (jobs.Deps.DB)"))
	}
	return e.DB, nil
}

func (e *env) triggered(jobType string, n int) {
	if e.OnAlertTriggered != nil && n > 0 {
		e.OnAlertTriggered(jobType, n)
	}
}

// Handlers returns the handler of every job type this build supports:
// script and data_processing (pipeline scripts), alert (rule alerts, and
// the portfolio pipelines for targets "portfolio.*"), screener, schedule
// (maintenance actions), backup (schedule action backup), report (run
// summary) and notification (a fixed message).
func Handlers(d Deps) map[string]engine.Handler {
	e := newEnv(d)
	sh := &scriptHandler{cfg: d.Script, env: e}
	sched := &scheduleHandler{env: e}
	return map[string]engine.Handler{
		"script":          sh,
		"data_processing": sh,
		"alert":           &alertRoute{alert: &alertHandler{env: e}, portfolio: &portfolioHandler{sh: sh}},
		"screener":        &screenerHandler{env: e},
		"schedule":        sched,
		"backup":          &backupHandler{sched: sched},
		"report":          &reportHandler{env: e},
		"notification":    &notificationHandler{env: e},
	}
}

// ScriptProcesses stores, per run, where its script's processes live
// (script.Process: host, boot id, process group). The store implements it
// (for example columns of job_schedule_runs); see the README's Design
// section for how recovery uses it.
type ScriptProcesses interface {
	// RecordScriptProcess stores p for run runID, replacing what an earlier
	// attempt recorded. It is called as the script starts.
	RecordScriptProcess(ctx context.Context, runID int64, p script.Process) error
	// ScriptProcess returns what was recorded for run runID, or nil when
	// nothing was.
	ScriptProcess(ctx context.Context, runID int64) (*script.Process, error)
}

// leftoverTimeout bounds how long a retried script run waits for what an
// earlier attempt left to die after SIGKILL.
const leftoverTimeout = 10 * time.Second

// ErrLeftoverRunning fails a retried script run whose earlier attempt's
// processes could not be killed: starting it would run the script twice at
// once. The attempt is retried later.
var ErrLeftoverRunning = errors.New("an earlier attempt of this run is still running")

// killLeftover kills, before attempt 2 or later of a run starts, what an
// earlier attempt left in its process group (the instance running it may
// have died).
func (h *scriptHandler) killLeftover(ctx context.Context, job *engine.Job) error {
	if h.env.ScriptProcesses == nil || job.Run.Attempt <= 1 {
		return nil
	}
	return killLeftoverOf(ctx, h.env.ScriptProcesses, job.Run.ID, job.Run.Attempt-1, h.env.log(job))
}

// KillLeftovers returns the engine's fence (engine.Options.Fence): before a
// run whose owner died is recovered, what its script left running on this
// machine is killed, so that neither a retry nor the schedule's next fire
// runs beside it. A run that recorded no process passes at once.
func KillLeftovers(ps ScriptProcesses, log *slog.Logger) func(ctx context.Context, r store.Run) error {
	return func(ctx context.Context, r store.Run) error {
		return killLeftoverOf(ctx, ps, r.ID, r.Attempt, log.With("run_id", r.ID, "schedule_id", r.JobID))
	}
}

// killLeftoverOf kills what run runID's recorded process group, of an
// attempt up to upTo, left running. A group recorded by a later attempt is
// left alone: that attempt runs (another instance recovered the run first,
// and killed the earlier leftovers before it started). Processes recorded
// on another machine cannot be reached and are logged; the parent-death
// signal killed their main process there.
func killLeftoverOf(ctx context.Context, ps ScriptProcesses, runID int64, upTo int, log *slog.Logger) error {
	prev, err := ps.ScriptProcess(ctx, runID)
	if err != nil {
		return fmt.Errorf("look up the processes of run %d's earlier attempt: %w", runID, err)
	}
	if prev == nil {
		return nil
	}
	if prev.Attempt > upTo {
		log.Info("the recorded processes belong to a later attempt of the run; left alone",
			"recorded_attempt", prev.Attempt, "attempt", upTo, "pgid", prev.PGID)
		return nil
	}
	if !prev.Local() {
		log.Warn("an earlier attempt ran on another machine; its leftovers cannot be killed from here",
			"host", prev.Host, "pgid", prev.PGID)
		return nil
	}
	kctx, cancel := context.WithTimeout(ctx, leftoverTimeout)
	defer cancel()
	lo, err := script.KillLeftover(kctx, *prev, runID)
	switch {
	case errors.Is(err, script.ErrNotOurs):
		return nil // the group id now belongs to someone else: nothing of ours is left
	case errors.Is(err, script.ErrSurvived):
		return fmt.Errorf("%w: %w", ErrLeftoverRunning, err)
	case err != nil:
		return fmt.Errorf("kill what run %d's earlier attempt left: %w", runID, err)
	}
	if lo.Killed {
		log.Warn("killed processes an earlier attempt left running", "pgid", prev.PGID,
			"pids", lo.Marked, "unmarked", lo.Unmarked)
	}
	return nil
}

// runInfo is what the script is told about its run, and where its process
// group is recorded.
func (h *scriptHandler) runInfo(ctx context.Context, job *engine.Job) script.RunInfo {
	info := script.RunInfo{RunID: job.Run.ID, ScheduleID: job.Run.JobID, ScheduledFor: job.Run.ScheduledFor, Attempt: job.Run.Attempt,
		UserID: job.Schedule.UserID}
	if info.ScheduleID == "" && job.Schedule.ScheduleID != 0 {
		info.ScheduleID = strconv.FormatInt(job.Schedule.ScheduleID, 10)
	}
	if rec := h.env.ScriptProcesses; rec != nil {
		info.OnStart = func(p script.Process) {
			if err := rec.RecordScriptProcess(ctx, job.Run.ID, p); err != nil {
				h.env.log(job).Error("script process not recorded; a crash now could leave it running unnoticed",
					"pgid", p.PGID, "err", err)
			}
		}
	}
	return info
}

// scriptHandler runs pipeline scripts (ORIGINAL-SYSTEM.md §5).
type scriptHandler struct {
	cfg script.Config
	env *env
}

// Validate implements engine.Handler.
func (h *scriptHandler) Validate(raw json.RawMessage) error {
	_, err := script.ParseParams(raw, h.cfg)
	return err
}

// Timeout implements engine.Timeouter: the old service's outer limit
// max(SCHEDULER_JOB_TIMEOUT, timeout_seconds + 60 s), timeout_seconds
// defaulting to 600, so a script without timeout_seconds may run 600 s
// although SCHEDULER_JOB_TIMEOUT is 300.
func (h *scriptHandler) Timeout(job *engine.Job) time.Duration {
	var p struct {
		TimeoutSeconds *float64 `json:"timeout_seconds"`
	}
	inner := time.Duration(script.DefaultTimeoutSeconds) * time.Second
	if json.Unmarshal(job.Schedule.TaskParams, &p) == nil && p.TimeoutSeconds != nil && *p.TimeoutSeconds >= 1 {
		inner = time.Duration(*p.TimeoutSeconds * float64(time.Second))
	}
	return h.env.outerTimeout(inner)
}

// Handle implements engine.Handler. The run result is the script.Result; a
// non-zero exit fails the run with "Script exited with code N; stderr
// tail: …", a timeout with the timeout and the stderr tail. The schedule's
// user_id is passed as --user-id to the scripts that take it. The
// notification_rules that match the result produce one job notification per
// channel (job name, status, duration, result fields, error tail), written
// with the run's completion; Result.NotificationSent says whether any was
// planned. A failed attempt that will be retried sends nothing.
func (h *scriptHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := script.ParseParams(job.Schedule.TaskParams, h.cfg)
	if err != nil {
		return nil, engine.Permanent(fmt.Errorf("task_params: %w", err))
	}
	if err := h.killLeftover(ctx, job); err != nil {
		return nil, err
	}
	res, runErr := script.RunWith(ctx, h.cfg, p, h.runInfo(ctx, job))
	if tooLong := (*script.ResultTooLongError)(nil); errors.As(runErr, &tooLong) {
		runErr = engine.Permanent(runErr) // the same script prints the same line again
	}
	out := &engine.Outcome{}
	// A failed attempt that the engine will retry notifies nothing: the
	// last attempt (or a success) does.
	willRetry := runErr != nil && job.Run.Attempt < job.Run.MaxAttempts
	if channels := p.Rules.Channels(res); len(channels) > 0 && ctx.Err() == nil && !willRetry {
		status := "completed"
		errText := ""
		if runErr != nil {
			status = "failed"
			if res.TimedOut {
				status = "timeout"
			}
			errText = runErr.Error()
		}
		title, body := notify.ScriptMessage(notify.JobOutcome{Name: job.Schedule.Name, Status: status,
			Duration: time.Duration(res.DurationMS) * time.Millisecond, Result: res.ScriptResult, Error: errText,
			JobType: job.Schedule.JobType, Time: h.env.Now()})
		data := map[string]any{"job_name": job.Schedule.Name, "status": status, "exit_code": res.ExitCode,
			"duration_ms": res.DurationMS}
		if res.ScriptResult != nil {
			data["script_result"] = res.ScriptResult
		}
		ns, perr := h.env.planner.Plan(ctx, notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID,
			UserID: job.Schedule.UserID, Type: notify.TypeJob, Channels: channels, Title: title, Body: body,
			Data: data, Tag: "job:" + status, CreatedAt: h.env.Now(),
			Vars: notify.TemplateData{Name: job.Schedule.Name, Status: status, Time: h.env.Now(), Data: data}})
		if perr != nil {
			h.env.log(job).Error("script notification not planned", "err", perr, "channels", channels)
		} else {
			out.Notifications = ns
			res.NotificationSent = len(ns) > 0
		}
	}
	out.Result = res
	return out, runErr
}
