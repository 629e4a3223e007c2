package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// Schedule actions (task_params.action of job_type "schedule").
const (
	ActionDataSync    = "data_sync"
	ActionCleanup     = "cleanup"
	ActionBackup      = "backup"
	ActionReport      = "report"
	ActionMaintenance = "maintenance"
)

// Actions lists the schedule actions.
var Actions = []string{ActionDataSync, ActionCleanup, ActionBackup, ActionReport, ActionMaintenance}

// ScheduleTimeframes are the timeframes parameters.timeframes accepts
// (ORIGINAL-SYSTEM.md §4).
var ScheduleTimeframes = []string{"1m", "5m", "15m", "30m", "1h", "4h", "1d"}

// ReportTypes are the values of parameters.report_type.
var ReportTypes = []string{"daily", "weekly", "monthly", "performance"}

// Defaults of schedule parameters that are optional.
const (
	// DefaultCleanupDays is parameters.cleanup_older_than when absent.
	DefaultCleanupDays = 30
	// DefaultSyncTimeframe is parameters.timeframes when absent.
	DefaultSyncTimeframe = "1h"
)

var symbolPattern = regexp.MustCompile(`^[A-Z0-9]+$`)

var (
	scheduleKeys   = []string{"action", "parameters", "options", "notify", "description"}
	parameterKeys  = []string{"symbols", "timeframes", "days_back", "cleanup_older_than", "backup_path", "report_type", "recipients"}
	optionKeys     = []string{"timeout", "retry_count", "retry_delay", "parallel", "skip_if_running"}
	scheduleNotify = []string{"on_success", "on_failure", "channels", "channel", "priority", "recipient_id", "user_id", "email", "webhook_url", "url", "template"}
)

// ScheduleParams are the parsed task_params of a schedule job
// (ORIGINAL-SYSTEM.md §4):
//
//	{"action": "cleanup",
//	 "parameters": {"cleanup_older_than": 30},
//	 "options": {"timeout": 600, "retry_count": 2, "retry_delay": 30, "parallel": false, "skip_if_running": true},
//	 "notify": {"on_success": false, "on_failure": true, "channels": ["telegram"]}}
type ScheduleParams struct {
	Action string
	// Symbols × Timeframes are fetched into the cache and bar store by
	// data_sync.
	Symbols    []string
	Timeframes []string
	// DaysBack is parameters.days_back (0 when absent): the history data_sync
	// fetches, and the period of a report.
	DaysBack int
	// CleanupOlderThan is parameters.cleanup_older_than in days
	// (DefaultCleanupDays when absent).
	CleanupOlderThan int
	// BackupPath is parameters.backup_path; {date} and {timestamp} in it
	// are replaced by the run's UTC date (2006-01-02) and time
	// (20060102T150405Z), so a recurring backup gets a new file each time.
	BackupPath string
	// ReportType is parameters.report_type (daily when absent).
	ReportType string
	// Recipients are email addresses that also receive reports.
	Recipients []string
	// Notify is the notify object; OnSuccess defaults to false and
	// OnFailure to true.
	Notify    notify.NotifyConfig
	OnSuccess bool
	OnFailure bool
}

// problems collects validation problems with their paths.
type problems []alerts.Problem

func (p *problems) add(path, format string, args ...any) {
	*p = append(*p, alerts.Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	sort.SliceStable(p, func(i, j int) bool { return p[i].Path < p[j].Path })
	return &alerts.ConfigError{Problems: p}
}

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("task_params must be a JSON object: %w", err)
	}
	if m == nil {
		return nil, errors.New("task_params must be a JSON object, got null")
	}
	return m, nil
}

