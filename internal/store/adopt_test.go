package store_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// frameworkInsert is how the framework's tools insert schedules: no id
// (it is GENERATED ALWAYS), no state_json, next_run_at NULL.
const frameworkInsert = `INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron, enabled)
	VALUES ($1, $2, $3, $4, $5, $6, true) RETURNING id`

// oldRun inserts a run the way the Python service did.
func oldRun(t *testing.T, db *sql.DB, jobType string, jobID int64, status string, at time.Time) int64 {
	t.Helper()
	var id int64
	// job_id as a literal: the column is int4, bigint or varchar.
	if err := db.QueryRow(`INSERT INTO job_schedule_runs (job_type, job_id, user_id, status, scheduled_for, enqueued_at, started_at)
		VALUES ($1, '`+strconv.FormatInt(jobID, 10)+`', 1, $2, $3, $3, CASE WHEN $2 = 'running' THEN $3::timestamptz END) RETURNING id`,
		jobType, status, at).Scan(&id); err != nil {
		t.Fatalf("insert old run: %v", err)
	}
	return id
}

// openRaw opens a store on url without migrating it.
func openRaw(t *testing.T, url string) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// columnTypes returns "table.column" → data_type of the framework's two tables.
func columnTypes(t *testing.T, db *sql.DB) map[string]string {
	t.Helper()
	rows, err := db.Query(`SELECT table_name, column_name, data_type || COALESCE(':' || is_identity, '') || ':' || COALESCE(column_default, '')
		FROM information_schema.columns WHERE table_schema = current_schema() AND table_name IN ('job_schedules', 'job_schedule_runs')`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var tb, c, typ string
		if err := rows.Scan(&tb, &c, &typ); err != nil {
			t.Fatal(err)
		}
		out[tb+"."+c] = typ
	}
	return out
}

func runStatuses(t *testing.T, db *sql.DB) map[int64]string {
	t.Helper()
	rows, err := db.Query(`SELECT id, COALESCE(status, '') FROM job_schedule_runs`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64]string{}
	for rows.Next() {
		var id int64
		var st string
		if err := rows.Scan(&id, &st); err != nil {
			t.Fatal(err)
		}
		out[id] = st
	}
	return out
}

