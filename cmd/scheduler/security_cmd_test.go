package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// cliSecretParams is a script schedule's task_params with secrets in it.
const cliSecretParams = `{"script_path": "scripts/ok.sh", "script_args": ["--dsn=postgres://etl:ARGSECRET@db.example.com/prices"],
	"notify": {"channels": ["webhook"], "webhook_url": "https://hooks.example.com/services/WEBHOOKSECRET"}, "api_token": "TOKENSECRET"}`

// `schedules show/list` and `runs list` show secrets redacted; the stored
// task_params are unchanged.
func TestCLIRedactsSecrets(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		c.must(t, "schedules", "add", "--user", "1", "--name", "hooked", "--type", "script", "--cron", "@yearly",
			"--params", cliSecretParams)
		id := c.scheduleID(t, "hooked")
		c.must(t, "schedules", "run", "--local", fmt.Sprint(id))
		for _, args := range [][]string{
			{"schedules", "show", fmt.Sprint(id)},
			{"schedules", "list", "--json"},
			{"schedules", "list"},
			{"runs", "list", "--json"},
			{"status"},
			{"status", "--json"},
		} {
			out := c.must(t, args...)
			for _, secret := range []string{"ARGSECRET", "WEBHOOKSECRET", "TOKENSECRET"} {
				if strings.Contains(out, secret) {
					t.Errorf("%s shows %s:\n%s", strings.Join(args, " "), secret, out)
				}
			}
		}
		out := c.must(t, "schedules", "show", fmt.Sprint(id))
		for _, want := range []string{`"webhook_url": "https://hooks.example.com/…redacted…"`, `"api_token": "…redacted…"`,
			`postgres://…redacted…@db.example.com/prices`} {
			if !strings.Contains(out, want) {
				t.Errorf("show lacks %s:\n%s", want, out)
			}
		}
		stored, err := c.db.GetSchedule(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		_ = json.Unmarshal(stored.TaskParams, &a)
		_ = json.Unmarshal([]byte(cliSecretParams), &b)
		if x, y := mustJSON(a), mustJSON(b); x != y {
			t.Errorf("stored task_params changed by reading:\n%s\nwant\n%s", x, y)
		}
	})
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Bad input to `schedules add/show/list` exits 2 naming the field and the
// escaped value: ids beyond the column, NUL bytes, control and bidi
// characters, unknown filter values. A missing schedule still exits 1.
func TestCLIBadInputExits2(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		add := func(name, params string) []string {
			return []string{"schedules", "add", "--user", "1", "--name", name, "--type", "script", "--cron", "@yearly", "--params", params}
		}
		ok := `{"script_path": "scripts/ok.sh"}`
		for _, tc := range []struct {
			args []string
			says string
		}{
			{[]string{"schedules", "show", "2147483648"}, `id: "2147483648" out of range 1-2147483647`},
			{[]string{"schedules", "show", "99999999999999999999"}, `ID: "99999999999999999999" out of range`},
			{[]string{"schedules", "delete", "2147483648"}, `id: "2147483648" out of range`},
			{[]string{"schedules", "enable", "2147483648"}, `id: "2147483648" out of range`},
			{[]string{"schedules", "run", "2147483648"}, `id: "2147483648" out of range`},
			{[]string{"schedules", "add", "--user", "2147483648", "--name", "big", "--type", "script", "--cron", "@yearly", "--params", ok}, "user_id: 2147483648 out of range 1-2147483647"},
			{add("tab\tname", ok), `name: "tab\tname" holds the control character U+0009`},
			{add("esc\x1b[31mred", ok), `holds the control character U+001B`},
			{add("evil\u202egnp.exe", ok), `holds the bidirectional formatting character U+202E`},
			{add("bad\xffutf8", ok), `name: "bad\xffutf8" is not valid UTF-8`},
			{add(strings.Repeat("x", 256), ok), "name: 256 characters, at most 255 allowed"},
			{add("nul-params", `{"script_path": "scripts/ok.sh", "script_args": ["a\u0000b"]}`), `task_params: "a\x00b" holds U+0000`},
			{add("marker", `{"script_path": "scripts/ok.sh", "api_token": "…redacted…"}`), "task_params.api_token: holds the redaction marker"},
			{[]string{"schedules", "list", "--type", "rocket"}, `--type: unknown job type "rocket"`},
			{[]string{"schedules", "list", "--enabled", "maybe"}, `--enabled: "maybe" is not true or false`},
			{[]string{"schedules", "list", "--limit", "0"}, "--limit: 0 out of range"},
			{[]string{"schedules", "list", "--offset", "-1"}, "--offset: -1 is negative"},
			{[]string{"runs", "list", "--schedule", "2147483648"}, `schedule_id: "2147483648" out of range`},
		} {
			out, code := c.run(t, tc.args...)
			if code != 2 || !strings.Contains(out, tc.says) {
				t.Errorf("%q: exit %d, want 2 saying %q:\n%s", tc.args, code, tc.says, out)
			}
		}
		if n, _ := c.db.CountSchedules(context.Background()); n != 0 {
			t.Errorf("%d schedules after refused adds, want 0", n)
		}
		if out, code := c.run(t, "schedules", "show", "2147483647"); code != 1 || !strings.Contains(out, "not found") {
			t.Errorf("show of a missing id: exit %d\n%s", code, out)
		}
	})
}
