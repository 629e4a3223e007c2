package engine

import (
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// maxEnumerate bounds how many missed instants are counted one by one.
const maxEnumerate = 100000

// invalidRecheck is how long an invalid schedule waits before it is
// validated again (a fix by raw SQL is seen within this time).
const invalidRecheck = time.Minute

// noFireRecheck is how long a valid schedule with no fire within the next
// 5 years (cronexpr.Schedule.Next returns the zero Time, e.g. "0 0 29 2
// */7") waits before it is looked at again. Its next_run_at is set to that
// recheck instead of NULL, which would make it due again at once.
const noFireRecheck = 24 * time.Hour

// cached is a schedule's parsed cron and validation result, reused while
// its cron, time zone and task_params do not change.
type cached struct {
	key   uint64
	sched *cronexpr.Schedule
	opts  JobOptions
	err   error
}

func scheduleKey(s *store.Schedule) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s.JobType))
	h.Write([]byte{0})
	h.Write([]byte(s.Target))
	h.Write([]byte{0})
	h.Write([]byte(s.Cron))
	h.Write([]byte{0})
	h.Write([]byte(s.Timezone))
	h.Write([]byte{0})
	h.Write(s.TaskParams)
	return h.Sum64()
}

// Validate checks a schedule's cron, time zone, job type and task_params
// the way the engine does before firing it.
func (e *Engine) Validate(s *store.Schedule) error {
	_, _, err := e.compile(s)
	return err
}

func (e *Engine) compile(s *store.Schedule) (*cronexpr.Schedule, JobOptions, error) {
	key := scheduleKey(s)
	e.mu.Lock()
	c := e.cache[s.ID]
	e.mu.Unlock()
	if c != nil && c.key == key {
		return c.sched, c.opts, c.err
	}
	c = &cached{key: key}
	c.sched, c.opts, c.err = Compile(s, e.o.Location, e.handlers)
	e.mu.Lock()
	if c.sched != nil {
		// Schedules share parsed expressions: 100,000 schedules usually
		// hold a handful of distinct crons.
		ck := s.Cron + "\x00" + s.Timezone
		if shared, ok := e.crons[ck]; ok {
			c.sched = shared
		} else {
			e.crons[ck] = c.sched
		}
	}
	e.cache[s.ID] = c
	e.mu.Unlock()
	return c.sched, c.opts, c.err
}

// Compile parses a schedule's cron in its time zone (default loc) and
// validates its job type and task_params with the registered handlers.
func Compile(s *store.Schedule, loc *time.Location, handlers map[string]Handler) (*cronexpr.Schedule, JobOptions, error) {
	if s.Timezone != "" {
		l, err := time.LoadLocation(s.Timezone)
		if err != nil {
			return nil, JobOptions{}, fmt.Errorf("timezone: unknown time zone %q", s.Timezone)
		}
		loc = l
	}
	sched, err := cronexpr.Parse(s.Cron, loc)
	if errors.Is(err, cronexpr.ErrNeverFires) {
		return nil, JobOptions{}, err // names the expression: cron "0 0 30 2 *" never fires: …
	}
	if err != nil {
		return nil, JobOptions{}, fmt.Errorf("cron %q: %w", s.Cron, err)
	}
	h, ok := handlers[s.JobType]
	if !ok {
		return nil, JobOptions{}, fmt.Errorf("job_type: unknown job type %q", s.JobType)
	}
	if !json.Valid(s.TaskParams) && len(s.TaskParams) > 0 {
		return nil, JobOptions{}, fmt.Errorf("task_params: not valid JSON")
	}
	if err := ValidateParams(h, s.Target, s.TaskParams); err != nil {
		return nil, JobOptions{}, fmt.Errorf("task_params: %w", err)
	}
	return sched, ParseJobOptions(s.TaskParams), nil
}

// planner applies the misfire policy to each schedule due by horizon
// (now plus the claim-ahead time).
func (e *Engine) planner(now, horizon time.Time) store.Planner {
	return func(s *store.Schedule) store.Fire {
		sched, opts, err := e.compile(s)
		e.noteInvalid(s, err)
		if err != nil {
			recheck := now.Add(invalidRecheck)
			if s.LastError != err.Error() {
				// The error may quote task_params values (a webhook URL).
				e.log.Error("schedule is invalid; not firing it", "schedule_id", s.ID, "name", s.Name, "err", redact.Text(err.Error()))
			}
			return store.Fire{Next: &recheck, Error: err.Error()}
		}
		f := e.plan(s, sched, opts, now, horizon)
		if e.o.Observer != nil {
			var p, sk, m int
			for _, r := range f.Runs {
				switch r.Status {
				case store.StatusPending:
					p++
				case store.StatusSkipped:
					sk++
				case store.StatusMissed:
					m++
				}
			}
			e.o.Observer.Fired(s.JobType, p, sk, m)
		}
		return f
	}
}

