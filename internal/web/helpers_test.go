package web

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func quietLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func actionsOn(db *store.DB) *action.Actions {
	return action.New(action.Config{Store: db, Handlers: jobs.Handlers(jobs.Deps{}), Outbox: db.Outbox(), Logger: quietLog()})
}

func testActions(t *testing.T) *action.Actions { return actionsOn(storetest.SQLite(t)) }

func specOf(uid int64, typ, params string) action.Spec {
	return action.Spec{UserID: &uid, Name: "example " + typ, JobType: typ, TaskParams: json.RawMessage(params), Cron: "*/5 * * * *"}
}

// env is the dashboard and the API on a real store behind an httptest
// server, as `scheduler start` mounts them.
type env struct {
	t    *testing.T
	db   *store.DB
	acts *action.Actions
	srv  *httptest.Server
	c    *http.Client
}

func newEnv(t *testing.T, db *store.DB, token string, bars BarsFunc) *env {
	t.Helper()
	acts := actionsOn(db)
	h := api.New(api.Deps{Store: db, Actions: acts, Token: token, Addr: "127.0.0.1:0", Logger: quietLog()})
	dash, err := New(Deps{Store: db, Actions: acts, API: h, Token: token, Addr: "127.0.0.1:0", Bars: bars, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(Mount(h, dash))
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{t: t, db: db, acts: acts, srv: srv, c: c}
}

// get fetches path and returns the status and body.
func (e *env) get(path string) (int, string) {
	e.t.Helper()
	resp, err := e.c.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// post sends a form and returns the response (body read into the string).
func (e *env) post(path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	resp, err := e.c.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([0-9a-f]{64})"`)

// csrf reads the CSRF token of the session from a page with a form.
func (e *env) csrf() string {
	e.t.Helper()
	_, body := e.get("/notifications")
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		e.t.Fatalf("no CSRF token on /notifications:\n%s", body)
	}
	return m[1]
}

func (e *env) create(name, typ, cron, params string) *store.Schedule {
	e.t.Helper()
	uid := int64(1)
	sc, err := e.acts.Create(context.Background(), action.Spec{UserID: &uid, Name: name, JobType: typ, Cron: cron, TaskParams: json.RawMessage(params)})
	if err != nil {
		e.t.Fatal(err)
	}
	return sc
}

func mustContain(t *testing.T, what, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}

// waveBars are n hourly bars ending before now whose close swings in a
// sine wave, so that an RSI rule triggers and re-arms several times.
func waveBars(n int, now time.Time) []marketdata.Bar {
	end := now.UTC().Truncate(time.Hour)
	bars := make([]marketdata.Bar, n)
	prev := 100.0
	for i := range bars {
		c := 100 + 10*math.Sin(float64(i)/9) + float64(i%3)*0.3
		bars[i] = marketdata.Bar{Time: end.Add(time.Duration(i-n) * time.Hour), Open: prev, Close: c,
			High: math.Max(prev, c) + 0.5, Low: math.Min(prev, c) - 0.5, Volume: 1000 + float64(i)}
		prev = c
	}
	return bars
}

// rsiAlert is an alert that fires when RSI(14) crosses below 40 and re-arms
// above 55, with an SMA overlay in its re-arm rule.
const rsiAlert = `{"ticker": "WAVEUSD", "timeframe": "1h",
 "rule": {"and": [
   {"crosses_below": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 40}}},
   {"lt": {"lhs": {"field": "close"}, "rhs": {"indicator": {"type": "SMA", "params": {"period": 20}}}}}]},
 "rearm": {"enabled": true, "rule": {"gt": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 55}}}},
 "notify": {"channels": ["log"]}}`

func strconvItoa(n int64) string { return strconv.FormatInt(n, 10) }

// storeDead puts one notification in the outbox and makes it dead the way
// the dispatcher does (claim, then mark dead); it returns its id.
func storeDead(t testing.TB, db *store.DB, channel, recipient, reason string) int64 {
	t.Helper()
	ctx := context.Background()
	ob := db.Outbox()
	key := "web-test:" + randomHex(6)
	if err := ob.Insert(ctx, []notify.Notification{{IdempotencyKey: key, Channel: channel, Recipient: recipient,
		Type: "ALERT", Title: "RSI crossed below 30", Body: "BTCUSDT", Priority: notify.PriorityNormal}}); err != nil {
		t.Fatal(err)
	}
	got, err := ob.Claim(ctx, notify.ClaimRequest{Owner: "web-test", Now: time.Now().Add(time.Hour), Limit: 100, Channel: channel})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range got {
		if n.IdempotencyKey == key {
			if err := ob.MarkDead(ctx, n.ID, time.Now(), reason); err != nil {
				t.Fatal(err)
			}
			return n.ID
		}
	}
	t.Fatalf("claim did not return notification %s", key)
	return 0
}
