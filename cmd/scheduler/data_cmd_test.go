package main

import (
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
	out, code = run("data", "fetch", "--symbol", "ETHUSDT", "--timeframe", "1h", "--bars", "5")
	if code != 2 || !strings.Contains(out, "ETHUSDT") {
		t.Fatalf("data fetch of a missing symbol = %d, want 2 with a message naming it:\n%s", code, out)
	}
	out, code = run("data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "7h", "--bars", "5")
	if code != 2 || !strings.Contains(out, "7h") {
		t.Fatalf("data fetch with an unknown timeframe = %d, want 2:\n%s", code, out)
	}
}
