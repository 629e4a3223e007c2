package web

// Browser tests: a real `scheduler start` (the binary built from
// ./cmd/scheduler) on SQLite and on PostgreSQL, driven by headless Chromium
// through chromedp. They skip when no Chromium is installed.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// EnvScreenshots names the folder the browser test writes its screenshots
// to (desktop and phone width of every page); unset, it writes none.
const EnvScreenshots = "SCHEDULER_SCREENSHOTS"

// chromium returns the browser to drive, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: no chromium on PATH (Debian: apt-get install -y chromium)")
	return ""
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// schedulerBinary builds ./cmd/scheduler once per test process.
func schedulerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "web-browser-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "scheduler")
		args := []string{"build", "-o", binPath}
		if raceBuild {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, "github.com/atf/scheduler/cmd/scheduler")...).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// service is a running `scheduler start`.
type service struct {
	url   string
	token string
	log   *os.File
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// startService runs the binary on databaseURL with market data from
// csvDir and waits until it answers /readyz.
func startService(t *testing.T, databaseURL, token, csvDir string) *service {
	t.Helper()
	bin := schedulerBinary(t)
	dir := t.TempDir()
	addr := freeAddr(t)
	logf, err := os.Create(filepath.Join(dir, "service.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "start")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DATABASE_URL="+databaseURL, "HTTP_ADDR="+addr, "API_TOKEN="+token,
		"DATA_PROVIDERS=csv", "DATA_CSV_DIR="+csvDir, "NOTIFICATION_DEFAULT_CHANNEL=log", "NOTIFICATION_DELIVERY=direct",
		"SCHEDULER_POLL_INTERVAL=1", "LOG_LEVEL=INFO", "TRADING_ENV=development")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
		b, _ := os.ReadFile(logf.Name())
		if strings.Contains(string(b), "DATA RACE") {
			t.Errorf("the service reported a data race")
		}
		if t.Failed() {
			t.Logf("service log:\n%s", tail(string(b), 8000))
		}
	})
	s := &service{url: "http://" + addr, token: token, log: logf}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(s.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return s
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logf.Name())
			t.Fatalf("scheduler start exited:\n%s", tail(string(b), 4000))
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("scheduler start did not become ready within 30 s")
		}
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// writeWaveCSV writes the bars of the test alert's instrument.
func writeWaveCSV(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("time,open,high,low,close,volume\n")
	for _, bar := range waveBars(400, time.Now()) {
		fmt.Fprintf(&b, "%s,%g,%g,%g,%g,%g\n", bar.Time.Format(time.RFC3339), bar.Open, bar.High, bar.Low, bar.Close, bar.Volume)
	}
	if err := os.WriteFile(filepath.Join(dir, "WAVEUSD_1h.csv"), []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir
}

// problems collects console errors, exceptions and failed requests of a
// browser tab.
type problems struct {
	mu   sync.Mutex
	list []string
}

func (p *problems) add(format string, a ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.list = append(p.list, fmt.Sprintf(format, a...))
}

func (p *problems) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.list
	p.list = nil
	return out
}

// browser starts headless Chromium with the flags of a clean, offline run.
func browser(t *testing.T) (context.Context, *problems) {
	t.Helper()
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true), chromedp.Flag("no-sandbox", true), chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	p := &problems{}
	ctx, cancelB := chromedp.NewContext(actx, chromedp.WithListener(func(ev any) {
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var parts []string
				for _, a := range e.Args {
					parts = append(parts, string(a.Value)+a.Description)
				}
				p.add("console %s: %s", e.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			p.add("exception: %s at %s:%d", e.ExceptionDetails.Text, e.ExceptionDetails.URL, e.ExceptionDetails.LineNumber)
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				p.add("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL)
			}
		case *network.EventLoadingFailed:
			if !e.Canceled {
				p.add("request failed: %s %s", e.Type, e.ErrorText)
			}
		case *network.EventResponseReceived:
			if e.Response.Status >= 400 {
				p.add("HTTP %d: %s", e.Response.Status, e.Response.URL)
			}
		}
	}))
	t.Cleanup(func() { cancelB(); cancelA() })
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, runtime.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return ctx, p
}

// pageText is the page's address and the text of its main element (for
// failure messages).
func pageText(ctx context.Context) string {
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	return loc + "\n" + tail(body, 1500)
}

