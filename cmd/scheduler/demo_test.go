package main

import (
	"bytes"
	"context"
	"flag"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// updateDemoData regenerates cmd/scheduler/demodata/*.csv:
//
//	go test -run TestDemoDataIsGenerated ./cmd/scheduler -update-demodata
var updateDemoData = flag.Bool("update-demodata", false, "rewrite demodata/*.csv from the generator")

// demoSeries describes one generated sample file.
type demoSeries struct {
	symbol string
	tf     marketdata.Timeframe
	seed   uint64
	bars   int     // bars before the ending is shaped
	start  float64 // first open
	vol    float64 // per-bar volatility (log return standard deviation)
	digits int     // price decimals
	volume float64 // typical volume
	ending string  // see shapeEnding
}

// demoSeriesList is every bundled file. The endings are what the demo's
// schedules look for on the last closed bar.
var demoSeriesList = []demoSeries{
	{"BTCUSDT", "1h", 1, 480, 42000, 0.006, 2, 850, "rsi_cross_below_30"},
	{"ETHUSDT", "1h", 2, 480, 2300, 0.008, 2, 12000, "rsi_cross_above_70"},
	{"SOLUSDT", "1h", 3, 480, 95, 0.010, 3, 90000, "rsi_oversold"},
	{"BNBUSDT", "1h", 4, 480, 310, 0.007, 2, 20000, "neutral"},
	{"XRPUSDT", "1h", 5, 480, 0.62, 0.009, 4, 9e6, "neutral"},
	{"SPY", "1d", 6, 360, 470, 0.009, 2, 7.5e7, "close_cross_above_sma_50"},
}

// demoDataEnd is the open time of the last generated bar; the demo shifts
// every file so that this bar is the last closed one when it starts.
var demoDataEnd = time.Date(2024, 6, 28, 0, 0, 0, 0, time.UTC)

// generator builds a bar series step by step.
type generator struct {
	s    demoSeries
	rng  *rand.Rand
	bars []marketdata.Bar
}

func (g *generator) round(v float64) float64 {
	p := math.Pow(10, float64(g.s.digits))
	return math.Round(v*p) / p
}

// step appends one bar whose close moves by the log return r.
func (g *generator) step(r float64) {
	open := g.s.start
	if n := len(g.bars); n > 0 {
		open = g.bars[n-1].Close
	}
	cl := g.round(open * math.Exp(r))
	if cl == open { // keep every bar moving, so RSI sees a direction
		cl = g.round(open * math.Exp(math.Copysign(0.0004, r)))
	}
	hi := g.round(math.Max(open, cl) * (1 + math.Abs(g.rng.NormFloat64())*g.s.vol*0.4))
	lo := g.round(math.Min(open, cl) * (1 - math.Abs(g.rng.NormFloat64())*g.s.vol*0.4))
	v := math.Round(g.s.volume * (0.6 + 0.8*g.rng.Float64()) * (1 + 4*math.Abs(r)/g.s.vol*0.1))
	g.bars = append(g.bars, marketdata.Bar{Open: open, High: hi, Low: lo, Close: cl, Volume: v})
}

// noise is a random log return of the series' volatility.
func (g *generator) noise() float64 { return g.rng.NormFloat64() * g.s.vol }

func (g *generator) rsi() []float64 {
	out, err := indicators.Compute(indicators.Spec{Type: "RSI", Params: map[string]float64{"period": 14}}, g.bars)
	if err != nil {
		panic(err)
	}
	return out["value"]
}

func (g *generator) lastRSI() float64 { r := g.rsi(); return r[len(r)-1] }

func (g *generator) sma(period int) float64 {
	n := len(g.bars)
	sum := 0.0
	for _, b := range g.bars[n-period:] {
		sum += b.Close
	}
	return sum / float64(period)
}

// undo removes the last bar.
func (g *generator) undo() { g.bars = g.bars[:len(g.bars)-1] }

// shapeEnding appends bars until the series ends as its ending says:
//
//   - rsi_cross_below_30: RSI(14) ≥ 31 on the second-last bar and ≤ 28.5 on
//     the last one (an alert "RSI crosses below 30" fires on the last bar);
//   - rsi_cross_above_70: the mirror image (≤ 69, then ≥ 71.5);
//   - rsi_oversold: RSI below 28 on each of the last 4 bars (a screener
//     "RSI < 30" matches, a crossing alert does not);
//   - neutral: RSI between 40 and 60 on the last bar;
//   - close_cross_above_sma_50: the close is below SMA(50) on the
//     second-last bar (by ≥ 1 %) and above it on the last one (by ≥ 0.5 %).
func (g *generator) shapeEnding() bool {
	const tries = 400
	switch g.s.ending {
	case "rsi_cross_below_30", "rsi_cross_above_70":
		sign := -1.0 // drift down towards 30
		lo, hi := 31.0, 34.0
		if g.s.ending == "rsi_cross_above_70" {
			sign, lo, hi = 1, 66, 69
		}
		for range tries {
			r := g.lastRSI()
			if r >= lo && r <= hi {
				// One strong bar across the level.
				for k := 1.0; k < 12; k += 0.25 {
					g.step(sign * k * g.s.vol)
					r := g.lastRSI()
					if (sign < 0 && r <= 28.5) || (sign > 0 && r >= 71.5) {
						return true
					}
					g.undo()
				}
				g.step(-sign * g.s.vol) // could not cross: back off and retry
				continue
			}
			// Drift towards the window, a little noise.
			dir := sign
			if (sign < 0 && r < lo) || (sign > 0 && r > hi) {
				dir = -sign
			}
			g.step(dir*0.35*g.s.vol + 0.3*g.noise())
		}
	case "rsi_oversold":
		for range tries {
			rsi := g.rsi()
			n := len(rsi)
			if rsi[n-1] < 28 && rsi[n-2] < 28 && rsi[n-3] < 28 && rsi[n-4] < 28 {
				return true
			}
			g.step(-0.6*g.s.vol + 0.3*g.noise())
		}
	case "neutral":
		for range tries {
			r := g.lastRSI()
			if r >= 40 && r <= 60 {
				return true
			}
			dir := 1.0
			if r > 60 {
				dir = -1
			}
			g.step(dir*0.3*g.s.vol + 0.5*g.noise())
		}
	case "close_cross_above_sma_50":
		for range tries {
			prev := g.bars[len(g.bars)-1].Close
			if prev <= g.sma(50)*0.99 {
				for k := 0.5; k < 20; k += 0.25 {
					g.step(k * g.s.vol)
					if last := g.bars[len(g.bars)-1].Close; last >= g.sma(50)*1.005 {
						return true
					}
					g.undo()
				}
			}
			g.step(-0.5*g.s.vol + 0.3*g.noise())
		}
	}
	return false
}

// generateDemoSeries returns the bars of one sample file, oldest first,
// the last one opening at demoDataEnd.
func generateDemoSeries(s demoSeries) ([]marketdata.Bar, bool) {
	g := &generator{s: s, rng: rand.New(rand.NewPCG(s.seed, 0x5eed))}
	for range s.bars {
		g.step(g.noise())
	}
	ok := g.shapeEnding()
	for i := range g.bars {
		g.bars[i].Time = s.tf.Add(demoDataEnd, i-len(g.bars)+1)
	}
	return g.bars, ok
}

// TestDemoDataIsGenerated checks that the bundled files are exactly the
// generator's output and end as the demo's schedules expect.
func TestDemoDataIsGenerated(t *testing.T) {
	// Floating-point results may differ in the last bit across
	// architectures (fused multiply-add is allowed on arm64, math.Exp has
	// per-architecture assembly), which could change a rounded price or a
	// shaping decision; the files were generated on amd64.
	if runtime.GOARCH != "amd64" {
		t.Skipf("the sample data is generated and compared on amd64, not %s", runtime.GOARCH)
	}
	for _, s := range demoSeriesList {
		bars, ok := generateDemoSeries(s)
		if !ok {
			t.Fatalf("%s_%s: could not shape the ending %q", s.symbol, s.tf, s.ending)
		}
		var buf bytes.Buffer
		if err := marketdata.WriteCSV(&buf, bars); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("demodata", s.symbol+"_"+string(s.tf)+".csv")
		if *updateDemoData {
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (regenerate with -update-demodata)", err)
		}
		if !bytes.Equal(got, buf.Bytes()) {
			t.Fatalf("%s differs from the generator's output; regenerate with -update-demodata", path)
		}
	}
}

// checkEnding reports whether bars end as s.ending says, with RSI computed
// on the last window bars only (as an alert fetching window bars sees it).
func checkEnding(t *testing.T, s demoSeries, bars []marketdata.Bar, window int) {
	t.Helper()
	if window < len(bars) {
		bars = bars[len(bars)-window:]
	}
	name := s.symbol + "_" + string(s.tf)
	n := len(bars)
	out, err := indicators.Compute(indicators.Spec{Type: "RSI", Params: map[string]float64{"period": 14}}, bars)
	if err != nil {
		t.Fatal(err)
	}
	rsi := out["value"]
	smaOut, err := indicators.Compute(indicators.Spec{Type: "SMA", Params: map[string]float64{"period": 50}}, bars)
	if err != nil {
		t.Fatal(err)
	}
	sma := smaOut["value"]
	t.Logf("%s (last %d bars): RSI %.2f → %.2f, close %.2f → %.2f, SMA(50) %.2f → %.2f", name, n,
		rsi[n-2], rsi[n-1], bars[n-2].Close, bars[n-1].Close, sma[n-2], sma[n-1])
	var ok bool
	switch s.ending {
	case "rsi_cross_below_30":
		ok = rsi[n-2] >= 30.5 && rsi[n-1] <= 29
	case "rsi_cross_above_70":
		ok = rsi[n-2] <= 69.5 && rsi[n-1] >= 71
	case "rsi_oversold":
		ok = rsi[n-1] < 30 && rsi[n-2] < 30
	case "neutral":
		ok = rsi[n-1] > 35 && rsi[n-1] < 65
	case "close_cross_above_sma_50":
		ok = bars[n-2].Close < sma[n-2] && bars[n-1].Close > sma[n-1]
	}
	if !ok {
		t.Errorf("%s does not end with %s on its last %d bars", name, s.ending, n)
	}
}

// TestDemoDataEndings reads the bundled files as the demo does and checks
// their endings on the whole file and on the 200-bar window alerts fetch.
func TestDemoDataEndings(t *testing.T) {
	now := time.Date(2025, 3, 9, 14, 27, 13, 0, time.UTC)
	dir := t.TempDir()
	files, err := writeDemoBars(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(demoSeriesList) {
		t.Fatalf("wrote %d files, want %d", len(files), len(demoSeriesList))
	}
	for _, s := range demoSeriesList {
		f, err := os.Open(filepath.Join(dir, s.symbol+"_"+string(s.tf)+".csv"))
		if err != nil {
			t.Fatal(err)
		}
		bars, err := marketdata.ReadCSV(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(bars) < 300 {
			t.Errorf("%s: %d bars, want at least 300", s.symbol, len(bars))
		}
		last := bars[len(bars)-1].Time
		if want := s.tf.Add(s.tf.Open(now), -1); !last.Equal(want) {
			t.Errorf("%s: last bar opens at %s, want %s (the last closed bar at %s)", s.symbol, last, want, now)
		}
		closed, forming := s.tf.Split(bars, now)
		if len(closed) != len(bars) || forming != nil {
			t.Errorf("%s: %d of %d bars closed at %s, forming %v; want all closed", s.symbol, len(closed), len(bars), now, forming)
		}
		checkEnding(t, s, bars, len(bars))
		checkEnding(t, s, bars, 200)
	}
}

// hostileEnv is a real-looking configuration the demo must ignore: a
// database, Telegram, a notify endpoint, live providers and a public API
// address without a token (which would make the configuration invalid).
var hostileEnv = []string{
	"DATABASE_URL=postgres://trader:secret@127.0.0.1:1/trading",
	"TELEGRAM_BOT_TOKEN=123456:not-a-token", "NOTIFICATION_SERVICE_URL=http://127.0.0.1:1",
	"DATA_PROVIDERS=binance,yahoo", "HTTP_ADDR=0.0.0.0:8090", "LOG_LEVEL=ERROR", "TRADING_ENV=production",
}

// TestDemoPrintsTriggersAndDeliveredNotifications runs `scheduler demo` for
// a short while and checks what a newcomer would see: each kind of job ran,
// the RSI alert triggered, its notification was delivered by the log
// channel (the log sink's own line included, with --verbose), and the
// temporary directory is gone afterwards.
func TestDemoPrintsTriggersAndDeliveredNotifications(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "demo", "--for", "12s", "--verbose")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), hostileEnv...)
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("scheduler demo: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	out, logs := stdout.String(), stderr.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`run \d+ +alert +btc-rsi-oversold +TRIGGER RSI\(14\) crossed below 30: [\d.]+ → [\d.]+`),
		regexp.MustCompile(`run \d+ +alert +eth-rsi-overbought +TRIGGER RSI\(14\) crossed above 70`),
		regexp.MustCompile(`run \d+ +screener +rsi-extremes +3 of 5 match: BTCUSDT, ETHUSDT, SOLUSDT`),
		regexp.MustCompile(`run \d+ +script +check-bars +exit 0 in \d+ ms, result bar_files=6 btc_last_close=[\d.]+`),
		regexp.MustCompile(`NOTIFY  delivered via log \(notification \d+, run \d+, ALERT NORMAL\)\n +\| 🚨 btc-rsi-oversold: BTCUSDT \(1h\)`),
		regexp.MustCompile(`NOTIFY  delivered via log \(notification \d+, run \d+, JOB NORMAL\)`),
		regexp.MustCompile(`Demo finished after \d+s: \d+ runs \(0 failed\), [3-9] alert trigger\(s\), \d+ notification\(s\) delivered\.`),
	} {
		if !want.MatchString(out) {
			t.Errorf("stdout lacks %s\nstdout:\n%s\nstderr:\n%s", want, out, logs)
		}
	}
	// The log channel's sink wrote the notification to the service log
	// (text format: the demo ignored TRADING_ENV=production and LOG_LEVEL).
	if !regexp.MustCompile(`level=INFO msg=notification title="🚨 btc-rsi-oversold: BTCUSDT \(1h\)"`).MatchString(logs) {
		t.Errorf("service log lacks the log sink's notification line:\n%s", logs)
	}
	if strings.Contains(logs, "level=ERROR") || strings.Contains(out, "not delivered") {
		t.Errorf("errors or undelivered notifications:\nstdout:\n%s\nstderr:\n%s", out, logs)
	}
	m := regexp.MustCompile(`working directory +(\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no working directory in the output:\n%s", out)
	}
	if _, err := os.Stat(m[1]); !os.IsNotExist(err) {
		t.Errorf("working directory %s still exists after the demo (stat: %v)", m[1], err)
	}
}

// TestDemoStopsOnCtrlC runs the demo without a time limit, interrupts it
// once a notification was delivered, and checks that it exits 0 with its
// summary and, with --keep, leaves a database holding the runs.
func TestDemoStopsOnCtrlC(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binary, "demo", "--for", "0", "--keep", "--http", "off")
	cmd.Dir = t.TempDir()
	var stdout, stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(25 * time.Second)
	for !strings.Contains(stdout.String(), "NOTIFY  delivered via log") {
		if time.Now().After(deadline) {
			t.Fatalf("no delivered notification within 25 s\nstdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
		}
		select {
		case err := <-exited:
			t.Fatalf("demo exited early: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("demo after SIGINT: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("demo did not stop within 15 s of SIGINT\nstdout:\n%s", stdout.String())
	}
	out := stdout.String()
	if strings.Contains(out, "HTTP API") {
		t.Errorf("--http off still announced an HTTP API:\n%s", out)
	}
	if !regexp.MustCompile(`Demo finished after \d+s: [1-9]\d* runs`).MatchString(out) {
		t.Errorf("no summary after SIGINT:\n%s", out)
	}
	m := regexp.MustCompile(`The working directory is kept: (\S+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("--keep did not name the directory:\n%s", out)
	}
	t.Cleanup(func() { os.RemoveAll(m[1]) })
	for _, f := range []string{"demo.db", "bars/BTCUSDT_1h.csv", "scripts/check_bars.sh"} {
		if _, err := os.Stat(filepath.Join(m[1], f)); err != nil {
			t.Errorf("kept directory lacks %s: %v", f, err)
		}
	}
}
