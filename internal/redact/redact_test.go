package redact_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/redact"
)

const params = `{"script_path":"src/data/x.py","notify":{"channels":["webhook"],"webhook_url":"https://hooks.example.com/services/T0/B0/abc?k=1","url":"https://alt.example.com/x/y"},` +
	`"API_Key":"k-123","nested":{"deeper":[{"bot_token":"123:ABC"}]},"smtp_password":"pw","SMTP_PORT":587,` +
	`"db":"postgres://u:p@db.example.com/prod","args":["--dsn=postgres://u:p@h/db","plain"],"max_retries":3,"use_token":true,"password":""}`

func TestJSONRedactsByKeyAndShape(t *testing.T) {
	got := string(redact.JSON(json.RawMessage(params)))
	for _, secret := range []string{"T0/B0", "k=1", "/x/y", "k-123", "123:ABC", `"pw"`, "587", "u:p@"} {
		if strings.Contains(got, secret) {
			t.Errorf("redacted form still holds %q:\n%s", secret, got)
		}
	}
	for _, want := range []string{
		`"webhook_url":"https://hooks.example.com/…redacted…"`,
		`"url":"https://alt.example.com/…redacted…"`,
		`"API_Key":"…redacted…"`,
		`"bot_token":"…redacted…"`,
		`"SMTP_PORT":"…redacted…"`,
		`"db":"postgres://db.example.com/…redacted…"`,
		`"--dsn=postgres://…redacted…@h/db"`,
		`"script_path":"src/data/x.py"`,
		`"max_retries":3`,
		`"use_token":true`,
		`"password":""`,
		`"channels":["webhook"]`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("redacted form lacks %s:\n%s", want, got)
		}
	}
	// Key order is kept.
	if strings.Index(got, "script_path") > strings.Index(got, "notify") {
		t.Errorf("key order changed: %s", got)
	}
	plain := `{"a": 1,  "b": "x"}`
	if got := string(redact.JSON(json.RawMessage(plain))); got != plain {
		t.Errorf("nothing secret: got %s, want the text unchanged", got)
	}
}

func TestRestore(t *testing.T) {
	shown := redact.JSON(json.RawMessage(params))
	back, err := redact.Restore("task_params", shown, json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	_ = json.Unmarshal(back, &a)
	_ = json.Unmarshal([]byte(params), &b)
	if ab, _ := json.Marshal(a); string(ab) != string(must(json.Marshal(b))) {
		t.Errorf("round trip changed the params:\n got %s\nwant %s", back, params)
	}
	// A new value replaces the stored one; the others are kept.
	edited := strings.Replace(string(shown), `"…redacted…","nested"`, `"new-key","nested"`, 1)
	back, err = redact.Restore("task_params", json.RawMessage(edited), json.RawMessage(params))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(back), `"API_Key":"new-key"`) || !strings.Contains(string(back), `"bot_token":"123:ABC"`) {
		t.Errorf("edit: %s", back)
	}
	// A marker at a path whose stored value differs is refused.
	_, err = redact.Restore("task_params", json.RawMessage(`{"notify":{"webhook_url":"https://evil.example.com/…redacted…"}}`), json.RawMessage(params))
	var me *redact.MarkerError
	if !errors.As(err, &me) || me.Path != "task_params.notify.webhook_url" {
		t.Errorf("foreign marker: err %v", err)
	}
	if err := redact.Check("task_params", json.RawMessage(`{"x":[1,"\u2026redacted\u2026"]}`)); !errors.As(err, &me) || me.Path != "task_params.x[1]" {
		t.Errorf("Check: %v", err)
	}
}

func TestText(t *testing.T) {
	in := `webhook: Post "https://hooks.example.com/services/T/B/secret?x=1": dial tcp; see https://example.com/ or https://u:p@h.example.com.`
	got := redact.Text(in)
	if strings.Contains(got, "secret") || strings.Contains(got, "u:p") {
		t.Errorf("Text: %s", got)
	}
	if !strings.Contains(got, `"https://hooks.example.com/…redacted…"`) || !strings.Contains(got, "https://example.com/ or") ||
		!strings.Contains(got, "https://h.example.com/…redacted….") {
		t.Errorf("Text: %s", got)
	}
}

func must(b []byte, _ error) string { return string(b) }