// do runs steps within 30 s, failing the test with what it was doing.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, steps...); err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
}

// get runs one action that reads a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(tctx, a)
	if err != nil {
		t.Fatalf("%s: %v\npage: %s", what, err, pageText(ctx))
	}
	return v
}

// textOf reads an element's text.
func textOf(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// waitJS polls a JavaScript condition until it holds, across page loads
// (an evaluation cut short by a navigation is tried again), and fails the
// test after timeout.
func waitJS(t *testing.T, ctx context.Context, what, cond string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(tctx, chromedp.Evaluate[bool](`(() => { try { return !!(`+cond+`); } catch (e) { return false; } })()`))
		cancel()
		if err == nil && ok {
			return
		}
		last = err
		time.Sleep(100 * time.Millisecond) // polling the page with a deadline
	}
	t.Fatalf("%s: not true within %s (last error: %v)\npage: %s", what, timeout, last, pageText(ctx))
}

// checkClean fails the test with the problems seen on page.
func checkClean(t *testing.T, page string, p *problems) {
	t.Helper()
	for _, e := range p.take() {
		t.Errorf("%s: %s", page, e)
	}
}

// seed creates the schedules and the dead notification the flows use.
type seeded struct {
	report, alert *store.Schedule
	dead          int64
}

func seedBrowserData(t *testing.T, db *store.DB) seeded {
	t.Helper()
	acts := actionsOn(db)
	e := &env{t: t, db: db, acts: acts}
	s := seeded{
		report: e.create("nightly report", "report", "0 2 * * *", `{"report_type": "daily", "notify": {"channels": ["log"]}}`),
		alert:  e.create("wave rsi", "alert", "0 * * * *", rsiAlert),
	}
	s.dead = storeDead(t, db, "log", "ops", "HTTP 503 from the receiver (kept failing)")
	return s
}

func TestBrowser(t *testing.T) {
	chromium(t)
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "scheduler.db")
		db := storetest.Open(t, "sqlite", path)
		browserFlows(t, db, "sqlite:"+path, os.Getenv(EnvScreenshots))
	})
	t.Run("postgres", func(t *testing.T) {
		u := storetest.PostgresURL(t)
		db := storetest.Open(t, "postgres", u)
		browserFlows(t, db, u, "")
	})
}

