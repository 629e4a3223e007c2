package engine

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Tests on the trading framework's own tables (storetest.FrameworkURL), for
// each type its databases give job_schedule_runs.job_id.

// openRaw opens the database at url without migrating it: the framework's
// tools and web UI, writing by raw SQL.
func openRaw(t testing.TB, url string) *sql.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db.SQL()
}

// fwJobID is a schedule id as the framework's job_id column of type typ holds it.
func fwJobID(typ storetest.JobIDType, id int64) any {
	if typ == storetest.JobIDVarchar {
		return fmt.Sprint(id)
	}
	return id
}

// fwSchedule inserts a schedule as the framework's tools do: no id, no
// state_json, NULL next_run_at unless next is set.
func fwSchedule(t testing.TB, db *sql.DB, name, jobType, cron, params string, next *time.Time) int64 {
	t.Helper()
	var id int64
	if err := db.QueryRow(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled,
		next_run_at, created_at, updated_at) VALUES (1, $1, $2, $3, $4::jsonb, $5, true, $6, now(), now()) RETURNING id`,
		name, jobType, "src."+name, params, cron, next).Scan(&id); err != nil {
		t.Fatalf("insert schedule %s: %v", name, err)
	}
	return id
}

// rowsJSON returns every row of table as to_jsonb gives it, by id.
func rowsJSON(t testing.TB, db *sql.DB, table string) map[int64]map[string]any {
	t.Helper()
	rows, err := db.Query(`SELECT id, to_jsonb(x)::text FROM ` + table + ` x`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]map[string]any{}
	for rows.Next() {
		var id int64
		var s string
		if err := rows.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		out[id] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Adopting a live framework database: schedules inserted by its tools and
// runs the old service left pending or running are found; migration
// retires the stale runs (cancelled, result.reason retired) and changes
// nothing else in the framework's columns.
func TestFrameworkAdoption(t *testing.T) {
	for _, typ := range storetest.JobIDTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			url := storetest.FrameworkURL(t, typ)
			raw := openRaw(t, url)
			etl := fwSchedule(t, raw, "etl", "script", "0 * * * *", `{"script_path": "src/etl.py"}`, nil)
			rsi := fwSchedule(t, raw, "btc-rsi", "alert", "*/5 * * * *", `{"ticker": "BTCUSDT", "timeframe": "1h"}`, nil)
			run := func(sched int64, status string, age time.Duration, started bool, result, errText any) int64 {
				t.Helper()
				at := time.Now().Add(-age)
				var startedAt, finishedAt any
				if started {
					startedAt = at
				}
				if status == "completed" || status == "failed" {
					finishedAt = at.Add(time.Second)
				}
				snap := fmt.Sprintf(`{"id": %d, "job_type": "x", "scheduled_by": "apscheduler"}`, sched)
				var id int64
				if err := raw.QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for,
					enqueued_at, started_at, finished_at, job_snapshot, result, error)
					VALUES ((SELECT job_type FROM job_schedules WHERE id = $1), $2, 1, $3, $4, $4, $5, $6, $7::jsonb, $8::jsonb, $9)
					RETURNING id`, sched, fwJobID(typ, sched), status, at, startedAt, finishedAt, snap, result, errText).Scan(&id); err != nil {
					t.Fatal(err)
				}
				return id
			}
			stale := map[int64]bool{
				run(etl, "running", 20*time.Minute, true, nil, nil):           true,
				run(etl, "running", 15*time.Minute, true, nil, nil):           true,
				run(rsi, "pending", 30*time.Minute, false, nil, nil):          true,
				run(etl, "completed", 2*time.Hour, true, `{"ok": true}`, nil): false,
				run(rsi, "failed", time.Hour, true, nil, "boom"):              false,
				run(rsi, "pending", 2*time.Minute, false, nil, nil):           false, // young: left alone
			}
			beforeRuns := rowsJSON(t, raw, "job_schedule_runs")
			beforeSchedules := rowsJSON(t, raw, "job_schedules")

			db := storetest.Open(t, "postgres", url) // migrates: adoption

			afterRuns := rowsJSON(t, raw, "job_schedule_runs")
			afterSchedules := rowsJSON(t, raw, "job_schedules")
			if len(afterRuns) != len(beforeRuns) || len(afterSchedules) != len(beforeSchedules) {
				t.Fatalf("rows before/after: runs %d/%d, schedules %d/%d", len(beforeRuns), len(afterRuns),
					len(beforeSchedules), len(afterSchedules))
			}
			changedByRetire := map[string]bool{"status": true, "finished_at": true, "result": true, "error": true}
			for id, before := range beforeRuns {
				after := afterRuns[id]
				for k, v := range before {
					if stale[id] && changedByRetire[k] {
						continue
					}
					if !reflect.DeepEqual(after[k], v) {
						t.Errorf("run %d: %s changed from %v to %v", id, k, v, after[k])
					}
				}
				if !stale[id] {
					continue
				}
				res, _ := after["result"].(map[string]any)
				if after["status"] != "cancelled" || res["reason"] != store.ReasonRetired || after["finished_at"] == nil || after["error"] == nil {
					t.Errorf("stale run %d after adoption: status %v, result %v, finished_at %v, error %v; want cancelled, reason %q",
						id, after["status"], after["result"], after["finished_at"], after["error"], store.ReasonRetired)
				}
			}
			for id, before := range beforeSchedules {
				for k, v := range before {
					if !reflect.DeepEqual(afterSchedules[id][k], v) {
						t.Errorf("schedule %d: %s changed from %v to %v", id, k, v, afterSchedules[id][k])
					}
				}
			}
			storetest.CheckReaders(t, db)
		})
	}
}