// The framework's live database is adopted as it is: a dry run reports and
// changes nothing; the migration retires the old service's stale runs
// before the one-running-run index, keeps every column's type, and the
// claim, listing and status work on every job_id type.
func TestAdoptFrameworkSchema(t *testing.T) {
	for _, typ := range storetest.JobIDTypes {
		t.Run(string(typ), func(t *testing.T) {
			ctx := context.Background()
			url := storetest.FrameworkURL(t, typ)
			raw := openRaw(t, url)
			var vix, alert int64
			if err := raw.SQL().QueryRow(frameworkInsert, 1, "vix", "data_processing", "src.data.vix",
				`{"script_path": "src/data/vix.py"}`, "0 * * * *").Scan(&vix); err != nil {
				t.Fatal(err)
			}
			if err := raw.SQL().QueryRow(frameworkInsert, 1, "btc", "alert", "BTCUSDT", `{}`, "* * * * *").Scan(&alert); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			stale := []int64{
				oldRun(t, raw.SQL(), "data_processing", vix, "running", old),
				oldRun(t, raw.SQL(), "data_processing", vix, "running", old.Add(time.Minute)),
				oldRun(t, raw.SQL(), "alert", alert, "pending", old),
			}
			done := oldRun(t, raw.SQL(), "alert", alert, "completed", old.Add(-time.Hour))
			young := oldRun(t, raw.SQL(), "alert", alert, "pending", time.Now().Add(-time.Minute))
			typesBefore := columnTypes(t, raw.SQL())
			statusesBefore := runStatuses(t, raw.SQL())

			rep, err := raw.MigrateReport(ctx, true)
			if err != nil {
				t.Fatalf("dry run: %v", err)
			}
			if !rep.DryRun || !rep.Adopted || rep.RunsRetired != 3 || !slices.Equal(rep.Versions, []int{1, 2, 3, 4, 5, 6, 7, 8}) {
				t.Fatalf("dry-run report = %+v", rep)
			}
			for _, want := range []string{"job_schedule_runs.lease_owner text", "job_schedules.last_error text"} {
				if !slices.Contains(rep.ColumnsAdded, want) {
					t.Errorf("columns added %v lack %q", rep.ColumnsAdded, want)
				}
			}
			for _, want := range []string{"ux_job_schedule_runs_one_running", "ux_job_schedules_user_name"} {
				if !slices.Contains(rep.IndexesAdded, want) {
					t.Errorf("indexes added %v lack %q", rep.IndexesAdded, want)
				}
			}
			for _, want := range []string{"notifications", "market_series", "market_bars", "market_bar_spans"} {
				if !slices.Contains(rep.TablesAdded, want) {
					t.Errorf("tables added %v lack %s", rep.TablesAdded, want)
				}
			}
			if got := columnTypes(t, raw.SQL()); !mapsEqual(got, typesBefore) {
				t.Fatalf("dry run changed columns:\n%v\n%v", typesBefore, got)
			}
			if got := runStatuses(t, raw.SQL()); !mapsEqual(got, statusesBefore) {
				t.Fatalf("dry run changed runs: %v, was %v", got, statusesBefore)
			}

			db := storetest.Open(t, "postgres", url)
			after := columnTypes(t, db.SQL())
			for col, typ := range typesBefore {
				if col == "job_schedules.state_json" {
					continue // its default is set to '{}' (already so in the live table)
				}
				if after[col] != typ {
					t.Errorf("%s changed from %q to %q", col, typ, after[col])
				}
			}
			if !strings.HasPrefix(after["job_schedules.state_json"], "text") || !strings.HasPrefix(after["job_schedule_runs.id"], "integer:YES") {
				t.Errorf("types after adoption: state_json %q, run id %q", after["job_schedules.state_json"], after["job_schedule_runs.id"])
			}
			for _, id := range stale {
				r, err := db.GetRun(ctx, id)
				if err != nil || r.Status != store.StatusCancelled || !strings.Contains(string(r.Result), `"retired"`) {
					t.Errorf("stale run %d after adoption: %+v, %v", id, r, err)
				}
			}
			for id, want := range map[int64]string{done: "completed", young: "pending"} {
				if r, err := db.GetRun(ctx, id); err != nil || r.Status != want {
					t.Errorf("run %d: %+v, %v; want %s", id, r, err, want)
				}
			}
			// The users' SQL relies on ON CONFLICT (user_id, name).
			if _, err := db.SQL().Exec(`INSERT INTO job_schedules (user_id, name, job_type, target, task_params, cron)
				VALUES (1, 'vix', 'data_processing', 'x', '{}', '* * * * *') ON CONFLICT (user_id, name) DO NOTHING`); err != nil {
				t.Errorf("ON CONFLICT (user_id, name) after adoption: %v", err)
			}

			// The engine's statements work on this job_id type.
			at := time.Now().Truncate(time.Second).Add(time.Second)
			next := at.Add(time.Minute)
			_, queued, err := db.ClaimDue(ctx, "n1", time.Now(), at, 10, time.Minute, func(s *store.Schedule) store.Fire {
				runs := []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: at, Exclusive: true, MaxAttempts: 1}}
				if s.ID == alert {
					runs = append(runs, store.NewRun{Status: store.StatusMissed, Kind: store.KindMissed, ScheduledFor: at.Add(-time.Hour),
						Result: json.RawMessage(`{"missed_count": 3}`), Error: "missed 3"})
				}
				return store.Fire{Runs: runs, Next: &next}
			})
			if err != nil || len(queued) != 2 {
				t.Fatalf("ClaimDue = %v, %v", queued, err)
			}
			// The run the old service left pending goes first (a cron fire
			// yields to an unowned run of its schedule due before it).
			if got, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{queued[0].ID, queued[1].ID},
				Lease: time.Minute}); err != nil || len(got) != 1 || got[0].JobID == jobIDText(alert) {
				t.Fatalf("ClaimRunIDs with the alert's old run waiting = %+v, %v; want only the other schedule's fire", got, err)
			} else if err := db.CompleteRuns(ctx, []store.Completion{{RunID: got[0].ID, Owner: "n1", Status: store.StatusCompleted, At: at}}); err != nil {
				t.Fatal(err)
			}
			left, err := db.ClaimRuns(ctx, "n1", at, 10, time.Minute, nil)
			if err != nil || len(left) != 1 || left[0].ID != young {
				t.Fatalf("general claim = %+v, %v; want the old pending run %d", left, err, young)
			}
			if err := db.CompleteRuns(ctx, []store.Completion{{RunID: young, Owner: "n1", Status: store.StatusCompleted, At: at}}); err != nil {
				t.Fatal(err)
			}
			got, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "n1", Now: at, IDs: []int64{queued[0].ID, queued[1].ID}, Lease: time.Minute})
			if err != nil || len(got) != 1 || got[0].JobID != jobIDText(alert) {
				t.Fatalf("ClaimRunIDs = %+v, %v; want the alert's fire", got, err)
			}
			state := json.RawMessage(`{"status": "ARMED"}`)
			var cs []store.Completion
			for _, r := range got {
				c := store.Completion{RunID: r.ID, Owner: "n1", Status: store.StatusCompleted, At: at, Result: json.RawMessage(`{"ok": true}`)}
				if r.JobID == jobIDText(alert) {
					c.ScheduleID, c.State = alert, state
				}
				cs = append(cs, c)
			}
			if err := db.CompleteRuns(ctx, cs); err != nil {
				t.Fatal(err)
			}
			sc, err := db.GetSchedule(ctx, alert)
			if err != nil || string(sc.StateJSON) != string(state) {
				t.Fatalf("alert state = %s, %v", sc.StateJSON, err)
			}
			runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: alert})
			if err != nil {
				t.Fatal(err)
			}
			var shown []string
			for _, r := range runs {
				shown = append(shown, r.Status)
			}
			slices.Sort(shown)
			if want := []string{"cancelled", "completed", "completed", "completed", "missed"}; !slices.Equal(shown, want) {
				t.Errorf("runs of the alert show %v, want %v", shown, want)
			}
			missed, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: alert, Status: store.StatusMissed})
			if err != nil || len(missed) != 1 {
				t.Fatalf("missed runs = %+v, %v", missed, err)
			}
			var stored, result string
			if err := db.SQL().QueryRow(`SELECT status, result::text FROM job_schedule_runs WHERE id = $1`, missed[0].ID).Scan(&stored, &result); err != nil {
				t.Fatal(err)
			}
			if stored != "cancelled" || !strings.Contains(result, `"reason": "missed"`) || !strings.Contains(result, `"missed_count": 3`) {
				t.Errorf("missed record stored as %s %s", stored, result)
			}
			var snap map[string]any
			if err := json.Unmarshal(got[0].Snapshot, &snap); err != nil || snap["schedule_id"] == nil || snap["schedule_name"] == nil {
				t.Errorf("job_snapshot %s lacks schedule_id/schedule_name", got[0].Snapshot)
			}
			st, err := db.Stats(ctx, time.Now())
			if err != nil || st.MissedRecords != 1 || st.Schedules != 2 {
				t.Fatalf("stats = %+v, %v", st, err)
			}
			// Releasing fires claimed ahead (the dead-owner path) works on
			// this job_id type too.
			_, q2, err := db.ClaimDue(ctx, "n2", time.Now(), next, 10, time.Minute, func(s *store.Schedule) store.Fire {
				n := next.Add(time.Minute)
				return store.Fire{Runs: []store.NewRun{{Status: store.StatusPending, Kind: store.KindCron, ScheduledFor: next,
					Exclusive: true, MaxAttempts: 1}}, Next: &n}
			})
			if err != nil || len(q2) != 2 {
				t.Fatalf("claim ahead: %v %v", q2, err)
			}
			if n, err := db.ReleaseRuns(ctx, "n2", time.Now()); err != nil || n != 2 {
				t.Fatalf("ReleaseRuns = %d, %v", n, err)
			}
			if sc, err := db.GetSchedule(ctx, vix); err != nil || sc.NextRunAt == nil || !sc.NextRunAt.Equal(next) {
				t.Fatalf("next_run_at after release = %+v, %v; want %v", sc, err, next)
			}
		})
	}
}

