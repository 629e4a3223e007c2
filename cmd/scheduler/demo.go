package main

// `scheduler demo` shows a newcomer the product working, without network
// access or configuration: a throw-away SQLite database, bundled sample
// bars served by the csv provider, notifications delivered to the log
// channel, and a handful of schedules that fire every few seconds.
//
// Sample data. demodata/*.csv are synthetic OHLCV series (time, open, high,
// low, close, volume) made by a deterministic generator that lives in
// demo_test.go (TestDemoDataIsGenerated checks the files are its exact
// output; -update-demodata rewrites them). Their endings are shaped for
// the demo's schedules: on the last bar BTCUSDT 1h's RSI(14) crosses below
// 30, ETHUSDT 1h's crosses above 70, SPY 1d closes back above its SMA(50),
// SOLUSDT has been oversold for a few bars, BNBUSDT and XRPUSDT are
// neutral. The files carry fixed timestamps; at start the demo shifts every
// bar by whole bars so that each file's last bar is the last *closed* bar
// at that moment (the csv provider decides closed bars from bar times and
// the real clock), and writes the shifted files to the working directory.
// New alerts start at the last closed bar, so the crossings fire on the
// first evaluation; later evaluations find no new closed bar, as a real
// 1-hour alert would between two bars.

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/spf13/cobra"
)

//go:embed demodata/*.csv
var demoData embed.FS

// demoOptions are the flags of `scheduler demo`.
type demoOptions struct {
	// For is how long the demo runs; 0 means until Ctrl-C.
	For time.Duration
	// Verbose shows the service log at INFO (the log channel's own
	// notification lines included) instead of warnings only.
	Verbose bool
	// Keep leaves the working directory in place and says where it is.
	Keep bool
	// HTTP is the API address: "auto" picks a free loopback port, "off"
	// disables the API.
	HTTP string
}

