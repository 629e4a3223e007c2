package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/marketdata"
)

func init() { rootCmd.AddCommand(newScreenerCmd()) }

// newScreenerCmd builds "scheduler screener" with its "test" subcommand.
func newScreenerCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "screener",
		Short: "Work with screeners",
	}
	c.AddCommand(newScreenerTestCmd())
	return c
}

// screenerTestFlags are the flags of "scheduler screener test".
type screenerTestFlags struct {
	config, dataDir, from, to string
	json                      bool
}

func newScreenerTestCmd() *cobra.Command {
	var f screenerTestFlags
	cmd := &cobra.Command{
		Use:   "test --config screener.json --data-dir DIR [--from T] [--to T] [--json]",
		Short: "Replay a screener over historical bars and print the matches at every bar time",
		Long: `Replay reads DIR/SYMBOL_TIMEFRAME.csv for every ticker of the screener (the
csv provider's files: time,open,high,low,close,volume; time in RFC 3339 or
Unix seconds) and feeds the closed bars one bar time at a time (the union of
the tickers' bar times, in order) through the same per-ticker evaluation as a
live screener run at that bar's close. A ticker without a bar at a bar time is
not evaluated at it. It prints one line per bar time with matches: the
matching tickers with their compared values. --config is either the
screener's task_params or a whole schedule object with task_params.
--from/--to limit the evaluated bar times (earlier bars still serve as
history). ALERT_SCHEMA_DIR is honoured.
Exit status: 0 on success, 2 on an invalid config or data.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runScreenerTest(cmd.Context(), cmd.OutOrStdout(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.config, "config", "", "screener config: task_params JSON or a schedule object (required)")
	fl.StringVar(&f.dataDir, "data-dir", "", "directory of SYMBOL_TIMEFRAME.csv files (required)")
	fl.StringVar(&f.from, "from", "", "first bar open time to evaluate (RFC 3339, date or Unix seconds)")
	fl.StringVar(&f.to, "to", "", "last bar open time to evaluate (RFC 3339, date or Unix seconds)")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	_ = cmd.MarkFlagRequired("config")
	_ = cmd.MarkFlagRequired("data-dir")
	return cmd
}

func runScreenerTest(ctx context.Context, stdout io.Writer, f screenerTestFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	raw, err := os.ReadFile(f.config)
	if err != nil {
		return invalid("config: %w", err)
	}
	params, name, err := scheduleTaskParams(raw, "screener")
	if err != nil {
		return invalid("config %s: %w", f.config, err)
	}
	sc, err := jobs.ParseScreenerConfig(params, nil, os.Getenv("ALERT_SCHEMA_DIR"))
	if err != nil {
		return invalid("config %s: %w", f.config, err)
	}
	if sc.Name() != "" {
		name = sc.Name()
	}
	var opt jobs.ScreenerReplayOptions
	if f.from != "" {
		if opt.From, err = alerts.ParseTime(f.from); err != nil {
			return invalid("--from: %w", err)
		}
	}
	if f.to != "" {
		if opt.To, err = alerts.ParseTime(f.to); err != nil {
			return invalid("--to: %w", err)
		}
	}
	if !opt.From.IsZero() && !opt.To.IsZero() && opt.To.Before(opt.From) {
		return invalid("--to %s is before --from %s", f.to, f.from)
	}
	if st, err := os.Stat(f.dataDir); err != nil {
		return invalid("--data-dir: %w", err)
	} else if !st.IsDir() {
		return invalid("--data-dir %s: not a directory", f.dataDir)
	}
	bars, err := readScreenerBars(f.dataDir, sc.Tickers(), sc.Timeframe())
	if err != nil {
		return invalid("data: %w", err)
	}

	w := bufio.NewWriter(stdout)
	defer w.Flush()
	emit := func(step jobs.ScreenerReplayStep) error {
		if f.json {
			return writeScreenerStepJSON(w, step)
		}
		return writeScreenerStepText(w, step)
	}
	sum, err := jobs.ReplayScreener(ctx, sc, bars, opt, emit)
	if err != nil {
		var we *writeError
		if errors.As(err, &we) || errors.Is(err, context.Canceled) {
			return err
		}
		return invalid("data %s: %w", f.dataDir, err)
	}
	if !f.json {
		label := name
		if label == "" {
			label = "screener"
		}
		per := make([]string, 0, len(sum.PerTicker))
		for _, t := range sc.Tickers() {
			per = append(per, fmt.Sprintf("%s=%d", t, sum.PerTicker[t]))
		}
		fmt.Fprintf(w, "# %s %s (%s): %d tickers, %d bar times in range, %d evaluations (%d warm-up ticker bars skipped; the rule needs %d), %d bar times with matches, %d matches [%s]\n",
			label, sc.Timeframe(), sc.Rule(), len(sc.Tickers()), sum.BarTimes, sum.Evaluations, sum.WarmUp, sc.MinBars(),
			sum.MatchTimes, sum.Matches, strings.Join(per, " "))
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// readScreenerBars reads dir/SYMBOL_TIMEFRAME.csv (the csv provider's file
// names) for every ticker. A missing file is an error naming it.
func readScreenerBars(dir string, tickers []string, tf marketdata.Timeframe) (map[string][]marketdata.Bar, error) {
	csvDir := marketdata.NewCSV(dir)
	out := make(map[string][]marketdata.Bar, len(tickers))
	for _, t := range tickers {
		path, err := csvDir.Path(t, tf)
		if err != nil {
			return nil, fmt.Errorf("ticker: %w", err)
		}
		fh, err := os.Open(path)
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ticker %s: no file %s", t, path)
		}
		if err != nil {
			return nil, fmt.Errorf("ticker %s: %w", t, err)
		}
		bars, err := alerts.ReadBarsCSV(fh)
		fh.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out[t] = bars
	}
	return out, nil
}

// scheduleTaskParams accepts task_params or a schedule object holding them
// (task_params as an object or as a JSON string) and returns the params and
// the schedule name. A schedule object of another job_type is an error.
func scheduleTaskParams(raw []byte, wantType string) ([]byte, string, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return nil, "", fmt.Errorf("invalid JSON: %w", err)
	}
	tp, ok := top["task_params"]
	if !ok {
		return raw, "", nil
	}
	var name, jobType string
	if v, ok := top["name"]; ok {
		_ = json.Unmarshal(v, &name)
	}
	if v, ok := top["job_type"]; ok {
		_ = json.Unmarshal(v, &jobType)
		if jobType != "" && jobType != wantType {
			return nil, "", fmt.Errorf("job_type is %q, not %q", jobType, wantType)
		}
	}
	if t := bytes.TrimSpace(tp); len(t) > 0 && t[0] == '"' {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			return nil, "", fmt.Errorf("task_params: %w", err)
		}
		tp = json.RawMessage(s)
	}
	return tp, name, nil
}

// screenerStepJSON is one --json output line.
type screenerStepJSON struct {
	Event        string                        `json:"event"`
	BarTime      string                        `json:"bar_time"`
	Screened     int                           `json:"screened"`
	Tickers      []string                      `json:"tickers"`
	Values       map[string]map[string]float64 `json:"values"`
	Close        map[string]float64            `json:"close"`
	Descriptions map[string]string             `json:"descriptions"`
}

func writeScreenerStepJSON(w io.Writer, step jobs.ScreenerReplayStep) error {
	out := screenerStepJSON{Event: "match", BarTime: step.BarTime.UTC().Format(time.RFC3339), Screened: step.Screened,
		Tickers: []string{}, Values: map[string]map[string]float64{}, Close: map[string]float64{}, Descriptions: map[string]string{}}
	for _, m := range step.Matches {
		out.Tickers = append(out.Tickers, m.Ticker)
		vals := m.Values
		if vals == nil {
			vals = map[string]float64{}
		}
		out.Values[m.Ticker] = vals
		out.Close[m.Ticker] = m.Close
		out.Descriptions[m.Ticker] = m.Description
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return &writeError{err}
	}
	return nil
}

func writeScreenerStepText(w io.Writer, step jobs.ScreenerReplayStep) error {
	parts := make([]string, len(step.Matches))
	for i, m := range step.Matches {
		keys := make([]string, 0, len(m.Values))
		for k := range m.Values {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		vals := make([]string, len(keys))
		for j, k := range keys {
			vals[j] = k + "=" + shortNum(m.Values[k])
		}
		parts[i] = fmt.Sprintf("%s [%s]", m.Ticker, strings.Join(vals, " "))
	}
	if _, err := fmt.Fprintf(w, "%s  match  %d/%d  %s\n", step.BarTime.UTC().Format(time.RFC3339), len(step.Matches), step.Screened,
		strings.Join(parts, "  ")); err != nil {
		return &writeError{err}
	}
	return nil
}
