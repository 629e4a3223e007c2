package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestAccessWithoutTokenIsLocalOnly(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "", nil)
	for _, c := range []struct {
		name, host, origin string
		want               int
	}{
		{"own host", "", "", 200},
		{"foreign host (DNS rebinding)", "evil.example:80", "", 403},
		{"cross-site origin", "", "http://evil.example", 403},
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/schedules", nil)
		if c.host != "" {
			req.Host = c.host
		}
		if c.origin != "" {
			req.Header.Set("Origin", c.origin)
		}
		resp, err := e.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
	}
}

func TestPostsNeedTheCSRFToken(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "", nil)
	sc := e.create("csrf", "report", "0 * * * *", `{"report_type": "daily"}`)
	path := "/schedules/" + itoa(sc.ID) + "/disable"
	resp, body := e.post(path, url.Values{})
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
		t.Fatalf("POST without token: %d %q", resp.StatusCode, body)
	}
	resp, _ = e.post(path, url.Values{"csrf": {strings.Repeat("0", 64)}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("POST with a wrong token: %d", resp.StatusCode)
	}
	got, _ := e.db.GetSchedule(context.Background(), sc.ID)
	if !got.Enabled {
		t.Fatal("refused POSTs disabled the schedule")
	}
	resp, _ = e.post(path, url.Values{"csrf": {e.csrf()}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST with the token: %d", resp.StatusCode)
	}
	if got, _ = e.db.GetSchedule(context.Background(), sc.ID); got.Enabled {
		t.Fatal("schedule still enabled")
	}
}

func TestLoginWithToken(t *testing.T) {
	const token = "s3cret-token"
	e := newEnv(t, storetest.SQLite(t), token, nil)
	resp, err := e.c.Get(e.srv.URL + "/runs?status=failed")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login?next=%2Fruns%3Fstatus%3Dfailed" {
		t.Fatalf("no session: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	r, body := e.post("/login", url.Values{"token": {"wrong"}, "next": {"/runs"}})
	if r.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "not this service") {
		t.Fatalf("wrong token: %d", r.StatusCode)
	}
	r, _ = e.post("/login", url.Values{"token": {token}, "next": {"//evil.example/"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("login: %d to %q (an off-site next must become /)", r.StatusCode, r.Header.Get("Location"))
	}
	var c *http.Cookie
	for _, k := range r.Cookies() {
		if k.Name == SessionCookie {
			c = k
		}
	}
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || len(c.Value) != 64 {
		t.Fatalf("session cookie %+v: want HttpOnly, SameSite=Strict, 32 random bytes", c)
	}
	if code, body := e.get("/"); code != 200 || !strings.Contains(body, "Overview") {
		t.Fatalf("after login: %d", code)
	}
	// The cookie opens the dashboard, not the API: that still wants the bearer token.
	if code, _ := e.get("/api/v1/schedules"); code != http.StatusUnauthorized {
		t.Fatalf("API with the session cookie only: %d, want 401", code)
	}
	// Log out: the session is gone.
	r, _ = e.post("/logout", url.Values{"csrf": {e.csrf()}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d", r.StatusCode)
	}
	e.c.Jar.SetCookies(mustURL(e.srv.URL), []*http.Cookie{c})
	if code, _ := e.get("/"); code != http.StatusSeeOther {
		t.Fatalf("old session after logout: %d, want a redirect to the login", code)
	}
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func itoa(n int64) string { return strconvItoa(n) }

func TestBadInputNamesTheField(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "", nil)
	for path, want := range map[string]string{
		"/schedules?sort=bogus":  `sort: unknown column &#34;bogus&#34;`,
		"/schedules?type=nope":   `type: unknown job type &#34;nope&#34;`,
		"/schedules?user=-3":     `user: &#34;-3&#34; is not a whole number`,
		"/schedules?offset=x":    `offset: &#34;x&#34;`,
		"/runs?status=great":     `status: unknown run status &#34;great&#34;`,
		"/runs?from=yesterday":   `from: &#34;yesterday&#34; is not a time`,
		"/runs?schedule=0":       `schedule: &#34;0&#34;`,
		"/notifications?status=": ``,
		"/schedules/abc":         `id: &#34;abc&#34; is not a positive whole number`,
	} {
		code, body := e.get(path)
		if want == "" {
			if code != 200 {
				t.Errorf("%s: %d", path, code)
			}
			continue
		}
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want 400 with %q in:\n%s", path, code, want, grep(body, "error-message"))
		}
	}
	if code, _ := e.get("/schedules/999"); code != http.StatusNotFound {
		t.Errorf("missing schedule: %d", code)
	}
	if code, _ := e.get("/runs/999"); code != http.StatusNotFound {
		t.Errorf("missing run: %d", code)
	}
	if code, body := e.get("/no/such/page"); code != http.StatusNotFound || !strings.Contains(body, "no page at /no/such/page") {
		t.Errorf("unknown path: %d", code)
	}
}

func grep(body, needle string) string {
	for _, l := range strings.Split(body, "\n") {
		if strings.Contains(l, needle) {
			return l
		}
	}
	return "(no line with " + needle + ")"
}

func TestCreateFormShowsErrorsByFieldAndStoresNothing(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "", nil)
	form := url.Values{"csrf": {e.csrf()}, "name": {"nightly"}, "user_id": {"1"}, "job_type": {"report"},
		"cron": {"0 25 * * *"}, "task_params": {`{"report_type": "daily"}`}, "enabled": {"1"}}
	r, body := e.post("/schedules", form)
	if r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad cron: %d", r.StatusCode)
	}
	line := grep(body, `id="err-cron"`)
	if !strings.Contains(line, `cron &#34;0 25 * * *&#34;`) || !strings.Contains(line, "hour") {
		t.Fatalf("cron error not by the field: %s", line)
	}
	if !strings.Contains(body, `value="nightly"`) {
		t.Error("the form lost what was typed")
	}
	if n, _ := e.db.CountSchedules(context.Background()); n != 0 {
		t.Fatalf("%d schedules stored after a refused form", n)
	}
	form.Set("cron", "0 2 * * *")
	r, _ = e.post("/schedules", form)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/schedules/") {
		t.Fatalf("fixed form: %d to %q", r.StatusCode, r.Header.Get("Location"))
	}
	form.Set("user_id", "one")
	r, body = e.post("/schedules", form)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(grep(body, `id="err-user_id"`), `user_id: &#34;one&#34; is not a whole number`) {
		t.Fatalf("user_id not a number: %d", r.StatusCode)
	}
}

