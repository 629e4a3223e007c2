//go:build chaos

package chaos

// The scenario of TestChaos. Knobs (environment):
//
//	TEST_DATABASE_URL  PostgreSQL server (required; the test skips without it)
//	CHAOS_DURATION     run the fault cycle until this much time has passed
//	                   (e.g. 5m); default: one cycle, about 2 minutes
//	CHAOS_SCHEDULES    number of every-second schedules (default 120, at least 100)
//	CHAOS_PG_STOP      "0" leaves PostgreSQL running (the outage phase is skipped)
//	CHAOS_PG_WAIT      how long to wait for other clients of the server to go
//	                   quiet before stopping it (default 60s)
//	CHAOS_KEEP         "1" keeps the work directory (logs, script log) after a pass

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Timing of the scenario. The lease is short so that recovery after kill -9
// happens within the short run; the misfire threshold and grace are short so
// that the PostgreSQL outage and the recovery of a killed instance's fires
// exercise the coalesced and missed paths too, not only late cron fires.
const (
	leaseSeconds     = 6
	misfireThreshold = 5
	misfireGrace     = 12
	shutdownGrace    = 10
	gap              = 8 * time.Second  // running period between faults
	killedFor        = 12 * time.Second // a kill -9'd instance stays down (> lease + lease/3)
	stoppedFor       = 5 * time.Second  // a SIGTERM'd instance stays down
	outageFor        = 20 * time.Second // PostgreSQL down
	overloadFor      = 20 * time.Second // busy CPU
	readyWithin      = 10 * time.Second // /readyz 200 after the database is back
	settle           = 5 * time.Second  // window start after the instances run
	tail             = 3 * time.Second  // window end before the final stop
)

// event is one entry of the fault timeline.
type event struct {
	at   time.Time
	what string
	node string // the instance concerned, if any
}

// scenario is the state of one TestChaos run.
type scenario struct {
	t         *testing.T
	dir       string
	start     time.Time
	insts     []*instance
	pg        *postgres
	db        *sql.DB
	timeline  []event
	readiness []string // measured readiness times after the outage
	kills     map[string][]time.Time
	stops     map[string][]time.Time // SIGTERM sent
}

func (s *scenario) note(node, format string, args ...any) {
	e := event{at: time.Now(), what: fmt.Sprintf(format, args...), node: node}
	s.timeline = append(s.timeline, e)
	s.t.Logf("+%6.1fs %s", e.at.Sub(s.start).Seconds(), e.what)
}

