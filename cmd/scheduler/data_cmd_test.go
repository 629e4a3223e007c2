package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBinaryDataFetch(t *testing.T) {
	dir := t.TempDir()
	bars := filepath.Join(dir, "bars")
	if err := os.MkdirAll(bars, 0o755); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("time,open,high,low,close,volume\n")
	start := time.Now().UTC().Truncate(time.Hour).Add(-100 * time.Hour)
	for i := range 99 {
		fmt.Fprintf(&csv, "%d,100,101,99,100.5,10\n", start.Add(time.Duration(i)*time.Hour).Unix())
	}
	if err := os.WriteFile(filepath.Join(bars, "BTCUSDT_1h.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(testEnv(dir), "DATA_PROVIDERS=csv", "DATA_CSV_DIR="+bars)
	run := func(args ...string) (string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Dir, cmd.Env = dir, env
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(out), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	out, code := run("data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "1h", "--bars", "5")
	if code != 0 || !strings.Contains(out, "csv") || strings.Count(out, "100.5") < 5 {
		t.Fatalf("data fetch = %d:\n%s", code, out)
	}
	cmd := exec.Command(binary, "data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "1h", "--bars", "5", "--format", "json")
	cmd.Dir, cmd.Env = dir, env
	js, err := cmd.Output()
	if err != nil {
		t.Fatalf("data fetch --format json: %v", err)
	}
	var rep struct {
		Symbol, Provider string
		Closed           []struct {
			Time  time.Time
			Close float64
		}
	}
	if err := json.Unmarshal(js, &rep); err != nil || rep.Symbol != "BTCUSDT" || rep.Provider != "csv" || len(rep.Closed) != 5 ||
		rep.Closed[4].Close != 100.5 || !rep.Closed[4].Time.Equal(start.Add(98*time.Hour)) {
		t.Fatalf("data fetch --format json = %+v (%v):\n%s", rep, err, js)
	}
	out, code = run("data", "fetch", "--symbol", "BTCUSDT", "--format", "xml")
	if code != 2 || !strings.Contains(out, `"xml"`) {
		t.Fatalf("data fetch --format xml = %d, want 2 naming the value:\n%s", code, out)
	}
	out, code = run("data", "fetch", "--symbol", "ETHUSDT", "--timeframe", "1h", "--bars", "5")
	if code != 2 || !strings.Contains(out, "ETHUSDT") {
		t.Fatalf("data fetch of a missing symbol = %d, want 2 with a message naming it:\n%s", code, out)
	}
	out, code = run("data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "7h", "--bars", "5")
	if code != 2 || !strings.Contains(out, "7h") {
		t.Fatalf("data fetch with an unknown timeframe = %d, want 2:\n%s", code, out)
	}
}

// init, notify channels and notify test print JSON with --json.
func TestJSONOfInitAndNotify(t *testing.T) {
	dir := t.TempDir()
	var rep initReport
	if err := json.Unmarshal([]byte(runCLI(t, dir, "init", "ex", "--json")), &rep); err != nil || rep.BarCount == 0 ||
		rep.Alert != filepath.Join("ex", "alert.json") || rep.LastBar.IsZero() {
		t.Fatalf("init --json = %+v (%v)", rep, err)
	}
	if _, err := os.Stat(filepath.Join(dir, rep.Script)); err != nil {
		t.Fatalf("init --json names a script that is not there: %v", err)
	}
	var ch struct {
		Channels       map[string]string `json:"channels"`
		DefaultChannel string            `json:"default_channel"`
	}
	if err := json.Unmarshal([]byte(runCLI(t, dir, "notify", "channels", "--json")), &ch); err != nil || ch.Channels["log"] == "" || ch.DefaultChannel == "" {
		t.Fatalf("notify channels --json = %+v (%v)", ch, err)
	}
	cmd := exec.Command(binary, "notify", "test", "--channel", "log", "--json")
	cmd.Dir, cmd.Env = dir, testEnv(dir)
	out, err := cmd.Output()
	var sent struct {
		Sent    bool   `json:"sent"`
		Channel string `json:"channel"`
	}
	if err != nil || json.Unmarshal(out, &sent) != nil || !sent.Sent || sent.Channel != "log" {
		t.Fatalf("notify test --json = %s (%v)", out, err)
	}
}