// plan decides the runs for one due schedule:
//   - an instant at most MisfireThreshold late is an ordinary fire (the loop
//     was merely behind): each gets its own run;
//   - instants later than that but within MisfireGrace were missed (no
//     scheduler ran): they are coalesced into one run, or each run when
//     coalescing is off;
//   - older instants are not run; one "missed" record covers the span.
//
// Instants up to horizon are claimed ahead: their runs wait for run_after =
// the instant, so claiming never adds to the scheduling lag.
func (e *Engine) plan(s *store.Schedule, sched *cronexpr.Schedule, opts JobOptions, now, horizon time.Time) store.Fire {
	f := store.Fire{}
	next := sched.Next(horizon)
	if next.IsZero() {
		// No fire within 5 years: look again later. (NULL would make the
		// schedule due again at once, a hot loop.) The recheck instant is
		// not a fire: below, next_run_at is moved to the first real one.
		recheck := now.Add(noFireRecheck)
		f.Next = &recheck
		e.log.Warn("schedule has no fire within 5 years; rechecked daily", "schedule_id", s.ID, "name", s.Name, "cron", s.Cron)
	} else {
		f.Next = &next
	}
	maxAttempts := 1 + e.o.RetryCount
	if opts.RetryCount != nil {
		maxAttempts = 1 + *opts.RetryCount
	}
	exclusive := !opts.Parallel
	var t time.Time
	if s.NextRunAt != nil {
		// The first fire at or after next_run_at: the stored instant
		// itself, unless next_run_at is a recheck time (an invalid or
		// fire-less schedule parked) or the cron was changed by raw SQL.
		t = sched.Next(s.NextRunAt.Add(-time.Nanosecond))
	} else {
		t = sched.Next(now) // first sight (new row, raw SQL insert, re-enabled): from now on
	}
	graceStart := now.Add(-e.o.MisfireGrace)
	if !t.IsZero() && t.Before(graceStart) { // zero: no fire at all
		first, last, n := t, t, 0
		for !t.IsZero() && t.Before(graceStart) && n < maxEnumerate {
			last, n = t, n+1
			t = sched.Next(t)
		}
		// The record covers every instant before the first one planned
		// next (when the count is capped, also those not enumerated).
		coversTo := last
		if n == maxEnumerate && t.Before(graceStart) {
			t = sched.Next(graceStart.Add(-time.Nanosecond))
			coversTo = t.Add(-time.Microsecond)
		}
		res, _ := json.Marshal(map[string]any{"missed_count": n, "from": first, "to": last,
			"capped": n == maxEnumerate, "detail": "no scheduler was running at these instants"})
		f.Runs = append(f.Runs, store.NewRun{Status: store.StatusMissed, Kind: store.KindMissed, ScheduledFor: first,
			CoversFrom: first, CoversTo: coversTo, Result: res, Error: fmt.Sprintf("missed %d fire(s) from %s to %s: older than the misfire grace time %s",
				n, first.UTC().Format(time.RFC3339), last.UTC().Format(time.RFC3339), e.o.MisfireGrace)})
		e.log.Warn("missed fires not run", "schedule_id", s.ID, "count", n, "from", first, "to", last)
	}
	var late []time.Time
	for !t.IsZero() && !t.After(horizon) {
		if now.Sub(t) > e.o.MisfireThreshold {
			late = append(late, t)
		} else {
			f.Runs = append(f.Runs, e.fire(store.KindCron, t, exclusive, maxAttempts))
		}
		t = sched.Next(t)
		if len(late)+len(f.Runs) > maxEnumerate {
			if !t.IsZero() && !t.After(horizon) {
				f.Next = &t // the rest on the next claim
			}
			break
		}
	}
	if len(late) > 0 {
		if e.o.Coalesce {
			r := e.fire(store.KindCoalesced, late[len(late)-1], exclusive, maxAttempts)
			r.CoversFrom, r.CoversTo = late[0], late[len(late)-1]
			if len(late) > 1 {
				e.log.Info("coalesced missed fires into one run", "schedule_id", s.ID, "count", len(late))
			}
			f.Runs = append([]store.NewRun{r}, f.Runs...)
		} else {
			var rs []store.NewRun
			for _, lt := range late {
				rs = append(rs, e.fire(store.KindCron, lt, exclusive, maxAttempts))
			}
			f.Runs = append(rs, f.Runs...)
		}
	}
	return f
}

func (e *Engine) fire(kind string, at time.Time, exclusive bool, maxAttempts int) store.NewRun {
	return store.NewRun{Status: store.StatusPending, Kind: kind, ScheduledFor: at, Exclusive: exclusive, MaxAttempts: maxAttempts}
}