func TestValidateAnswersAsTheAPI(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t), "tok", nil)
	if r, _ := e.post("/login", url.Values{"token": {"tok"}}); r.StatusCode != http.StatusSeeOther {
		t.Fatal("login failed")
	}
	body := `{"user_id": 1, "name": "x", "job_type": "report", "cron": "61 * * * *", "task_params": {}}`
	req, _ := http.NewRequest("POST", e.srv.URL+"/ui/validate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-CSRF-Token", e.csrf())
	resp, err := e.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	req, _ = http.NewRequest("POST", e.srv.URL+"/api/v1/validate", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer tok")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(resp2.Body)
	resp2.Body.Close()
	var va ValidateAnswer
	if err := json.Unmarshal(got, &va); err != nil {
		t.Fatalf("%v: %s", err, got)
	}
	var compact bytes.Buffer
	_ = json.Compact(&compact, want)
	if resp.StatusCode != 200 || va.Status != 400 || resp2.StatusCode != 400 || string(va.Answer) != compact.String() {
		t.Fatalf("dashboard validate %d %s\nAPI validate %d %s", resp.StatusCode, got, resp2.StatusCode, want)
	}
	if !strings.Contains(string(want), `cron \"61 * * * *\"`) {
		t.Fatalf("no cron problem in %s", want)
	}
}

