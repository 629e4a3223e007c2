package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// secretParams holds a webhook URL, a token, a password and a URL with
// user information; secretWords are the parts that must never be shown.
const secretParams = `{"script_path": "src/data/x.py",
	"notify": {"channels": ["webhook"], "webhook_url": "https://hooks.example.com/services/T01/B02/WEBHOOKSECRET?sig=QUERYSECRET"},
	"api_token": "TOKENSECRET", "smtp": {"password": "PASSWORDSECRET"}, "source": "postgres://reader:USERINFOSECRET@db.example.com/prices"}`

var secretWords = []string{"WEBHOOKSECRET", "QUERYSECRET", "TOKENSECRET", "PASSWORDSECRET", "USERINFOSECRET", "T01/B02"}

func noSecrets(t *testing.T, what string, body []byte) {
	t.Helper()
	for _, w := range secretWords {
		if strings.Contains(string(body), w) {
			t.Errorf("%s shows the secret %q:\n%s", what, w, body)
		}
	}
}

// Every read of a schedule, its runs' job_snapshot and /status shows the
// secrets in task_params redacted; the stored data is unchanged.
func TestSecretsAreRedactedInEveryRead(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true, token: "tok"})
		var sc store.Schedule
		b := f.expect("POST", "/api/v1/schedules", scheduleJSON("hooked", yearly, secretParams), 201, &sc)
		noSecrets(t, "POST response", b)

		b = f.expect("GET", fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", 200, &sc)
		noSecrets(t, "GET schedule", b)
		var cb bytes.Buffer
		_ = json.Compact(&cb, sc.TaskParams)
		compact := cb.String()
		for _, want := range []string{`"webhook_url":"https://hooks.example.com/…redacted…"`, `"api_token":"…redacted…"`,
			`"password":"…redacted…"`, `"source":"postgres://db.example.com/…redacted…"`, `"script_path":"src/data/x.py"`} {
			if !strings.Contains(compact, want) {
				t.Errorf("GET schedule lacks %s: %s", want, compact)
			}
		}
		b = f.expect("GET", "/api/v1/schedules", "", 200, nil)
		noSecrets(t, "list", b)
		if !strings.Contains(string(b), "hooks.example.com/…redacted…") {
			t.Errorf("list does not show the redacted webhook: %s", b)
		}
		for _, verb := range []string{"disable", "enable"} {
			noSecrets(t, verb, f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/%s", sc.ID, verb), "{}", 200, nil))
		}

		// A run's job_snapshot carries task_params.
		var started struct {
			RunID int64 `json:"run_id"`
		}
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", sc.ID), "{}", 202, &started)
		b = f.expect("GET", fmt.Sprintf("/api/v1/runs/%d", started.RunID), "", 200, nil)
		noSecrets(t, "GET run", b)
		if !strings.Contains(string(b), "job_snapshot") || !strings.Contains(string(b), "…redacted…") {
			t.Errorf("GET run: no redacted job_snapshot: %s", b)
		}
		noSecrets(t, "runs list", f.expect("GET", fmt.Sprintf("/api/v1/runs?schedule_id=%d", sc.ID), "", 200, nil))

		// /status: a last_error quoting the webhook URL.
		ctx := context.Background()
		if err := db.SetScheduleError(ctx, sc.ID, `task_params.notify.webhook_url: Post "https://hooks.example.com/services/T01/B02/WEBHOOKSECRET?sig=QUERYSECRET": refused`, time.Now()); err != nil {
			t.Fatal(err)
		}
		b = f.expect("GET", "/status", "", 200, nil)
		noSecrets(t, "/status", b)
		if !strings.Contains(string(b), "hooks.example.com/…redacted…") {
			t.Errorf("/status does not show the redacted error: %s", b)
		}
		noSecrets(t, "GET schedule with last_error", f.expect("GET", fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", 200, nil))

		// Reads need the token.
		if code, _ := f.doAuth("GET", fmt.Sprintf("/api/v1/schedules/%d", sc.ID), "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET without token: %d, want 401", code)
		}

		// Reading changed nothing stored.
		stored, err := db.GetSchedule(ctx, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEq(stored.TaskParams, secretParams) {
			t.Errorf("stored task_params changed: %s", stored.TaskParams)
		}
	})
}

// A client that GETs a schedule and PUTs it back unchanged keeps the
// stored secrets; a new value replaces one; a marker that is not the
// stored value's redacted form is a 400; a create with a marker is a 400.
func TestRedactedRoundTripKeepsSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := newFixture(t, db, options{noEngine: true})
		var sc store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("hooked", yearly, secretParams), 201, &sc)
		path := fmt.Sprintf("/api/v1/schedules/%d", sc.ID)
		got := f.expect("GET", path, "", 200, nil)

		// PUT back exactly what was read (with an edited cron).
		edited := strings.Replace(string(got), yearly, "0 4 * * *", 1)
		b := f.expect("PUT", path, edited, 200, nil)
		noSecrets(t, "PUT response", b)
		stored, err := db.GetSchedule(ctx, sc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !jsonEq(stored.TaskParams, secretParams) || stored.Cron != "0 4 * * *" {
			t.Fatalf("after PUT of the redacted form: task_params %s cron %q; want the secrets kept", stored.TaskParams, stored.Cron)
		}

		// A new secret replaces the stored one; the others are kept.
		newWebhook := strings.Replace(edited, "https://hooks.example.com/…redacted…", "https://hooks.example.com/services/NEW", 1)
		newWebhook = strings.Replace(newWebhook, `"api_token": "…redacted…"`, `"api_token": "NEWTOKEN"`, 1)
		f.expect("PUT", path, newWebhook, 200, nil)
		stored, _ = db.GetSchedule(ctx, sc.ID)
		var p struct {
			Notify struct {
				WebhookURL string `json:"webhook_url"`
			} `json:"notify"`
			APIToken string `json:"api_token"`
			SMTP     struct {
				Password string `json:"password"`
			} `json:"smtp"`
			Source string `json:"source"`
		}
		if err := json.Unmarshal(stored.TaskParams, &p); err != nil {
			t.Fatal(err)
		}
		if p.Notify.WebhookURL != "https://hooks.example.com/services/NEW" || p.APIToken != "NEWTOKEN" ||
			p.SMTP.Password != "PASSWORDSECRET" || !strings.Contains(p.Source, "USERINFOSECRET") {
			t.Fatalf("after PUT of new secrets: %s", stored.TaskParams)
		}

		// A marker that is not the stored value's redacted form.
		var e errorBody
		f.expect("PUT", path, scheduleJSON("hooked", yearly, `{"notify": {"webhook_url": "https://evil.example.com/…redacted…"}}`), 400, &e)
		if !strings.Contains(e.Error, "task_params.notify.webhook_url") {
			t.Errorf("foreign marker: %q", e.Error)
		}
		// A new schedule has no secret to keep.
		f.expect("POST", "/api/v1/schedules", scheduleJSON("copy", yearly, `{"api_token": "…redacted…"}`), 400, &e)
		if !strings.Contains(e.Error, "task_params.api_token") || !strings.Contains(e.Error, "redaction marker") {
			t.Errorf("create with a marker: %q", e.Error)
		}
		stored, _ = db.GetSchedule(ctx, sc.ID)
		if p.Notify.WebhookURL == "" || !strings.Contains(string(stored.TaskParams), "services/NEW") {
			t.Errorf("refused PUT changed the schedule: %s", stored.TaskParams)
		}
	})
}

