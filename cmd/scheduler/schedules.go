package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func init() {
	sched := &cobra.Command{Use: "schedules", Short: "List, show, add, update, enable, disable, delete and run schedules"}

	var jobType, enabled string
	var asJSON bool
	var sf store.ScheduleFilter
	list := &cobra.Command{
		Use: "list", Short: "List schedules (task_params redacted)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if jobType != "" && !slices.Contains(store.JobTypes, jobType) {
				return &exitError{2, fmt.Errorf("--type: unknown job type %q (known: %s)", jobType, strings.Join(store.JobTypes, ", "))}
			}
			sf.JobType = jobType
			if enabled != "" {
				b, err := strconv.ParseBool(enabled)
				if err != nil {
					return &exitError{2, fmt.Errorf("--enabled: %q is not true or false", enabled)}
				}
				sf.Enabled = &b
			}
			if sf.Limit < 1 || sf.Limit > maxListLimit {
				return &exitError{2, fmt.Errorf("--limit: %d out of range 1-%d", sf.Limit, maxListLimit)}
			}
			if sf.Offset < 0 {
				return &exitError{2, fmt.Errorf("--offset: %d is negative", sf.Offset)}
			}
			a, err := loadExistingApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			ss, err := a.db.ListSchedules(cmd.Context(), sf)
			if err != nil {
				return actionError(err)
			}
			ss = action.RedactedSchedules(ss)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), ss)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tUSER\tNAME\tTYPE\tCRON\tENABLED\tNEXT RUN\tERROR")
			for _, s := range ss {
				next := "-"
				if s.NextRunAt != nil {
					next = s.NextRunAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%v\t%s\t%s\n", s.ID, s.UserID, s.Name, s.JobType, s.Cron, s.Enabled, next, firstLine(s.LastError, 60))
			}
			return tw.Flush()
		},
	}
	list.Flags().StringVar(&jobType, "type", "", "only this job type")
	list.Flags().StringVar(&enabled, "enabled", "", "only enabled (true) or disabled (false) schedules")
	list.Flags().IntVar(&sf.Limit, "limit", 1000, fmt.Sprintf("at most this many schedules (1-%d)", maxListLimit))
	list.Flags().IntVar(&sf.Offset, "offset", 0, "skip this many schedules (ordered by id)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	show := &cobra.Command{
		Use: "show ID|NAME", Short: "Show one schedule as JSON (task_params redacted)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, id, err := loadAppFor(cmd, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			s, err := a.db.GetSchedule(cmd.Context(), id)
			if err != nil {
				return actionError(err)
			}
			return writeJSON(cmd.OutOrStdout(), action.Redacted(*s))
		},
	}
	show.Flags().Bool("json", true, "print JSON (always on: the schedule is shown as JSON)")

	var add store.Schedule
	var params string
	var disabled, addJSON bool
	addCmd := &cobra.Command{
		Use:   "add",
		Short: "Add a schedule (validated before it is saved)",
		Example: `  scheduler schedules add --user 1 --name hello --type script --cron "0 */4 * * *" \
    --params '{"script_path": "src/data/hello.sh", "timeout_seconds": 60}'
  scheduler schedules add --user 1 --name vix --type data_processing --target src.data.downloader.vix_downloader \
    --cron "0 */4 * * *" --params '{"script_path": "src/data/downloader/vix_downloader.py", "timeout_seconds": 600}'
  scheduler schedules add --user 1 --name btc-rsi --type alert --cron "*/5 * * * *" --params @alert.json

(scheduler init creates src/data/hello.sh and alert.json; the vix downloader is the framework's.)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			raw, err := readParams(params)
			if err != nil {
				return err
			}
			on := !disabled
			sp := action.Spec{Name: add.Name, JobType: add.JobType, Target: add.Target, TaskParams: raw,
				Cron: add.Cron, Timezone: add.Timezone, Enabled: &on}
			if cmd.Flags().Changed("user") {
				sp.UserID = &add.UserID
			}
			if sp.Target == "" {
				sp.Target = sp.Name
			}
			a, err := loadApp(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer a.close()
			s, err := a.actions(nil).Create(cmd.Context(), sp)
			if err != nil {
				return actionError(err)
			}
			return printSchedule(cmd, addJSON, s, "created schedule %d (%s)\n", s.ID, s.Name)
		},
	}
	f := addCmd.Flags()
	scheduleFlags(f, &add, &params, true)
	f.BoolVar(&disabled, "disabled", false, "create it disabled")
	f.BoolVar(&addJSON, "json", false, "print the created schedule as JSON (task_params redacted)")

	var upd store.Schedule
	var updParams string
	var updJSON bool
	updCmd := &cobra.Command{
		Use:   "update ID|NAME",
		Short: "Change some fields of a schedule (validated before it is saved)",
		Long: `Changes the fields given by flags and keeps the others; the result is
validated like "add", and nothing is saved when it is invalid. A changed cron
expression or time zone takes effect at the next instant (fires claimed
ahead are dropped). Enable and disable have their own commands.`,
		Example: `  scheduler schedules update hello --cron "*/30 * * * *"
  scheduler schedules update btc-rsi --params @alert.json --timezone Europe/Zurich`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			changed := cmd.Flags().Changed
			if !changed("name") && !changed("type") && !changed("target") && !changed("cron") &&
				!changed("timezone") && !changed("params") && !changed("user") {
				return &exitError{2, errors.New("nothing to change: give at least one of --name, --type, --target, --cron, --timezone, --params, --user")}
			}
			var raw json.RawMessage
			if changed("params") {
				var err error
				if raw, err = readParams(updParams); err != nil {
					return err
				}
			}
			a, id, err := loadAppFor(cmd, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			cur, err := a.db.GetSchedule(cmd.Context(), id)
			if err != nil {
				return actionError(err)
			}
			sp := action.Spec{UserID: &cur.UserID, Name: cur.Name, JobType: cur.JobType, Target: cur.Target,
				TaskParams: cur.TaskParams, Cron: cur.Cron, Timezone: cur.Timezone}
			for flag, set := range map[string]func(){
				"user":     func() { sp.UserID = &upd.UserID },
				"name":     func() { sp.Name = upd.Name },
				"type":     func() { sp.JobType = upd.JobType },
				"target":   func() { sp.Target = upd.Target },
				"cron":     func() { sp.Cron = upd.Cron },
				"timezone": func() { sp.Timezone = upd.Timezone },
				"params":   func() { sp.TaskParams = raw },
			} {
				if changed(flag) {
					set()
				}
			}
			s, err := a.actions(nil).Update(cmd.Context(), id, sp)
			if err != nil {
				return actionError(err)
			}
			return printSchedule(cmd, updJSON, s, "updated schedule %d (%s)\n", s.ID, s.Name)
		},
	}
	uf := updCmd.Flags()
	scheduleFlags(uf, &upd, &updParams, false)
	uf.BoolVar(&updJSON, "json", false, "print the updated schedule as JSON (task_params redacted)")

	setEnabled := func(use string, on bool) *cobra.Command {
		var asJSON bool
		c := &cobra.Command{
			Use: use + " ID|NAME", Short: strings.ToUpper(use[:1]) + use[1:] + " a schedule", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				a, id, err := loadAppFor(cmd, args[0])
				if err != nil {
					return err
				}
				defer a.close()
				acts := a.actions(nil)
				var s *store.Schedule
				if on {
					s, err = acts.Enable(cmd.Context(), id)
				} else {
					s, err = acts.Disable(cmd.Context(), id)
				}
				if err != nil {
					return actionError(err)
				}
				return printSchedule(cmd, asJSON, s, "schedule %d %sd\n", id, use)
			},
		}
		c.Flags().BoolVar(&asJSON, "json", false, "print the schedule as JSON (task_params redacted)")
		return c
	}

	var delJSON bool
	del := &cobra.Command{
		Use: "delete ID|NAME", Short: "Delete a schedule (its run history is kept)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, id, err := loadAppFor(cmd, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			if err := a.actions(nil).Delete(cmd.Context(), id); err != nil {
				return actionError(err)
			}
			if delJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"id": id, "deleted": true})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "schedule %d deleted\n", id)
			return nil
		},
	}
	del.Flags().BoolVar(&delJSON, "json", false, `print {"id", "deleted"} as JSON`)

	var local, runJSON bool
	run := &cobra.Command{
		Use:   "run ID|NAME",
		Short: "Run a schedule now, exactly once",
		Long: `Inserts a pending manual run (with 1 + options.retry_count attempts, else
1 + SCHEDULER_RETRY_COUNT). When a service is running it executes the run
(PostgreSQL: woken by NOTIFY scheduler_manual_trigger; SQLite: within 2 s).
When no service runs on the SQLite database, or with --local, the run is
executed by this command and its result printed (as JSON; --json prints the
queued run as JSON too).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			a, id, err := loadAppFor(cmd, args[0])
			if err != nil {
				return err
			}
			defer a.close()
			var o action.RunOptions
			if local || (a.db.Dialect() != "postgres" && !sqliteServiceRunning(a.db.Path())) {
				o.Here = a.engine()
			}
			st, err := a.actions(nil).RunNow(cmd.Context(), id, o)
			if err != nil {
				return actionError(err)
			}
			if o.Here == nil && !runJSON {
				fmt.Fprintf(cmd.OutOrStdout(), "run %d queued for schedule %d; follow it with: scheduler runs list --schedule %d\n", st.Run.ID, id, id)
				return nil
			}
			return writeJSON(cmd.OutOrStdout(), action.RedactedRun(*st.Run))
		},
	}
	run.Flags().BoolVar(&local, "local", false, "execute the run in this process")
	run.Flags().BoolVar(&runJSON, "json", false, "print the run as JSON also when it is only queued")

	sched.AddCommand(list, show, addCmd, updCmd, setEnabled("enable", true), setEnabled("disable", false), del, run)

	var rf store.RunFilter
	var runsJSON bool
	var runsSchedule string
	runs := &cobra.Command{Use: "runs", Short: "Inspect the run history"}
	runsList := &cobra.Command{
		Use: "list", Short: "List runs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if rf.Status != "" && !slices.Contains(store.RunStatuses, rf.Status) {
				return &exitError{2, fmt.Errorf("--status: unknown run status %q (known: %s)", rf.Status, strings.Join(store.RunStatuses, ", "))}
			}
			if rf.Limit < 1 || rf.Limit > 10000 {
				return &exitError{2, fmt.Errorf("--limit: %d out of range 1-10000", rf.Limit)}
			}
			a, err := loadExistingApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			if runsSchedule != "" {
				if rf.ScheduleID, err = lookupSchedule(cmd, a, runsSchedule); err != nil {
					return fmt.Errorf("--schedule: %w", err)
				}
			}
			rs, err := a.db.ListRuns(cmd.Context(), rf)
			if err != nil {
				return actionError(err)
			}
			rs = action.RedactedRuns(rs)
			if runsJSON {
				return writeJSON(cmd.OutOrStdout(), rs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCHEDULE\tTYPE\tKIND\tSTATUS\tATTEMPT\tSCHEDULED FOR\tDURATION\tERROR")
			for _, r := range rs {
				dur := "-"
				if r.StartedAt != nil && r.FinishedAt != nil {
					dur = r.FinishedAt.Sub(*r.StartedAt).Round(time.Millisecond).String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", r.ID, r.JobID, r.JobType, r.Kind, r.Status,
					r.Attempt, r.MaxAttempts, r.ScheduledFor.Format(time.RFC3339), dur, firstLine(r.Error, 60))
			}
			return tw.Flush()
		},
	}
	runsList.Flags().StringVar(&runsSchedule, "schedule", "", "only runs of this schedule (id or name)")
	runsList.Flags().StringVar(&rf.Status, "status", "", "only runs with this status (pending, running, completed, failed, cancelled, skipped, missed)")
	runsList.Flags().IntVar(&rf.Limit, "limit", 50, "at most this many runs")
	runsList.Flags().BoolVar(&runsJSON, "json", false, "print JSON")
	var showJSON bool
	runsShow := &cobra.Command{
		Use: "show ID", Short: "Show one run: full error, result, attempts, times and lag", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseID(args[0])
			if err != nil {
				return err
			}
			a, err := loadExistingApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			d, err := a.actions(nil).RunDetail(cmd.Context(), id)
			if err != nil {
				return actionError(err)
			}
			if showJSON {
				return writeJSON(cmd.OutOrStdout(), d)
			}
			return printRun(cmd.OutOrStdout(), d)
		},
	}
	runsShow.Flags().BoolVar(&showJSON, "json", false, "print JSON")
	runs.AddCommand(runsList, runsShow)

	rootCmd.AddCommand(sched, runs)
}