// fwHandlers are the test handlers of the framework tests: script jobs
// complete at once (the schedule named "slow" takes 1.5 s, cron fires of
// the one named "busy" 300 ms), alert jobs
// return a state that the completion writes to state_json.
func fwHandlers(calls *atomic.Int64) map[string]Handler {
	return map[string]Handler{
		"script": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			calls.Add(1)
			work := time.Duration(0)
			switch {
			case job.Schedule.Name == "slow":
				work = 1500 * time.Millisecond
			case job.Schedule.Name == "busy" && job.Run.Kind == store.KindCron:
				work = 300 * time.Millisecond
			}
			if work > 0 {
				select {
				case <-time.After(work): // the job's work
				case <-ctx.Done():
				}
			}
			return &Outcome{Result: map[string]any{"ok": true}}, nil
		}),
		"alert": funcHandler(func(ctx context.Context, job *Job) (*Outcome, error) {
			calls.Add(1)
			st, _ := json.Marshal(map[string]any{"last_scheduled_for": job.Run.ScheduledFor.UTC().Format(time.RFC3339), "status": "ARMED"})
			return &Outcome{Result: map[string]any{"triggered": false}, State: st}, nil
		}),
	}
}

// fwRun is a run row as the framework holds it.
type fwRun struct {
	id                  int64
	jobID, status, kind string
	reason              sql.NullString
	at                  time.Time
	started             sql.NullTime
	snapshot, result    []byte
}