func jobIDText(id int64) string {
	b, _ := json.Marshal(id)
	return string(b)
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// While the old service may still run (two young running runs of one
// schedule), migration refuses with ErrRunsInFlight and changes nothing.
func TestAdoptRefusesRunsInFlight(t *testing.T) {
	ctx := context.Background()
	url := storetest.FrameworkURL(t, storetest.JobIDInt4)
	raw := openRaw(t, url)
	var id int64
	if err := raw.SQL().QueryRow(frameworkInsert, 1, "vix", "data_processing", "x", `{}`, "* * * * *").Scan(&id); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	oldRun(t, raw.SQL(), "data_processing", id, "running", now.Add(-time.Minute))
	oldRun(t, raw.SQL(), "data_processing", id, "running", now.Add(-2*time.Minute))
	oldRun(t, raw.SQL(), "data_processing", id, "pending", now.Add(-time.Hour))
	before := columnTypes(t, raw.SQL())
	statuses := runStatuses(t, raw.SQL())
	err := raw.Migrate(ctx)
	if !errors.Is(err, store.ErrRunsInFlight) {
		t.Fatalf("Migrate = %v, want ErrRunsInFlight", err)
	}
	if !strings.Contains(err.Error(), "has 2 runs marked running") {
		t.Errorf("error does not say what is in flight: %v", err)
	}
	if got := columnTypes(t, raw.SQL()); !mapsEqual(got, before) {
		t.Errorf("failed migration changed columns")
	}
	if got := runStatuses(t, raw.SQL()); !mapsEqual(got, statuses) {
		t.Errorf("failed migration changed runs: %v, was %v", got, statuses)
	}
	var n int
	if err := raw.SQL().QueryRow(`SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()
		AND table_name = 'scheduler_migrations'`).Scan(&n); err != nil || n != 0 {
		t.Errorf("scheduler_migrations exists after a failed migration (%d, %v)", n, err)
	}
}

// Duplicate schedule names (the live table has no unique constraint) do
// not block adoption: the unique index is left out, with a warning.
func TestAdoptWithDuplicateNames(t *testing.T) {
	ctx := context.Background()
	url := storetest.FrameworkURL(t, storetest.JobIDInt4)
	raw := openRaw(t, url)
	for range 2 {
		var id int64
		if err := raw.SQL().QueryRow(frameworkInsert, 7, "dup", "report", "x", `{}`, "* * * * *").Scan(&id); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := raw.MigrateReport(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Contains(rep.IndexesAdded, "ux_job_schedules_user_name") || len(rep.Warnings) != 1 ||
		!strings.Contains(rep.Warnings[0], `user 7 has 2 schedules named "dup"`) {
		t.Fatalf("report = %+v", rep)
	}
	// A second migration, nothing to do, reports no change.
	rep, err = raw.MigrateReport(ctx, true)
	if err != nil || rep.Changed() {
		t.Fatalf("second migration = %+v, %v", rep, err)
	}
}

// A fresh install gives state_json the '{}' default and never writes NULL;
// runs recorded skipped or missed by an earlier version are converted.
func TestReaderContractMigration(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.SQL().Exec(rawInsert); err != nil {
			t.Fatal(err)
		}
		sc := &store.Schedule{UserID: 2, Name: "ours", JobType: "report", Cron: "* * * * *", Enabled: true}
		if err := db.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		var nulls int
		if err := db.SQL().QueryRow(`SELECT COUNT(*) FROM job_schedules WHERE state_json IS NULL`).Scan(&nulls); err != nil || nulls != 0 {
			t.Fatalf("%d schedules with NULL state_json (%v)", nulls, err)
		}
		// An earlier version stored these statuses.
		for i, st := range []string{"skipped", "missed"} {
			if _, err := db.SQL().Exec(`INSERT INTO job_schedule_runs (job_type, job_id, status, kind, scheduled_for, enqueued_at, result)
				VALUES ('report', $1, $2, 'cron', $3, $3, $4)`, jobIDText(sc.ID), st, db.TimeArg(time.Unix(int64(1000+i), 0)),
				`{"missed_count": 2}`); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.SQL().Exec(`DELETE FROM scheduler_migrations WHERE version = 3`); err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		rows, err := db.SQL().Query(`SELECT status, reason, result FROM job_schedule_runs ORDER BY scheduled_for`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var st, reason, res string
			if err := rows.Scan(&st, &reason, &res); err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(res), &m); err != nil || m["reason"] != reason || m["missed_count"] != 2.0 {
				t.Errorf("result %s (%v)", res, err)
			}
			got = append(got, st+"/"+reason)
		}
		if want := []string{"cancelled/skipped", "cancelled/missed"}; !slices.Equal(got, want) {
			t.Fatalf("converted runs = %v, want %v", got, want)
		}
		runs, err := db.ListRuns(ctx, store.RunFilter{ScheduleID: sc.ID, Status: store.StatusSkipped})
		if err != nil || len(runs) != 1 || runs[0].Status != store.StatusSkipped {
			t.Fatalf("skipped runs = %+v, %v", runs, err)
		}
	})
}