func browserFlows(t *testing.T, db *store.DB, databaseURL, shots string) {
	data := seedBrowserData(t, db)
	const token = "browser-test-token"
	svc := startService(t, databaseURL, token, writeWaveCSV(t))
	ctx, probs := browser(t)
	u := func(p string) string { return svc.url + p }
	id := func(s string) chromedp.ID { return chromedp.ID(s) }
	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }

	// Log in with the token.
	do(t, ctx, "open the dashboard", chromedp.Navigate(u("/runs")), chromedp.WaitVisible(id("token")))
	do(t, ctx, "log in", chromedp.SendKeys(id("token"), token), chromedp.Submit(id("token")), chromedp.WaitVisible(id("live")))
	if loc := get(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/runs") {
		t.Errorf("after login at %s, want the page asked for (/runs)", loc)
	}
	checkClean(t, "login", probs)

	// Every page and its content.
	pages := []struct {
		name, path, ready string
		wants             []string
	}{
		{"overview", "/", "health", []string{"Health", "database", "2 schedules", "Next 24 hours", "dead notifications"}},
		{"schedules", "/schedules", "schedules", []string{"nightly report", "wave rsi", "2 schedules match"}},
		{"schedule", fmt.Sprintf("/schedules/%d", data.report.ID), "config", []string{"Next fires", "Run history", "report"}},
		{"alert", fmt.Sprintf("/schedules/%d", data.alert.ID), "alert-state", []string{"ARMED", "TRIGGERED", "COOLDOWN", "PAUSED", "WAVEUSD 1h", "crosses below"}},
		{"chart", fmt.Sprintf("/schedules/%d/chart?bars=200", data.alert.ID), "events", []string{"Replay of the last 200 bars", "trigger", "rearm"}},
		{"form", "/schedules/new", "schedule-form", []string{"task_params (JSON)", "Cron"}},
		{"runs", "/runs", "live", []string{"run", "status"}},
		{"notifications", "/notifications", "outbox", []string{"dead", "Retry", "HTTP 503"}},
	}
	for _, pg := range pages {
		do(t, ctx, "load "+pg.name, chromedp.Navigate(u(pg.path)), chromedp.WaitVisible(id(pg.ready)))
		body := textOf(t, ctx, "main")
		for _, w := range pg.wants {
			if !strings.Contains(body, w) {
				t.Errorf("page %s lacks %q", pg.name, w)
			}
		}
		if pg.name == "chart" {
			candles := get(t, ctx, "count candles", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart g.c").length`))
			markers := get(t, ctx, "count markers", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart .mk-trig, svg.chart .mk-rearm").length`))
			if candles != 200 || markers == 0 {
				t.Errorf("chart: %d candles, %d markers", candles, markers)
			}
			// The hover read-out by keyboard: focus the chart, step left.
			do(t, ctx, "chart keyboard", chromedp.Focus(css("svg.chart")), chromedp.KeyEvent(kb.ArrowLeft))
			if r := textOf(t, ctx, "#readout"); !strings.Contains(r, " O ") || !strings.Contains(r, "RSI(14)") {
				t.Errorf("chart read-out %q lacks the bar's values", r)
			}
		}
		if shots != "" {
			screenshot(t, ctx, shots, pg.name)
		}
		checkClean(t, pg.name, probs)
	}

	// Create a schedule: a bad cron shows its error by the field as it is
	// typed; fixed, it saves.
	do(t, ctx, "fill the form", chromedp.Navigate(u("/schedules/new")), chromedp.WaitVisible(id("schedule-form")),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			// Choose the job type as a person does: the select changes.
			_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const s = document.getElementById("job_type");
				s.value = "report"; return s.dispatchEvent(new Event("change", {bubbles: true})); })()`))
			return err
		}),
	)
	// The job type's own inputs edit the JSON editor, and its problems show
	// under them.
	waitJS(t, ctx, "report inputs filled from the example", `document.getElementById("tp-report_type").value === "daily"`, 5*time.Second)
	do(t, ctx, "choose a weekly report", setField("tp-report_type", "weekly"))
	if tp := get(t, ctx, "task_params", chromedp.Value(id("task_params"))); !strings.Contains(tp, `"report_type": "weekly"`) {
		t.Errorf("task_params after choosing weekly: %s", tp)
	}
	do(t, ctx, "a bad period", setField("tp-period_hours", "0"))
	waitJS(t, ctx, "period error under its input", `document.getElementById("err-tp-period_hours").textContent.includes("period_hours")`, 10*time.Second)
	do(t, ctx, "no period", setField("tp-period_hours", ""))
	waitJS(t, ctx, "period error gone", `document.getElementById("err-tp-period_hours").textContent === ""`, 10*time.Second)
	do(t, ctx, "name and cron",
		chromedp.SendKeys(id("name"), "browser made"),
		clearInput("cron"),
		chromedp.SendKeys(id("cron"), "0 25 * * *"))
	waitJS(t, ctx, "cron error by the field", `document.getElementById("err-cron").textContent.includes('cron "0 25 * * *"')`, 10*time.Second)
	if other := textOf(t, ctx, "#err-task_params"); other != "" {
		t.Errorf("the report example is refused: %s", other)
	}
	do(t, ctx, "fix the cron", clearInput("cron"), chromedp.SendKeys(id("cron"), "*/30 * * * *"))
	waitJS(t, ctx, "form valid", `document.getElementById("err-cron").textContent === "" && !document.getElementById("valid").hidden`, 10*time.Second)
	do(t, ctx, "save", chromedp.Click(id("save")), chromedp.WaitVisible(id("config")))
	loc := get(t, ctx, "location", chromedp.Location())
	if body := textOf(t, ctx, "main"); !strings.Contains(body, "Schedule created.") || !strings.Contains(body, "browser made") {
		t.Errorf("after save: %s", tail(body, 400))
	}
	checkClean(t, "create", probs)

	// Run it now and watch the run appear and finish on the live runs page.
	do(t, ctx, "run now", chromedp.Click(id("run-now")))
	waitJS(t, ctx, "run requested", `location.search.includes("done=run") && document.readyState === "complete"`, 10*time.Second)
	sid := loc[strings.LastIndex(loc, "/")+1:]
	if i := strings.IndexByte(sid, '?'); i >= 0 {
		sid = sid[:i]
	}
	do(t, ctx, "runs of the new schedule", chromedp.Navigate(u("/runs?schedule="+sid)), chromedp.WaitVisible(id("live")))
	waitJS(t, ctx, "the run appears and completes (live refresh)", `document.getElementById("live").textContent.includes("completed")`, 20*time.Second)
	checkClean(t, "run now", probs)

	// Disable the alert.
	do(t, ctx, "disable the alert", chromedp.Navigate(u(fmt.Sprintf("/schedules/%d", data.alert.ID))),
		chromedp.WaitVisible(id("disable")), chromedp.Click(id("disable")), chromedp.WaitVisible(id("enable")))
	if st := textOf(t, ctx, "#state"); st != "disabled" {
		t.Errorf("alert state %q after disable", st)
	}
	if sc, err := db.GetSchedule(context.Background(), data.alert.ID); err != nil || sc.Enabled {
		t.Errorf("alert still enabled in the database (%v)", err)
	}
	checkClean(t, "disable", probs)

	// Retry the dead notification; the service delivers it.
	retry := fmt.Sprintf("retry-%d", data.dead)
	do(t, ctx, "retry", chromedp.Navigate(u("/notifications?status=dead")), chromedp.WaitVisible(id(retry)),
		chromedp.Click(id(retry)))
	waitJS(t, ctx, "retry done", `location.search.includes("done=retried") && document.readyState === "complete"`, 10*time.Second)
	deadline := time.Now().Add(20 * time.Second)
	for {
		n, err := db.Outbox().Get(context.Background(), data.dead)
		if err == nil && n.Status == "sent" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retried notification %d: status %v (%v), want sent", data.dead, n.Status, err)
		}
		time.Sleep(100 * time.Millisecond) // polling the outbox with a deadline
	}
	do(t, ctx, "outbox after retry", chromedp.Navigate(u("/notifications")), chromedp.WaitVisible(id("outbox")))
	if row := textOf(t, ctx, fmt.Sprintf("#n-%d", data.dead)); !strings.Contains(row, "sent") {
		t.Errorf("outbox row after retry: %s", row)
	}
	checkClean(t, "retry", probs)

	// The session cookie does not open the API.
	apiStatus := get(t, ctx, "API with the cookie", chromedp.Evaluate[int](`fetch("/api/v1/schedules").then(r => r.status)`, chromedp.EvalAwaitPromise))
	if apiStatus != http.StatusUnauthorized {
		t.Errorf("API with the session cookie only: %d, want 401", apiStatus)
	}
	probs.take() // that 401 was the point
}

// setField sets an input's or select's value as typing does (an input
// event follows).
func setField(elementID, value string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const e = document.getElementById(`+strconv.Quote(elementID)+`);
			e.value = `+strconv.Quote(value)+`; return e.dispatchEvent(new Event("input", {bubbles: true})); })()`))
		return err
	})
}