func init() {
	var o demoOptions
	cmd := &cobra.Command{
		Use:   "demo [--for 60s] [--verbose] [--keep]",
		Short: "Run a self-contained demo: sample data, a few alerts, a screener and a script, every few seconds",
		Long: `Runs the scheduler on a fresh temporary SQLite database with bundled sample
bars (csv provider, no network access), creates an RSI crossing alert, a
screener and a script job that fire every few seconds, and prints each run
and each delivered notification (log channel) until --for elapses or Ctrl-C.
Nothing outside the temporary directory is touched; the environment's
scheduler settings (DATABASE_URL, TELEGRAM_*, ...) are ignored.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.For < 0 {
				return &exitError{2, fmt.Errorf("--for %s: must not be negative", o.For)}
			}
			return runDemo(cmd.Context(), cmd.OutOrStdout(), o)
		},
	}
	f := cmd.Flags()
	f.DurationVar(&o.For, "for", time.Minute, "how long to run (0 = until Ctrl-C)")
	f.BoolVarP(&o.Verbose, "verbose", "v", false, "show the service log at INFO level (default: warnings only)")
	f.BoolVar(&o.Keep, "keep", false, "keep the working directory (database, bars, script) after the demo")
	f.StringVar(&o.HTTP, "http", "auto", `HTTP API address: "auto" (a free loopback port), "off", or host:port`)
	rootCmd.AddCommand(cmd)
}

// demoEnvPrefixes name the environment variables of the service and its
// packages. The demo unsets all of them before setting its own, so a real
// configuration (a production DATABASE_URL, a Telegram token, SMTP) in the
// shell can never be used by the demo.
var demoEnvPrefixes = []string{"DATABASE_URL", "DB_", "SQL_ECHO", "SCHEDULER_", "HEALTH_CHECK_", "TRADING_ENV",
	"LOG_LEVEL", "HTTP_ADDR", "API_TOKEN", "ALERT_", "DATA_", "BINANCE_", "YAHOO_", "NOTIFICATION_", "TELEGRAM_",
	"WEBHOOK_", "SMTP_", "SCRIPT_"}

// demoScript is the script job's program: it inspects the sample data and
// reports a result line, as pipeline scripts do.
const demoScript = `#!/bin/sh
# Demo pipeline script (scheduler demo): counts the sample bar files and
# reports the last BTCUSDT close through a result line.
set -eu
files=$(ls bars/*.csv | wc -l | tr -d ' ')
close=$(tail -n 1 bars/BTCUSDT_1h.csv | cut -d, -f5)
echo "checked $files bar files"
echo "__SCHEDULER_RESULT__: {\"bar_files\": $files, \"btc_last_close\": $close}"
`

// demoSchedule is one schedule the demo creates, with a line for the
// newcomer saying what it does.
type demoSchedule struct {
	store.Schedule
	What string
}

// rsiOperand is the RSI(14) operand of the demo's rules.
const rsiOperand = `{"indicator": {"type": "RSI", "params": {"period": 14}, "output": "rsi_14"}}`

// demoSchedules returns the schedules the demo creates. Crons have six
// fields (seconds first) and are staggered so the output is easy to follow.
func demoSchedules() []demoSchedule {
	mk := func(name, jobType, cron, what, params string) demoSchedule {
		return demoSchedule{What: what, Schedule: store.Schedule{UserID: 1, Name: name, JobType: jobType,
			Target: name, Cron: cron, Enabled: true, TaskParams: json.RawMessage(params)}}
	}
	return []demoSchedule{
		mk("btc-rsi-oversold", "alert", "*/5 * * * * *", "BTCUSDT 1h: RSI(14) crosses below 30",
			`{"ticker": "BTCUSDT", "timeframe": "1h",
			  "rule": {"crosses_below": {"lhs": `+rsiOperand+`, "rhs": {"value": 30}}},
			  "rearm": {"hysteresis": 5, "hysteresis_type": "fixed"},
			  "notify": {"channels": ["log"], "priority": "normal"}}`),
		mk("eth-rsi-overbought", "alert", "1-59/5 * * * * *", "ETHUSDT 1h: RSI(14) crosses above 70",
			`{"ticker": "ETHUSDT", "timeframe": "1h",
			  "rule": {"crosses_above": {"lhs": `+rsiOperand+`, "rhs": {"value": 70}}},
			  "rearm": {"hysteresis": 5, "hysteresis_type": "fixed"},
			  "notify": {"channels": ["log"]}}`),
		mk("spy-above-sma50", "alert", "2-59/10 * * * * *", "SPY 1d: close crosses above SMA(50)",
			`{"ticker": "SPY", "timeframe": "1d",
			  "rule": {"crosses_above": {"lhs": {"field": "close"},
			                             "rhs": {"indicator": {"type": "SMA", "params": {"period": 50}}}}},
			  "notify": {"channels": ["log"]}}`),
		mk("rsi-extremes", "screener", "3-59/10 * * * * *", "5 tickers 1h: RSI(14) below 30 or above 70",
			`{"name": "RSI extremes", "tickers": ["BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT"],
			  "timeframe": "1h",
			  "rule": {"outside": {"value": `+rsiOperand+`, "lower": {"value": 30}, "upper": {"value": 70}}},
			  "notify": {"channels": ["log"]}}`),
		mk("check-bars", "script", "4-59/10 * * * * *", "scripts/check_bars.sh; notifies when bar_files >= 1",
			`{"script_path": "scripts/check_bars.sh", "timeout_seconds": 20,
			  "notification_rules": {"conditions": [
			    {"check_field": "bar_files", "operator": ">=", "threshold": 1, "channel": "log"}]}}`),
	}
}

// writeDemoBars writes the bundled sample files into dir, every bar shifted
// by whole bars so that each file's last bar is the last bar closed at now.
// It returns the paths written.
func writeDemoBars(dir string, now time.Time) ([]string, error) {
	names, err := fs.Glob(demoData, "demodata/*.csv")
	if err != nil {
		return nil, err
	}
	var written []string
	for _, name := range names {
		out, err := writeDemoBarFile(dir, path.Base(name), now)
		if err != nil {
			return nil, err
		}
		written = append(written, out)
	}
	return written, nil
}

