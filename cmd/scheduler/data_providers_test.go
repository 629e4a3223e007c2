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

// TestBinaryDataFetchProviders: data fetch lists configured providers
// (never a key), warns about a key-less provider in the chain naming its
// variable, and a pinned key-less provider exits 2 naming it; --help lists
// the providers' variables.
func TestBinaryDataFetchProviders(t *testing.T) {
	dir := t.TempDir()
	bars := filepath.Join(dir, "bars")
	if err := os.MkdirAll(bars, 0o755); err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("time,open,high,low,close,volume\n")
	start := time.Now().UTC().Truncate(time.Hour).Add(-30 * time.Hour)
	for i := range 29 {
		fmt.Fprintf(&csv, "%d,100,101,99,100.5,10\n", start.Add(time.Duration(i)*time.Hour).Unix())
	}
	if err := os.WriteFile(filepath.Join(bars, "AAPL_1h.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "polygon-secret-4711"
	run := func(extra []string, args ...string) (string, int) {
		cmd := exec.Command(binary, args...)
		cmd.Dir = dir
		cmd.Env = append(testEnv(dir), "DATA_CSV_DIR="+bars, "POLYGON_API_KEY="+secret, "FMP_API_KEY=", "ALPACA_API_KEY=", "ALPACA_SECRET_KEY=")
		cmd.Env = append(cmd.Env, extra...)
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
	out, code := run([]string{"DATA_PROVIDERS=fmp,csv"}, "data", "fetch", "--symbol", "AAPL", "--timeframe", "1h", "--bars", "5")
	if code != 0 || !strings.Contains(out, "from csv") {
		t.Fatalf("data fetch = %d:\n%s", code, out)
	}
	for _, want := range []string{"configured providers: ", "polygon", "fmp (set FMP_API_KEY)", "alpaca (set ALPACA_API_KEY and ALPACA_SECRET_KEY)", "provider=fmp", "set=FMP_API_KEY"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("output shows the key:\n%s", out)
	}
	out, code = run([]string{"DATA_PROVIDERS=csv"}, "data", "fetch", "--symbol", "AAPL", "--timeframe", "1h", "--bars", "5", "--provider", "fmp")
	if code != 2 || !strings.Contains(out, "set FMP_API_KEY") {
		t.Fatalf("pinned key-less fmp = %d, want 2 naming FMP_API_KEY:\n%s", code, out)
	}
	out, code = run(nil, "data", "fetch", "--help")
	if code != 0 || !strings.Contains(out, "ALPACA_API_KEY + ALPACA_SECRET_KEY") || !strings.Contains(out, "alpha_vantage") {
		t.Fatalf("data fetch --help = %d:\n%s", code, out)
	}
}
