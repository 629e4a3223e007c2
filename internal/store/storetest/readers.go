package storetest

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/store"
)

// readersPy validates rows with pydantic models of the framework's web UI
// readers (ScheduleResponse, ScheduleRunResponse).
//
//go:embed readers.py
var readersPy string

// runStatuses are the statuses the framework's RunStatus enum accepts.
var runStatuses = map[string]bool{"pending": true, "running": true, "completed": true, "failed": true, "cancelled": true}

// maxReported bounds the problems reported one by one.
const maxReported = 25

// CheckReaders reads every row of job_schedules and job_schedule_runs as
// the trading framework reads them (to_jsonb: a text state_json arrives as
// a JSON string, jsonb as JSON) and fails t for each row its readers would
// reject or misread:
//
//   - in Go: every run status is one of pending, running, completed, failed,
//     cancelled; every job_snapshot this service wrote (kind cron, coalesced
//     or missed, or a snapshot with execution_time) carries an integer
//     schedule_id equal to the run's job_id and a string schedule_name equal
//     to the schedule's name (the web UI's /pipelines view matches runs by
//     them; where another writer put those keys, they must have those types
//     too); every result is a JSON object or NULL; every schedule has a
//     state_json that is a JSON object (or text holding one);
//   - in Python: readers.py validates every row with pydantic v2 models of
//     the web UI's ScheduleResponse and ScheduleRunResponse.
//
// The Python part skips t (t.Skip) when python3 or pydantic 2 is missing,
// after the Go checks have reported, so call CheckReaders last. PostgreSQL
// only: the framework runs on it.
func CheckReaders(t testing.TB, db *store.DB) {
	t.Helper()
	if db.Dialect() != "postgres" {
		t.Fatalf("CheckReaders: %s database; the framework's readers run on PostgreSQL", db.Dialect())
	}
	schedules := readRows(t, db, "job_schedules")
	runs := readRows(t, db, "job_schedule_runs")

	problems := checkRows(schedules, runs)
	for i, p := range problems {
		if i == maxReported {
			t.Errorf("CheckReaders: … and %d more problems", len(problems)-maxReported)
			break
		}
		t.Errorf("CheckReaders: %s", p)
	}
	if len(problems) > 0 {
		t.Errorf("CheckReaders: %d problems in %d schedules and %d runs (Go checks)", len(problems), len(schedules), len(runs))
	}
	checkPydantic(t, schedules, runs)
}

// readRows returns every row of table as to_jsonb gives it, by id.
func readRows(t testing.TB, db *store.DB, table string) []json.RawMessage {
	t.Helper()
	rows, err := db.SQL().QueryContext(context.Background(), `SELECT to_jsonb(x)::text FROM `+table+` x ORDER BY id`)
	if err != nil {
		t.Fatalf("CheckReaders: read %s: %v", table, err)
	}
	defer rows.Close()
	var out []json.RawMessage
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatalf("CheckReaders: read %s: %v", table, err)
		}
		out = append(out, json.RawMessage(s))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("CheckReaders: read %s: %v", table, err)
	}
	return out
}

// decodeObject decodes a JSON object keeping numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	return m, nil
}

// jsonKind names the JSON type of v as decoded by decodeObject.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// asInt returns v as an integer when it is a JSON integer.
func asInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok || strings.ContainsAny(string(n), ".eE") {
		return 0, false
	}
	i, err := n.Int64()
	return i, err == nil
}

