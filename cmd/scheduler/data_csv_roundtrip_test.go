package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sineBar is the hourly bar opening at t of a sine around 100 (period 50
// hours), prices with four decimals as an exchange would send them.
func sineBar(t time.Time) (o, h, l, c, v float64) {
	at := func(t time.Time) float64 {
		x := 100 + 10*math.Sin(2*math.Pi*float64(t.Unix()/3600)/50)
		return math.Round(x*1e4) / 1e4
	}
	o, c = at(t.Add(-time.Hour)), at(t)
	return o, math.Max(o, c) + 0.5, math.Min(o, c) - 0.5, c, float64(100 + t.Unix()/3600%7)
}

// "data fetch --format csv" writes bars that "alert test" replays exactly as
// it replays the same bars written by hand.
func TestBinaryDataFetchCSVFeedsAlertTest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		from, _ := strconv.ParseInt(q.Get("startTime"), 10, 64)
		to, _ := strconv.ParseInt(q.Get("endTime"), 10, 64)
		limit, _ := strconv.Atoi(q.Get("limit"))
		if r.URL.Path != "/api/v3/klines" || q.Get("symbol") != "BTCUSDT" || q.Get("interval") != "1h" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"code":-1121,"msg":"Invalid symbol."}`)
			return
		}
		rows := [][]any{}
		now := time.Now()
		for ts := time.UnixMilli(from).Truncate(time.Hour); ts.UnixMilli() <= to && !ts.After(now) && len(rows) < limit; ts = ts.Add(time.Hour) {
			if ts.UnixMilli() < from {
				continue
			}
			o, h, l, c, v := sineBar(ts)
			s := func(x float64) string { return strconv.FormatFloat(x, 'f', 8, 64) }
			rows = append(rows, []any{ts.UnixMilli(), s(o), s(h), s(l), s(c), s(v), ts.Add(time.Hour).UnixMilli() - 1, "0", 1, "0", "0", "0"})
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(rows)
	}))
	defer srv.Close()

	dir := t.TempDir()
	env := append(testEnv(dir), "DATA_PROVIDERS=binance", "BINANCE_BASE_URL="+srv.URL)
	run := func(args ...string) string {
		cmd := exec.Command(binary, args...)
		cmd.Dir, cmd.Env = dir, env
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("scheduler %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	exported := run("data", "fetch", "--symbol", "BTCUSDT", "--timeframe", "1h", "--bars", "400", "--format", "csv")
	lines := strings.Split(strings.TrimSpace(exported), "\n")
	if len(lines) != 401 || lines[0] != "time,open,high,low,close,volume" {
		t.Fatalf("export has %d lines, header %q", len(lines), lines[0])
	}
	first, err := time.Parse(time.RFC3339, strings.Split(lines[1], ",")[0])
	if err != nil {
		t.Fatalf("first row %q: %v", lines[1], err)
	}
	var byHand strings.Builder
	byHand.WriteString("time,open,high,low,close,volume\n")
	for i := range 400 {
		ts := first.Add(time.Duration(i) * time.Hour)
		o, h, l, c, v := sineBar(ts)
		fmt.Fprintf(&byHand, "%s,%.4f,%.4f,%.4f,%.4f,%.0f\n", ts.Format(time.RFC3339), o, h, l, c, v)
	}
	for name, content := range map[string]string{"export.csv": exported, "hand.csv": byHand.String(), "alert.json": rsiTaskParams} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	fromExport := run("alert", "test", "--config", "alert.json", "--data", "export.csv", "--json")
	fromHand := run("alert", "test", "--config", "alert.json", "--data", "hand.csv", "--json")
	if fromExport != fromHand {
		t.Fatalf("replay of the export differs from the replay of the same bars:\n%s\n---\n%s", fromExport, fromHand)
	}
	if n := strings.Count(fromExport, `"event":"trigger"`); n < 4 {
		t.Fatalf("replay of the export: %d triggers, want one per dip of the sine (at least 4):\n%s", n, fromExport)
	}
}