// TestChaos runs three scheduler instances on one PostgreSQL schema through
// kill -9, SIGTERM and restart, a PostgreSQL outage and a busy CPU, then
// checks that every instant of every schedule is accounted for exactly once,
// that no exclusive run overlapped another of its schedule, and that the
// clean stop left nothing running or owned.
func TestChaos(t *testing.T) {
	base := os.Getenv(storetest.EnvURL)
	if base == "" {
		t.Skipf("chaos suite skipped: set %s (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", storetest.EnvURL)
	}
	duration := time.Duration(0)
	if v := os.Getenv("CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("CHAOS_DURATION=%q: %v", v, err)
		}
		duration = d
	}
	nSchedules := 120
	if v := os.Getenv("CHAOS_SCHEDULES"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 100 {
			t.Fatalf("CHAOS_SCHEDULES=%q: want a number ≥ 100", v)
		}
		nSchedules = n
	}

	dir, err := os.MkdirTemp("", "chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("CHAOS_KEEP") == "1" {
			t.Logf("work directory kept: %s (instance logs *.log, script log runs.log, on failure the run rows runs-db.txt)", dir)
			return
		}
		os.RemoveAll(dir)
	})
	s := &scenario{t: t, dir: dir, kills: map[string][]time.Time{}, stops: map[string][]time.Time{}}
	s.pg = localPostgres(base)

	binary := filepath.Join(dir, "scheduler")
	if out, err := exec.Command("go", "build", "-o", binary, "../../cmd/scheduler").CombinedOutput(); err != nil {
		t.Fatalf("build scheduler: %v\n%s", err, out)
	}

	schemaURL := storetest.PostgresURL(t)
	st := storetest.Open(t, "postgres", withAppName(t, schemaURL, "chaos-test"))
	s.db = st.SQL()
	// Cleanups run last-registered first: PostgreSQL is up again before
	// the store closes and the schema is dropped.
	t.Cleanup(func() { s.pg.ensureUp(t) })
	runLog := filepath.Join(dir, "runs.log")
	names := writeScripts(t, dir, runLog)
	ctx := context.Background()
	for i := 0; i < nSchedules; i++ {
		script := names.fast
		if i%10 == 9 {
			script = names.slow // overlaps the next second's fire: skips
		}
		params, _ := json.Marshal(map[string]any{"script_path": script, "timeout_seconds": 30})
		sc := &store.Schedule{UserID: 1, Name: fmt.Sprintf("chaos-%03d", i), JobType: "script", Target: "chaos",
			TaskParams: params, Cron: "* * * * * *", Enabled: true}
		if err := st.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}

	for _, name := range []string{"chaos-a", "chaos-b", "chaos-c"} {
		in := &instance{name: name, binary: binary, dir: dir, logPath: filepath.Join(dir, name+".log"),
			env: append(os.Environ(),
				"DATABASE_URL="+withAppName(t, schemaURL, name),
				"SCHEDULER_NODE_ID="+name,
				"SCHEDULER_LEASE="+strconv.Itoa(leaseSeconds),
				"SCHEDULER_MAX_WORKERS=60",
				"SCHEDULER_MISFIRE_THRESHOLD="+strconv.Itoa(misfireThreshold),
				"SCHEDULER_MISFIRE_GRACE="+strconv.Itoa(misfireGrace),
				"SCHEDULER_SHUTDOWN_GRACE="+strconv.Itoa(shutdownGrace),
				"SCHEDULER_RETRY_DELAY=1",
				"DB_POOL_SIZE=6", "DB_MAX_OVERFLOW=4",
				"SCRIPT_ROOT="+dir, "SCRIPT_ALLOWED_DIRS=scripts",
				"SCRIPT_ENV_PASSTHROUGH=SCHEDULER_NODE_ID", // the script log names the executing instance
				"LOG_LEVEL=INFO", "TRADING_ENV=development", "NOTIFICATION_ENABLED=false",
				"API_TOKEN=",
			)}
		s.insts = append(s.insts, in)
		t.Cleanup(in.kill)
	}

	s.start = time.Now()
	for _, in := range s.insts {
		in.start(t)
	}
	for _, in := range s.insts {
		in.waitReady(t, 60*time.Second)
	}
	s.note("", "three instances ready")
	windowStart := time.Now().Add(settle).Truncate(time.Second).Add(time.Second)

	for cycle := 0; ; cycle++ {
		s.cycle(cycle)
		if time.Since(s.start) >= duration {
			break
		}
	}
	time.Sleep(gap)

	// Clean stop of every instance at once.
	stopAt := time.Now()
	windowEnd := stopAt.Add(-tail).Truncate(time.Second)
	for _, in := range s.insts {
		in.signal(t, syscall.SIGTERM)
		s.stops[in.name] = append(s.stops[in.name], time.Now())
	}
	s.note("", "SIGTERM to all instances (final stop)")
	for _, in := range s.insts {
		if err := in.wait(t, 2*shutdownGrace*time.Second+30*time.Second); err != nil {
			t.Errorf("%s: exit after the final SIGTERM: %v (log %s)", in.name, err, in.logPath)
		}
	}
	s.note("", "all instances exited")

	s.check(ctx, windowStart, windowEnd, stopAt, runLog)
}

