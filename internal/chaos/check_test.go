//go:build chaos

package chaos

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// runRow is the part of a job_schedule_runs row the checks read.
type runRow struct {
	id                   int64
	schedule             int64
	kind, status, reason string
	scheduledFor         time.Time
	coversFrom, coversTo sql.NullTime
	leaseOwner           sql.NullString
	attempt, maxAttempts int
	errText              string
}

func (r runRow) String() string {
	s := fmt.Sprintf("run %d kind=%s status=%s", r.id, r.kind, r.status)
	if r.reason != "" {
		s += " reason=" + r.reason
	}
	s += " scheduled_for=" + r.scheduledFor.UTC().Format(time.RFC3339Nano)
	if r.coversFrom.Valid {
		s += fmt.Sprintf(" covers=%s..%s", r.coversFrom.Time.UTC().Format(time.TimeOnly), r.coversTo.Time.UTC().Format(time.TimeOnly))
	}
	if r.leaseOwner.Valid {
		s += " owner=" + r.leaseOwner.String
	}
	s += fmt.Sprintf(" attempt=%d/%d", r.attempt, r.maxAttempts)
	if r.errText != "" {
		e := r.errText
		if len(e) > 120 {
			e = e[:120] + "…"
		}
		s += fmt.Sprintf(" error=%q", e)
	}
	return s
}

// covering reports whether the row stands for a span of instants (a
// coalesced run or a missed record) rather than for its scheduled_for.
func (r runRow) covering() bool { return r.kind == "missed" || r.kind == "coalesced" }

// span returns the whole-second instants (Unix seconds) the row stands for.
func (r runRow) span() (from, to int64) {
	if r.covering() && r.coversFrom.Valid && r.coversTo.Valid {
		return ceilSec(r.coversFrom.Time), r.coversTo.Time.Unix() // inclusive
	}
	return ceilSec(r.scheduledFor), r.scheduledFor.Unix()
}

func ceilSec(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() != 0 {
		s++
	}
	return s
}

// execution is one attempt of a run as the script log saw it.
type execution struct {
	run, schedule int64
	attempt       int
	node          string
	start, end    int64 // Unix nanoseconds; end 0 when no end line
	cut           bool  // no end line: end is when its node was killed or stopped
	scheduledFor  string
}

