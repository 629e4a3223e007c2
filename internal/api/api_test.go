package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

const yearly = "0 0 1 1 *" // does not fire while a test runs

func TestHealthAndReadiness(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		if code, body := f.do("GET", "/healthz", ""); code != 200 || strings.TrimSpace(string(body)) != "ok" {
			t.Fatalf("healthz = %d %q", code, body)
		}
		var ready api.Readiness
		f.expect("GET", "/readyz", "", 503, &ready)
		if ready.Ready || ready.Reason != "engine loop is not running" {
			t.Fatalf("readyz without engine = %+v", ready)
		}

		f = newFixture(t, db, options{})
		f.expect("GET", "/readyz", "", 200, &ready)
		if !ready.Ready {
			t.Fatalf("readyz = %+v", ready)
		}
		db.Close()
		f.expect("GET", "/readyz", "", 503, &ready)
		if !strings.Contains(ready.Reason, "database unreachable") {
			t.Fatalf("readyz with closed database = %+v", ready)
		}
	})
}

func TestScheduleCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{})
		var a, b store.Schedule
		code, body := f.do("POST", "/api/v1/schedules", scheduleJSON("alpha", yearly, `{"x": 1}`))
		if code != 201 {
			t.Fatalf("create: %d %s", code, body)
		}
		if err := json.Unmarshal(body, &a); err != nil || a.ID == 0 || !a.Enabled || a.Name != "alpha" || a.Cron != yearly {
			t.Fatalf("created %+v (%v)", a, err)
		}
		f.expect("POST", "/api/v1/schedules", `{"user_id": 2, "name": "beta", "job_type": "script", "cron": "*/5 * * * *", "enabled": false}`, 201, &b)
		if b.Enabled || !jsonEq(b.TaskParams, "{}") {
			t.Fatalf("beta = %+v, want disabled with task_params {}", b)
		}

		// Duplicate (user_id, name) → 409, on create and on update.
		var e errorBody
		f.expect("POST", "/api/v1/schedules", scheduleJSON("alpha", yearly, `{}`), 409, &e)
		if !strings.Contains(e.Error, `"alpha"`) {
			t.Fatalf("409 error %q does not name the schedule", e.Error)
		}

		var got store.Schedule
		f.expect("GET", fmt.Sprintf("/api/v1/schedules/%d", a.ID), "", 200, &got)
		if got.ID != a.ID || !jsonEq(got.TaskParams, `{"x": 1}`) {
			t.Fatalf("get = %+v", got)
		}

		list := func(q string) []int64 {
			var l api.ScheduleList
			f.expect("GET", "/api/v1/schedules"+q, "", 200, &l)
			var ids []int64
			for _, s := range l.Schedules {
				ids = append(ids, s.ID)
			}
			return ids
		}
		for q, want := range map[string][]int64{
			"":                         {a.ID, b.ID},
			"?enabled=true":            {a.ID},
			"?enabled=false":           {b.ID},
			"?user_id=2":               {b.ID},
			"?job_type=script&limit=1": {a.ID},
			"?limit=1&offset=1":        {b.ID},
			"?job_type=alert":          nil,
			"?user_id=1&enabled=false": nil,
			"?offset=5":                nil,
		} {
			if got := list(q); !slices.Equal(got, want) {
				t.Errorf("list %q = %v, want %v", q, got, want)
			}
		}
		f.expect("GET", "/api/v1/schedules?enabled=maybe", "", 400, &e)
		if !strings.Contains(e.Error, `enabled: "maybe"`) {
			t.Fatalf("bad filter error %q", e.Error)
		}
		f.expect("GET", "/api/v1/schedules?limit=0", "", 400, nil)

		// Update: a fetched schedule can be sent back with changes.
		got.Cron = "15 3 * * *"
		got.Name = "alpha2"
		upd, _ := json.Marshal(got)
		var u store.Schedule
		f.expect("PUT", fmt.Sprintf("/api/v1/schedules/%d", a.ID), string(upd), 200, &u)
		if u.Cron != "15 3 * * *" || u.Name != "alpha2" || !u.Enabled {
			t.Fatalf("updated = %+v", u)
		}
		f.expect("PUT", fmt.Sprintf("/api/v1/schedules/%d", a.ID), scheduleJSON("alpha3", yearly, `{}`)[:len(scheduleJSON("alpha3", yearly, `{}`))-1]+`, "id": 999}`, 400, &e)
		if !strings.Contains(e.Error, "999") {
			t.Fatalf("id mismatch error %q", e.Error)
		}
		// Renaming onto another user's name is fine, onto one's own is a conflict.
		f.expect("POST", "/api/v1/schedules", scheduleJSON("gamma", yearly, `{}`), 201, nil)
		f.expect("PUT", fmt.Sprintf("/api/v1/schedules/%d", a.ID), scheduleJSON("gamma", yearly, `{}`), 409, nil)

		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/disable", a.ID), "", 200, &u)
		if u.Enabled {
			t.Fatal("disable left the schedule enabled")
		}
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/enable", a.ID), "", 200, &u)
		if !u.Enabled {
			t.Fatal("enable left the schedule disabled")
		}
		// The engine picks the enabled schedule up and computes its next fire.
		waitFor(t, 10*time.Second, "next_run_at of the enabled schedule", func() bool {
			s, err := db.GetSchedule(context.Background(), a.ID)
			return err == nil && s.NextRunAt != nil
		})

		if code, body := f.do("DELETE", fmt.Sprintf("/api/v1/schedules/%d", a.ID), ""); code != 204 {
			t.Fatalf("delete: %d %s", code, body)
		}
		for _, req := range [][2]string{{"GET", ""}, {"DELETE", ""}, {"PUT", ""}, {"POST", "/enable"}, {"POST", "/disable"}, {"POST", "/run"}} {
			body := ""
			if req[0] == "PUT" {
				body = scheduleJSON("x", yearly, `{}`)
			}
			f.expect(req[0], fmt.Sprintf("/api/v1/schedules/%d%s", a.ID, req[1]), body, 404, &e)
			if !strings.Contains(e.Error, "not found") {
				t.Fatalf("%s %s: error %q", req[0], req[1], e.Error)
			}
		}
		f.expect("GET", "/api/v1/schedules/abc", "", 400, &e)
		if !strings.Contains(e.Error, `id: "abc"`) {
			t.Fatalf("bad id error %q", e.Error)
		}
	})
}

func TestValidationErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		var e errorBody
		f.expect("POST", "/api/v1/schedules", scheduleJSON("bad-cron", "0 0 * * 8", `{}`), 400, &e)
		if !slices.Equal(e.Problems, []string{`cron "0 0 * * 8": day-of-week: 8 out of range 0-7`}) {
			t.Fatalf("problems = %q", e.Problems)
		}
		if !strings.Contains(e.Error, "day-of-week: 8 out of range 0-7") {
			t.Fatalf("error = %q", e.Error)
		}

		// Every problem is reported, field checks first, then the engine's.
		f.expect("POST", "/api/v1/schedules", `{"user_id": 0, "name": " ", "job_type": "script", "cron": "61 * * * *",
			"timezone": "Mars/Olympus", "task_params": {"reject": true}}`, 400, &e)
		want := []string{
			"user_id: must be >= 1, got 0",
			"name: must not be empty",
			`timezone: unknown time zone "Mars/Olympus"`,
			`cron "61 * * * *": minute: 61 out of range 0-59`,
			"task_params.reject: true is not allowed",
		}
		if !slices.Equal(e.Problems, want) {
			t.Fatalf("problems =\n%s\nwant\n%s", strings.Join(e.Problems, "\n"), strings.Join(want, "\n"))
		}

		f.expect("POST", "/api/v1/schedules", `{"name": "n", "job_type": "rocket", "cron": "* * * * *"}`, 400, &e)
		if len(e.Problems) != 2 || e.Problems[0] != "user_id: required, a whole number >= 1" ||
			!strings.HasPrefix(e.Problems[1], `job_type: unknown job type "rocket"`) {
			t.Fatalf("problems = %q", e.Problems)
		}
		// A known job type without a handler in this build is reported by the engine.
		f.expect("POST", "/api/v1/schedules", `{"user_id": 1, "name": "n", "job_type": "backup", "cron": "* * * * *"}`, 400, &e)
		if !slices.Equal(e.Problems, []string{`job_type: unknown job type "backup"`}) {
			t.Fatalf("problems = %q", e.Problems)
		}
		long := strings.Repeat("é", 256)
		f.expect("POST", "/api/v1/schedules", scheduleJSON(long, yearly, `{}`), 400, &e)
		if !slices.Equal(e.Problems, []string{"name: 256 characters, at most 255 allowed"}) {
			t.Fatalf("problems = %q", e.Problems)
		}

		// /validate: the same checks, nothing saved.
		f.expect("POST", "/api/v1/validate", scheduleJSON("v", "0 0 * * 8", `{}`), 400, &e)
		if len(e.Problems) != 1 || !strings.Contains(e.Problems[0], "day-of-week: 8 out of range 0-7") {
			t.Fatalf("validate problems = %q", e.Problems)
		}
		var ok api.ValidateResult
		f.expect("POST", "/api/v1/validate", scheduleJSON("v", "*/10 * * * *", `{}`), 200, &ok)
		if !ok.Valid {
			t.Fatalf("validate = %+v", ok)
		}
		if n, err := db.CountSchedules(context.Background()); err != nil || n != 0 {
			t.Fatalf("schedules saved by failed creates or validate: %d (%v)", n, err)
		}

		// Updates are validated too and leave the stored schedule alone.
		var s store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("good", yearly, `{}`), 201, &s)
		f.expect("PUT", fmt.Sprintf("/api/v1/schedules/%d", s.ID), scheduleJSON("good", "0 0 * * 8", `{}`), 400, &e)
		if got, _ := db.GetSchedule(context.Background(), s.ID); got.Cron != yearly {
			t.Fatalf("invalid update changed the cron to %q", got.Cron)
		}
	})
}