// cycle runs one round of faults, rotating which instance each one hits.
func (s *scenario) cycle(c int) {
	t := s.t
	n := len(s.insts)

	time.Sleep(gap)
	victim := s.busiest(s.insts[c%n], "")
	victim.signal(t, syscall.SIGKILL)
	s.kills[victim.name] = append(s.kills[victim.name], time.Now())
	s.note(victim.name, "kill -9 %s (the busiest instance)", victim.name)
	_ = victim.wait(t, 10*time.Second)
	time.Sleep(killedFor)
	victim.start(t)
	victim.waitReady(t, 60*time.Second)
	s.note(victim.name, "%s restarted and ready", victim.name)

	time.Sleep(gap)
	victim = s.busiest(s.insts[(c+1)%n], victim.name)
	victim.signal(t, syscall.SIGTERM)
	s.stops[victim.name] = append(s.stops[victim.name], time.Now())
	s.note(victim.name, "SIGTERM %s", victim.name)
	if err := victim.wait(t, 2*shutdownGrace*time.Second+30*time.Second); err != nil {
		t.Errorf("%s: exit after SIGTERM: %v", victim.name, err)
	}
	s.note(victim.name, "%s exited", victim.name)
	time.Sleep(stoppedFor)
	victim.start(t)
	victim.waitReady(t, 60*time.Second)
	s.note(victim.name, "%s restarted and ready", victim.name)

	time.Sleep(gap)
	s.outage()

	time.Sleep(gap)
	s.note("", "overload: %d busy-loop processes for %s", runtime.NumCPU(), overloadFor)
	stop := busyCPU(t, runtime.NumCPU())
	time.Sleep(overloadFor)
	stop()
	s.note("", "overload over")
}

// busiest returns the instance that runs the most runs now (then: owns
// the most fires claimed ahead), other than the one named exclude; fallback when the
// database cannot say. A fault hits hardest there.
func (s *scenario) busiest(fallback *instance, exclude string) *instance {
	rows, err := s.db.Query(`SELECT lease_owner, COUNT(*) FROM job_schedule_runs
		WHERE lease_owner IS NOT NULL AND status IN ('pending', 'running') GROUP BY lease_owner
		ORDER BY COUNT(*) FILTER (WHERE status = 'running') DESC, COUNT(*) DESC`)
	if err != nil {
		return fallback
	}
	defer rows.Close()
	for rows.Next() {
		var owner string
		var n int
		if rows.Scan(&owner, &n) != nil {
			break
		}
		for _, in := range s.insts {
			if in.name == owner && owner != exclude && in.alive() {
				return in
			}
		}
	}
	return fallback
}

