package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// writeFile writes content to name in dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// sineCSV is 400 hourly bars of a sine around 100 (period 50 bars).
func sineCSV() string {
	var b strings.Builder
	b.WriteString("time,open,high,low,close,volume\n")
	prev := 100.0
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 400; i++ {
		c := 100 + 10*math.Sin(2*math.Pi*float64(i)/50)
		fmt.Fprintf(&b, "%s,%.4f,%.4f,%.4f,%.4f,%d\n", start.Add(time.Duration(i)*time.Hour).Format(time.RFC3339),
			prev, math.Max(prev, c)+0.5, math.Min(prev, c)-0.5, c, 100+i)
		prev = c
	}
	return b.String()
}

const rsiTaskParams = `{"ticker":"BTCUSDT","timeframe":"1h",
  "rule":{"crosses_below":{"lhs":{"indicator":{"type":"RSI","params":{"period":14,"source":"close"},"output":"rsi_14"}},"rhs":{"value":30}}},
  "rearm":{"hysteresis":5,"hysteresis_type":"fixed"},
  "notify":{"channels":["telegram"],"priority":"normal","recipient_id":"123"}}`

// runAlert runs "alert test" with args on a fresh command tree.
func runAlert(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newAlertCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(append([]string{"test"}, args...))
	err := cmd.Execute()
	return out.String(), err
}

func TestAlertTestCommandRegistered(t *testing.T) {
	c, _, err := rootCmd.Find([]string{"alert", "test"})
	if err != nil || c.Name() != "test" {
		t.Fatalf("scheduler alert test not registered: %v", err)
	}
}

func TestAlertTestJSON(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "alert.json", rsiTaskParams)
	data := writeFile(t, dir, "bars.csv", sineCSV())
	out, err := runAlert(t, "--config", cfg, "--data", data, "--json")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	triggers, rearms := 0, 0
	for _, l := range lines {
		var ev struct {
			Event   string             `json:"event"`
			BarTime string             `json:"bar_time"`
			Status  string             `json:"status"`
			Values  map[string]float64 `json:"values"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if _, err := time.Parse(time.RFC3339, ev.BarTime); err != nil {
			t.Errorf("bar_time %q: %v", ev.BarTime, err)
		}
		switch ev.Event {
		case "trigger":
			triggers++
			if ev.Status != "TRIGGERED" || ev.Values["value"] != 30 || ev.Values["rsi_14"] >= 30 {
				t.Errorf("trigger line %q", l)
			}
		case "rearm":
			rearms++
			if ev.Status != "ARMED" || ev.Values["rsi_14"] < 35 {
				t.Errorf("rearm line %q", l)
			}
		default:
			t.Errorf("unexpected event line %q", l)
		}
	}
	// 400 bars, 141 of warm-up, a 50-bar cycle: 5 dips below 30.
	if triggers != 5 || rearms != 5 {
		t.Errorf("%d triggers, %d rearms; want 5, 5\n%s", triggers, rearms, out)
	}
}

func TestAlertTestTextScheduleObjectAndRange(t *testing.T) {
	dir := t.TempDir()
	// A whole schedule row with task_params as a JSON string.
	tp, _ := json.Marshal(rsiTaskParams)
	cfg := writeFile(t, dir, "schedule.json", `{"name":"rsi dip","job_type":"alert","cron":"0 * * * *","task_params":`+string(tp)+`}`)
	data := writeFile(t, dir, "bars.csv", sineCSV())
	out, err := runAlert(t, "--config", cfg, "--data", data, "--from", "2024-01-10T00:00:00Z", "--to", "2024-01-12")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "2024-01-10T10:00:00Z  trigger") ||
		!strings.Contains(lines[0], "ARMED -> TRIGGERED  RSI(14) crossed below 30") ||
		!strings.HasPrefix(lines[2], "# BTCUSDT 1h: 49 bars in range, 49 evaluated (0 warm-up bars skipped; the rule needs 141), 1 triggers, 1 rearms") {
		t.Errorf("output:\n%s", out)
	}
}

func TestAlertTestInvalidInputExit2(t *testing.T) {
	dir := t.TempDir()
	data := writeFile(t, dir, "bars.csv", sineCSV())
	good := writeFile(t, dir, "good.json", rsiTaskParams)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"unknown indicator", []string{"--config", writeFile(t, dir, "bad.json", strings.Replace(rsiTaskParams, `"RSI"`, `"RSX"`, 1)), "--data", data},
			`rule.crosses_below.lhs.indicator.type: unknown indicator "RSX"`},
		{"not an alert schedule", []string{"--config", writeFile(t, dir, "s.json", `{"job_type":"script","task_params":{}}`), "--data", data}, `job_type is "script"`},
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.json"), "--data", data}, "config:"},
		{"bad csv", []string{"--config", good, "--data", writeFile(t, dir, "bad.csv", "time,open,high,low,close,volume\n2024-01-01T00:00:00Z,1,2,0,x,1\n")}, "csv line 2"},
		{"bad --from", []string{"--config", good, "--data", data, "--from", "soon"}, "--from"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := runAlert(t, tc.args...)
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