func fwRuns(t testing.TB, db *sql.DB, scheduleID int64) []fwRun {
	t.Helper()
	rows, err := db.Query(`SELECT id, CAST(job_id AS TEXT), COALESCE(status, ''), kind, reason, scheduled_for, started_at,
		COALESCE(job_snapshot::text, ''), COALESCE(result::text, '')
		FROM job_schedule_runs WHERE CAST(job_id AS TEXT) = $1 ORDER BY scheduled_for, id`, fmt.Sprint(scheduleID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []fwRun
	for rows.Next() {
		var r fwRun
		var snap, res string
		if err := rows.Scan(&r.id, &r.jobID, &r.status, &r.kind, &r.reason, &r.at, &r.started, &snap, &res); err != nil {
			t.Fatal(err)
		}
		r.snapshot, r.result = []byte(snap), []byte(res)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func fwCount(runs []fwRun, f func(r fwRun) bool) int {
	n := 0
	for _, r := range runs {
		if f(r) {
			n++
		}
	}
	return n
}

// fwManualRun inserts a pending run as the framework's web UI does and
// announces it on scheduler_manual_trigger; it returns the run id and the
// time just before the NOTIFY.
func fwManualRun(t testing.TB, db *sql.DB, typ storetest.JobIDType, scheduleID int64, name string) (int64, time.Time) {
	t.Helper()
	snap, _ := json.Marshal(map[string]any{"schedule_id": scheduleID, "schedule_name": name, "target": "src." + name,
		"task_params": map[string]any{}, "trigger_type": "manual"})
	var id int64
	if err := db.QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for, job_snapshot)
		VALUES ((SELECT job_type FROM job_schedules WHERE id = $1), $2, 1, 'pending', now(), $3::jsonb) RETURNING id`,
		scheduleID, fwJobID(typ, scheduleID), string(snap)).Scan(&id); err != nil {
		t.Fatal(err)
	}
	at := time.Now()
	if _, err := db.Exec(`SELECT pg_notify('scheduler_manual_trigger', $1)`,
		fmt.Sprintf(`{"run_id": %d, "schedule_id": %d}`, id, scheduleID)); err != nil {
		t.Fatal(err)
	}
	return id, at
}

// Real fires on the framework's tables: every-second cron fires, a manual
// run from the web UI, a coalesced fire, a missed record, skipped fires of
// a slow job and an alert whose state lands in the text state_json; one
// row per (schedule, instant), and the framework's readers accept them all.
func TestFrameworkFires(t *testing.T) {
	for _, typ := range storetest.JobIDTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			url := storetest.FrameworkURL(t, typ)
			raw := openRaw(t, url)
			db := storetest.Open(t, "postgres", url)
			base := time.Now().Truncate(time.Second)
			lateAt, goneAt := base.Add(-15*time.Second), base.Add(-60*time.Second)
			ids := map[string]int64{
				"tick":  fwSchedule(t, raw, "tick", "script", "* * * * * *", `{}`, nil),
				"watch": fwSchedule(t, raw, "watch", "alert", "* * * * * *", `{"ticker": "BTCUSDT"}`, nil),
				"slow":  fwSchedule(t, raw, "slow", "script", "* * * * * *", `{}`, nil),
				// Down for 15 s: beyond the 5 s threshold, within the 30 s
				// grace: coalesced. Down for 60 s: the first 30 s missed.
				"late": fwSchedule(t, raw, "late", "script", "* * * * * *", `{}`, &lateAt),
				"gone": fwSchedule(t, raw, "gone", "script", "* * * * * *", `{}`, &goneAt),
			}
			o := testOptions()
			o.Workers = 8
			o.MisfireThreshold, o.MisfireGrace, o.Coalesce = 5*time.Second, 30*time.Second, true
			var calls atomic.Int64
			e := New(db, fwHandlers(&calls), o)
			stop := startEngine(t, e)

			runs := func(name string) []fwRun { return fwRuns(t, raw, ids[name]) }
			completed := func(r fwRun) bool { return r.status == store.StatusCompleted }
			waitFor(t, 15*time.Second, "a completed fire of tick", func() bool { return fwCount(runs("tick"), completed) >= 1 })
			manualID, _ := fwManualRun(t, raw, typ, ids["tick"], "tick")
			waitFor(t, 20*time.Second, "every kind of row", func() bool {
				return fwCount(runs("tick"), func(r fwRun) bool { return r.kind == store.KindCron && completed(r) }) >= 3 &&
					fwCount(runs("tick"), func(r fwRun) bool { return r.id == manualID && completed(r) }) == 1 &&
					fwCount(runs("watch"), completed) >= 2 &&
					fwCount(runs("slow"), func(r fwRun) bool { return r.reason.String == "skipped" }) >= 1 &&
					fwCount(runs("slow"), completed) >= 1 &&
					fwCount(runs("late"), func(r fwRun) bool { return r.kind == store.KindCoalesced && completed(r) }) == 1 &&
					fwCount(runs("gone"), func(r fwRun) bool { return r.kind == store.KindCoalesced && completed(r) }) == 1 &&
					fwCount(runs("gone"), func(r fwRun) bool { return r.reason.String == "missed" }) == 1
			}, func() string {
				var b strings.Builder
				for name := range ids {
					fmt.Fprintf(&b, "\n%s:", name)
					for _, r := range runs(name) {
						fmt.Fprintf(&b, " %s/%s/%s@%s", r.kind, r.status, r.reason.String, r.at.Format("05"))
					}
				}
				return b.String()
			})
			stop()

			var dups int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM (SELECT job_id, scheduled_for FROM job_schedule_runs
				GROUP BY job_id, scheduled_for HAVING COUNT(*) > 1) d`).Scan(&dups); err != nil || dups != 0 {
				t.Fatalf("%d (schedule, instant) pairs with more than one row (%v)", dups, err)
			}
			for name, id := range ids {
				rs := fwRuns(t, raw, id)
				var instants []time.Time
				for _, r := range rs {
					switch {
					case r.status == store.StatusCompleted:
					case r.status == store.StatusCancelled && (r.reason.String == "skipped" || r.reason.String == "missed"):
						var res struct{ Reason string }
						if json.Unmarshal(r.result, &res) != nil || res.Reason != r.reason.String {
							t.Errorf("%s: run %d cancelled (%s) with result %s", name, r.id, r.reason.String, r.result)
						}
					default:
						t.Errorf("%s: run %d is %s (reason %q) after the engine stopped", name, r.id, r.status, r.reason.String)
					}
					if r.kind == store.KindCron || r.kind == store.KindCoalesced {
						instants = append(instants, r.at)
					}
				}
				// One row per instant, none missing: consecutive seconds
				// from the first fire (a coalesced run stands for the
				// instants before it) to the last.
				for i := 1; i < len(instants); i++ {
					if d := instants[i].Sub(instants[i-1]); d != time.Second {
						t.Errorf("%s: instants %s and %s are %s apart, want 1 s", name,
							instants[i-1].Format(time.TimeOnly), instants[i].Format(time.TimeOnly), d)
					}
				}
				switch name {
				case "late", "gone":
					from := lateAt
					if name == "gone" {
						m := rs[0]
						var res struct {
							Reason      string    `json:"reason"`
							MissedCount int       `json:"missed_count"`
							From        time.Time `json:"from"`
							To          time.Time `json:"to"`
						}
						_ = json.Unmarshal(m.result, &res)
						if m.kind != store.KindMissed || !m.at.Equal(goneAt) || res.MissedCount != int(res.To.Sub(res.From)/time.Second)+1 ||
							!res.From.Equal(goneAt) || res.MissedCount < 25 {
							t.Errorf("gone: first row %+v (result %s), want the missed record of %s on", m, m.result, goneAt)
						}
						from = res.To.Add(time.Second)
					}
					c := rs[slices.IndexFunc(rs, func(r fwRun) bool { return r.kind == store.KindCoalesced })]
					if c.at.Before(from) || c.at.After(base.Add(-o.MisfireThreshold+time.Second)) {
						t.Errorf("%s: coalesced run at %s, want one between %s and %s", name, c.at, from, base.Add(-o.MisfireThreshold))
					}
					if instants[0] != c.at {
						t.Errorf("%s: a cron fire at %s before the coalesced run at %s", name, instants[0], c.at)
					}
				case "tick":
					var snap map[string]any
					m := rsByID(rs, manualID)
					if m == nil || json.Unmarshal(m.snapshot, &snap) != nil || snap["trigger_type"] != "manual" || m.kind != store.KindManual {
						t.Errorf("tick: manual run %+v; want completed, kind manual, the web UI's snapshot", m)
					}
				case "watch":
					var text sql.NullString
					if err := raw.QueryRow(`SELECT state_json FROM job_schedules WHERE id = $1`, id).Scan(&text); err != nil {
						t.Fatal(err)
					}
					var st map[string]any
					last := instants[len(instants)-1]
					for i := len(rs) - 1; i >= 0; i-- {
						if rs[i].status == store.StatusCompleted {
							last = rs[i].at
							break
						}
					}
					if json.Unmarshal([]byte(text.String), &st) != nil || st["last_scheduled_for"] != last.UTC().Format(time.RFC3339) {
						t.Errorf("watch: state_json %q, want the state of the last completed fire (%s)", text.String, last.UTC().Format(time.RFC3339))
					}
				}
			}
			storetest.CheckReaders(t, db)
		})
	}
}