// outage stops PostgreSQL for outageFor (when this machine's cluster can be
// controlled), then measures how long each instance takes to answer /readyz
// with 200 after the database accepts connections again.
func (s *scenario) outage() {
	t := s.t
	if os.Getenv("CHAOS_PG_STOP") == "0" {
		s.note("", "PostgreSQL outage skipped: CHAOS_PG_STOP=0")
		return
	}
	if s.pg.why != "" {
		s.note("", "PostgreSQL outage skipped: %s", s.pg.why)
		return
	}
	s.waitQuietServer()
	stopped, done, err := s.pg.outage(t, outageFor)
	if err != nil {
		t.Fatalf("PostgreSQL outage: %v", err)
	}
	s.timeline = append(s.timeline, event{at: stopped, what: "PostgreSQL stopped"})
	t.Logf("+%6.1fs PostgreSQL stopped", stopped.Sub(s.start).Seconds())
	// While it is down: every instance must say it is not ready.
	notReady := map[*instance]time.Duration{}
	var back time.Time
	for back.IsZero() {
		for _, in := range s.insts {
			if _, seen := notReady[in]; !seen && in.readyStatus() != 200 {
				notReady[in] = time.Since(stopped)
			}
		}
		if s.pg.accepting() {
			back = time.Now()
			break
		}
		if time.Since(stopped) > outageFor+time.Minute {
			t.Fatalf("PostgreSQL not accepting connections a minute after its planned start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.note("", "PostgreSQL accepting connections (down %.1fs)", back.Sub(stopped).Seconds())
	for _, in := range s.insts {
		if d, ok := notReady[in]; ok {
			s.note(in.name, "%s /readyz was not 200 %.2fs into the outage", in.name, d.Seconds())
		} else {
			t.Errorf("%s: /readyz stayed 200 while PostgreSQL was down", in.name)
		}
	}
	pending := map[*instance]bool{}
	for _, in := range s.insts {
		pending[in] = true
	}
	for len(pending) > 0 {
		for in := range pending {
			if in.readyStatus() == 200 {
				took := time.Since(back)
				delete(pending, in)
				s.readiness = append(s.readiness, fmt.Sprintf("%s %.2fs", in.name, took.Seconds()))
				s.note(in.name, "%s /readyz 200 after %.2fs", in.name, took.Seconds())
				if took > readyWithin {
					t.Errorf("%s: /readyz 200 only %.2fs after the database came back (want ≤ %s)", in.name, took.Seconds(), readyWithin)
				}
			}
		}
		if time.Since(back) > 2*time.Minute {
			for in := range pending {
				t.Errorf("%s: /readyz not 200 two minutes after the database came back; log %s", in.name, in.logPath)
			}
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Errorf("PostgreSQL outage: %v", err)
	}
}

// waitQuietServer waits up to CHAOS_PG_WAIT (60 s) for the server to have
// no busy session of another client (tests of other checkouts share it),
// so that the outage disturbs nobody else if it can; it goes ahead after
// that, naming the sessions it cuts off.
func (s *scenario) waitQuietServer() {
	wait := time.Minute
	if v := os.Getenv("CHAOS_PG_WAIT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			wait = d
		}
	}
	deadline := time.Now().Add(wait)
	for {
		var others []string
		rows, err := s.db.Query(`SELECT pid, datname, COALESCE(application_name, ''), state, LEFT(query, 60)
			FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
			AND COALESCE(application_name, '') NOT LIKE 'chaos%' AND state <> 'idle'`)
		if err == nil {
			for rows.Next() {
				var pid int
				var db, app, state, q string
				if rows.Scan(&pid, &db, &app, &state, &q) == nil {
					others = append(others, fmt.Sprintf("pid %d db %s app %q %s: %s", pid, db, app, state, q))
				}
			}
			rows.Close()
		}
		if len(others) == 0 {
			return
		}
		if time.Now().After(deadline) {
			s.t.Logf("stopping PostgreSQL although other clients are busy: %s", strings.Join(others, "; "))
			return
		}
		time.Sleep(time.Second)
	}
}

// withAppName adds application_name to a PostgreSQL URL (our sessions are
// recognisable in pg_stat_activity).
func withAppName(t *testing.T, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	q := p.Query()
	q.Set("application_name", name)
	p.RawQuery = q.Encode()
	return p.String()
}

// scriptNames are the scripts' paths relative to SCRIPT_ROOT.
type scriptNames struct{ fast, slow string }

// writeScripts writes the job scripts. Each appends one "start" and one
// "end" line to runLog (bash opens it with O_APPEND; printf is a builtin
// that writes each line with one write): run id, schedule id, scheduled
// instant, wall-clock nanoseconds, attempt, node. The slow one sleeps 1.5 s
// in between.
func writeScripts(t *testing.T, dir, runLog string) scriptNames {
	t.Helper()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	line := func(what string) string {
		return fmt.Sprintf(`printf '%s %%s %%s %%s %%s %%s %%s\n' "$SCHEDULER_RUN_ID" "$SCHEDULER_SCHEDULE_ID" "$SCHEDULER_SCHEDULED_FOR" "${EPOCHREALTIME/./}000" "$SCHEDULER_ATTEMPT" "$SCHEDULER_NODE_ID" >> %q`,
			what, runLog)
	}
	fast := "#!/bin/bash\n" + line("start") + "\n" + line("end") + "\n"
	slow := "#!/bin/bash\n" + line("start") + "\nsleep 1.5\n" + line("end") + "\n"
	for name, body := range map[string]string{"fast.sh": fast, "slow.sh": slow} {
		if err := os.WriteFile(filepath.Join(dir, "scripts", name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return scriptNames{fast: "scripts/fast.sh", slow: "scripts/slow.sh"}
}
