package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/atf/scheduler/internal/config"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
	"github.com/spf13/cobra"
)

func init() {
	var asJSON bool
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show schedules, next fires, running runs, failures and the outbox",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer a.close()
			// A running service knows more (engine, dispatcher, providers).
			var live map[string]any
			up, err := serviceCall(cmd.Context(), a.cfg, http.MethodGet, "/status", &live)
			if up && err == nil && asJSON {
				return writeJSON(cmd.OutOrStdout(), live)
			}
			st, err := a.db.Stats(cmd.Context(), time.Now())
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			if up {
				fmt.Fprintf(cmd.OutOrStdout(), "service: running (node %v, up %v s, engine %v)\n", live["node_id"], live["uptime_seconds"], live["engine"])
			} else {
				fmt.Fprintln(cmd.OutOrStdout(), "service: not reachable on HTTP_ADDR "+a.cfg.HTTPAddr+" (showing the database)")
			}
			printStatus(cmd.OutOrStdout(), a, st)
			return nil
		},
	}
	statusCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	reloadCmd := &cobra.Command{
		Use:   "reload",
		Short: "Re-validate every enabled schedule, recompute next_run_at and wake running instances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadApp(cmd.Context(), false)
			if err != nil {
				return err
			}
			defer a.close()
			out := cmd.OutOrStdout()
			var res struct {
				Valid    int `json:"valid"`
				Invalid  int `json:"invalid"`
				Problems []struct {
					ID    int64  `json:"id"`
					Name  string `json:"name"`
					Error string `json:"error"`
				} `json:"problems"`
			}
			if up, err := serviceCall(cmd.Context(), a.cfg, http.MethodPost, "/api/v1/reload", &res); up {
				if err != nil {
					return err
				}
				fmt.Fprintf(out, "%d valid schedule(s), %d invalid (reloaded by the running service)\n", res.Valid, res.Invalid)
				for _, p := range res.Problems {
					fmt.Fprintf(out, "  schedule %d (%s): %s\n", p.ID, p.Name, p.Error)
				}
				return nil
			}
			valid, invalid, err := reloadSchedules(cmd.Context(), a, a.engine())
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "%d valid schedule(s), %d invalid\n", valid, len(invalid))
			for _, p := range invalid {
				fmt.Fprintln(out, "  "+p)
			}
			return nil
		},
	}

	validateCmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and every schedule; exit status 1 when anything is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			problems := validateAll(cmd.Context())
			out := cmd.OutOrStdout()
			for _, p := range problems {
				fmt.Fprintln(out, p)
			}
			if len(problems) > 0 {
				return &exitError{1, fmt.Errorf("%d problem(s) found", len(problems))}
			}
			fmt.Fprintln(out, "configuration and schedules are valid")
			return nil
		},
	}

	rootCmd.AddCommand(statusCmd, reloadCmd, validateCmd)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printStatus(w io.Writer, a *app, st *store.Stats) {
	fmt.Fprintf(w, "database: %s (%s)\n", a.db.Dialect(), config.Redact(a.cfg.DatabaseURL))
	fmt.Fprintf(w, "schedules: %d total, %d enabled, %d invalid\n", st.Schedules, st.Enabled, len(st.Invalid))
	for _, s := range st.Invalid {
		fmt.Fprintf(w, "  invalid #%d %s: %s\n", s.ID, s.Name, s.LastError)
	}
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	if len(st.NextDue) > 0 {
		fmt.Fprintln(w, "next fires:")
		for _, s := range st.NextDue {
			fmt.Fprintf(tw, "  #%d\t%s\t%s\t%s\n", s.ID, s.Name, s.Cron, s.NextRunAt.Format(time.RFC3339))
		}
		tw.Flush()
	}
	fmt.Fprintf(w, "running: %d\n", len(st.Running))
	for _, r := range st.Running {
		fmt.Fprintf(tw, "  run %d\tschedule %s\t%s\towner %s\n", r.ID, r.JobID, r.JobType, r.LeaseOwner)
	}
	tw.Flush()
	keys := make([]string, 0, len(st.RunsByStatus))
	for k := range st.RunsByStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, st.RunsByStatus[k]))
	}
	fmt.Fprintf(w, "runs: %s\n", strings.Join(parts, " "))
	if st.MissedRecords > 0 {
		fmt.Fprintf(w, "missed-fire records: %d (see: scheduler runs list --status missed)\n", st.MissedRecords)
	}
	if len(st.RecentFailures) > 0 {
		fmt.Fprintln(w, "recent failures:")
		for _, r := range st.RecentFailures {
			fmt.Fprintf(tw, "  run %d\tschedule %s\t%s\t%s\n", r.ID, r.JobID, r.ScheduledFor.Format(time.RFC3339), firstLine(r.Error, 100))
		}
		tw.Flush()
	}
	parts = parts[:0]
	for k, n := range st.OutboxByStatus {
		parts = append(parts, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(parts)
	fmt.Fprintf(w, "outbox: %s", strings.Join(parts, " "))
	if st.OldestPendingAge > 0 {
		fmt.Fprintf(w, " (oldest pending %.0f s)", st.OldestPendingAge)
	}
	fmt.Fprintln(w)
	if ob, err := a.db.Outbox().Stats(context.Background(), time.Now()); err == nil {
		chans := make([]string, 0, len(ob.LastErrorByChannel))
		for ch := range ob.LastErrorByChannel {
			chans = append(chans, ch)
		}
		sort.Strings(chans)
		for _, ch := range chans {
			e := ob.LastErrorByChannel[ch]
			fmt.Fprintf(w, "  last %s error (notification %d, %s): %s\n", ch, e.ID, e.At.Format(time.RFC3339), firstLine(e.Error, 100))
		}
	}
}

func firstLine(s string, n int) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > n {
		s = s[:n] + "…"
	}
	return s
}