// badInputCases are requests that must be 400 naming the field, never 500.
func badInputCases(t *testing.T, f *fixture, existing int64) {
	t.Helper()
	cases := []struct {
		method, path, body, says string
	}{
		{"GET", "/api/v1/schedules/2147483648", "", `id: "2147483648" out of range 1-2147483647`},
		{"PUT", "/api/v1/schedules/2147483648", scheduleJSON("x", yearly, `{}`), `id: "2147483648" out of range`},
		{"DELETE", "/api/v1/schedules/2147483648", "", `id: "2147483648" out of range`},
		{"POST", "/api/v1/schedules/2147483648/enable", "{}", `id: "2147483648" out of range`},
		{"POST", "/api/v1/schedules/2147483648/run", "{}", `id: "2147483648" out of range`},
		{"GET", "/api/v1/schedules/99999999999999999999", "", `id: "99999999999999999999" out of range`},
		{"PUT", "/api/v1/schedules/99999999999999999999", scheduleJSON("x", yearly, `{}`), `id: "99999999999999999999" out of range`},
		{"DELETE", "/api/v1/schedules/99999999999999999999", "", `id: "99999999999999999999" out of range`},
		{"GET", "/api/v1/runs/99999999999999999999", "", `id: "99999999999999999999" out of range`},
		{"GET", "/api/v1/runs?schedule_id=2147483648", "", `schedule_id: "2147483648" out of range`},
		{"GET", "/api/v1/schedules?user_id=2147483648", "", `user_id: "2147483648" out of range`},
		{"POST", "/api/v1/schedules", `{"user_id": 2147483648, "name": "big", "job_type": "script", "cron": "@yearly"}`, "user_id: 2147483648 out of range 1-2147483647"},
		{"POST", "/api/v1/schedules", `{"user_id": 1, "name": "nul\u0000name", "job_type": "script", "cron": "@yearly"}`, `name: "nul\x00name" holds a NUL byte`},
		{"POST", "/api/v1/schedules", scheduleJSON("nul-params", yearly, `{"script_path": "a\u0000b"}`), `task_params: "a\x00b" holds U+0000`},
		{"PUT", fmt.Sprintf("/api/v1/schedules/%d", existing), `{"user_id": 1, "name": "nul\u0000name", "job_type": "script", "cron": "@yearly"}`, `name: "nul\x00name" holds a NUL byte`},
		{"PUT", fmt.Sprintf("/api/v1/schedules/%d", existing), scheduleJSON("ok", yearly, `{"k\u0000": 1}`), `task_params: "k\x00" holds U+0000`},
		{"POST", "/api/v1/schedules", scheduleJSON("tab\tname", yearly, `{}`), `name: "tab\tname" holds the control character U+0009`},
		{"POST", "/api/v1/schedules", scheduleJSON("c1\u0085name", yearly, `{}`), `name: "c1\u0085name" holds the control character U+0085`},
		{"POST", "/api/v1/schedules", scheduleJSON("evil\u202egnp.exe", yearly, `{}`), `holds the bidirectional formatting character U+202E`},
		{"POST", "/api/v1/schedules", scheduleJSON("iso\u2066x", yearly, `{}`), `U+2066`},
		{"POST", "/api/v1/schedules", scheduleJSON("lrm\u200ex", yearly, `{}`), `U+200E`},
		{"POST", "/api/v1/schedules", scheduleJSON(strings.Repeat("é", 256), yearly, `{}`), "name: 256 characters, at most 255 allowed"},
		{"POST", "/api/v1/schedules", "{\"user_id\": 1, \"name\": \"bad\xffutf8\", \"job_type\": \"script\", \"cron\": \"@yearly\"}", "not valid UTF-8"},
		{"POST", "/api/v1/schedules", `{"user_id": 1, "name": "tgt", "job_type": "script", "cron": "@yearly", "target": "a\u0000"}`, "target:"},
		{"GET", "/api/v1/schedules?job_type=rocket", "", `job_type: unknown job type "rocket"`},
		{"GET", "/api/v1/schedules?enabled=maybe", "", `enabled: "maybe"`},
		{"GET", "/api/v1/schedules?limit=1001", "", "limit:"},
		{"GET", "/api/v1/schedules?offset=-1", "", "offset:"},
		{"GET", "/api/v1/schedules?jobtype=script", "", `unknown query parameter "jobtype"`},
		{"GET", "/api/v1/runs?status=exploded", "", `status: unknown run status "exploded"`},
		{"GET", "/api/v1/runs?limit=0", "", "limit:"},
		{"GET", "/api/v1/runs?state=failed", "", `unknown query parameter "state"`},
	}
	for _, c := range cases {
		code, b := f.do(c.method, c.path, c.body)
		var e errorBody
		_ = json.Unmarshal(b, &e)
		if code != http.StatusBadRequest {
			t.Errorf("%s %s: status %d, want 400; body %s", c.method, c.path, code, b)
			continue
		}
		if !strings.Contains(e.Error+"\n"+strings.Join(e.Problems, "\n"), c.says) {
			t.Errorf("%s %s: error %q problems %q; want it to say %q", c.method, c.path, e.Error, e.Problems, c.says)
		}
	}
}