// writeDemoBarFile writes one bundled sample file (base name, e.g.
// BTCUSDT_1h.csv) into dir, shifted by whole bars so that its last bar is
// the last bar closed at now, and returns the path written.
func writeDemoBarFile(dir, base string, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	name := "demodata/" + base
	stem := strings.TrimSuffix(base, ".csv")
	i := strings.LastIndexByte(stem, '_')
	if i < 0 {
		return "", fmt.Errorf("demo data %s: want SYMBOL_TIMEFRAME.csv", name)
	}
	tf, err := marketdata.ParseTimeframe(stem[i+1:])
	if err != nil {
		return "", fmt.Errorf("demo data %s: %w", name, err)
	}
	raw, err := demoData.ReadFile(name)
	if err != nil {
		return "", err
	}
	bars, err := marketdata.ReadCSV(strings.NewReader(string(raw)))
	if err != nil || len(bars) == 0 {
		return "", fmt.Errorf("demo data %s: %v (%d bars)", name, err, len(bars))
	}
	// Whole bars: the files' fixed-length timeframes (1h, 1d) keep their
	// alignment under a shift by a multiple of the bar length.
	target := tf.Add(tf.Open(now), -1)
	shift := target.Sub(bars[len(bars)-1].Time)
	for j := range bars {
		bars[j].Time = bars[j].Time.Add(shift)
	}
	out := filepath.Join(dir, base)
	f, err := os.Create(out)
	if err != nil {
		return "", err
	}
	werr := marketdata.WriteCSV(f, bars)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return "", fmt.Errorf("write %s: %w", out, werr)
	}
	return out, nil
}

// demoHTTPAddr resolves --http: "auto" asks the kernel for a free loopback
// port (so a service already on 8090 does not get in the way).
func demoHTTPAddr(flag string) (string, error) {
	if flag != "auto" {
		return flag, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("--http auto: find a free port: %w", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr, nil
}

// setDemoEnv replaces the service's environment variables with the demo's.
func setDemoEnv(dir, httpAddr string, verbose bool) error {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		for _, p := range demoEnvPrefixes {
			if strings.HasPrefix(k, p) {
				os.Unsetenv(k)
				break
			}
		}
	}
	level := "WARNING"
	if verbose {
		level = "INFO"
	}
	env := map[string]string{
		"DATABASE_URL":                 "sqlite:///" + filepath.Join(dir, "demo.db"),
		"TRADING_ENV":                  "development", // readable text logs
		"LOG_LEVEL":                    level,
		"HTTP_ADDR":                    httpAddr,
		"SCHEDULER_NODE_ID":            "demo",
		"SCHEDULER_SHUTDOWN_GRACE":     "5",
		"SCHEDULER_RETRY_COUNT":        "0", // a failure shows at once, not after retries
		"DATA_PROVIDERS":               "csv",
		"DATA_CSV_DIR":                 filepath.Join(dir, "bars"),
		"NOTIFICATION_DEFAULT_CHANNEL": notify.ChannelLog,
		"SCRIPT_ROOT":                  dir,
		"SCRIPT_ALLOWED_DIRS":          "scripts",
	}
	for k, v := range env {
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("set %s: %w", k, err)
		}
	}
	return nil
}

// runDemo prepares the working directory, creates the schedules, runs the
// service for o.For (or until SIGINT/SIGTERM) and narrates on out.
func runDemo(parent context.Context, out io.Writer, o demoOptions) error {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	dir, err := os.MkdirTemp("", "scheduler-demo-")
	if err != nil {
		return fmt.Errorf("demo working directory: %w", err)
	}
	if !o.Keep {
		defer os.RemoveAll(dir)
	}
	started := time.Now()
	if _, err := writeDemoBars(filepath.Join(dir, "bars"), started); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "check_bars.sh"), []byte(demoScript), 0o755); err != nil {
		return err
	}
	httpAddr, err := demoHTTPAddr(o.HTTP)
	if err != nil {
		return err
	}
	if err := setDemoEnv(dir, httpAddr, o.Verbose); err != nil {
		return err
	}
	a, err := loadApp(ctx, false)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer a.close()

	scheds := demoSchedules()
	names := map[string]string{}
	acts := a.actions(nil)
	for i := range scheds {
		s := &scheds[i].Schedule
		created, err := acts.Create(ctx, action.SpecOf(s))
		if err != nil {
			return fmt.Errorf("demo schedule %q: %w", s.Name, err)
		}
		*s = *created
		names[strconv.FormatInt(s.ID, 10)] = s.Name
	}
	printDemoIntro(out, dir, httpAddr, o, scheds)

	runCtx := ctx
	if o.For > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, o.For)
		defer cancel()
	}
	n := &narrator{db: a.db, out: out, names: names, runs: map[int64]bool{}, notes: map[int64]bool{}}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-t.C:
				n.poll(watchCtx)
			}
		}
	}()
	serveErr := serve(runCtx, a)
	stopWatch()
	wg.Wait()
	n.poll(context.Background()) // what finished during shutdown
	if serveErr != nil && !errors.Is(serveErr, context.Canceled) && !errors.Is(serveErr, context.DeadlineExceeded) {
		return fmt.Errorf("demo: %w", serveErr)
	}
	n.summary(time.Since(started).Round(time.Second), dir, o.Keep)
	return nil
}