func TestRetryDeadNotification(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", nil)
	id := deadNotification(t, db)
	if code, body := e.get("/notifications?status=dead"); code != 200 || !strings.Contains(body, `id="retry-`+itoa(id)+`"`) {
		t.Fatalf("dead notification not listed with a retry button: %d", code)
	}
	r, _ := e.post("/notifications/retry", url.Values{"csrf": {e.csrf()}, "id": {itoa(id)}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("retry: %d", r.StatusCode)
	}
	n, err := db.Outbox().Get(context.Background(), id)
	if err != nil || n.Status != "pending" {
		t.Fatalf("after retry: %v %v", n.Status, err)
	}
	r, body := e.post("/notifications/retry", url.Values{"csrf": {e.csrf()}, "id": {itoa(id)}})
	if r.StatusCode != http.StatusConflict || !strings.Contains(body, "not dead") {
		t.Fatalf("retry of a pending one: %d %s", r.StatusCode, grep(body, "error-message"))
	}
}

func TestChartReplaysTheAlert(t *testing.T) {
	now := time.Now()
	bars := waveBars(400, now)
	a, err := alerts.Parse([]byte(rsiAlert))
	if err != nil {
		t.Fatal(err)
	}
	c, err := BuildChart(a, bars, 300)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bars) != 300 || c.Summary.Triggers == 0 || c.Summary.Rearms == 0 {
		t.Fatalf("bars %d triggers %d rearms %d", len(c.Bars), c.Summary.Triggers, c.Summary.Rearms)
	}
	labels := map[string]bool{}
	for _, l := range c.Lines {
		labels[l.Label] = l.Overlay
	}
	if ov, ok := labels["SMA(20)"]; !ok || !ov {
		t.Errorf("SMA(20) should be an overlay line: %v", labels)
	}
	if ov, ok := labels["RSI(14)"]; !ok || ov {
		t.Errorf("RSI(14) should be an oscillator line: %v", labels)
	}
	var levels []float64
	for _, l := range c.Levels {
		levels = append(levels, l.Value)
	}
	if len(levels) != 2 || levels[0] != 40 || levels[1] != 55 {
		t.Errorf("levels %v, want the trigger 40 and the re-arm 55", levels)
	}
	svg := string(DrawChart(c))
	if n := strings.Count(svg, `class="mk-trig"`); n != len(eventsOf(c, alerts.EventTrigger)) || n == 0 {
		t.Errorf("%d trigger markers for %d triggers", n, len(eventsOf(c, alerts.EventTrigger)))
	}
	if n := strings.Count(svg, `class="mk-rearm"`); n == 0 {
		t.Error("no re-arm marker")
	}
	if n := strings.Count(svg, `<g class="c `); n != 300 {
		t.Errorf("%d candles", n)
	}

	// Through the page, with the bars served as live data.
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", func(_ context.Context, sym string, tf marketdata.Timeframe, n int) ([]marketdata.Bar, error) {
		if sym != "WAVEUSD" || tf != "1h" {
			t.Errorf("bars of %s %s", sym, tf)
		}
		return bars[max(0, len(bars)-n):], nil
	})
	sc := e.create("wave", "alert", "0 * * * *", rsiAlert)
	code, body := e.get("/schedules/" + itoa(sc.ID) + "/chart?bars=120")
	if code != 200 {
		t.Fatalf("chart page %d", code)
	}
	mustContain(t, "chart page", body, `<svg class="chart"`, `Replay of the last 120 bars`, "RSI(14)")
	if code, body := e.get("/schedules/" + itoa(sc.ID) + "/chart?bars=5000"); code != 400 || !strings.Contains(body, "bars: &#34;5000&#34;") {
		t.Errorf("bars=5000: %d", code)
	}
}

func eventsOf(c *Chart, kind string) []alerts.ReplayEvent {
	var out []alerts.ReplayEvent
	for _, ev := range c.Events {
		if ev.Kind == kind {
			out = append(out, ev)
		}
	}
	return out
}