// Bad input is a 400 naming the field and the (escaped) value on SQLite
// and PostgreSQL, never a 500 with the driver's text; nothing is changed.
func TestBadInputIs400(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		var sc store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("ok", yearly, `{}`), 201, &sc)
		badInputCases(t, f, sc.ID)
		if n, _ := db.CountSchedules(context.Background()); n != 1 {
			t.Errorf("%d schedules after refused requests, want 1", n)
		}
		got, _ := db.GetSchedule(context.Background(), sc.ID)
		if got.Name != "ok" || string(got.TaskParams) != "{}" {
			t.Errorf("refused PUTs changed the schedule: %+v", got)
		}
	})
}

// On the framework's live schema (int4 identity ids, int4 job_id) an id
// beyond int4 is a 400 too, not "unable to encode … for int4" as a 500.
func TestBadInputIs400OnFrameworkSchema(t *testing.T) {
	db := storetest.Framework(t, storetest.JobIDInt4)
	f := newFixture(t, db, options{noEngine: true})
	var sc store.Schedule
	f.expect("POST", "/api/v1/schedules", scheduleJSON("ok", yearly, `{}`), 201, &sc)
	badInputCases(t, f, sc.ID)
	// Run ids are int4 there as well.
	var e errorBody
	f.expect("GET", "/api/v1/runs/2147483648", "", 400, &e)
	if !strings.Contains(e.Error, "id: \"2147483648\" out of range 1-2147483647") {
		t.Errorf("run id: %q", e.Error)
	}
	if db.MaxRunID() != 2147483647 {
		t.Errorf("MaxRunID %d on the framework schema, want 2147483647", db.MaxRunID())
	}
}

