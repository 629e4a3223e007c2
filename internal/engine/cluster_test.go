package engine

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Three engines share one PostgreSQL database: 200 schedules firing every
// second for 10 s give exactly one run row per (schedule, instant) and no
// instant inside the window is missing. (A row is completed, or skipped when
// the schedule's previous run was still running; both record the instant.)
func TestThreeEnginesShareWorkExactlyOnce(t *testing.T) {
	url := storetest.PostgresURL(t)
	setup := storetest.Open(t, "postgres", url)
	const schedules = 200
	for i := range schedules {
		addSchedule(t, setup, fmt.Sprintf("s%03d", i), "* * * * * *", `{}`)
	}
	var stops []func()
	for i := range 3 {
		db := storetest.Open(t, "postgres", url)
		o := testOptions()
		o.NodeID = fmt.Sprintf("node-%d", i)
		o.Workers = 50
		o.Lease = 10 * time.Second
		e := New(db, map[string]Handler{"script": noop()}, o)
		stops = append(stops, startEngine(t, e))
	}
	// The window starts after every engine has initialised next_run_at.
	start := time.Now().Truncate(time.Second).Add(2 * time.Second)
	end := start.Add(10 * time.Second)
	waitFor(t, 40*time.Second, "every instant of the window to complete", func() bool {
		var n int
		err := setup.SQL().QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE (status = 'completed' OR reason = 'skipped')
			AND scheduled_for >= $1 AND scheduled_for < $2`, start, end).Scan(&n)
		return err == nil && n >= schedules*10
	}, func() string {
		rows, _ := setup.SQL().Query(`SELECT status, kind, COUNT(*) FROM job_schedule_runs WHERE scheduled_for >= $1 AND scheduled_for < $2 GROUP BY 1, 2`, start, end)
		defer rows.Close()
		out := ""
		for rows.Next() {
			var st, k string
			var n int
			rows.Scan(&st, &k, &n)
			out += fmt.Sprintf("%s/%s=%d ", st, k, n)
		}
		return out
	})
	for _, stop := range stops {
		stop()
	}
	var dups int
	if err := setup.SQL().QueryRow(`SELECT COUNT(*) FROM (SELECT job_id, scheduled_for FROM job_schedule_runs
		GROUP BY job_id, scheduled_for HAVING COUNT(*) > 1) d`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups != 0 {
		t.Fatalf("%d (schedule, instant) pairs have more than one run", dups)
	}
	rows, err := setup.SQL().Query(`SELECT job_id, COUNT(*) FROM job_schedule_runs
		WHERE scheduled_for >= $1 AND scheduled_for < $2 GROUP BY job_id`, start, end)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	perSchedule := 0
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		if n != 10 {
			t.Errorf("schedule %s: %d runs in the 10 s window, want 10", id, n)
		}
		perSchedule++
	}
	if perSchedule != schedules {
		t.Fatalf("%d schedules ran in the window, want %d", perSchedule, schedules)
	}
	var completed int
	if err := setup.SQL().QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE status = 'completed'
		AND scheduled_for >= $1 AND scheduled_for < $2`, start, end).Scan(&completed); err != nil {
		t.Fatal(err)
	}
	if completed < schedules*10/2 {
		t.Fatalf("only %d of %d fires completed; the rest were skipped", completed, schedules*10)
	}
}

// The web UI inserts a pending run itself and announces it on
// scheduler_manual_trigger; two engines listen; the run executes once.
func TestManualTriggerFromAnotherProcessRunsOnce(t *testing.T) {
	url := storetest.PostgresURL(t)
	ui := storetest.Open(t, "postgres", url)
	sc := addSchedule(t, ui, "manual", "@every 24h", `{}`)
	var calls atomic.Int32
	h := funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
		calls.Add(1)
		if job.Schedule.ID != sc.ID || job.Schedule.Name != "manual" {
			return nil, fmt.Errorf("job carries schedule %+v", job.Schedule)
		}
		return &Outcome{Result: "done"}, nil
	})
	for i := range 2 {
		o := testOptions()
		o.NodeID = fmt.Sprintf("n%d", i)
		startEngine(t, New(storetest.Open(t, "postgres", url), map[string]Handler{"script": h}, o))
	}
	// As the original web UI does: a bare row, no snapshot, then NOTIFY.
	var runID int64
	if err := ui.SQL().QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for)
		VALUES ('script', $1, 1, 'pending', now()) RETURNING id`, fmt.Sprint(sc.ID)).Scan(&runID); err != nil {
		t.Fatal(err)
	}
	if err := ui.Notify(context.Background(), store.ChannelManualTrigger, fmt.Sprintf(`{"run_id": %d, "schedule_id": %d}`, runID, sc.ID)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the manual run to complete", func() bool {
		r, err := ui.GetRun(context.Background(), runID)
		return err == nil && r.Status == store.StatusCompleted
	})
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1", n)
	}
}

// The database connections die while the engine runs (as in a PostgreSQL
// restart): the process stays up, retries and fires again once they are back.
func TestSurvivesLostDatabaseConnections(t *testing.T) {
	url := storetest.PostgresURL(t) + "&application_name=engine-lost-db-test"
	db := storetest.Open(t, "postgres", url)
	sc := addSchedule(t, db, "tick", "* * * * * *", `{}`)
	e := New(db, map[string]Handler{"script": noop()}, testOptions())
	startEngine(t, e)
	// Observe through a connection of our own, which is not killed.
	admin := storetest.Open(t, "postgres", strings.Replace(url, "engine-lost-db-test", "observer", 1))
	completed := func() int { return countStatus(runsOf(t, admin, sc.ID), "completed") }
	waitFor(t, 10*time.Second, "a first completed run", func() bool { return completed() >= 1 })
	var killed int
	if err := admin.SQL().QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'engine-lost-db-test'`).Scan(&killed); err != nil || killed == 0 {
		t.Fatalf("terminated %d backends: %v", killed, err)
	}
	before := completed()
	waitFor(t, 20*time.Second, "runs to complete again after the connections were killed", func() bool { return completed() >= before+2 })
}
