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

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/config"
	"github.com/spf13/cobra"
)

func init() {
	var asJSON bool
	statusCmd := &cobra.Command{
		Use:   "status",
		Short: "Show schedules, next fires, running runs, failures and the outbox",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadExistingApp(cmd.Context())
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
			st, err := a.actions(nil).Status(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				out := api.StatusSections(st)
				out["service"] = map[string]any{"running": false, "http_addr": a.cfg.HTTPAddr}
				out["database"] = map[string]string{"dialect": a.db.Dialect(), "location": a.databaseLocation()}
				out["notification_delivery"] = a.delivery.String()
				out["time"] = st.Time.UTC()
				return writeJSON(cmd.OutOrStdout(), out)
			}
			w := cmd.OutOrStdout()
			switch {
			case up:
				fmt.Fprintln(w, serviceLine(live))
			case a.cfg.HTTPAddr == "off":
				fmt.Fprintln(w, "service: not asked (HTTP_ADDR=off; showing the database)")
			default:
				fmt.Fprintln(w, "service: not reachable on HTTP_ADDR "+a.cfg.HTTPAddr+" (showing the database)")
			}
			printStatus(w, a.databaseLocation(), st)
			fmt.Fprintf(w, "notification delivery: %s\n", a.delivery)
			return nil
		},
	}
	statusCmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	var reloadJSON bool
	reloadCmd := &cobra.Command{
		Use:   "reload",
		Short: "Re-validate every enabled schedule, recompute next_run_at and wake running instances",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := loadExistingApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			var res action.ReloadResult
			if up, err := serviceCall(cmd.Context(), a.cfg, http.MethodPost, "/api/v1/reload", &res); up {
				if err != nil {
					return err
				}
				if reloadJSON {
					return writeJSON(cmd.OutOrStdout(), res)
				}
				printReload(cmd.OutOrStdout(), &res, " (reloaded by the running service)")
				return nil
			}
			r, err := a.actions(a.engine()).Reload(cmd.Context())
			if err != nil {
				return err
			}
			if reloadJSON {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			printReload(cmd.OutOrStdout(), r, "")
			return nil
		},
	}
	reloadCmd.Flags().BoolVar(&reloadJSON, "json", false, "print JSON")

	var validateJSON bool
	validateCmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the configuration and every schedule; exit status 1 when anything is wrong",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			problems := validateAll(cmd.Context())
			out := cmd.OutOrStdout()
			if validateJSON {
				if problems == nil {
					problems = []string{}
				}
				if err := writeJSON(out, map[string]any{"valid": len(problems) == 0, "problems": problems}); err != nil {
					return err
				}
				if len(problems) > 0 {
					return &exitError{1, fmt.Errorf("%d problem(s) found", len(problems))}
				}
				return nil
			}
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

	validateCmd.Flags().BoolVar(&validateJSON, "json", false, `print {"valid", "problems"} as JSON`)

	rootCmd.AddCommand(statusCmd, reloadCmd, validateCmd)
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printReload prints what action.Reload did; the same lines whether this
// process or the running service reloaded.
func printReload(w io.Writer, r *action.ReloadResult, by string) {
	fmt.Fprintf(w, "%d valid schedule(s), %d invalid, next_run_at set for %d%s\n", r.Valid, r.Invalid, r.NextRunSet, by)
	for _, p := range r.Problems {
		fmt.Fprintln(w, "  "+p.String())
	}
}

// serviceLine describes the running service from its /status answer:
// node, uptime and the engine loop in words.
func serviceLine(live map[string]any) string {
	up := "?"
	if s, ok := live["uptime_seconds"].(float64); ok {
		up = (time.Duration(s) * time.Second).String()
	}
	line := fmt.Sprintf("service: running (version %v, node %v, up %s)", live["version"], live["node_id"], up)
	eng, _ := live["engine"].(map[string]any)
	switch {
	case eng == nil:
		return line
	case eng["running"] == true:
		line += fmt.Sprintf("; engine loop running, %v active run(s)", eng["active_runs"])
	default:
		line += "; engine loop NOT running"
	}
	if e, ok := eng["error"].(string); ok && e != "" {
		line += "; last error: " + firstLine(e, 200)
	}
	return line
}

// printStatus prints action.Status as text.
func printStatus(w io.Writer, database string, full *action.Status) {
	st := full.Stats
	fmt.Fprintf(w, "database: %s %s\n", full.Dialect, database)
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
	if len(parts) == 0 {
		parts = append(parts, "none yet")
	}
	fmt.Fprintf(w, "runs: %s\n", strings.Join(parts, " "))
	if st.MissedRecords > 0 {
		fmt.Fprintf(w, "missed-fire records: %d (see: scheduler runs list --status missed)\n", st.MissedRecords)
	}
	if len(st.RecentFailures) > 0 {
		fmt.Fprintln(w, "recent failures (the whole error: scheduler runs show RUN):")
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
	if len(parts) == 0 {
		parts = append(parts, "empty")
	}
	fmt.Fprintf(w, "outbox: %s", strings.Join(parts, " "))
	if st.OldestPendingAge > 0 {
		fmt.Fprintf(w, " (oldest pending %.0f s)", st.OldestPendingAge)
	}
	fmt.Fprintln(w)
	if ob := full.Outbox; ob != nil {
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

// validateAll checks the configuration and every schedule.
func validateAll(ctx context.Context) []string {
	var problems []string
	if _, err := config.Load(); err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			problems = append(problems, "config: "+line)
		}
		return problems
	}
	a, err := loadExistingApp(ctx)
	if err != nil {
		return append(problems, err.Error())
	}
	defer a.close()
	r, err := a.actions(nil).ValidateAll(ctx)
	if err != nil {
		return append(problems, err.Error())
	}
	for _, p := range r.Problems {
		problems = append(problems, p.String())
	}
	return problems
}