// reloadSchedules validates every enabled schedule, records or clears its
// last error, recomputes next_run_at of valid ones (fires already due are
// left for the claim loop) and wakes running instances.
func reloadSchedules(ctx context.Context, a *app, e *engine.Engine) (valid int, invalid []string, err error) {
	on := true
	list, err := a.db.ListSchedules(ctx, store.ScheduleFilter{Enabled: &on})
	if err != nil {
		return 0, nil, err
	}
	now := time.Now()
	for i := range list {
		s := &list[i]
		sched, _, verr := engine.Compile(s, a.cfg.Timezone, a.handlers)
		if verr != nil {
			invalid = append(invalid, fmt.Sprintf("schedule %d (%s): %v", s.ID, s.Name, verr))
			if err := a.db.SetScheduleError(ctx, s.ID, verr.Error(), now); err != nil {
				return valid, invalid, err
			}
			continue
		}
		valid++
		if s.LastError != "" {
			if err := a.db.SetScheduleError(ctx, s.ID, "", now); err != nil {
				return valid, invalid, err
			}
		}
		if s.NextRunAt != nil && s.NextRunAt.After(now) {
			next := sched.Next(now)
			if !next.Equal(*s.NextRunAt) {
				if err := a.db.SetNextRun(ctx, s.ID, &next); err != nil {
					return valid, invalid, err
				}
			}
		}
	}
	if err := a.db.Notify(ctx, store.ChannelUpdates, "reload"); err != nil {
		return valid, invalid, err
	}
	e.Wake()
	return valid, invalid, nil
}

// validateAll checks the configuration and every schedule.
func validateAll(ctx context.Context) []string {
	var problems []string
	if _, err := config.Load(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			problems = append(problems, "config: "+line)
		}
		return problems
	}
	a, err := loadApp(ctx, false)
	if err != nil {
		return append(problems, err.Error())
	}
	defer a.close()
	list, err := a.db.ListSchedules(ctx, store.ScheduleFilter{})
	if err != nil {
		return append(problems, err.Error())
	}
	for i := range list {
		s := &list[i]
		if _, _, err := engine.Compile(s, a.cfg.Timezone, a.handlers); err != nil {
			problems = append(problems, fmt.Sprintf("schedule %d (%s): %v", s.ID, s.Name, err))
		}
	}
	return problems
}
