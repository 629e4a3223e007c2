package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// screenerStart is the open time of the first generated bar.
var screenerStart = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// hourlyCSV is one hourly bar per close, the first opening at
// screenerStart+offset hours; unix writes times as Unix seconds.
func hourlyCSV(offset int, unix bool, closes []float64) string {
	var b strings.Builder
	b.WriteString("time,open,high,low,close,volume\n")
	for i, c := range closes {
		t := screenerStart.Add(time.Duration(offset+i) * time.Hour)
		ts := t.Format(time.RFC3339)
		if unix {
			ts = fmt.Sprint(t.Unix())
		}
		fmt.Fprintf(&b, "%s,%g,%g,%g,%g,%d\n", ts, c, c+1, c-1, c, 10+i)
	}
	return b.String()
}

// screenerData writes AAA_1h.csv (hours 0-29; close 120 at hours 10-14 and
// 20-29, else 50: it crosses above 100 at 10:00 and 20:00) and BBB_1h.csv
// (hours 5-34, always 60, Unix-second times) and returns the directory.
func screenerData(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	aaa := make([]float64, 30)
	for i := range aaa {
		aaa[i] = 50
		if (i >= 10 && i <= 14) || i >= 20 {
			aaa[i] = 120
		}
	}
	bbb := make([]float64, 30)
	for i := range bbb {
		bbb[i] = 60
	}
	writeFile(t, dir, "AAA_1h.csv", hourlyCSV(0, false, aaa))
	writeFile(t, dir, "BBB_1h.csv", hourlyCSV(5, true, bbb))
	return dir
}

const breakoutScreener = `{"name": "breakouts", "tickers": ["AAA", "BBB"], "timeframe": "1h",
  "rule": {"crosses_above": {"lhs": {"field": "close"}, "rhs": {"value": 100}}},
  "notify": {"channels": ["log"]}}`