// maxListLimit is the largest --limit of `schedules list`.
const maxListLimit = 100000

// scheduleFlags defines the flags of a schedule's fields for add (adding)
// or update: into s, task_params into params.
func scheduleFlags(f *pflag.FlagSet, s *store.Schedule, params *string, adding bool) {
	required, targetDefault, zoneDefault, paramsDefault, paramsNote := " (required)", " (default: the name)", " (default SCHEDULER_TIMEZONE)", "{}", ""
	if !adding {
		required, targetDefault, zoneDefault, paramsDefault, paramsNote = "", "", ` ("" for SCHEDULER_TIMEZONE)`, "", " (replaces the whole object)"
	}
	f.Int64Var(&s.UserID, "user", 0, "user id"+required)
	f.StringVar(&s.Name, "name", "", "unique name per user"+required)
	f.StringVar(&s.JobType, "type", "", "job type: "+strings.Join(store.JobTypes, ", "))
	f.StringVar(&s.Target, "target", "", "free-text target"+targetDefault)
	f.StringVar(&s.Cron, "cron", "", "5- or 6-field cron expression or @hourly, @every 90s, ...")
	f.StringVar(&s.Timezone, "timezone", "", "IANA time zone of the cron expression"+zoneDefault)
	f.StringVar(params, "params", paramsDefault, "task_params JSON, or @file.json"+paramsNote)
}