func TestMalformedJSONAndBodyLimit(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), options{noEngine: true})
	cases := []struct{ body, want string }{
		{"{\"user_id\": 1,\n \"name\": }", "malformed JSON at byte offset 25 (line 2, column 10)"},
		{`{"user_id": "one"}`, `field "user_id": want a number, got a JSON string`},
		{`{"user_id": 1, "name": "x", "colour": "red"}`, `unknown field "colour"`},
		{`{"user_id": 1`, "unexpected end of input"},
		{`{"user_id": 1} {}`, "unexpected data after the schedule"},
		{`[1, 2]`, "schedule: want a JSON object, got a JSON array"},
		{``, "request body is empty"},
	}
	for _, c := range cases {
		for _, path := range []string{"/api/v1/schedules", "/api/v1/validate"} {
			var e errorBody
			f.expect("POST", path, c.body, 400, &e)
			if !strings.Contains(e.Error, c.want) {
				t.Errorf("POST %s %q: error %q, want it to contain %q", path, c.body, e.Error, c.want)
			}
		}
	}
	big := `{"name": "` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
	var e errorBody
	f.expect("POST", "/api/v1/schedules", big, 413, &e)
	if !strings.Contains(e.Error, "larger than 1048576 bytes") {
		t.Fatalf("413 error %q", e.Error)
	}
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	f := newFixture(t, storetest.SQLite(t), options{token: token, noEngine: true})
	body := scheduleJSON("a", yearly, `{}`)
	for _, tok := range []string{"", "wrong", token + "x"} {
		code, b := f.doAuth("POST", "/api/v1/schedules", body, tok)
		if code != 401 || !strings.Contains(string(b), "Authorization: Bearer") {
			t.Fatalf("token %q: %d %s", tok, code, b)
		}
	}
	for _, w := range [][2]string{{"DELETE", "/api/v1/schedules/1"}, {"POST", "/api/v1/reload"}, {"PUT", "/api/v1/schedules/1"}, {"PATCH", "/api/v1/schedules/1"}} {
		if code, _ := f.doAuth(w[0], w[1], "", ""); code != 401 {
			t.Fatalf("%s %s without token: %d, want 401", w[0], w[1], code)
		}
	}
	if code, b := f.doAuth("POST", "/api/v1/schedules", body, token); code != 201 {
		t.Fatalf("with token: %d %s", code, b)
	}
	// Reads carry secrets: they need the token too, but for the probes.
	for _, p := range []string{"/api/v1/schedules", "/api/v1/schedules/1", "/api/v1/runs", "/status", "/metrics", "/api/v1/openapi.json"} {
		if code, b := f.doAuth("GET", p, "", ""); code != 401 {
			t.Fatalf("GET %s without token: %d %s, want 401", p, code, b)
		}
		if code, b := f.doAuth("GET", p, "", token); code != 200 {
			t.Fatalf("GET %s with token: %d %s", p, code, b)
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, b := f.doAuth("GET", p, "", ""); code == 401 {
			t.Fatalf("GET %s without token: 401 %s, want the probe open", p, b)
		}
	}
}

func TestRunNowExactlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{})
		var s, bad store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("manual", yearly, `{}`), 201, &s)

		var r1, r2 api.RunStarted
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", s.ID), "", 202, &r1)
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", s.ID), "", 202, &r2)
		if r1.RunID == 0 || r1.RunID == r2.RunID || r1.ScheduleID != s.ID || r1.Status != store.StatusPending {
			t.Fatalf("runs %+v and %+v", r1, r2)
		}

		var l api.RunList
		waitFor(t, 15*time.Second, "both manual runs completed", func() bool {
			f.expect("GET", fmt.Sprintf("/api/v1/runs?schedule_id=%d&status=completed", s.ID), "", 200, &l)
			return len(l.Runs) == 2
		})
		f.expect("GET", fmt.Sprintf("/api/v1/runs?schedule_id=%d", s.ID), "", 200, &l)
		if len(l.Runs) != 2 {
			t.Fatalf("schedule has %d runs, want exactly 2: %+v", len(l.Runs), l.Runs)
		}
		ids := []int64{l.Runs[0].ID, l.Runs[1].ID}
		slices.Sort(ids)
		if want := []int64{min(r1.RunID, r2.RunID), max(r1.RunID, r2.RunID)}; !slices.Equal(ids, want) {
			t.Fatalf("run ids %v, want %v", ids, want)
		}
		var d api.RunDetail
		f.expect("GET", fmt.Sprintf("/api/v1/runs/%d", r1.RunID), "", 200, &d)
		if d.ID != r1.RunID || d.Kind != store.KindManual || d.Status != store.StatusCompleted || !jsonEq(d.Result, `{"ok":true}`) {
			t.Fatalf("run detail %+v", d)
		}

		// A failing schedule is retried once (RetryCount 1): the detail lists the failed attempt.
		f.expect("POST", "/api/v1/schedules", scheduleJSON("failing", yearly, `{"fail": true}`), 201, &bad)
		var rf api.RunStarted
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", bad.ID), "", 202, &rf)
		waitFor(t, 15*time.Second, "failing run failed", func() bool {
			f.expect("GET", fmt.Sprintf("/api/v1/runs/%d", rf.RunID), "", 200, &d)
			return d.Status == store.StatusFailed
		})
		if len(d.Attempts) != 1 || d.Attempts[0].Error != "asked to fail" || d.Error != "asked to fail" || d.MaxAttempts != 2 {
			t.Fatalf("failed run %+v attempts %+v", d.Run, d.Attempts)
		}
		f.expect("GET", "/api/v1/runs/999999", "", 404, nil)
		f.expect("GET", "/api/v1/runs?status=bogus", "", 400, nil)

		// Metrics show the completed and failed runs; the store gauges are read at scrape time.
		_, m := f.do("GET", "/metrics", "")
		for _, want := range []string{
			`scheduler_runs_total{job_type="script",status="completed"} 2`,
			`scheduler_runs_total{job_type="script",status="failed"} 1`,
			`scheduler_retries_total{job_type="script"} 1`,
			`scheduler_run_lag_seconds_count{job_type="script"} 4`,
			`scheduler_due_backlog_runs 0`,
			`scheduler_schedules{state="total"} 2`,
			`scheduler_build_info{environment="",version="test"} 1`,
		} {
			if !strings.Contains(string(m), want) {
				t.Errorf("/metrics lacks %q", want)
			}
		}
		if t.Failed() {
			t.Logf("/metrics:\n%s", m)
		}
	})
}