// checkRows applies the Go checks and returns one line per problem.
func checkRows(schedules, runs []json.RawMessage) []string {
	var problems []string
	add := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
	names := map[int64]string{}
	for _, raw := range schedules {
		row, err := decodeObject(raw)
		if err != nil {
			add("schedule row %.80s: %v", raw, err)
			continue
		}
		id, _ := asInt(row["id"])
		if name, ok := row["name"].(string); ok {
			names[id] = name
		}
		switch st := row["state_json"].(type) {
		case nil:
			add("schedule %d: state_json is NULL (the schedule reader rejects it)", id)
		case map[string]any:
		case string: // a text column: the reader json.loads it
			if _, err := decodeObject([]byte(st)); err != nil {
				add("schedule %d: state_json %.80q is not a JSON object: %v", id, st, err)
			}
		default:
			add("schedule %d: state_json is a JSON %s, not an object", id, jsonKind(st))
		}
	}
	for _, raw := range runs {
		row, err := decodeObject(raw)
		if err != nil {
			add("run row %.80s: %v", raw, err)
			continue
		}
		id, _ := asInt(row["id"])
		status, _ := row["status"].(string)
		if !runStatuses[status] {
			add("run %d: status %v is not one of pending, running, completed, failed, cancelled", id, jsonStr(row["status"]))
		}
		switch res := row["result"].(type) {
		case nil, map[string]any:
		default:
			add("run %d: result is a JSON %s, not an object or NULL", id, jsonKind(res))
		}
		// job_id as a schedule id: a number or a numeric string.
		var jobID int64
		jobIDOK := false
		switch j := row["job_id"].(type) {
		case json.Number:
			jobID, jobIDOK = asInt(j)
		case string:
			if n, err := strconv.ParseInt(j, 10, 64); err == nil {
				jobID, jobIDOK = n, true
			}
		}
		kind, _ := row["kind"].(string)
		snap, hasSnap := row["job_snapshot"].(map[string]any)
		ours := kind == store.KindCron || kind == store.KindCoalesced || kind == store.KindMissed
		if hasSnap {
			if _, ok := snap["execution_time"]; ok {
				ours = true
			}
		}
		if !hasSnap {
			if ours || row["job_snapshot"] != nil {
				add("run %d (kind %s): job_snapshot is %s, not an object", id, kind, jsonKind(row["job_snapshot"]))
			}
			continue
		}
		sid, hasSID := snap["schedule_id"]
		sname, hasName := snap["schedule_name"]
		if ours && !hasSID {
			add("run %d (kind %s): job_snapshot has no schedule_id", id, kind)
		}
		if ours && !hasName {
			add("run %d (kind %s): job_snapshot has no schedule_name", id, kind)
		}
		if hasSID {
			n, ok := asInt(sid)
			switch {
			case !ok:
				add("run %d: job_snapshot.schedule_id %s is a JSON %s, not an integer", id, jsonStr(sid), jsonKind(sid))
			case !jobIDOK:
				add("run %d: job_id %v is not a schedule id, job_snapshot.schedule_id is %d", id, jsonStr(row["job_id"]), n)
			case n != jobID:
				add("run %d: job_snapshot.schedule_id %d differs from job_id %d", id, n, jobID)
			}
		}
		if hasName {
			s, ok := sname.(string)
			switch {
			case !ok:
				add("run %d: job_snapshot.schedule_name %s is a JSON %s, not a string", id, jsonStr(sname), jsonKind(sname))
			case jobIDOK:
				if want, exists := names[jobID]; exists && s != want {
					add("run %d: job_snapshot.schedule_name %q differs from the name %q of schedule %d", id, s, want, jobID)
				}
			}
		}
	}
	return problems
}

func jsonStr(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkPydantic pipes the rows to readers.py and reports the rows it
// rejects; it skips t when python3 or pydantic 2 is not installed.
func checkPydantic(t testing.TB, schedules, runs []json.RawMessage) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("CheckReaders: python3 not found; the pydantic check of the framework's readers is skipped")
	}
	if out, err := exec.Command(py, "-c", "import sys, pydantic; sys.exit(0 if pydantic.VERSION.startswith('2.') else 3)").CombinedOutput(); err != nil {
		t.Skipf("CheckReaders: pydantic 2 not available to %s (%v %s); the pydantic check of the framework's readers is skipped",
			py, err, strings.TrimSpace(string(out)))
	}
	script := filepath.Join(t.TempDir(), "readers.py")
	if err := os.WriteFile(script, []byte(readersPy), 0o600); err != nil {
		t.Fatalf("CheckReaders: write readers.py: %v", err)
	}
	var in bytes.Buffer
	for _, part := range []struct {
		table string
		rows  []json.RawMessage
	}{{"job_schedules", schedules}, {"job_schedule_runs", runs}} {
		for _, r := range part.rows {
			in.WriteString(`{"table": "` + part.table + `", "row": `)
			in.Write(r)
			in.WriteString("}\n")
		}
	}
	cmd := exec.Command(py, script)
	cmd.Stdin = &in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	if errors.As(runErr, &exitErr) {
		code = exitErr.ExitCode()
	} else if runErr != nil {
		t.Fatalf("CheckReaders: run readers.py: %v", runErr)
	}
	var rejected []string
	checked := ""
	for _, line := range strings.Split(stdout.String(), "\n") {
		switch {
		case strings.HasPrefix(line, "REJECTED "):
			rejected = append(rejected, line)
		case strings.HasPrefix(line, "CHECKED "):
			checked = line
		}
	}
	for i, r := range rejected {
		if i == maxReported {
			t.Errorf("CheckReaders: readers.py: … and %d more rejected rows", len(rejected)-maxReported)
			break
		}
		t.Errorf("CheckReaders: readers.py: %s", r)
	}
	if want := fmt.Sprintf("CHECKED %d %d", len(schedules), len(runs)); checked != want || code > 1 || (code == 1) != (len(rejected) > 0) {
		t.Errorf("CheckReaders: readers.py exited %d with %q, want %q; stdout:\n%s\nstderr:\n%s",
			code, checked, want, stdout.String(), stderr.String())
	}
	if len(rejected) > 0 {
		t.Errorf("CheckReaders: the framework's pydantic readers reject %d of %d schedules and %d runs",
			len(rejected), len(schedules), len(runs))
	}
}
