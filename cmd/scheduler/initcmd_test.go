package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// TestInitRefusesToOverwrite: a second init into the same folder exits 2
// naming the first existing file and changes nothing; the first one wrote
// bars whose last closed bar ends at the current hour.
func TestInitRefusesToOverwrite(t *testing.T) {
	dir := t.TempDir()
	before := time.Now().UTC()
	if out, errOut, code := runExit(t, dir, cleanEnv(), "init", "ex"); code != 0 {
		t.Fatalf("init: exit %d\n%s%s", code, out, errOut)
	}
	after := time.Now().UTC()
	csv := filepath.Join(dir, "ex", "BTCUSDT_1h.csv")
	f, err := os.Open(csv)
	if err != nil {
		t.Fatal(err)
	}
	bars, err := marketdata.ReadCSV(f)
	f.Close()
	if err != nil || len(bars) < 200 {
		t.Fatalf("%s: %d bars, %v", csv, len(bars), err)
	}
	last := bars[len(bars)-1].Time
	if last != before.Truncate(time.Hour).Add(-time.Hour) && last != after.Truncate(time.Hour).Add(-time.Hour) {
		t.Fatalf("last bar opens at %s; want the hour before %s", last, before.Truncate(time.Hour))
	}
	script := filepath.Join(dir, "ex", "src", "data", "hello.sh")
	if fi, err := os.Stat(script); err != nil || fi.Mode().Perm()&0o100 == 0 {
		t.Fatalf("%s: %v, mode %v; want an executable script", script, err, fi.Mode())
	}
	// A changed file survives a second init, which names what exists.
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho mine\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "ex", "alert.json")); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := runExit(t, dir, cleanEnv(), "init", "ex")
	if code != 2 || !strings.Contains(errOut, filepath.Join("ex", "src", "data", "hello.sh")+" already exists") {
		t.Fatalf("second init: exit %d, stdout %q, stderr %q; want 2 naming the script", code, out, errOut)
	}
	if b, _ := os.ReadFile(script); string(b) != "#!/bin/sh\necho mine\n" {
		t.Fatalf("the script was overwritten: %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "ex", "alert.json")); !os.IsNotExist(err) {
		t.Fatalf("the refused init wrote alert.json (%v)", err)
	}
}

// TestReplayTimeRelative: --from/--to accept -Nd and negative durations
// besides what alerts.ParseTime reads; bad forms name themselves.
func TestReplayTimeRelative(t *testing.T) {
	now := time.Date(2026, 12, 2, 6, 30, 0, 0, time.UTC)
	for in, want := range map[string]time.Time{
		"-7d":                  now.AddDate(0, 0, -7),
		"-36h":                 now.Add(-36 * time.Hour),
		"-90m":                 now.Add(-90 * time.Minute),
		"2026-11-01":           time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"2026-11-01T12:00:00Z": time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC),
	} {
		got, err := replayTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("replayTime(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, bad := range []string{"-xd", "-7", "-1.5d", "-d"} {
		if _, err := replayTime(bad, now); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("replayTime(%q) = %v; want an error naming it", bad, err)
		}
	}
}
