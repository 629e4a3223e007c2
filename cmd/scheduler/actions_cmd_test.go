package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// cliDB is a database the CLI binary works on in a test.
type cliDB struct {
	dir string    // working directory, SCRIPT_ROOT (with scripts/ok.sh)
	env []string  // the process environment
	db  *store.DB // the test's own connection
}

// eachCLIDB runs fn with the binary pointed at SQLite and, when
// TEST_DATABASE_URL is set, PostgreSQL.
func eachCLIDB(t *testing.T, fn func(t *testing.T, c *cliDB)) {
	setup := func(t *testing.T, url string) *cliDB {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "scripts", "ok.sh"), []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		if url == "" {
			url = "sqlite:///" + filepath.Join(dir, "s.db")
		}
		c := &cliDB{dir: dir, env: append(testEnv(dir), "DATABASE_URL="+url, "SCHEDULER_RETRY_COUNT=2")}
		if _, code := c.run(t, "migrate"); code != 0 {
			t.Fatal("migrate failed")
		}
		return c
	}
	t.Run("sqlite", func(t *testing.T) {
		c := setup(t, "")
		c.db = storetest.Open(t, "sqlite", filepath.Join(c.dir, "s.db"))
		fn(t, c)
	})
	t.Run("postgres", func(t *testing.T) {
		url := storetest.PostgresURL(t)
		c := setup(t, url)
		c.db = storetest.Open(t, "postgres", url)
		fn(t, c)
	})
}

// run runs the binary and returns its combined output and exit status.
func (c *cliDB) run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Dir, cmd.Env = c.dir, c.env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("scheduler %s: %v", strings.Join(args, " "), err)
	return "", -1
}