func unknownKeys(ps *problems, prefix string, m map[string]any, known []string) {
	for _, k := range sortedKeys(m) {
		if !slices.Contains(known, k) {
			ps.add(prefix+k, "unknown key (known: %s)", strings.Join(known, ", "))
		}
	}
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// number reads a JSON number.
func number(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// wholeInRange checks a whole number in [lo, hi] (hi < 0: no upper bound).
func wholeInRange(ps *problems, path string, v any, lo, hi int) int {
	f, ok := number(v)
	if !ok || f != float64(int64(f)) {
		ps.add(path, "%s: want a whole number", jsonText(v))
		return 0
	}
	n := int(f)
	if n < lo || (hi >= 0 && n > hi) {
		if hi < 0 {
			ps.add(path, "%d: must be at least %d", n, lo)
		} else {
			ps.add(path, "%d: out of range %d..%d", n, lo, hi)
		}
		return 0
	}
	return n
}

func numberInRange(ps *problems, path string, v any, lo, hi float64) {
	f, ok := number(v)
	if !ok {
		ps.add(path, "%s: want a number", jsonText(v))
		return
	}
	if f < lo || f > hi {
		ps.add(path, "%s: out of range %s..%s", notify.FormatNumber(f), notify.FormatNumber(lo), notify.FormatNumber(hi))
	}
}

func boolean(ps *problems, path string, v any) bool {
	b, ok := v.(bool)
	if !ok {
		ps.add(path, "%s: want true or false", jsonText(v))
	}
	return b
}

func stringList(ps *problems, path string, v any, check func(i int, s string)) {
	arr, ok := v.([]any)
	if !ok {
		ps.add(path, "%s: want a list of strings", jsonText(v))
		return
	}
	for i, x := range arr {
		s, ok := x.(string)
		if !ok {
			ps.add(fmt.Sprintf("%s[%d]", path, i), "%s: want a string", jsonText(x))
			continue
		}
		check(i, s)
	}
}

// ParseScheduleParams validates the task_params of a schedule job exactly
// as ORIGINAL-SYSTEM.md §4 describes them. Every problem is reported with
// its path and value, e.g.
//
//	parameters.days_back: 400: out of range 1..365
//	parameters.symbols[1]: "btc-usd" does not match ^[A-Z0-9]+$
//
// Unknown keys are errors (they are usually typos). Per action:
// data_sync needs symbols (timeframes default to 1h); cleanup uses
// cleanup_older_than (default 30 days); backup needs backup_path; report
// uses report_type (default daily) and recipients; maintenance needs
// nothing.
func ParseScheduleParams(raw []byte) (*ScheduleParams, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	var ps problems
	unknownKeys(&ps, "", m, scheduleKeys)
	p := &ScheduleParams{OnFailure: true, CleanupOlderThan: DefaultCleanupDays, ReportType: "daily"}
	switch a := m["action"].(type) {
	case nil:
		ps.add("action", "required: one of %s", strings.Join(Actions, ", "))
	case string:
		if !slices.Contains(Actions, a) {
			ps.add("action", "%q: want one of %s", a, strings.Join(Actions, ", "))
		}
		p.Action = a
	default:
		ps.add("action", "%s: want one of %s", jsonText(a), strings.Join(Actions, ", "))
	}

	params := map[string]any{}
	if v, ok := m["parameters"]; ok && v != nil {
		if pm, isMap := v.(map[string]any); isMap {
			params = pm
		} else {
			ps.add("parameters", "%s: want an object", jsonText(v))
		}
	}
	unknownKeys(&ps, "parameters.", params, parameterKeys)
	if v, ok := params["symbols"]; ok {
		stringList(&ps, "parameters.symbols", v, func(i int, s string) {
			if !symbolPattern.MatchString(s) {
				ps.add(fmt.Sprintf("parameters.symbols[%d]", i), "%q does not match ^[A-Z0-9]+$", s)
				return
			}
			p.Symbols = append(p.Symbols, s)
		})
	}
	if v, ok := params["timeframes"]; ok {
		stringList(&ps, "parameters.timeframes", v, func(i int, s string) {
			if !slices.Contains(ScheduleTimeframes, s) {
				ps.add(fmt.Sprintf("parameters.timeframes[%d]", i), "%q: want one of %s", s, strings.Join(ScheduleTimeframes, " "))
				return
			}
			p.Timeframes = append(p.Timeframes, s)
		})
	}
	if v, ok := params["days_back"]; ok {
		p.DaysBack = wholeInRange(&ps, "parameters.days_back", v, 1, 365)
	}
	if v, ok := params["cleanup_older_than"]; ok {
		p.CleanupOlderThan = wholeInRange(&ps, "parameters.cleanup_older_than", v, 1, -1)
	}
	if v, ok := params["backup_path"]; ok {
		s, isStr := v.(string)
		if !isStr || strings.TrimSpace(s) == "" {
			ps.add("parameters.backup_path", "%s: want a file path", jsonText(v))
		}
		p.BackupPath = strings.TrimSpace(s)
	}
	if v, ok := params["report_type"]; ok {
		s, _ := v.(string)
		if !slices.Contains(ReportTypes, s) {
			ps.add("parameters.report_type", "%s: want one of %s", jsonText(v), strings.Join(ReportTypes, ", "))
		}
		p.ReportType = s
	}
	if v, ok := params["recipients"]; ok {
		stringList(&ps, "parameters.recipients", v, func(i int, s string) {
			addr, err := mail.ParseAddress(s)
			if err != nil || addr.Address != strings.TrimSpace(s) {
				ps.add(fmt.Sprintf("parameters.recipients[%d]", i), "%q is not an email address", s)
				return
			}
			p.Recipients = append(p.Recipients, addr.Address)
		})
	}
	switch p.Action {
	case ActionDataSync:
		if _, ok := params["symbols"]; !ok {
			ps.add("parameters.symbols", "required for action data_sync")
		} else if len(p.Symbols) == 0 && !hasPrefix(ps, "parameters.symbols") {
			ps.add("parameters.symbols", "[]: at least one symbol is required for action data_sync")
		}
		if _, ok := params["timeframes"]; !ok {
			p.Timeframes = []string{DefaultSyncTimeframe}
		} else if len(p.Timeframes) == 0 && !hasPrefix(ps, "parameters.timeframes") {
			ps.add("parameters.timeframes", "[]: at least one timeframe is required")
		}
	case ActionBackup:
		if _, ok := params["backup_path"]; !ok {
			ps.add("parameters.backup_path", "required for action backup")
		}
	}

	if v, ok := m["options"]; ok && v != nil {
		om, isMap := v.(map[string]any)
		if !isMap {
			ps.add("options", "%s: want an object", jsonText(v))
		}
		unknownKeys(&ps, "options.", om, optionKeys)
		for _, k := range sortedKeys(om) {
			x := om[k]
			switch k {
			case "timeout":
				numberInRange(&ps, "options.timeout", x, 60, 3600)
			case "retry_count":
				wholeInRange(&ps, "options.retry_count", x, 0, 5)
			case "retry_delay":
				numberInRange(&ps, "options.retry_delay", x, 1, 300)
			case "parallel", "skip_if_running":
				boolean(&ps, "options."+k, x)
			}
		}
	}

	if v, ok := m["notify"]; ok && v != nil {
		nm, isMap := v.(map[string]any)
		if !isMap {
			ps.add("notify", "%s: want an object", jsonText(v))
		} else {
			unknownKeys(&ps, "notify.", nm, scheduleNotify)
			for _, k := range []string{"on_success", "on_failure"} {
				if x, ok := nm[k]; ok {
					b := boolean(&ps, "notify."+k, x)
					if k == "on_success" {
						p.OnSuccess = b
					} else {
						p.OnFailure = b
					}
				}
			}
			b, _ := json.Marshal(nm)
			nc, err := notify.ParseNotifyConfig(b)
			if err != nil {
				ps.add("notify", "%v", err)
			}
			p.Notify = nc
		}
	}
	if err := ps.err(); err != nil {
		return nil, err
	}
	return p, nil
}

func hasPrefix(ps problems, path string) bool {
	for _, p := range ps {
		if strings.HasPrefix(p.Path, path) {
			return true
		}
	}
	return false
}

// scheduleHandler runs the maintenance actions of job_type "schedule".
type scheduleHandler struct{ env *env }

// Validate implements engine.Handler with ParseScheduleParams.
func (h *scheduleHandler) Validate(raw json.RawMessage) error {
	if _, err := ParseScheduleParams(raw); err != nil {
		return err
	}
	return h.env.checkWebhookTargets(raw, false)
}

// Handle implements engine.Handler: it runs the action and, per
// notify.on_success / notify.on_failure, a job notification (job name,
// status, duration, result fields, error tail). A failure notification is
// sent once, on the last attempt. The report action's notification is the
// report itself.
func (h *scheduleHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := ParseScheduleParams(job.Schedule.TaskParams)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	return h.run(ctx, job, p)
}

func (h *scheduleHandler) run(ctx context.Context, job *engine.Job, p *ScheduleParams) (*engine.Outcome, error) {
	e := h.env
	log := e.log(job).With("action", p.Action)
	start := e.Now()
	var result any
	var ns []notify.Notification
	var err error
	switch p.Action {
	case ActionDataSync:
		result, err = h.dataSync(ctx, p)
	case ActionCleanup:
		result, err = h.cleanup(ctx, p, start)
	case ActionBackup:
		result, err = h.backup(ctx, p, start)
	case ActionReport:
		result, ns, err = h.report(ctx, job, p, start)
	case ActionMaintenance:
		result, err = h.maintenance(ctx)
	default:
		err = permanent(fmt.Errorf("action %q: not implemented", p.Action))
	}
	out := &engine.Outcome{Result: result, Notifications: ns}
	if ctx.Err() != nil {
		return out, err
	}
	dur := e.Now().Sub(start)
	final := err == nil || job.Run.Attempt >= job.Run.MaxAttempts || isPermanent(err)
	switch {
	case err != nil && p.OnFailure && final:
		out.Notifications = append(out.Notifications, e.jobNotification(ctx, job, p.Notify, "failed", dur, result, err)...)
	case err == nil && p.OnSuccess && p.Action != ActionReport:
		out.Notifications = append(out.Notifications, e.jobNotification(ctx, job, p.Notify, "completed", dur, result, nil)...)
	}
	if err != nil {
		log.Error("schedule action failed", "err", err)
		return out, fmt.Errorf("%s: %w", p.Action, err)
	}
	log.Info("schedule action done", "duration", dur)
	return out, nil
}

// syncWorkers bounds the concurrent fetches of a data_sync.
const syncWorkers = 4

// permanent marks a failure that a retry cannot fix.
func permanent(err error) error { return engine.Permanent(err) }

// isPermanent reports whether err was marked permanent.
func isPermanent(err error) bool { return engine.IsPermanent(err) }

// jobNotification plans the job notification of a run.
func (e *env) jobNotification(ctx context.Context, job *engine.Job, nc notify.NotifyConfig, status string, dur time.Duration, result any, runErr error) []notify.Notification {
	fields := toMap(result)
	errText := ""
	if runErr != nil {
		errText = runErr.Error()
	}
	title, body := notify.JobMessage(notify.JobOutcome{Name: job.Schedule.Name, Status: status, Duration: dur, Result: fields, Error: errText})
	data := map[string]any{"job_name": job.Schedule.Name, "job_type": job.Schedule.JobType, "status": status,
		"duration_ms": dur.Milliseconds()}
	if fields != nil {
		data["result"] = fields
	}
	if errText != "" {
		data["error"] = notify.ErrorTail(errText, 2000)
	}
	req := notify.Request{ScheduleID: job.Schedule.ID, RunID: job.Run.ID, UserID: job.Schedule.UserID, Type: notify.TypeJob,
		Title: title, Body: body, Data: data, Tag: "job:" + status, CreatedAt: e.Now(),
		Vars: notify.TemplateData{Name: job.Schedule.Name, Status: status, Time: e.Now(), Data: data}}
	nc.Apply(&req)
	ns, err := e.planner.Plan(ctx, req)
	if err != nil {
		e.log(job).Error("job notification not planned", "err", err)
		return nil
	}
	return ns
}

// toMap turns a result struct into its JSON fields.
func toMap(v any) map[string]any {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// SyncResult is the result of a data_sync action.
type SyncResult struct {
	Series []SyncedSeries `json:"series"`
	Failed int            `json:"failed"`
}

// SyncedSeries is one warmed (symbol, timeframe).
type SyncedSeries struct {
	Symbol    string `json:"symbol"`
	Timeframe string `json:"timeframe"`
	Bars      int    `json:"bars"`
	Provider  string `json:"provider,omitempty"`
	Cached    bool   `json:"cached"`
	Error     string `json:"error,omitempty"`
}

// dataSync fetches symbols × timeframes through the market data client so
// that its cache and the database's bar store behind it (Options.BarStore)
// hold them: the closed bars survive a restart, and later fetches ask the
// provider only for what is missing. days_back sets the depth (bars covering
// that many days, at most 5000); without it the client's default lookback
// is used. Any failed series fails the run (retryable) after the others ran.
func (h *scheduleHandler) dataSync(ctx context.Context, p *ScheduleParams) (*SyncResult, error) {
	md, err := h.env.market()
	if err != nil {
		return nil, err
	}
	var jobs []SyncedSeries
	for _, s := range p.Symbols {
		for _, tf := range p.Timeframes {
			jobs = append(jobs, SyncedSeries{Symbol: s, Timeframe: tf})
		}
	}
	sem := make(chan struct{}, syncWorkers)
	var wg sync.WaitGroup
	now := h.env.Now()
	for i := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			j := &jobs[i]
			tf := marketdata.Timeframe(j.Timeframe)
			bars := 0
			if p.DaysBack > 0 {
				bars = min(int(time.Duration(p.DaysBack)*24*time.Hour/tf.Duration()), maxFetchBars)
			}
			s, err := md.Series(ctx, marketdata.Request{Symbol: j.Symbol, Timeframe: tf, Bars: bars, Now: now})
			if err != nil {
				j.Error = err.Error()
				return
			}
			j.Bars, j.Provider, j.Cached = len(s.Closed), s.Provider, s.Cached
		}()
	}
	wg.Wait()
	res := &SyncResult{Series: jobs}
	var failed []string
	for _, j := range jobs {
		if j.Error != "" {
			res.Failed++
			failed = append(failed, j.Symbol+" "+j.Timeframe+": "+j.Error)
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%d of %d series failed: %s", len(failed), len(jobs), strings.Join(failed, "; "))
	}
	return res, nil
}

// cleanup deletes finished runs (and their attempts) and sent or
// suppressed notifications older than cleanup_older_than days, in batches.
func (h *scheduleHandler) cleanup(ctx context.Context, p *ScheduleParams, now time.Time) (*CleanupResult, error) {
	db, err := h.env.db()
	if err != nil {
		return nil, err
	}
	before := now.Add(-time.Duration(p.CleanupOlderThan) * 24 * time.Hour)
	res := &CleanupResult{Before: before.UTC()}
	r, err := db.DeleteRunsBefore(ctx, before, h.batch())
	res.CleanupResult = r
	if err != nil {
		return res, err
	}
	n, b, err := db.DeleteNotificationsBefore(ctx, before, h.batch())
	res.Notifications, res.Batches = n, res.Batches+b
	return res, err
}

// CleanupResult is the result of a cleanup action.
type CleanupResult struct {
	Before time.Time `json:"older_than"`
	store.CleanupResult
}

// cleanupBatch is overridden by tests to exercise batching.
var cleanupBatch = store.DefaultCleanupBatch

func (h *scheduleHandler) batch() int { return cleanupBatch }

// BackupResult is the result of a backup action.
type BackupResult struct {
	Path    string `json:"path"`
	Bytes   int64  `json:"bytes"`
	Dialect string `json:"dialect"`
	Tool    string `json:"tool"`
}

// expandBackupPath replaces {date} and {timestamp} with the run's UTC time.
func expandBackupPath(p string, now time.Time) string {
	now = now.UTC()
	return strings.NewReplacer("{date}", now.Format("2006-01-02"), "{timestamp}", now.Format("20060102T150405Z")).Replace(p)
}

// backup writes a copy of the database to backup_path: VACUUM INTO on
// SQLite (online, consistent), pg_dump (custom format) on PostgreSQL.
func (h *scheduleHandler) backup(ctx context.Context, p *ScheduleParams, now time.Time) (*BackupResult, error) {
	db, err := h.env.db()
	if err != nil {
		return nil, err
	}
	path := expandBackupPath(p.BackupPath, now)
	res := &BackupResult{Path: path, Dialect: db.Dialect()}
	if db.Dialect() == "sqlite" {
		res.Tool = "VACUUM INTO"
		if err := db.BackupSQLite(ctx, path); err != nil {
			return res, permanent(err)
		}
	} else {
		res.Tool = "pg_dump"
		if err := h.pgDump(ctx, path); err != nil {
			return res, err
		}
	}
	if st, err := os.Stat(path); err == nil {
		res.Bytes = st.Size()
	}
	return res, nil
}

// pgDump runs pg_dump --format=custom into path. The password travels in
// PGPASSWORD, not on the command line; a search_path in the URL (one schema)
// becomes --schema.
func (h *scheduleHandler) pgDump(ctx context.Context, path string) error {
	prog := h.env.PgDump
	if prog == "" {
		var err error
		if prog, err = exec.LookPath("pg_dump"); err != nil {
			return permanent(errors.New("backup on PostgreSQL needs pg_dump, which is not on PATH: install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set up backups outside the scheduler"))
		}
	}
	if h.env.DatabaseURL == "" {
		return permanent(errors.New("backup on PostgreSQL needs the database URL (jobs.Deps.DatabaseURL)"))
	}
	if _, err := os.Stat(path); err == nil {
		return permanent(fmt.Errorf("backup path %q already exists; choose a new name (a backup never overwrites)", path))
	}
	if st, err := os.Stat(filepath.Dir(path)); err != nil || !st.IsDir() {
		return permanent(fmt.Errorf("backup directory %q does not exist", filepath.Dir(path)))
	}
	u, err := url.Parse(h.env.DatabaseURL)
	if err != nil {
		return permanent(fmt.Errorf("database URL: %w", err))
	}
	envv := os.Environ()
	if pw, ok := u.User.Password(); ok {
		envv = append(envv, "PGPASSWORD="+pw)
		u.User = url.User(u.User.Username())
	}
	args := []string{"--format=custom", "--no-password", "--file=" + path}
	q := u.Query()
	if sp := q.Get("search_path"); sp != "" {
		args = append(args, "--schema="+sp)
		q.Del("search_path")
		u.RawQuery = q.Encode()
	}
	args = append(args, "--dbname="+u.String())
	cmd := exec.CommandContext(ctx, prog, args...)
	cmd.Env = envv
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("pg_dump: %w: %s", err, notify.ErrorTail(strings.TrimSpace(stderr.String()), 1000))
	}
	return nil
}

// MaintenanceResult is the result of a maintenance action.
type MaintenanceResult struct {
	Dialect    string   `json:"dialect"`
	Statements []string `json:"statements"`
}

func (h *scheduleHandler) maintenance(ctx context.Context) (*MaintenanceResult, error) {
	db, err := h.env.db()
	if err != nil {
		return nil, err
	}
	done, err := db.Maintain(ctx)
	return &MaintenanceResult{Dialect: db.Dialect(), Statements: done}, err
}

// report builds the run summary of the period of report_type and returns
// it with its notifications.
func (h *scheduleHandler) report(ctx context.Context, job *engine.Job, p *ScheduleParams, now time.Time) (*store.RunReport, []notify.Notification, error) {
	period := reportPeriod(p.ReportType, 0)
	if p.DaysBack > 0 {
		period = time.Duration(p.DaysBack) * 24 * time.Hour
	}
	return h.env.sendReport(ctx, job, p.ReportType, period, now, p.Notify, p.Recipients)
}

// backupHandler is job_type "backup": a schedule job whose action is backup.
// Its task_params are those of a schedule job; action may be left out.
type backupHandler struct{ sched *scheduleHandler }

func backupParams(raw []byte) (*ScheduleParams, error) {
	m, err := decodeObject(raw)
	if err != nil {
		return nil, err
	}
	if a, ok := m["action"]; ok && a != ActionBackup {
		return nil, &alerts.ConfigError{Problems: []alerts.Problem{{Path: "action", Msg: fmt.Sprintf("%s: a backup job runs action backup only", jsonText(a))}}}
	}
	m["action"] = ActionBackup
	b, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("task_params: %w", err)
	}
	return ParseScheduleParams(b)
}

// Validate implements engine.Handler.
func (h *backupHandler) Validate(raw json.RawMessage) error {
	_, err := backupParams(raw)
	return err
}

// Handle implements engine.Handler as schedule action backup.
func (h *backupHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := backupParams(job.Schedule.TaskParams)
	if err != nil {
		return nil, permanent(fmt.Errorf("task_params: %w", err))
	}
	return h.sched.run(ctx, job, p)
}