func printDemoIntro(out io.Writer, dir, httpAddr string, o demoOptions, scheds []demoSchedule) {
	fmt.Fprintln(out, "Scheduler demo: sample bars from the csv provider (no network), a fresh SQLite")
	fmt.Fprintln(out, "database, notifications delivered to the log channel.")
	fmt.Fprintf(out, "  working directory  %s (demo.db, bars/, scripts/)\n", dir)
	if httpAddr != "off" {
		fmt.Fprintf(out, "  HTTP API           http://%s/status  (also /metrics, /api/v1/schedules)\n", httpAddr)
	}
	if o.For > 0 {
		fmt.Fprintf(out, "  stops after        %s, or press Ctrl-C\n", o.For)
	} else {
		fmt.Fprintln(out, "  stops on           Ctrl-C")
	}
	fmt.Fprintln(out, "\nSchedules (cron with seconds):")
	for _, s := range scheds {
		fmt.Fprintf(out, "  #%d %-9s %-19s %-18s %s\n", s.ID, s.JobType, s.Name, s.Cron, s.What)
	}
	fmt.Fprintln(out, "\nRuns and notifications as they happen:")
}

// narrator prints finished runs and delivered notifications once each,
// reading them from the database the service writes.
type narrator struct {
	db    *store.DB
	out   io.Writer
	names map[string]string // schedule id → name
	runs  map[int64]bool    // run ids printed
	notes map[int64]bool    // notification ids printed

	nRuns, nFailed, nTriggers, nDelivered, nUndelivered int
}

// finalRun reports whether a run status is final.
func finalRun(status string) bool {
	switch status {
	case store.StatusCompleted, store.StatusFailed, store.StatusCancelled, store.StatusSkipped, store.StatusMissed:
		return true
	}
	return false
}

// poll prints what finished since the last call. Errors are transient (the
// service holds the database) and simply wait for the next poll.
func (n *narrator) poll(ctx context.Context) {
	runs, err := n.db.ListRuns(ctx, store.RunFilter{Limit: 500})
	if err == nil {
		slices.SortFunc(runs, func(x, y store.Run) int { return int(x.ID - y.ID) })
		for _, r := range runs {
			if n.runs[r.ID] || !finalRun(r.Status) {
				continue
			}
			n.runs[r.ID] = true
			n.printRun(r)
		}
	}
	// The newest finished rows are enough: the demo writes a few per
	// second and polls four times a second.
	finished, err := n.db.Outbox().Finished(ctx, 200)
	if err != nil {
		return
	}
	for _, id := range finished {
		if n.notes[id] {
			continue
		}
		nt, err := n.db.Outbox().Get(ctx, id)
		if err != nil {
			continue
		}
		n.notes[id] = true
		n.printNotification(nt)
	}
}

func clock(t *time.Time) string {
	if t == nil {
		return time.Now().Format("15:04:05")
	}
	return t.Local().Format("15:04:05")
}

func (n *narrator) printRun(r store.Run) {
	n.nRuns++
	name := n.names[r.JobID]
	if name == "" {
		name = "schedule " + r.JobID
	}
	head := fmt.Sprintf("%s  run %-3d %-9s %-19s", clock(r.FinishedAt), r.ID, r.JobType, name)
	if r.Status != store.StatusCompleted {
		if r.Status == store.StatusFailed {
			n.nFailed++
		}
		fmt.Fprintf(n.out, "%s %s: %s\n", head, strings.ToUpper(r.Status), oneLine(r.Error))
		return
	}
	fmt.Fprintf(n.out, "%s %s\n", head, n.describe(r))
}