func rsByID(rs []fwRun, id int64) *fwRun {
	for i := range rs {
		if rs[i].id == id {
			return &rs[i]
		}
	}
	return nil
}

// TestThreeEnginesShareWorkExactlyOnce on the framework's tables, shorter:
// 50 every-second schedules, a 5 s window, three engines.
func TestFrameworkThreeEnginesExactlyOnce(t *testing.T) {
	for _, typ := range storetest.JobIDTypes {
		t.Run(string(typ), func(t *testing.T) {
			t.Parallel()
			url := storetest.FrameworkURL(t, typ)
			raw := openRaw(t, url)
			setup := storetest.Open(t, "postgres", url)
			const schedules, window = 50, 5
			for i := range schedules {
				fwSchedule(t, raw, fmt.Sprintf("s%03d", i), "script", "* * * * * *", `{}`, nil)
			}
			var stops []func()
			for i := range 3 {
				db := storetest.Open(t, "postgres", url)
				o := testOptions()
				o.NodeID = fmt.Sprintf("node-%d", i)
				o.Workers = 20
				o.Lease = 10 * time.Second
				var calls atomic.Int64
				stops = append(stops, startEngine(t, New(db, fwHandlers(&calls), o)))
			}
			start := time.Now().Truncate(time.Second).Add(2 * time.Second)
			end := start.Add(window * time.Second)
			waitFor(t, 30*time.Second, "every instant of the window to complete", func() bool {
				var n int
				err := raw.QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE (status = 'completed' OR reason = 'skipped')
					AND scheduled_for >= $1 AND scheduled_for < $2`, start, end).Scan(&n)
				return err == nil && n >= schedules*window
			})
			for _, stop := range stops {
				stop()
			}
			var dups int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM (SELECT job_id, scheduled_for FROM job_schedule_runs
				GROUP BY job_id, scheduled_for HAVING COUNT(*) > 1) d`).Scan(&dups); err != nil || dups != 0 {
				t.Fatalf("%d (schedule, instant) pairs have more than one run (%v)", dups, err)
			}
			rows, err := raw.Query(`SELECT CAST(job_id AS TEXT), COUNT(*), COUNT(DISTINCT lease_owner) FROM job_schedule_runs
				WHERE scheduled_for >= $1 AND scheduled_for < $2 GROUP BY job_id`, start, end)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			per := 0
			for rows.Next() {
				var id string
				var n, owners int
				if err := rows.Scan(&id, &n, &owners); err != nil {
					t.Fatal(err)
				}
				if n != window {
					t.Errorf("schedule %s: %d runs in the %d s window, want %d", id, n, window, window)
				}
				per++
			}
			if per != schedules {
				t.Fatalf("%d schedules ran in the window, want %d", per, schedules)
			}
			var completed int
			if err := raw.QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE status = 'completed'
				AND scheduled_for >= $1 AND scheduled_for < $2`, start, end).Scan(&completed); err != nil {
				t.Fatal(err)
			}
			if completed < schedules*window/2 {
				t.Fatalf("only %d of %d fires completed; the rest were skipped", completed, schedules*window)
			}
			storetest.CheckReaders(t, setup)
		})
	}
}

// A manual run of a schedule whose next fires are claimed ahead (pending,
// leased to the engine) and whose current fire is running starts within a
// second: as soon as the running fire (300 ms) is done, not at the next
// poll. From the web UI (INSERT + NOTIFY scheduler_manual_trigger) and from
// the API (InsertRun + Wake). The engine polls as often as by default, so
// only a wake-up can start the run in time.
func TestFrameworkManualRunWhileFiresClaimedAhead(t *testing.T) {
	for _, typ := range storetest.JobIDTypes {
		// One variant at a time: the 1 s bound is the service's, and
		// three busy engines on two cores would measure the machine.
		t.Run(string(typ), func(t *testing.T) {
			url := storetest.FrameworkURL(t, typ)
			raw := openRaw(t, url)
			db := storetest.Open(t, "postgres", url)
			id := fwSchedule(t, raw, "busy", "script", "* * * * * *", `{}`, nil)
			o := testOptions()
			o.PollInterval = 10 * time.Second // the default: fast polling would hide a missing wake-up
			var calls atomic.Int64
			e := New(db, fwHandlers(&calls), o)
			startEngine(t, e)
			count := func(cond string) int {
				var n int
				if err := raw.QueryRow(`SELECT COUNT(*) FROM job_schedule_runs WHERE CAST(job_id AS TEXT) = $1 AND `+cond,
					fmt.Sprint(id)).Scan(&n); err != nil {
					t.Fatal(err)
				}
				return n
			}
			claimedAhead := func() int { return count(`status = 'pending' AND lease_owner IS NOT NULL`) }
			waitFor(t, 10*time.Second, "fires claimed ahead and a completed fire", func() bool {
				return claimedAhead() >= 3 && count(`status = 'completed'`) >= 1
			})
			sc, err := db.GetSchedule(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			var lags []time.Duration
			check := func(how string, runID int64, asked time.Time) {
				t.Helper()
				var got *store.Run
				waitFor(t, 5*time.Second, how+" manual run to complete", func() bool {
					r, err := db.GetRun(context.Background(), runID)
					if err != nil {
						t.Fatal(err)
					}
					got = r
					return r.Status == store.StatusCompleted && r.StartedAt != nil
				})
				if n := claimedAhead(); n == 0 {
					t.Errorf("%s: no fire of the schedule was claimed ahead when the manual run completed", how)
				}
				lag := got.StartedAt.Sub(asked)
				lags = append(lags, lag)
				if lag >= time.Second {
					t.Errorf("%s manual run %d started %s after it was announced, want < 1 s", how, runID, lag)
				}
			}
			// Each manual run is announced while a cron fire of the same
			// schedule runs: it must wait for it (one exclusive run at a
			// time), and start right after.
			fireRunning := func() bool { return count(`status = 'running' AND kind = 'cron'`) == 1 }
			for range 3 {
				waitFor(t, 5*time.Second, "a running cron fire", fireRunning)
				runID, at := fwManualRun(t, raw, typ, id, "busy")
				check("web UI", runID, at)
				waitFor(t, 5*time.Second, "a running cron fire", fireRunning)
				r, err := db.InsertRun(context.Background(), sc, time.Now(), 1)
				if err != nil {
					t.Fatal(err)
				}
				at = time.Now()
				e.Wake()
				check("API", r.ID, at)
			}
			slices.Sort(lags)
			t.Logf("manual run start lags: %v", lags)
			storetest.CheckReaders(t, db)
		})
	}
}