// TestPagesShowTheirContent renders every page over a small database.
func TestPagesShowTheirContent(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", nil)
	rep := e.create("nightly report", "report", "0 2 * * *", `{"report_type": "daily"}`)
	al := e.create("wave alert", "alert", "0 * * * *", rsiAlert)
	run, err := db.InsertRun(context.Background(), rep, time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond), 1)
	if err != nil {
		t.Fatal(err)
	}
	deadNotification(t, db)
	soon := time.Now().Add(2 * time.Hour)
	if err := db.SetNextRun(context.Background(), rep.ID, &soon); err != nil { // as the engine does
		t.Fatal(err)
	}
	for path, wants := range map[string][]string{
		"/":                                      {"Overview", "Health", "database", "Next 24 hours", "nightly report"},
		"/schedules":                             {"nightly report", "wave alert", "2 schedules match"},
		"/schedules?type=alert":                  {"wave alert", "1 schedules match"},
		"/schedules?name=NIGHT":                  {"nightly report", "1 schedules match"},
		"/schedules/" + itoa(rep.ID):             {"Next fires", "Run history", `href="/runs/` + itoa(run.ID) + `"`},
		"/schedules/" + itoa(al.ID):              {"Alert state", "ARMED", "WAVEUSD 1h", "Chart"},
		"/schedules/new":                         {`id="schedule-form"`, `data-type="alert"`},
		"/schedules/" + itoa(al.ID) + "/edit":    {"wave alert", "WAVEUSD"},
		"/runs":                                  {`href="/runs/` + itoa(run.ID) + `"`, "pending"},
		"/runs/" + itoa(run.ID):                  {"Run " + itoa(run.ID), "manual", "scheduled for"},
		"/notifications":                         {"dead", "Retry"},
		"/schedules/" + itoa(rep.ID) + "/delete": {"Delete nightly report?", "run history is kept"},
	} {
		code, body := e.get(path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
			continue
		}
		mustContain(t, path, body, wants...)
	}
}

func deadNotification(t *testing.T, db *store.DB) int64 {
	t.Helper()
	return storeDead(t, db, "webhook", "https://hooks.example/secret-path", "HTTP 410 from https://hooks.example/secret-path")
}

