package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
)

// defaultInitDir is the folder `scheduler init` creates without an argument.
const defaultInitDir = "scheduler-example"

// exampleScript is the tour's pipeline script. It lives under src/data, one
// of the default SCRIPT_ALLOWED_DIRS, and reports through a result line.
const exampleScript = `#!/bin/sh
# Example pipeline script (scheduler init): prints a line and reports a
# result the scheduler stores with the run.
set -eu
bars=$(($(wc -l < BTCUSDT_1h.csv) - 1))
echo "hello from run ${SCHEDULER_RUN_ID:-?} (attempt ${SCHEDULER_ATTEMPT:-?})"
echo "__SCHEDULER_RESULT__: {\"greeting\": \"hello\", \"bars\": $bars}"
`

// exampleAlert is the tour's alert configuration: RSI(14) of BTCUSDT 1h
// crossing below 30, notified to the log channel (no account needed).
const exampleAlert = `{
  "ticker": "BTCUSDT",
  "timeframe": "1h",
  "rule": {"crosses_below": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 30}}},
  "rearm": {"hysteresis": 5, "hysteresis_type": "fixed"},
  "notify": {"channels": ["log"]}
}
`

// exampleReadme explains the example folder.
const exampleReadme = `Example made by "scheduler init" (see "A short tour" in the scheduler's README).

src/data/hello.sh   a pipeline script; src/data is one of the default
                    SCRIPT_ALLOWED_DIRS and script_path is relative to
                    SCRIPT_ROOT (default: the current directory)
alert.json          an alert: RSI(14) of BTCUSDT 1h crosses below 30,
                    notified to the log channel
BTCUSDT_1h.csv      %d synthetic hourly bars ending at %s
                    (not market data), the format of "alert test --data"
                    and of the csv provider

Run the commands from this folder: the database is then ./data/scheduler.db
here (unless DATABASE_URL is set). The alert schedule fetches Binance data;
to run it on the CSV file instead, start the service with
DATA_PROVIDERS=csv DATA_CSV_DIR=. (the bars then stop at the hour above).
`

func init() {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "init [DIR]",
		Short: "Create a working example (script, alert config, recent bars) for the README's tour",
		Long: `Creates DIR (default ` + defaultInitDir + `) with src/data/hello.sh, alert.json,
BTCUSDT_1h.csv (synthetic hourly bars ending at the current hour) and
README.txt. Existing files are never overwritten: if any of them exists,
nothing is written and the command exits 2 naming it.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := defaultInitDir
			if len(args) == 1 {
				dir = args[0]
			}
			return runInit(cmd.OutOrStdout(), dir, time.Now(), asJSON)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the files created as JSON")
	rootCmd.AddCommand(cmd)
}

// initReport is what "scheduler init --json" prints.
type initReport struct {
	Dir      string    `json:"dir"`
	Script   string    `json:"script"`
	Alert    string    `json:"alert"`
	Bars     string    `json:"bars"`
	BarCount int       `json:"bar_count"`
	LastBar  time.Time `json:"last_bar"`
	Readme   string    `json:"readme"`
}

// runInit writes the example into dir; bars end at the last hour closed at
// now. asJSON prints the files created as an initReport.
func runInit(out io.Writer, dir string, now time.Time, asJSON bool) error {
	files := []string{filepath.Join("src", "data", "hello.sh"), "alert.json", "BTCUSDT_1h.csv", "README.txt"}
	for _, f := range files {
		p := filepath.Join(dir, f)
		if _, err := os.Lstat(p); err == nil {
			return &exitError{2, fmt.Errorf("%s already exists; init never overwrites a file (choose another folder)", p)}
		} else if !errors.Is(err, fs.ErrNotExist) {
			return &exitError{2, fmt.Errorf("%s: %w", p, err)}
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "src", "data"), 0o755); err != nil {
		return err
	}
	csvPath, err := writeDemoBarFile(dir, "BTCUSDT_1h.csv", now)
	if err != nil {
		return err
	}
	last := now.UTC().Truncate(time.Hour)
	raw, err := demoData.ReadFile("demodata/BTCUSDT_1h.csv")
	if err != nil {
		return err
	}
	bars := countLines(raw) - 1
	for _, w := range []struct {
		name string
		text string
		mode os.FileMode
	}{
		{files[0], exampleScript, 0o755},
		{files[1], exampleAlert, 0o644},
		{files[3], fmt.Sprintf(exampleReadme, bars, last.Format(time.RFC3339)), 0o644},
	} {
		if err := writeNew(filepath.Join(dir, w.name), w.text, w.mode); err != nil {
			return err
		}
	}
	if asJSON {
		return writeJSON(out, initReport{Dir: dir, Script: filepath.Join(dir, files[0]), Alert: filepath.Join(dir, files[1]),
			Bars: csvPath, BarCount: bars, LastBar: last, Readme: filepath.Join(dir, files[3])})
	}
	fmt.Fprintf(out, "created %s:\n", dir)
	fmt.Fprintf(out, "  %s\n  %s\n  %s (%d hourly bars up to %s)\n  %s\n",
		filepath.Join(dir, files[0]), filepath.Join(dir, files[1]), csvPath, bars, last.Format(time.RFC3339),
		filepath.Join(dir, files[3]))
	fmt.Fprintf(out, "next: cd %s, then follow \"A short tour\" in the README\n", dir)
	return nil
}

// writeNew creates a file that must not exist yet.
func writeNew(p, text string, mode os.FileMode) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return &exitError{2, err}
	}
	_, werr := f.WriteString(text)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

func countLines(b []byte) int {
	n := 0
	for _, c := range b {
		if c == '\n' {
			n++
		}
	}
	return n
}
