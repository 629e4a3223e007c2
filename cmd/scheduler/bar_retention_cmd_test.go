package main

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store/storetest"
)

// The running service enforces BAR_RETENTION from its self-checks: bars
// older than it are deleted from the bar store; a malformed value stops the
// service naming the variable.
func TestBinaryEnforcesBarRetention(t *testing.T) {
	dir := t.TempDir()
	db := storetest.Open(t, "sqlite", filepath.Join(dir, "s.db"))
	ctx := context.Background()
	bars := db.Bars(0)
	now := time.Now().UTC().Truncate(time.Hour)
	var xs []marketdata.Bar
	for h := 10 * 24; h >= 1; h-- { // ten days of hourly bars
		xs = append(xs, marketdata.Bar{Time: now.Add(-time.Duration(h) * time.Hour), Open: 1, High: 2, Low: 1, Close: 2, Volume: 3})
	}
	key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
	if err := bars.SaveBars(ctx, key, xs, marketdata.Span{From: xs[0].Time, To: now}); err != nil {
		t.Fatal(err)
	}

	bad := exec.Command(binary, "start")
	bad.Dir, bad.Env = dir, append(testEnv(dir), "BAR_RETENTION=forever")
	out, err := bad.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !strings.Contains(string(out), `BAR_RETENTION: "forever" is not a number of days`) {
		t.Fatalf("start with BAR_RETENTION=forever: %v\n%s", err, out)
	}

	cmd, logs, exited := startBinary(t, dir, append(testEnv(dir), "BAR_RETENTION=3d"), "start")
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := bars.Stats(ctx)
		// Kept: the bars opening at or after the first whole hour inside
		// the three days (72 of them, give or take the hour boundary).
		if err == nil && st.Bars >= 71 && st.Bars <= 72 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bar store still holds %+v (%v) after 30 s; logs:\n%s", st, err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	got, _, err := bars.LoadBars(ctx, key, xs[0].Time, now)
	if err != nil || len(got) == 0 || got[0].Time.Before(time.Now().Add(-72*time.Hour)) {
		t.Fatalf("oldest kept bar %v, %v", got, err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after SIGTERM; logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "bar store retention enforced") {
		t.Fatalf("no retention log line:\n%s", logs.String())
	}
}