// runScreener runs "screener test" with args on a fresh command tree.
func runScreener(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newScreenerCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"test"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestScreenerTestCommandRegistered(t *testing.T) {
	c, _, err := rootCmd.Find([]string{"screener", "test"})
	if err != nil || c.Name() != "test" || c.Parent().Name() != "screener" {
		t.Fatalf("scheduler screener test not registered: %v", err)
	}
}

func TestScreenerTestTextMatchesOneTickerNotAnother(t *testing.T) {
	dir := screenerData(t)
	cfg := writeFile(t, t.TempDir(), "screener.json", breakoutScreener)
	out, err := runScreener(t, "--config", cfg, "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"2024-01-01T10:00:00Z  match  1/2  AAA [close=120 close_prev=50 value=100]",
		"2024-01-01T20:00:00Z  match  1/2  AAA [close=120 close_prev=50 value=100]",
	}
	if len(lines) != 3 || lines[0] != want[0] || lines[1] != want[1] {
		t.Fatalf("output:\n%s\nwant first lines:\n%s", out, strings.Join(want, "\n"))
	}
	// 35 bar times (AAA 0-29 ∪ BBB 5-34); AAA's and BBB's first bars are
	// warm-up (the crossing needs 2 bars): 29 + 29 evaluations.
	if !strings.HasPrefix(lines[2], "# breakouts 1h (") ||
		!strings.Contains(lines[2], "2 tickers, 35 bar times in range, 58 evaluations (2 warm-up ticker bars skipped; the rule needs 2), 2 bar times with matches, 2 matches [AAA=2 BBB=0]") {
		t.Errorf("summary %q", lines[2])
	}
}

func TestScreenerTestJSON(t *testing.T) {
	dir := screenerData(t)
	cfg := writeFile(t, t.TempDir(), "screener.json", breakoutScreener)
	out, err := runScreener(t, "--config", cfg, "--data-dir", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want 2 JSON lines (no summary), got:\n%s", out)
	}
	var times []string
	for _, l := range lines {
		var ev struct {
			Event    string                        `json:"event"`
			BarTime  string                        `json:"bar_time"`
			Screened int                           `json:"screened"`
			Tickers  []string                      `json:"tickers"`
			Values   map[string]map[string]float64 `json:"values"`
			Close    map[string]float64            `json:"close"`
		}
		dec := json.NewDecoder(strings.NewReader(l))
		if err := dec.Decode(&ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339, ev.BarTime); err != nil {
			t.Errorf("bar_time %q: %v", ev.BarTime, err)
		}
		if ev.Event != "match" || !slices.Equal(ev.Tickers, []string{"AAA"}) || ev.Screened != 2 ||
			ev.Values["AAA"]["close"] != 120 || ev.Values["AAA"]["close_prev"] != 50 || ev.Values["AAA"]["value"] != 100 ||
			len(ev.Values) != 1 || ev.Close["AAA"] != 120 {
			t.Errorf("line %q", l)
		}
		times = append(times, ev.BarTime)
	}
	if !slices.Equal(times, []string{"2024-01-01T10:00:00Z", "2024-01-01T20:00:00Z"}) {
		t.Errorf("bar times %v", times)
	}
}

func TestScreenerTestRangeAndScheduleObject(t *testing.T) {
	dir := screenerData(t)
	// A whole schedule row with task_params as a JSON string, no name in
	// task_params: the schedule's name is used.
	tp, _ := json.Marshal(strings.Replace(breakoutScreener, `"name": "breakouts", `, "", 1))
	cfg := writeFile(t, t.TempDir(), "schedule.json",
		`{"name":"crossers","job_type":"screener","cron":"0 * * * *","task_params":`+string(tp)+`}`)
	out, err := runScreener(t, "--config", cfg, "--data-dir", dir, "--from", "2024-01-01T15:00:00Z", "--to", "2024-01-01T23:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "2024-01-01T20:00:00Z  match  1/2  AAA [") ||
		!strings.HasPrefix(lines[1], "# crossers 1h (") ||
		!strings.Contains(lines[1], "9 bar times in range, 18 evaluations (0 warm-up") {
		t.Errorf("output:\n%s", out)
	}

	// A range ending before the second crossing, and one with no match.
	out, err = runScreener(t, "--config", cfg, "--data-dir", dir, "--to", "2024-01-01T19:00:00Z", "--json")
	if err != nil || strings.Count(out, "\n") != 1 || !strings.Contains(out, `"bar_time":"2024-01-01T10:00:00Z"`) {
		t.Errorf("--to: err %v, output:\n%s", err, out)
	}
	out, err = runScreener(t, "--config", cfg, "--data-dir", dir, "--from", "2024-01-01T21:00:00Z", "--json")
	if err != nil || out != "" {
		t.Errorf("--from after the last match: err %v, output %q", err, out)
	}
}

func TestScreenerTestInvalidInputExit2(t *testing.T) {
	dir := screenerData(t)
	cdir := t.TempDir()
	good := writeFile(t, cdir, "good.json", breakoutScreener)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad ticker", []string{"--config", writeFile(t, cdir, "t.json", strings.Replace(breakoutScreener, `"BBB"`, `"BTC USDT"`, 1)), "--data-dir", dir},
			`tickers[1]: "BTC USDT" is not a ticker symbol`},
		{"unknown indicator", []string{"--config", writeFile(t, cdir, "i.json", strings.Replace(breakoutScreener, `{"field": "close"}`,
			`{"indicator": {"type": "RSX"}}`, 1)), "--data-dir", dir},
			`rule.crosses_above.lhs.indicator.type: unknown indicator "RSX"`},
		{"unknown option", []string{"--config", writeFile(t, cdir, "o.json", strings.Replace(breakoutScreener, `"timeframe"`,
			`"options": {"speed": 1}, "timeframe"`, 1)), "--data-dir", dir}, `options.speed: unknown option`},
		{"not a screener schedule", []string{"--config", writeFile(t, cdir, "s.json", `{"job_type":"alert","task_params":{}}`), "--data-dir", dir},
			`job_type is "alert", not "screener"`},
		{"missing config file", []string{"--config", filepath.Join(cdir, "nope.json"), "--data-dir", dir}, "config:"},
		{"missing csv", []string{"--config", writeFile(t, cdir, "c.json", strings.Replace(breakoutScreener, `"BBB"`, `"BBB", "CCC"`, 1)), "--data-dir", dir},
			"ticker CCC: no file " + filepath.Join(dir, "CCC_1h.csv")},
		{"bad csv", []string{"--config", good, "--data-dir", writeBadCSVDir(t)}, "AAA_1h.csv: csv line 2"},
		{"missing data dir", []string{"--config", good, "--data-dir", filepath.Join(cdir, "nodir")}, "--data-dir"},
		{"bad --from", []string{"--config", good, "--data-dir", dir, "--from", "soon"}, "--from"},
		{"--to before --from", []string{"--config", good, "--data-dir", dir, "--from", "2024-01-02", "--to", "2024-01-01"}, "before --from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runScreener(t, tc.args...)
			var ee *exitError
			if !errors.As(err, &ee) || ee.code != 2 {
				t.Fatalf("err = %v (%T), want exit status 2", err, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

// writeBadCSVDir writes an AAA_1h.csv with a non-numeric close and a good
// BBB_1h.csv.
func writeBadCSVDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, dir, "AAA_1h.csv", "time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0,x,1\n")
	writeFile(t, dir, "BBB_1h.csv", hourlyCSV(0, false, []float64{1, 2}))
	return dir
}