// The store refuses out-of-range ids and NUL bytes with typed errors
// before the query, whatever the caller.
func TestStoreInputErrors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, err := db.GetSchedule(ctx, 1<<31)
		var ie *store.InputError
		if !errors.As(err, &ie) || ie.Field != "id" || !errors.Is(err, store.ErrOutOfRange) {
			t.Errorf("GetSchedule(2^31): %v", err)
		}
		err = db.CreateSchedule(ctx, &store.Schedule{UserID: 1, Name: "n\x00", JobType: "script", Cron: "@yearly", TaskParams: json.RawMessage(`{}`)})
		if !errors.As(err, &ie) || ie.Field != "name" || !errors.Is(err, store.ErrInvalidInput) {
			t.Errorf("CreateSchedule with NUL: %v", err)
		}
		err = db.CreateSchedule(ctx, &store.Schedule{UserID: 1, Name: "n", JobType: "script", Cron: "@yearly", TaskParams: json.RawMessage(`{"a":"\u0000"}`)})
		if !errors.As(err, &ie) || ie.Field != "task_params" {
			t.Errorf("CreateSchedule with \\u0000: %v", err)
		}
		// Escaped backslash followed by u0000 is text, not NUL.
		if err := db.CreateSchedule(ctx, &store.Schedule{UserID: 1, Name: "n", JobType: "script", Cron: "@yearly", TaskParams: json.RawMessage(`{"a":"\\u0000"}`)}); err != nil {
			t.Errorf(`CreateSchedule with \\u0000: %v`, err)
		}
	})
}
