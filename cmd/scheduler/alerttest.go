package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/alerts"
)

func init() { rootCmd.AddCommand(newAlertCmd()) }

// newAlertCmd builds "scheduler alert" with its "test" subcommand.
func newAlertCmd() *cobra.Command {
	alertCmd := &cobra.Command{
		Use:   "alert",
		Short: "Work with alert rules",
	}
	alertCmd.AddCommand(newAlertTestCmd())
	return alertCmd
}

// alertTestFlags are the flags of "scheduler alert test".
type alertTestFlags struct {
	config, data, from, to string
	json                   bool
}

func newAlertTestCmd() *cobra.Command {
	var f alertTestFlags
	cmd := &cobra.Command{
		Use:   "test --config alert.json --data bars.csv [--from T] [--to T] [--json]",
		Short: "Replay an alert over historical bars and print every trigger and rearm",
		Long: `Replay feeds the bars of a CSV file (time,open,high,low,close,volume; time in
RFC 3339 or Unix seconds) to the alert one closed bar at a time, through the
same evaluation, state machine and state codec as the live service, and
prints one line per event (trigger, rearm, paused, inactive). --config is
either the alert's task_params or a whole schedule object with task_params.
--from/--to limit the evaluated bars (earlier bars still serve as history).
ALERT_SCHEMA_DIR, ALERT_MAX_TRIGGERS and ALERT_FLOOD_WINDOW are honoured.
Exit status: 0 on success, 2 on an invalid config or data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAlertTest(cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "alert config: task_params JSON or a schedule object (required)")
	fl.StringVar(&f.data, "data", "", "bars CSV: time,open,high,low,close,volume (required)")
	fl.StringVar(&f.from, "from", "", "first bar open time to evaluate (RFC 3339, date, Unix seconds, or before now: -7d, -36h)")
	fl.StringVar(&f.to, "to", "", "last bar open time to evaluate (RFC 3339, date, Unix seconds, or before now: -1d, -90m)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("data")
	return cmd
}

// replayTime parses a --from/--to value: what alerts.ParseTime accepts, or
// a time before now written -Nd (days) or as a negative Go duration
// (-36h, -90m).
func replayTime(s string, now time.Time) (time.Time, error) {
	rest, ok := strings.CutPrefix(s, "-")
	if !ok {
		return alerts.ParseTime(s)
	}
	if days, isDays := strings.CutSuffix(rest, "d"); isDays {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q: want -Nd with N a whole number of days", s)
		}
		return now.AddDate(0, 0, -n), nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q: want a time, a date, Unix seconds, -Nd or a duration such as -36h", s)
	}
	return now.Add(-d), nil
}

// invalid wraps an error as exit status 2.
func invalid(format string, args ...any) error {
	return &exitError{code: 2, err: fmt.Errorf(format, args...)}
}

func runAlertTest(stdout io.Writer, f alertTestFlags) error {
	raw, err := os.ReadFile(f.config)
	if err != nil {
		return invalid("config: %w", err)
	}
	params, name, err := scheduleTaskParams(raw, "alert")
	if err != nil {
		return invalid("config %s: %w", f.config, err)
	}
	a, err := alerts.ParseWithSchemaDir(params, os.Getenv("ALERT_SCHEMA_DIR"))
	if err != nil {
		return invalid("config %s: %w", f.config, err)
	}
	if a.Name == "" {
		a.Name = name
	}
	var opt alerts.ReplayOptions
	if opt.Limits, err = floodLimitsFromEnv(); err != nil {
		return invalid("%w", err)
	}
	if f.from != "" {
		if opt.From, err = replayTime(f.from, time.Now()); err != nil {
			return invalid("--from: %w", err)
		}
	}
	if f.to != "" {
		if opt.To, err = replayTime(f.to, time.Now()); err != nil {
			return invalid("--to: %w", err)
		}
	}
	if !opt.From.IsZero() && !opt.To.IsZero() && opt.To.Before(opt.From) {
		return invalid("--to %s is before --from %s", f.to, f.from)
	}
	df, err := os.Open(f.data)
	if err != nil {
		return invalid("data: %w", err)
	}
	defer df.Close()
	bars, err := alerts.ReadBarsCSV(df)
	if err != nil {
		return invalid("data %s: %w", f.data, err)
	}
	w := bufio.NewWriter(stdout)
	defer w.Flush()
	emit := func(ev alerts.ReplayEvent) error {
		if f.json {
			return writeEventJSON(w, ev)
		}
		return writeEventText(w, ev)
	}
	sum, err := alerts.Replay(a, bars, opt, emit)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return err
		}
		return invalid("data %s: %w", f.data, err)
	}
	if !f.json {
		fmt.Fprintf(w, "# %s %s: %d bars in range, %d evaluated (%d warm-up bars skipped; the rule needs %d), %d triggers, %d rearms, final status %s\n",
			a.Ticker, a.Timeframe, sum.Bars, sum.Evaluated, sum.WarmUp, a.MinBars(), sum.Triggers, sum.Rearms, sum.Status)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// writeError marks an output failure (exit status 1, not 2).
type writeError struct{ err error }

func (e *writeError) Error() string { return "write output: " + e.err.Error() }

// floodLimitsFromEnv reads ALERT_MAX_TRIGGERS (count) and ALERT_FLOOD_WINDOW
// (a Go duration such as 3m, or seconds).
func floodLimitsFromEnv() (alerts.Limits, error) {
	var l alerts.Limits
	if s := strings.TrimSpace(os.Getenv("ALERT_MAX_TRIGGERS")); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			return l, fmt.Errorf("ALERT_MAX_TRIGGERS: %q is not a whole number >= 1", s)
		}
		l.MaxTriggers = n
	}
	if s := strings.TrimSpace(os.Getenv("ALERT_FLOOD_WINDOW")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			sec, err2 := strconv.Atoi(s)
			if err2 != nil {
				return l, fmt.Errorf("ALERT_FLOOD_WINDOW: %q is not a duration (3m) or seconds", s)
			}
			d = time.Duration(sec) * time.Second
		}
		if d <= 0 {
			return l, fmt.Errorf("ALERT_FLOOD_WINDOW: %q must be positive", s)
		}
		l.FloodWindow = d
	}
	return l, nil
}

// eventJSON is one --json output line.
type eventJSON struct {
	Event       string             `json:"event"`
	BarTime     string             `json:"bar_time"`
	Status      string             `json:"status"`
	PrevStatus  string             `json:"prev_status"`
	Values      map[string]float64 `json:"values"`
	Description string             `json:"description"`
	Count       int                `json:"count"`
	Close       float64            `json:"close"`
	Notify      bool               `json:"notify"`
}

func writeEventJSON(w io.Writer, ev alerts.ReplayEvent) error {
	vals := ev.Values
	if vals == nil {
		vals = map[string]float64{}
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(eventJSON{Event: ev.Kind, BarTime: ev.BarTime.UTC().Format(time.RFC3339), Status: ev.Status,
		PrevStatus: ev.PrevStatus, Values: vals, Description: ev.Description, Count: ev.Count, Close: ev.Bar.Close, Notify: ev.Notify}); err != nil {
		return &writeError{err}
	}
	return nil
}

func writeEventText(w io.Writer, ev alerts.ReplayEvent) error {
	keys := make([]string, 0, len(ev.Values))
	for k := range ev.Values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	vals := make([]string, len(keys))
	for i, k := range keys {
		vals[i] = k + "=" + shortNum(ev.Values[k])
	}
	if _, err := fmt.Fprintf(w, "%s  %-8s  %s -> %s  %s  [%s]\n", ev.BarTime.UTC().Format(time.RFC3339), ev.Kind,
		ev.PrevStatus, ev.Status, ev.Description, strings.Join(vals, " ")); err != nil {
		return &writeError{err}
	}
	return nil
}

// shortNum prints a value with at most 4 decimals (6 significant digits
// below 1), trailing zeros trimmed.
func shortNum(v float64) string {
	if math.Abs(v) < 1 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	s := strconv.FormatFloat(v, 'f', 4, 64)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
