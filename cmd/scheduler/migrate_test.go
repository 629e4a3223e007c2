package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// migrateCLI runs `scheduler migrate args…` against the database url.
func migrateCLI(t *testing.T, url string, args ...string) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(binary, append([]string{"migrate"}, args...)...)
	cmd.Dir, cmd.Env = dir, append(testEnv(dir), "DATABASE_URL="+url, "LOG_LEVEL=ERROR")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("scheduler migrate %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// On the framework's live schema, `migrate --dry-run` prints what adoption
// would do and changes nothing; `migrate` does it; a second run has nothing
// to do.
func TestMigrateDryRunOnFrameworkSchema(t *testing.T) {
	url := storetest.FrameworkURL(t, storetest.JobIDInt4)
	db, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: url})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id int64
	if err := db.SQL().QueryRow(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron)
		VALUES (1, 'vix', 'data_processing', 'src.data.vix', '{}', '0 * * * *') RETURNING id`).Scan(&id); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SQL().Exec(`INSERT INTO job_schedule_runs (job_type, job_id, status, scheduled_for, enqueued_at)
		VALUES ('data_processing', $1, 'running', $2, $2)`, id, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	hasLease := func() bool {
		var n int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = 'job_schedule_runs' AND column_name = 'lease_owner'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	out := migrateCLI(t, url, "--dry-run")
	for _, want := range []string{"dry run: nothing changed", "runs retired: 1", "job_schedule_runs.lease_owner text",
		"ux_job_schedule_runs_one_running", "job_id is integer"} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	var status string
	if err := db.SQL().QueryRow(`SELECT status FROM job_schedule_runs`).Scan(&status); err != nil || status != "running" || hasLease() {
		t.Fatalf("dry run changed the database: status %q (%v), lease_owner added %v", status, err, hasLease())
	}
	out = migrateCLI(t, url)
	if !strings.Contains(out, "runs retired: 1") || !strings.Contains(out, "adopting") || strings.Contains(out, "dry run") {
		t.Errorf("migrate output:\n%s", out)
	}
	if err := db.SQL().QueryRow(`SELECT status FROM job_schedule_runs`).Scan(&status); err != nil || status != "cancelled" || !hasLease() {
		t.Fatalf("after migrate: status %q (%v), lease_owner added %v", status, err, hasLease())
	}
	if out := migrateCLI(t, url); !strings.Contains(out, "up to date") {
		t.Errorf("second migrate:\n%s", out)
	}
}