// describe summarises a completed run's result for its job type.
func (n *narrator) describe(r store.Run) string {
	switch r.JobType {
	case "alert":
		var res struct {
			Status    string `json:"status"`
			Evaluated int    `json:"evaluated_bars"`
			Triggers  int    `json:"triggers"`
			Events    []struct {
				Kind        string `json:"kind"`
				Description string `json:"description"`
			} `json:"events"`
		}
		if json.Unmarshal(r.Result, &res) != nil {
			break
		}
		if res.Triggers > 0 {
			n.nTriggers += res.Triggers
			var ds []string
			for _, e := range res.Events {
				if e.Kind == "trigger" {
					ds = append(ds, e.Description)
				}
			}
			return fmt.Sprintf("TRIGGER %s (now %s)", strings.Join(ds, "; "), res.Status)
		}
		var ds []string
		for _, e := range res.Events {
			ds = append(ds, e.Kind+": "+e.Description)
		}
		if len(ds) > 0 {
			return fmt.Sprintf("%s (%s)", strings.Join(ds, "; "), res.Status)
		}
		if res.Evaluated == 0 {
			return fmt.Sprintf("no new closed bar since the last check (%s)", res.Status)
		}
		return fmt.Sprintf("no trigger on %d new bar(s) (%s)", res.Evaluated, res.Status)
	case "screener":
		var res struct {
			Screened int `json:"screened"`
			Matches  []struct {
				Ticker      string `json:"ticker"`
				Description string `json:"description"`
			} `json:"matches"`
		}
		if json.Unmarshal(r.Result, &res) != nil {
			break
		}
		ms := make([]string, len(res.Matches))
		for i, m := range res.Matches {
			ms[i] = m.Ticker
		}
		return fmt.Sprintf("%d of %d match: %s", len(res.Matches), res.Screened, strings.Join(ms, ", "))
	case "script", "data_processing":
		var res struct {
			ExitCode   int            `json:"exit_code"`
			DurationMS int64          `json:"duration_ms"`
			Result     map[string]any `json:"script_result"`
		}
		if json.Unmarshal(r.Result, &res) != nil {
			break
		}
		keys := make([]string, 0, len(res.Result))
		for k := range res.Result {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		kv := make([]string, len(keys))
		for i, k := range keys {
			kv[i] = fmt.Sprintf("%s=%v", k, res.Result[k])
		}
		return fmt.Sprintf("exit %d in %d ms, result %s", res.ExitCode, res.DurationMS, strings.Join(kv, " "))
	}
	return "completed " + oneLine(string(r.Result))
}

func (n *narrator) printNotification(nt notify.Notification) {
	var at *time.Time
	if !nt.SentAt.IsZero() {
		at = &nt.SentAt
	}
	switch nt.Status {
	case notify.StatusSent:
		n.nDelivered++
		fmt.Fprintf(n.out, "%s  NOTIFY  delivered via %s (notification %d, run %d, %s %s)\n",
			clock(at), nt.Channel, nt.ID, nt.RunID, nt.Type, nt.Priority)
	default:
		n.nUndelivered++
		fmt.Fprintf(n.out, "%s  NOTIFY  not delivered via %s (notification %d, run %d): %s: %s\n",
			clock(at), nt.Channel, nt.ID, nt.RunID, nt.Status, oneLine(nt.LastError))
	}
	fmt.Fprintf(n.out, "          | %s\n", nt.Title)
	for _, line := range strings.Split(strings.TrimRight(nt.Body, "\n"), "\n") {
		fmt.Fprintf(n.out, "          | %s\n", line)
	}
}

func (n *narrator) summary(ran time.Duration, dir string, keep bool) {
	fmt.Fprintf(n.out, "\nDemo finished after %s: %d runs (%d failed), %d alert trigger(s), %d notification(s) delivered",
		ran, n.nRuns, n.nFailed, n.nTriggers, n.nDelivered)
	if n.nUndelivered > 0 {
		fmt.Fprintf(n.out, ", %d not delivered", n.nUndelivered)
	}
	fmt.Fprintln(n.out, ".")
	if keep {
		fmt.Fprintf(n.out, "The working directory is kept: %s\n", dir)
		fmt.Fprintf(n.out, "  look around: DATABASE_URL=sqlite:///%s scheduler runs list\n", filepath.Join(dir, "demo.db"))
	}
	fmt.Fprintln(n.out, "Next: `scheduler alert test --config alert.json --data bars.csv` replays a rule on your data;")
	fmt.Fprintln(n.out, "docs/deployment.md shows how to run the service with systemd or Docker.")
}

// oneLine shortens text to one line for the run list.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