// must runs the binary and fails the test unless it exits 0.
func (c *cliDB) must(t *testing.T, args ...string) string {
	t.Helper()
	out, code := c.run(t, args...)
	if code != 0 {
		t.Fatalf("scheduler %s: exit %d\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// scheduleID returns the id of the schedule named name.
func (c *cliDB) scheduleID(t *testing.T, name string) int64 {
	t.Helper()
	list, err := c.db.ListSchedules(context.Background(), store.ScheduleFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		if s.Name == name {
			return s.ID
		}
	}
	t.Fatalf("no schedule named %q", name)
	return 0
}

// `schedules run` gives a manual run 1 + options.retry_count attempts
// (else 1 + SCHEDULER_RETRY_COUNT), queued for the service or executed here.
func TestCLIRunNowHonoursRetryCount(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		ctx := context.Background()
		c.must(t, "schedules", "add", "--user", "1", "--name", "retried", "--type", "script", "--cron", "@yearly",
			"--params", `{"script_path": "scripts/ok.sh", "options": {"retry_count": 4}}`)
		c.must(t, "schedules", "add", "--user", "1", "--name", "plain", "--type", "script", "--cron", "@yearly",
			"--params", `{"script_path": "scripts/ok.sh"}`)
		retried, plain := c.scheduleID(t, "retried"), c.scheduleID(t, "plain")

		out := c.must(t, "schedules", "run", fmt.Sprint(retried))
		if c.db.Dialect() == "postgres" && !strings.Contains(out, "queued for schedule") {
			t.Fatalf("run on PostgreSQL without --local: %s", out)
		}
		out = c.must(t, "schedules", "run", "--local", fmt.Sprint(plain))
		if !strings.Contains(out, `"status": "completed"`) {
			t.Fatalf("run --local did not execute here:\n%s", out)
		}
		for id, want := range map[int64]int{retried: 5, plain: 3} {
			runs, err := c.db.ListRuns(ctx, store.RunFilter{ScheduleID: id})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 1 || runs[0].Kind != store.KindManual || runs[0].MaxAttempts != want {
				t.Fatalf("schedule %d runs %+v, want one manual run with max_attempts %d", id, runs, want)
			}
		}
	})
}

// `scheduler reload` fills a next_run_at that raw SQL left NULL, leaves a
// due one alone, and `status` then shows the next fire with no service.
func TestCLIReloadFillsNullNextRun(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		ctx := context.Background()
		if _, err := c.db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
			VALUES (1, 'raw-null', 'script', 'x', '{"script_path": "scripts/ok.sh"}', '0 * * * *', true),
			       (1, 'raw-due', 'script', 'x', '{"script_path": "scripts/ok.sh"}', '0 * * * *', true)`); err != nil {
			t.Fatal(err)
		}
		null, due := c.scheduleID(t, "raw-null"), c.scheduleID(t, "raw-due")
		past := time.Now().UTC().Add(-2 * time.Hour).Truncate(time.Hour)
		if err := c.db.SetNextRun(ctx, due, &past); err != nil {
			t.Fatal(err)
		}
		hourly, _ := cronexpr.Parse("0 * * * *", time.UTC)
		before := hourly.Next(time.Now())
		out := c.must(t, "reload")
		after := hourly.Next(time.Now())
		if !strings.Contains(out, "2 valid schedule(s), 0 invalid, next_run_at set for 1") {
			t.Fatalf("reload output:\n%s", out)
		}
		got, err := c.db.GetSchedule(ctx, null)
		if err != nil {
			t.Fatal(err)
		}
		if got.NextRunAt == nil || !(got.NextRunAt.Equal(before) || got.NextRunAt.Equal(after)) {
			t.Fatalf("next_run_at after reload = %v, want %s", got.NextRunAt, before)
		}
		if d, _ := c.db.GetSchedule(ctx, due); d.NextRunAt == nil || !d.NextRunAt.Equal(past) {
			t.Fatalf("a due next_run_at was moved: %v, want %s", d.NextRunAt, past)
		}
		status := c.must(t, "status")
		if !strings.Contains(status, "raw-null") || !strings.Contains(status, got.NextRunAt.Format(time.RFC3339)) {
			t.Fatalf("status does not show the next fire %s of raw-null:\n%s", got.NextRunAt.Format(time.RFC3339), status)
		}
	})
}

// Bad input exits 2 naming the field and value; a missing schedule exits 1.
func TestCLIActionErrorsExitCodes(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		out, code := c.run(t, "schedules", "add", "--user", "1", "--name", "x", "--type", "script", "--cron", "0 0 * * 8",
			"--params", `{"script_path": "scripts/ok.sh"}`)
		if code != 2 || !strings.Contains(out, `cron "0 0 * * 8": day-of-week: 8 out of range 0-7`) {
			t.Fatalf("add with a bad cron: exit %d\n%s", code, out)
		}
		out, code = c.run(t, "schedules", "add", "--name", "x", "--type", "script", "--cron", "@daily",
			"--params", `{"script_path": "scripts/ok.sh"}`)
		if code != 2 || !strings.Contains(out, "user_id: required") {
			t.Fatalf("add without --user: exit %d\n%s", code, out)
		}
		c.must(t, "schedules", "add", "--user", "1", "--name", "x", "--type", "script", "--cron", "@daily",
			"--params", `{"script_path": "scripts/ok.sh"}`)
		out, code = c.run(t, "schedules", "add", "--user", "1", "--name", "x", "--type", "script", "--cron", "@daily",
			"--params", `{"script_path": "scripts/ok.sh"}`)
		if code != 2 || !strings.Contains(out, `name: user 1 already has a schedule named "x"`) {
			t.Fatalf("add of a taken name: exit %d\n%s", code, out)
		}
		for _, c2 := range []struct {
			args []string
			says string
		}{
			{[]string{"runs", "list", "--status", "bogus"}, `--status: unknown run status "bogus"`},
			{[]string{"runs", "list", "--limit", "0"}, "--limit: 0 out of range"},
		} {
			if out, code := c.run(t, c2.args...); code != 2 || !strings.Contains(out, c2.says) {
				t.Errorf("%s: exit %d\n%s", strings.Join(c2.args, " "), code, out)
			}
		}
		for _, args := range [][]string{{"enable", "999"}, {"disable", "999"}, {"delete", "999"}, {"run", "999"}} {
			out, code = c.run(t, append([]string{"schedules"}, args...)...)
			if code != 1 || !strings.Contains(out, "schedule 999") || !strings.Contains(out, "not found") {
				t.Errorf("schedules %s: exit %d\n%s", strings.Join(args, " "), code, out)
			}
		}
	})
}

// schedules update changes the fields given and keeps the others (secrets
// in task_params too); an invalid change exits 2 naming the field and
// saves nothing; no flag, or an unknown schedule, is refused.
func TestCLISchedulesUpdate(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		ctx := context.Background()
		c.must(t, "schedules", "add", "--user", "1", "--name", "upd", "--type", "script", "--cron", "@daily",
			"--params", `{"script_path": "scripts/ok.sh", "env": {"API_TOKEN": "s3cret"}}`)
		list, err := c.db.ListSchedules(ctx, store.ScheduleFilter{Name: "upd"})
		if err != nil || len(list) != 1 {
			t.Fatalf("schedule upd: %v, %v", list, err)
		}
		before, id := list[0], list[0].ID
		out := c.must(t, "schedules", "update", "upd", "--cron", "*/30 * * * *", "--timezone", "Europe/Zurich", "--json")
		if strings.Contains(out, "s3cret") {
			t.Fatalf("update printed a secret:\n%s", out)
		}
		got, err := c.db.GetSchedule(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Cron != "*/30 * * * *" || got.Timezone != "Europe/Zurich" || got.Name != "upd" || got.JobType != "script" ||
			got.UserID != 1 || string(got.TaskParams) != string(before.TaskParams) || !got.Enabled {
			t.Fatalf("after update: %+v (task_params %s); want the new cron and zone, the rest kept (%s)", got, got.TaskParams, before.TaskParams)
		}
		out, code := c.run(t, "schedules", "update", strconv.FormatInt(id, 10), "--cron", "0 0 30 2 *")
		if code != 2 || !strings.Contains(out, `cron "0 0 30 2 *" never fires`) {
			t.Fatalf("update to a never-firing cron: exit %d\n%s", code, out)
		}
		if s, _ := c.db.GetSchedule(ctx, id); s.Cron != "*/30 * * * *" {
			t.Fatalf("a refused update changed the cron to %q", s.Cron)
		}
		if out, code := c.run(t, "schedules", "update", "upd"); code != 2 || !strings.Contains(out, "nothing to change") {
			t.Fatalf("update without a flag: exit %d\n%s", code, out)
		}
		if out, code := c.run(t, "schedules", "update", "999", "--cron", "@hourly"); code != 1 || !strings.Contains(out, "999") {
			t.Fatalf("update of an unknown schedule: exit %d\n%s", code, out)
		}
	})
}