func TestRunNowRejectsInvalidSchedule(t *testing.T) {
	db := storetest.SQLite(t)
	f := newFixture(t, db, options{noEngine: true})
	sc := &store.Schedule{UserID: 1, Name: "broken", JobType: "script", Cron: yearly, TaskParams: json.RawMessage(`{"reject": 1}`)}
	if err := db.CreateSchedule(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	var e errorBody
	f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", sc.ID), "", 400, &e)
	if !slices.Equal(e.Problems, []string{"task_params.reject: 1 is not allowed"}) {
		t.Fatalf("problems %q", e.Problems)
	}
	if runs, _ := db.ListRuns(context.Background(), store.RunFilter{ScheduleID: sc.ID}); len(runs) != 0 {
		t.Fatalf("an invalid schedule got %d runs", len(runs))
	}
}

func TestReloadAndStatus(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		extra := func(context.Context) map[string]any {
			return map[string]any{
				"providers": map[string]any{"binance": map[string]any{"breaker": "closed"}},
				"outbox":    map[string]any{"dispatcher": "running", "by_status": "must not replace the store's"},
			}
		}
		f := newFixture(t, db, options{noEngine: true, status: extra})
		ctx := context.Background()
		f.expect("POST", "/api/v1/schedules", scheduleJSON("good", "*/5 * * * *", `{}`), 201, nil)
		// A schedule broken behind the API's back (raw SQL, another tool).
		bad := &store.Schedule{UserID: 1, Name: "broken", JobType: "script", Cron: "0 0 * * 8", TaskParams: json.RawMessage(`{}`), Enabled: true}
		if err := db.CreateSchedule(ctx, bad); err != nil {
			t.Fatal(err)
		}
		var res api.ReloadResult
		f.expect("POST", "/api/v1/reload", "", 200, &res)
		if res.Schedules != 2 || res.Valid != 1 || res.Invalid != 1 || len(res.Problems) != 1 ||
			res.Problems[0].ID != bad.ID || res.Problems[0].Error != `cron "0 0 * * 8": day-of-week: 8 out of range 0-7` {
			t.Fatalf("reload = %+v", res)
		}

		var st struct {
			Version     string `json:"version"`
			Environment string `json:"environment"`
			NodeID      string `json:"node_id"`
			Uptime      int64  `json:"uptime_seconds"`
			Engine      struct {
				Running bool `json:"running"`
			} `json:"engine"`
			Schedules struct {
				Total, Enabled int
				Invalid        []struct {
					ID    int64
					Error string
				}
			} `json:"schedules"`
			Runs struct {
				InProgress int `json:"in_progress"`
			} `json:"runs"`
			MissedFires int                       `json:"missed_fires"`
			Outbox      map[string]any            `json:"outbox"`
			Providers   map[string]map[string]any `json:"providers"`
		}
		f.expect("GET", "/status", "", 200, &st)
		if st.Version != "1.0.0-test" || st.Environment != "test" || st.NodeID != "api-test" || st.Uptime < 59 || st.Engine.Running {
			t.Fatalf("status header %+v", st)
		}
		if st.Schedules.Total != 2 || st.Schedules.Enabled != 2 || len(st.Schedules.Invalid) != 1 ||
			st.Schedules.Invalid[0].ID != bad.ID || !strings.Contains(st.Schedules.Invalid[0].Error, "day-of-week") {
			t.Fatalf("status schedules %+v", st.Schedules)
		}
		if st.Providers["binance"]["breaker"] != "closed" || st.Outbox["dispatcher"] != "running" {
			t.Fatalf("extra sections missing: providers %v outbox %v", st.Providers, st.Outbox)
		}
		if _, ok := st.Outbox["by_status"].(map[string]any); !ok {
			t.Fatalf("an extra section replaced the store's outbox counts: %v", st.Outbox)
		}

		// Fixing the schedule and reloading clears its error.
		bad.Cron = "0 0 * * 0"
		if err := db.UpdateSchedule(ctx, bad); err != nil {
			t.Fatal(err)
		}
		if err := db.SetScheduleError(ctx, bad.ID, "stale", time.Now()); err != nil {
			t.Fatal(err)
		}
		f.expect("POST", "/api/v1/reload", "", 200, &res)
		if res.Invalid != 0 || res.Valid != 2 {
			t.Fatalf("reload after fix = %+v", res)
		}
		if s, _ := db.GetSchedule(ctx, bad.ID); s.LastError != "" {
			t.Fatalf("last_error after a valid reload = %q", s.LastError)
		}
	})
}