func TestEditRunAndDeleteThroughTheActions(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", nil)
	sc := e.create("edit me", "report", "0 2 * * *", `{"report_type": "daily"}`)
	path := "/schedules/" + itoa(sc.ID)
	code, body := e.get(path + "/edit")
	if code != 200 || !strings.Contains(body, `value="0 2 * * *"`) {
		t.Fatalf("edit form: %d", code)
	}
	form := url.Values{"csrf": {e.csrf()}, "name": {"edited"}, "user_id": {"1"}, "job_type": {"report"},
		"cron": {"15 3 * * *"}, "timezone": {"Mars/Olympus"}, "task_params": {`{"report_type": "weekly"}`}, "enabled": {"1"}}
	r, body := e.post(path, form)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(grep(body, `id="err-timezone"`), `unknown time zone &#34;Mars/Olympus&#34;`) {
		t.Fatalf("bad time zone: %d %s", r.StatusCode, grep(body, `id="err-timezone"`))
	}
	if got, _ := db.GetSchedule(context.Background(), sc.ID); got.Name != "edit me" || got.Cron != "0 2 * * *" {
		t.Fatalf("a refused update changed the schedule: %+v", got)
	}
	form.Set("timezone", "Europe/Berlin")
	if r, _ = e.post(path, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("update: %d", r.StatusCode)
	}
	got, _ := db.GetSchedule(context.Background(), sc.ID)
	if got.Name != "edited" || got.Cron != "15 3 * * *" || got.Timezone != "Europe/Berlin" || !strings.Contains(string(got.TaskParams), "weekly") {
		t.Fatalf("after update: %+v", got)
	}
	if r, _ = e.post(path+"/run", url.Values{"csrf": {e.csrf()}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("run now: %d", r.StatusCode)
	}
	runs, err := db.RunPage(context.Background(), store.RunPageQuery{ScheduleID: sc.ID, Limit: 10})
	if err != nil || len(runs.Runs) != 1 || runs.Runs[0].Kind != store.KindManual {
		t.Fatalf("runs after run now: %+v %v", runs, err)
	}
	if code, body := e.get(path + "/delete"); code != 200 || !strings.Contains(body, `id="confirm-delete"`) {
		t.Fatalf("confirmation page: %d", code)
	}
	if r, _ = e.post(path+"/delete", url.Values{"csrf": {e.csrf()}}); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/schedules?done=deleted" {
		t.Fatalf("delete: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if _, err := db.GetSchedule(context.Background(), sc.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("schedule after delete: %v", err)
	}
	if code, _ := e.get("/runs/" + itoa(runs.Runs[0].ID)); code != 200 {
		t.Fatalf("the run of a deleted schedule: %d (history is kept)", code)
	}
	if r, _ = e.post(path+"/delete", url.Values{"csrf": {e.csrf()}}); r.StatusCode != http.StatusNotFound {
		t.Fatalf("delete again: %d", r.StatusCode)
	}
}

func TestChartWithoutDataSaysWhy(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", func(context.Context, string, marketdata.Timeframe, int) ([]marketdata.Bar, error) {
		return nil, errors.New(`binance: GET https://user:pw@data.example/klines?key=s3cret: 503`)
	})
	al := e.create("wave", "alert", "0 * * * *", rsiAlert)
	code, body := e.get("/schedules/" + itoa(al.ID) + "/chart")
	line := grep(body, `id="chart-error"`)
	if code != 200 || !strings.Contains(line, "market data for WAVEUSD 1h") || strings.Contains(body, "s3cret") || strings.Contains(body, "pw@") {
		t.Fatalf("chart without data: %d %s", code, line)
	}
	rep := e.create("rep", "report", "0 * * * *", `{"report_type": "daily"}`)
	if code, body := e.get("/schedules/" + itoa(rep.ID) + "/chart"); code != 400 || !strings.Contains(body, "only alerts have a chart") {
		t.Fatalf("chart of a report: %d", code)
	}
}

func TestNamesAreEscapedEverywhere(t *testing.T) {
	db := storetest.SQLite(t)
	e := newEnv(t, db, "", nil)
	const evil = `<img src=x onerror=alert(1)>`
	sc := e.create(evil, "report", "0 * * * *", `{"report_type": "daily", "description": "</pre><script>alert(2)</script>"}`)
	soon := time.Now().Add(time.Hour)
	if err := db.SetNextRun(context.Background(), sc.ID, &soon); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/schedules", "/schedules/" + itoa(sc.ID), "/schedules/" + itoa(sc.ID) + "/edit", "/schedules/" + itoa(sc.ID) + "/delete"} {
		code, body := e.get(path)
		if code != 200 {
			t.Errorf("%s: %d", path, code)
		}
		if strings.Contains(body, "<img src=x") || strings.Contains(body, "<script>alert") {
			t.Errorf("%s shows the name or params unescaped", path)
		}
		if !strings.Contains(body, "&lt;img src=x onerror=alert(1)&gt;") {
			t.Errorf("%s does not show the name", path)
		}
	}
}

// The login page shares the API's budget of wrong tokens per address:
// after it is spent, even the right token is answered 429.
func TestLoginGuessesAreLimited(t *testing.T) {
	const token = "s3cret-token"
	e := newEnv(t, storetest.SQLite(t), token, nil)
	for i := range api.AuthFailureBurst {
		if r, _ := e.post("/login", url.Values{"token": {fmt.Sprint("guess", i)}}); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d, want 401", i, r.StatusCode)
		}
	}
	r, body := e.post("/login", url.Values{"token": {token}})
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" || !strings.Contains(body, "Too many wrong tokens") {
		t.Fatalf("right token after %d wrong ones: %d (Retry-After %q), want 429 saying why", api.AuthFailureBurst, r.StatusCode, r.Header.Get("Retry-After"))
	}
}