// printSchedule prints s as redacted JSON, or the line format says.
func printSchedule(cmd *cobra.Command, asJSON bool, s *store.Schedule, format string, args ...any) error {
	if asJSON {
		return writeJSON(cmd.OutOrStdout(), action.Redacted(*s))
	}
	fmt.Fprintf(cmd.OutOrStdout(), format, args...)
	return nil
}

// loadAppFor loads the app (an existing database: loadExistingApp) and
// resolves a schedule argument, an id or a name: the start of every
// command that acts on one schedule.
func loadAppFor(cmd *cobra.Command, arg string) (*app, int64, error) {
	if looksNumeric(arg) {
		if _, err := parseID(arg); err != nil {
			return nil, 0, err
		}
	}
	a, err := loadExistingApp(cmd.Context())
	if err != nil {
		return nil, 0, err
	}
	id, err := lookupSchedule(cmd, a, arg)
	if err != nil {
		a.close()
		return nil, 0, err
	}
	return a, id, nil
}

// lookupSchedule resolves an id or a schedule name (action.Lookup); a
// number that is no valid id exits 2.
func lookupSchedule(cmd *cobra.Command, a *app, arg string) (int64, error) {
	if looksNumeric(arg) {
		return parseID(arg)
	}
	id, err := a.actions(nil).Lookup(cmd.Context(), arg)
	return id, actionError(err)
}

// looksNumeric reports whether s is meant as an id: an optional sign and
// digits only.
func looksNumeric(s string) bool {
	s = strings.TrimLeft(s, "+-")
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func parseID(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, &exitError{2, fmt.Errorf("ID: %q out of range 1-%d", s, int64(math.MaxInt64))}
	}
	if err != nil || id < 1 {
		return 0, &exitError{2, fmt.Errorf("ID: %q is not a positive integer", s)}
	}
	return id, nil
}

// readParams reads task_params from a JSON string or @file.
func readParams(p string) (json.RawMessage, error) {
	b := []byte(p)
	if rest, ok := strings.CutPrefix(p, "@"); ok {
		var err error
		if b, err = os.ReadFile(rest); err != nil {
			return nil, &exitError{2, fmt.Errorf("--params: %w", err)}
		}
	}
	if !json.Valid(b) {
		return nil, &exitError{2, fmt.Errorf("--params: not valid JSON: %.80s", string(b))}
	}
	return b, nil
}

// sqliteServiceRunning reports whether a service holds the SQLite lock.
func sqliteServiceRunning(dbPath string) bool {
	f, err := os.OpenFile(dbPath+".lock", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return true
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}