// clearInput empties a text input (chromedp.Clear leaves a value set by
// script in place).
func clearInput(elementID string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { document.getElementById(`+strconv.Quote(elementID)+`).value = ""; return true; })()`))
		return err
	})
}

// screenshot writes the page at desktop and phone width as NAME-desktop.png
// and NAME-phone.png into dir, and in the dark scheme as NAME-dark.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, v := range []struct {
		suffix string
		w, h   int64
		mobile bool
	}{{"desktop", 1280, 900, false}, {"phone", 390, 844, true}} {
		var emul []chromedp.EmulateViewportOption
		if v.mobile {
			emul = append(emul, chromedp.EmulateMobile)
		}
		do(t, ctx, "viewport", chromedp.EmulateViewport(v.w, v.h, emul...))
		buf := get(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(dir, name+"-"+v.suffix+".png"), buf, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// And dark (prefers-color-scheme) at desktop width.
	do(t, ctx, "reset viewport", chromedp.EmulateViewport(1280, 900))
	dark := func(on string) {
		if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: on}}}); err != nil {
			t.Fatal(err)
		}
	}
	dark("dark")
	buf := get(t, ctx, "screenshot "+name, chromedp.CaptureScreenshot())
	dark("")
	if err := os.WriteFile(filepath.Join(dir, name+"-dark.png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}