// loadRuns reads every run row.
func loadRuns(ctx context.Context, db *sql.DB) ([]runRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, job_id, kind, status, COALESCE(reason, ''), scheduled_for,
		covers_from, covers_to, lease_owner, attempt, max_attempts, COALESCE(error, '')
		FROM job_schedule_runs ORDER BY job_id, scheduled_for, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []runRow
	for rows.Next() {
		var r runRow
		var jobID string
		if err := rows.Scan(&r.id, &jobID, &r.kind, &r.status, &r.reason, &r.scheduledFor, &r.coversFrom, &r.coversTo,
			&r.leaseOwner, &r.attempt, &r.maxAttempts, &r.errText); err != nil {
			return nil, err
		}
		if r.schedule, err = strconv.ParseInt(jobID, 10, 64); err != nil {
			return nil, fmt.Errorf("run %d: job_id %q: %w", r.id, jobID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// loadExecutions parses the script log.
func loadExecutions(path string) (map[[2]int64]*execution, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	execs := map[[2]int64]*execution{} // (run, attempt)
	var problems []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		fs := strings.Fields(sc.Text())
		if len(fs) != 7 || (fs[0] != "start" && fs[0] != "end") {
			problems = append(problems, fmt.Sprintf("line %d malformed: %q", n, sc.Text()))
			continue
		}
		run, e1 := strconv.ParseInt(fs[1], 10, 64)
		sched, e2 := strconv.ParseInt(fs[2], 10, 64)
		ns, e3 := strconv.ParseInt(fs[4], 10, 64)
		att, e4 := strconv.Atoi(fs[5])
		if e1 != nil || e2 != nil || e3 != nil || e4 != nil {
			problems = append(problems, fmt.Sprintf("line %d malformed: %q", n, sc.Text()))
			continue
		}
		key := [2]int64{run, int64(att)}
		x := execs[key]
		switch fs[0] {
		case "start":
			if x != nil {
				problems = append(problems, fmt.Sprintf("run %d attempt %d started twice (nodes %s and %s)", run, att, x.node, fs[6]))
				continue
			}
			execs[key] = &execution{run: run, schedule: sched, attempt: att, node: fs[6], start: ns, scheduledFor: fs[3]}
		case "end":
			if x == nil || x.end != 0 {
				problems = append(problems, fmt.Sprintf("line %d: end without a single start: %q", n, sc.Text()))
				continue
			}
			x.end = ns
		}
	}
	return execs, problems, sc.Err()
}

// check runs every assertion and prints the summary.
func (s *scenario) check(ctx context.Context, windowStart, windowEnd, stopAt time.Time, runLog string) {
	t := s.t
	var err error
	for i := 0; i < 30; i++ { // the pool may hold connections of before the outage
		if err = s.db.PingContext(ctx); err == nil {
			break
		}
		time.Sleep(time.Second)
	}
	runs, err := loadRuns(ctx, s.db)
	if err != nil {
		t.Fatalf("load runs: %v", err)
	}
	bySchedule := map[int64][]runRow{}
	for _, r := range runs {
		bySchedule[r.schedule] = append(bySchedule[r.schedule], r)
	}
	var scheduleIDs []int64
	nextRun := map[int64]sql.NullTime{}
	rows, err := s.db.QueryContext(ctx, `SELECT id, next_run_at FROM job_schedules ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id int64
		var next sql.NullTime
		if err := rows.Scan(&id, &next); err != nil {
			t.Fatal(err)
		}
		scheduleIDs = append(scheduleIDs, id)
		nextRun[id] = next
	}
	rows.Close()

	// 1. Every instant of the window exactly once.
	ws, we := windowStart.Unix(), windowEnd.Unix()
	type offence struct {
		schedule, at int64
		why          string
	}
	var offences []offence
	instants := 0
	for _, id := range scheduleIDs {
		plain := map[int64]int{}
		cover := map[int64]int{}
		for _, r := range bySchedule[id] {
			from, to := r.span()
			if !r.covering() {
				if r.scheduledFor.Nanosecond() != 0 {
					offences = append(offences, offence{id, r.scheduledFor.Unix(), "scheduled_for not a whole second: " + r.String()})
				}
				plain[from]++
				continue
			}
			for x := max(from, ws); x <= min(to, we); x++ {
				cover[x]++
			}
		}
		for x := ws; x <= we; x++ {
			instants++
			p, c := plain[x], cover[x]
			switch {
			case p+c == 1:
			case p+c == 0:
				offences = append(offences, offence{id, x, "no run row and no covering record"})
			case p > 1:
				offences = append(offences, offence{id, x, fmt.Sprintf("%d run rows", p)})
			case p == 1:
				offences = append(offences, offence{id, x, fmt.Sprintf("a run row and %d covering record(s)", c)})
			default:
				offences = append(offences, offence{id, x, fmt.Sprintf("%d covering records", c)})
			}
		}
	}
	if len(offences) > 0 {
		t.Errorf("invariant: %d (schedule, instant) pairs not accounted for exactly once; the first ones:", len(offences))
		for i, o := range offences {
			if i == 15 {
				break
			}
			at := time.Unix(o.at, 0).UTC()
			t.Errorf("  schedule %d at %s (+%.0fs): %s", o.schedule, at.Format(time.TimeOnly), at.Sub(s.start).Seconds(), o.why)
			for _, r := range bySchedule[o.schedule] {
				from, to := r.span()
				if to >= o.at-3 && from <= o.at+3 {
					t.Errorf("      %s", r)
				}
			}
		}
	}

	// 2. No duplicate (job_type, job_id, scheduled_for).
	var dups int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM job_schedule_runs
		GROUP BY job_type, job_id, scheduled_for HAVING COUNT(*) > 1) d`).Scan(&dups); err != nil {
		t.Fatal(err)
	}
	if dups > 0 {
		t.Errorf("%d (job_type, job_id, scheduled_for) keys have several rows", dups)
	}

	// 3. No overlapping executions of a schedule (exclusive runs).
	execs, problems, err := loadExecutions(runLog)
	if err != nil {
		t.Fatalf("script log: %v", err)
	}
	for _, p := range problems {
		t.Errorf("script log: %s", p)
	}
	perSchedule := map[int64][]*execution{}
	unterminated, killedMid := 0, 0
	for _, x := range execs {
		if x.end == 0 {
			unterminated++
			var killed bool
			x.end, killed = s.endOfUnterminated(x)
			x.cut = true
			if killed {
				killedMid++
			} else {
				t.Logf("run %d attempt %d (schedule %d, node %s) has no end line and its node was not killed", x.run, x.attempt, x.schedule, x.node)
			}
		}
		perSchedule[x.schedule] = append(perSchedule[x.schedule], x)
	}
	overlaps := 0
	for sched, xs := range perSchedule {
		sort.Slice(xs, func(i, j int) bool { return xs[i].start < xs[j].start })
		var prev *execution
		for _, x := range xs {
			if prev != nil && x.start < prev.end {
				overlaps++
				if overlaps <= 10 {
					t.Errorf("schedule %d: run %d attempt %d (%s, node %s) started %.3fs before run %d attempt %d (%s, node %s) ended",
						sched, x.run, x.attempt, x.scheduledFor, x.node, float64(prev.end-x.start)/1e9, prev.run, prev.attempt, prev.scheduledFor, prev.node)
				}
			}
			if prev == nil || x.end > prev.end {
				prev = x
			}
		}
	}
	if overlaps > 0 {
		t.Errorf("%d overlapping executions of exclusive runs", overlaps)
	}
	// Completed runs really ran: their last attempt has an end line.
	completedUnseen := 0
	reran := 0
	byID := map[int64]runRow{}
	for _, r := range runs {
		byID[r.id] = r
		if r.status == "completed" {
			if x := execs[[2]int64{r.id, int64(r.attempt)}]; x == nil || x.cut {
				completedUnseen++
				if completedUnseen <= 5 {
					t.Errorf("completed run without a finished script execution: %s", r)
				}
			}
		}
	}
	if completedUnseen > 0 {
		t.Errorf("%d completed runs have no finished script execution in the log", completedUnseen)
	}
	for key, x := range execs {
		if _, ok := byID[key[0]]; !ok {
			t.Errorf("script ran for run %d (schedule %d) that has no row", x.run, x.schedule)
		}
		// An attempt that ran to its end and was run again (at least once).
		if !x.cut && execs[[2]int64{key[0], key[1] + 1}] != nil {
			reran++
		}
	}

	// 4. The clean stop left nothing running or owned.
	var running, ownedPending, unowned, unownedOld int
	if err := s.db.QueryRowContext(ctx, `SELECT
		COUNT(*) FILTER (WHERE status = 'running'),
		COUNT(*) FILTER (WHERE status = 'pending' AND lease_owner IS NOT NULL),
		COUNT(*) FILTER (WHERE status = 'pending' AND lease_owner IS NULL),
		COUNT(*) FILTER (WHERE status = 'pending' AND lease_owner IS NULL AND scheduled_for < $1)
		FROM job_schedule_runs`, stopAt.Add(-time.Minute)).Scan(&running, &ownedPending, &unowned, &unownedOld); err != nil {
		t.Fatal(err)
	}
	for _, r := range runs {
		if r.status == "running" || r.status == "pending" {
			t.Logf("left after the stop: %s", r)
		}
	}
	if running > 0 {
		t.Errorf("%d runs still 'running' after the clean stop", running)
	}
	if ownedPending > 0 {
		t.Errorf("%d pending runs still owned after the clean stop", ownedPending)
	}
	if unownedOld > 0 {
		t.Errorf("%d unowned pending runs scheduled more than 60 s before the final stop", unownedOld)
	}

	// 5. next_run_at not behind the last instant recorded.
	for _, id := range scheduleIDs {
		var last int64
		var lastRow runRow
		for _, r := range bySchedule[id] {
			if r.kind != "cron" && !r.covering() {
				continue
			}
			if _, to := r.span(); to > last {
				last, lastRow = to, r
			}
		}
		next := nextRun[id]
		if last != 0 && (!next.Valid || next.Time.Unix() < last) {
			t.Errorf("schedule %d: next_run_at %v behind its latest recorded instant (%s)", id, next.Time.UTC(), lastRow)
		}
	}

	// 6. Statuses the framework's readers accept; reasons on cancelled rows.
	counts := map[string]int{}
	missedInstants, coalescedInstants := 0, 0
	for _, r := range runs {
		switch r.status {
		case "pending", "running", "completed", "failed", "cancelled":
		default:
			t.Errorf("status the framework cannot read: %s", r)
		}
		if r.status == "cancelled" && r.reason == "" {
			t.Errorf("cancelled without a reason: %s", r)
		}
		if r.kind == "missed" && (r.status != "cancelled" || r.reason != "missed") {
			t.Errorf("missed record not cancelled/missed: %s", r)
		}
		if r.covering() && (!r.coversFrom.Valid || !r.coversTo.Valid) {
			t.Errorf("%s row without covers_from/covers_to: %s", r.kind, r)
		}
		counts["status "+r.status]++
		if r.reason != "" {
			counts["reason "+r.reason]++
		}
		counts["kind "+r.kind]++
		if r.attempt > 1 {
			counts["retried"]++
		}
		if r.covering() {
			from, to := r.span()
			if r.kind == "missed" {
				missedInstants += int(to - from + 1)
			} else {
				coalescedInstants += int(to - from + 1)
			}
		}
	}

	// Instance logs: errors and panics, for diagnosis.
	var logNotes []string
	for _, in := range s.insts {
		b, _ := os.ReadFile(in.logPath)
		text := string(b)
		if strings.Contains(text, "panic:") {
			t.Errorf("%s panicked; log %s", in.name, in.logPath)
		}
		logNotes = append(logNotes, fmt.Sprintf("%s: %d ERROR, %d WARN lines", in.name,
			strings.Count(text, "level=ERROR"), strings.Count(text, "level=WARN")))
	}

	if t.Failed() {
		var dump strings.Builder
		for _, r := range runs {
			fmt.Fprintf(&dump, "schedule %d %s\n", r.schedule, r)
		}
		_ = os.WriteFile(s.dir+"/runs-db.txt", []byte(dump.String()), 0o644)
	}

	// Summary.
	var b strings.Builder
	fmt.Fprintf(&b, "\n=== chaos summary (%s, %d schedules, 3 instances) ===\n", time.Since(s.start).Round(time.Second), len(scheduleIDs))
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-44s %v\n", k, v) }
	row("window", fmt.Sprintf("%s .. %s (%d s)", windowStart.UTC().Format(time.TimeOnly), windowEnd.UTC().Format(time.TimeOnly), we-ws+1))
	row("instants checked (schedules × seconds)", instants)
	row("invariant offences", len(offences))
	row("run rows", len(runs))
	row("completed", counts["status completed"])
	row("failed", counts["status failed"])
	row("cancelled (all reasons)", counts["status cancelled"])
	row("  skipped (reason=skipped)", counts["reason skipped"])
	row("  missed records (reason=missed)", counts["reason missed"])
	row("  instants covered by missed records", missedInstants)
	row("  other reasons", counts["status cancelled"]-counts["reason skipped"]-counts["reason missed"])
	row("coalesced runs", counts["kind coalesced"])
	row("  instants covered by coalesced runs", coalescedInstants)
	row("runs retried (attempt > 1)", counts["retried"])
	row("pending after stop (unowned)", unowned)
	row("running / owned pending after stop", fmt.Sprintf("%d / %d", running, ownedPending))
	row("duplicate keys", dups)
	row("script executions (start lines)", len(execs))
	row("  cut off by kill -9 (no end line)", killedMid)
	row("  no end line, node not killed", unterminated-killedMid)
	row("  finished, then run again (next attempt)", reran)
	row("overlapping executions", overlaps)
	row("completed without a finished execution", completedUnseen)
	row("readiness after PostgreSQL came back", strings.Join(s.readiness, ", "))
	row("instance logs", strings.Join(logNotes, "; "))
	fmt.Fprintf(&b, "  fault timeline:\n")
	for _, e := range s.timeline {
		fmt.Fprintf(&b, "    +%6.1fs %s\n", e.at.Sub(s.start).Seconds(), e.what)
	}
	t.Log(b.String())
}

// endOfUnterminated returns when an execution without an end line ended
// and whether its node was killed (kill -9) then: the script dies with the
// scheduler (parent-death signal). Otherwise it ended at the first SIGTERM
// of its node after its start (grace over: cancelled), else at the test's
// last SIGTERM.
func (s *scenario) endOfUnterminated(x *execution) (end int64, killed bool) {
	first := func(ts []time.Time) int64 {
		best := int64(0)
		for _, k := range ts {
			if k.UnixNano() >= x.start && (best == 0 || k.UnixNano() < best) {
				best = k.UnixNano()
			}
		}
		return best
	}
	if k := first(s.kills[x.node]); k != 0 {
		return k, true
	}
	if st := first(s.stops[x.node]); st != 0 {
		return st, false
	}
	return time.Now().UnixNano(), false
}
