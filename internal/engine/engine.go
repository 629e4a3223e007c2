// Package engine fires database-held cron schedules exactly once per
// scheduled instant and executes their runs on a bounded worker pool with
// leases, retries, timeouts and graceful shutdown.
package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// Job is one run handed to a Handler.
type Job struct {
	// Run is the run row (status running, leased to this instance).
	Run store.Run
	// Schedule is the schedule as it was when the run was created.
	Schedule store.Snapshot
}

// Outcome is what a successful (or failed) handler produced; it is written
// in the same transaction as the run's status.
type Outcome struct {
	// Result is stored in the run's result column.
	Result any
	// State, when non-nil, replaces the schedule's state_json.
	State json.RawMessage
	// Notifications go to the outbox in the same transaction.
	Notifications []notify.Notification
}

// Handler executes one job type.
type Handler interface {
	// Validate checks task_params; the error names the field and value.
	Validate(taskParams json.RawMessage) error
	// Handle runs the job. ctx carries the run's timeout. A returned error
	// fails the attempt; Outcome may still carry a result, state and
	// notifications to record with the failure.
	Handle(ctx context.Context, job *Job) (*Outcome, error)
}

// TargetValidator is an optional interface of a Handler whose task_params
// depend on the schedule's target (alert schedules whose target starts with
// "portfolio." run a pipeline instead of a rule). Validation calls
// ValidateTarget instead of Validate; see [ValidateParams].
type TargetValidator interface {
	ValidateTarget(target string, taskParams json.RawMessage) error
}

// MaxTaskParamsBytes bounds the size of a schedule's task_params for every
// job type (the API's 1 MiB body limit is looser). It is checked before a
// handler parses anything.
const MaxTaskParamsBytes = 64 << 10

// ValidateParams checks a schedule's task_params with its handler h,
// passing the target to a [TargetValidator]. Task_params larger than
// MaxTaskParamsBytes are refused before the handler sees them.
func ValidateParams(h Handler, target string, taskParams json.RawMessage) error {
	if n := len(taskParams); n > MaxTaskParamsBytes {
		return fmt.Errorf("%d bytes exceeds the limit of %d bytes (64 KiB, MaxTaskParamsBytes)", n, MaxTaskParamsBytes)
	}
	_, taskParams, err := StripNoticeOption(taskParams)
	if err != nil {
		return err
	}
	if tv, ok := h.(TargetValidator); ok {
		return tv.ValidateTarget(target, taskParams)
	}
	return h.Validate(taskParams)
}

// Timeouter is an optional interface of a Handler that sets the time limit
// of its jobs itself (script jobs: max(SCHEDULER_JOB_TIMEOUT,
// timeout_seconds + 60 s), so that the script's own timeout fires first).
// A zero duration leaves the engine's rule: the task_params timeout, else
// Options.TypeTimeouts, else Options.JobTimeout.
type Timeouter interface {
	Timeout(job *Job) time.Duration
}

// Options tune an Engine; zero values take the documented defaults.
type Options struct {
	// NodeID identifies this instance as lease owner.
	NodeID string
	// Workers is the pool size (SCHEDULER_MAX_WORKERS).
	Workers int
	// JobTimeout applies when a job has no timeout of its own.
	JobTimeout time.Duration
	// TypeTimeouts override JobTimeout per job type (alerts:
	// ALERT_MAX_EVAL_TIME); a job's own timeout still wins.
	TypeTimeouts map[string]time.Duration
	// MisfireThreshold: a fire later than this was missed, not just late (60 s).
	MisfireThreshold time.Duration
	// MisfireGrace: missed fires younger than this still run (300 s).
	MisfireGrace time.Duration
	// Coalesce runs missed fires within the grace time as one run.
	Coalesce bool
	// RetryCount is the default number of retries after a failed attempt.
	RetryCount int
	// RetryDelay is the first retry delay; it doubles per attempt, with jitter.
	RetryDelay time.Duration
	// Lease is how long a claimed run stays owned without a heartbeat.
	Lease time.Duration
	// PollInterval bounds how stale the loop can be after raw SQL edits.
	PollInterval time.Duration
	// ShutdownGrace is how long running jobs may finish at shutdown.
	ShutdownGrace time.Duration
	// Location is the default time zone of schedules.
	Location *time.Location
	// ClaimBatch is the number of schedules claimed per transaction (1000).
	ClaimBatch int
	// ClaimAhead is how far ahead of their instant fires are claimed (10 s):
	// the run rows wait, pending and leased to this instance, with
	// run_after = the instant, so the claim's own time never delays a start
	// and a burst of fires due at one instant is in the database before it.
	ClaimAhead time.Duration
	// MaxQueued bounds the runs claimed ahead and waiting in memory
	// (100,000); above it only fires due within a second are claimed.
	MaxQueued int
	// Now is the clock (time.Now).
	Now func() time.Time
	// Logger (slog.Default()).
	Logger *slog.Logger
	// Observer receives metrics events (may be nil).
	Observer Observer
	// Outbox, when set, is woken after a batch of completions that queued
	// notifications (the notification dispatcher).
	Outbox interface{ Notify() }
	// Notices, when set, plans the failure notices of every job type (see
	// notices.go): to the schedule's notify config, else the owner's
	// default channel. nil: no notices.
	Notices *notify.Planner
	// Fence, when set, is called before a run whose owner died is
	// recovered (retried or failed): it kills what the run left running.
	// An error leaves the run for the next recovery sweep, so that it
	// never runs twice at once.
	Fence func(ctx context.Context, r store.Run) error

	// claimLead is claimLead unless a test sets it.
	claimLead time.Duration
}

// Observer receives engine events for metrics.
type Observer interface {
	RunStarted(jobType string, lag time.Duration)
	RunFinished(jobType, status string, d time.Duration)
	Fired(jobType string, pending, skipped, missed int)
	Retried(jobType string)
}

// Engine is a running scheduler instance.
type Engine struct {
	st       store.Store
	o        Options
	log      *slog.Logger
	handlers map[string]Handler

	wakeClaim chan struct{}
	wakeWork  chan struct{}
	slotFree  chan struct{}
	done      chan store.Completion

	queue *runQueue

	// manualAt is when (unix ns) a manual run was last announced (NOTIFY
	// scheduler_manual_trigger, Wake); see manualWatch.
	manualAt atomic.Int64

	mu      sync.Mutex
	active  map[int64]context.CancelFunc
	cache   map[int64]*cached
	crons   map[string]*cronexpr.Schedule // parsed expressions by cron and time zone
	running bool
	lastErr error
	// okAt and errAt are the times of the last successful and failed
	// database operation of any loop: the engine is failing while the
	// failure is the more recent.
	okAt, errAt time.Time
	// connectedSince is when heartbeats last started to succeed (zero
	// while they fail): runs of other instances are recovered only after
	// a whole lease of contact, so that after an outage every live
	// instance has renewed its liveness before anyone looks for dead ones.
	connectedSince time.Time
	// out buffers outcomes until they are written.
	out *outcomes
	// flushNow asks the completer to write what it holds at once (a fire
	// waits for one of those outcomes).
	flushNow atomic.Bool
	ticks    uint64
	// invalidTold holds the configuration error of each invalid schedule
	// whose notice this process wrote or found written; invalidQueue the
	// notices (and clearances) the last claim found (notices.go).
	invalidTold  map[int64]string
	invalidQueue []invalidSeen
}

// New returns an engine over st with the given handlers by job type.
func New(st store.Store, handlers map[string]Handler, o Options) *Engine {
	if o.NodeID == "" {
		o.NodeID = "node-" + strconv.Itoa(rand.IntN(1<<30))
	}
	if o.Workers <= 0 {
		o.Workers = 10
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.JobTimeout, 300*time.Second)
	def(&o.MisfireThreshold, 60*time.Second)
	def(&o.MisfireGrace, 300*time.Second)
	def(&o.RetryDelay, 10*time.Second)
	def(&o.Lease, 30*time.Second)
	def(&o.PollInterval, 10*time.Second)
	def(&o.ShutdownGrace, 30*time.Second)
	if o.Location == nil {
		o.Location = time.UTC
	}
	if o.ClaimBatch <= 0 {
		o.ClaimBatch = 1000
	}
	if o.ClaimAhead <= 0 {
		o.ClaimAhead = 10 * time.Second
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = 100_000
	}
	if o.claimLead <= 0 {
		o.claimLead = claimLead
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return &Engine{
		st: st, o: o, log: o.Logger.With("node", o.NodeID), handlers: handlers,
		wakeClaim: make(chan struct{}, 1), wakeWork: make(chan struct{}, 1), slotFree: make(chan struct{}, 1),
		queue:  newRunQueue(),
		active: map[int64]context.CancelFunc{}, cache: map[int64]*cached{}, crons: map[string]*cronexpr.Schedule{},
		out: newOutcomes(max(o.Workers*2, completionBuffer)), invalidTold: map[int64]string{},
	}
}

// completionBuffer is the minimum number of outcomes that may wait for the
// completer: a worker is free again once its outcome is buffered, so a
// burst of short runs is not slowed to the pace of the completion writes.
const completionBuffer = 10_000

// NodeID returns the lease owner name of this instance.
func (e *Engine) NodeID() string { return e.o.NodeID }

// Wake makes the claim loop look at the schedules now (after a change),
// and the outbox dispatcher at the notifications (a requeued one).
func (e *Engine) Wake() {
	e.noteManual()
	signal(e.wakeClaim)
	signal(e.wakeWork)
	if e.o.Outbox != nil {
		e.o.Outbox.Notify()
	}
}

// manualWatch is how long after a manual run was announced every written
// batch of completions wakes the general claim. A manual run announced while
// a run of its schedule is running cannot start (one exclusive run at a
// time); it must start when that run ends, not at the next poll, which can
// fall into every next fire of the schedule and starve it.
const manualWatch = time.Minute

func (e *Engine) noteManual() { e.manualAt.Store(e.o.Now().UnixNano()) }

// watchingManual reports whether a manual run was announced within manualWatch.
func (e *Engine) watchingManual() bool {
	at := e.manualAt.Load()
	return at != 0 && e.o.Now().Sub(time.Unix(0, at)) < manualWatch
}

// Running reports whether the engine loop is up, and the last loop error.
func (e *Engine) Running() (bool, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.errAt.After(e.okAt) {
		return e.running, e.lastErr
	}
	return e.running, nil
}

// Active returns the number of runs executing in this instance.
func (e *Engine) Active() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.active)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run runs the engine until ctx is cancelled, then shuts down gracefully:
// it stops claiming, lets running jobs finish within ShutdownGrace, cancels
// the rest and puts them back as pending for another instance or the next
// start.
func (e *Engine) Run(ctx context.Context) error {
	e.mu.Lock()
	e.running = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		e.running = false
		e.mu.Unlock()
	}()

	jobsCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	completerDone, stopCompleter := make(chan struct{}), make(chan struct{})
	go func() { defer close(completerDone); e.completer(stopCompleter) }()

	var wg sync.WaitGroup
	loop := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	var jobs sync.WaitGroup
	if !e.takeOver(ctx) {
		close(stopCompleter)
		<-completerDone
		return nil
	}
	e.heartbeat(ctx) // registered before the first claim
	loop(e.claimLoop)
	loop(func(ctx context.Context) { e.workLoop(ctx, jobsCtx, &jobs) })
	loop(func(ctx context.Context) { e.dispatchLoop(ctx, jobsCtx, &jobs) })
	loop(e.leaseLoop)
	if l, ok := e.st.(listener); ok && l.CanListen() {
		loop(e.listen)
	}
	e.log.Info("engine started", "workers", e.o.Workers, "dialect", e.st.Dialect())
	<-ctx.Done()
	wg.Wait()
	e.release()

	// Graceful shutdown: wait for running jobs, then cancel them.
	finished := make(chan struct{})
	go func() { jobs.Wait(); close(finished) }()
	if n := e.Active(); n > 0 {
		e.log.Info("waiting for running jobs", "running", n, "grace", e.o.ShutdownGrace)
	}
	select {
	case <-finished:
	case <-time.After(e.o.ShutdownGrace):
		e.log.Warn("shutdown grace over; cancelling running jobs, they will be run again", "running", e.Active())
		cancelJobs()
		<-finished
	}
	close(stopCompleter)
	<-completerDone
	e.log.Info("engine stopped")
	return nil
}

// listener is implemented by stores with LISTEN/NOTIFY (PostgreSQL).
type listener interface {
	CanListen() bool
	Listen(ctx context.Context, channels []string, fn func(channel, payload string)) error
}

func (e *Engine) listen(ctx context.Context) {
	l := e.st.(listener)
	_ = l.Listen(ctx, []string{store.ChannelUpdates, store.ChannelManualTrigger, store.ChannelOutbox}, func(ch, payload string) {
		switch ch {
		case store.ChannelOutbox:
			if e.o.Outbox != nil {
				e.o.Outbox.Notify()
			}
		case store.ChannelManualTrigger:
			e.log.Info("manual trigger received", "payload", payload)
			e.noteManual()
			signal(e.wakeWork)
		case store.ChannelUpdates:
			e.log.Debug("schedules changed", "payload", payload)
			signal(e.wakeClaim)
		default: // (re)connected: catch up
			signal(e.wakeClaim)
			signal(e.wakeWork)
			if e.o.Outbox != nil {
				e.o.Outbox.Notify()
			}
		}
	})
}

// setErr records the outcome of a database operation of one of the loops.
func (e *Engine) setErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if err == nil {
		e.okAt = time.Now()
		return
	}
	e.lastErr, e.errAt = err, time.Now()
}

// sleep waits for d, a wake signal or ctx; it reports false when ctx ended.
func sleep(ctx context.Context, d time.Duration, wake ...chan struct{}) bool {
	if d < 0 {
		d = 0
	}
	t := time.NewTimer(d)
	defer t.Stop()
	var w1, w2 chan struct{}
	if len(wake) > 0 {
		w1 = wake[0]
	}
	if len(wake) > 1 {
		w2 = wake[1]
	}
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
	case <-w1:
	case <-w2:
	}
	return true
}

// claimLoop turns due schedules into runs. Idle, it issues one query per
// wake: after a sleep that nobody cut short, it first asks for the next
// fire (NextDue) and claims only when one is within reach.
func (e *Engine) claimLoop(ctx context.Context) {
	backoff := time.Second
	var yielding time.Time
	probe := false
	for ctx.Err() == nil {
		now := e.o.Now()
		if probe {
			probe = false
			next, hasNull, err := e.st.NextDue(ctx)
			if err == nil {
				if wait := e.untilClaim(next, hasNull); wait > 0 {
					alive, woken := sleepWoken(ctx, wait, e.wakeClaim)
					if !alive {
						return
					}
					probe = !woken
					continue
				}
			}
		}
		// Fires already claimed come first: while due runs wait to be
		// started, claiming (seconds ahead) would only compete with them
		// for the database. For a second at most: when the workers are
		// busy with long runs, fires must still be claimed on time.
		if e.queue.hasDue(now) && e.claimAhead() > time.Second {
			if yielding.IsZero() {
				yielding = now
			}
			if now.Sub(yielding) < time.Second {
				if !sleep(ctx, 100*time.Millisecond, e.queue.idle) {
					return
				}
				continue
			}
		}
		ahead := e.claimAhead()
		horizon := now.Add(ahead)
		claimed, queued, err := e.st.ClaimDue(ctx, e.o.NodeID, now, horizon, e.o.ClaimBatch, e.o.Lease, e.planner(now, horizon))
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.setErr(err)
			e.log.Error("claim failed; retrying", "err", err, "in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = time.Second
		e.setErr(nil)
		e.queue.push(queued...)
		e.tellInvalid(ctx)
		if claimed == e.o.ClaimBatch {
			continue // more are due
		}
		next, hasNull, err := e.st.NextDue(ctx)
		wait := time.Second
		if err == nil {
			wait = e.untilClaim(next, hasNull)
		}
		yielding = time.Time{} // caught up: the next wake may yield again
		if wait > 0 {
			alive, woken := sleepWoken(ctx, wait, e.wakeClaim)
			if !alive {
				return
			}
			probe = !woken && err == nil
		}
	}
}

// untilClaim returns how long the claim loop may sleep given the earliest
// next_run_at (and whether one is NULL): at most PollInterval, 0 to claim
// now. It claims when the earliest fire is within three quarters of the
// horizon, up to the whole horizon: a schedule firing every second is
// claimed for a few fires at a time.
func (e *Engine) untilClaim(next *time.Time, hasNull bool) time.Duration {
	wait := e.o.PollInterval
	switch {
	case hasNull:
		wait = 0
	case next != nil:
		ahead := e.claimAhead()
		if ahead == e.o.ClaimAhead {
			ahead = ahead * 3 / 4
		}
		wait = min(wait, next.Sub(e.o.Now())-ahead)
	}
	return max(wait, 0)
}

// sleepWoken waits like sleep and also reports whether a wake signal (not
// the timer) ended the wait.
func sleepWoken(ctx context.Context, d time.Duration, wake chan struct{}) (alive, woken bool) {
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false, false
	case <-t.C:
		return true, false
	case <-wake:
		return true, true
	}
}

// claimAhead is how far ahead the claim loop claims now: ClaimAhead, or a
// second while MaxQueued runs already wait in memory.
func (e *Engine) claimAhead() time.Duration {
	if e.queue.len() >= e.o.MaxQueued {
		return min(time.Second, e.o.ClaimAhead)
	}
	return e.o.ClaimAhead
}

// detached returns a context for a claim that shutdown does not interrupt
// (a commit cut off mid-way would leave runs marked running that nobody
// starts), bounded by a minute.
func detached(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
}

// runnableChecker is implemented by stores that can tell cheaply whether
// the general claim would find anything (*store.DB).
type runnableChecker interface {
	HasRunnable(ctx context.Context, now time.Time) (bool, error)
}

// workLoop claims runnable runs up to the number of free workers. Idle,
// after a sleep nobody cut short, it first checks whether anything is
// runnable (one indexed lookup) before it claims.
func (e *Engine) workLoop(ctx, jobsCtx context.Context, jobs *sync.WaitGroup) {
	backoff := time.Second
	probe := false
	for ctx.Err() == nil {
		free := e.o.Workers - e.Active()
		if free <= 0 {
			if !sleep(ctx, time.Second, e.slotFree) {
				return
			}
			continue
		}
		now := e.o.Now()
		if rc, ok := e.st.(runnableChecker); ok && probe {
			probe = false
			if any, err := rc.HasRunnable(ctx, now); err == nil && !any {
				alive, woken := sleepWoken(ctx, e.o.PollInterval, e.wakeWork)
				if !alive {
					return
				}
				probe = !woken
				continue
			}
		}
		cctx, cancel := detached(ctx)
		runs, err := e.st.ClaimRuns(cctx, e.o.NodeID, now, free, e.o.Lease, e.out.finishingIDs(nil))
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			e.setErr(err)
			e.log.Warn("claim runs failed; retrying", "err", err, "in", backoff)
			sleep(ctx, backoff)
			backoff = min(backoff*2, maxBackoff)
			continue
		}
		backoff = time.Second
		e.setErr(nil)
		for _, r := range runs {
			e.start(jobsCtx, jobs, r, nil)
		}
		if len(runs) == free {
			continue
		}
		// Runs this instance queued are started by dispatchLoop; this loop
		// finds the others (manual runs, retries after a restart, runs
		// another instance queued but could not start) when woken (API,
		// NOTIFY scheduler_manual_trigger, recovery) and at least every
		// PollInterval.
		alive, woken := sleepWoken(ctx, e.o.PollInterval, e.wakeWork)
		if !alive {
			return
		}
		probe = !woken
	}
}

// start executes a claimed run on a new goroutine; p is the run made ready
// by prepare, or nil to prepare it there.
func (e *Engine) start(jobsCtx context.Context, jobs *sync.WaitGroup, r store.Run, p *prepared) {
	rctx, cancel := context.WithCancel(jobsCtx)
	e.mu.Lock()
	e.active[r.ID] = cancel
	e.mu.Unlock()
	if r.Exclusive {
		if sc, err := strconv.ParseInt(r.JobID, 10, 64); err == nil {
			e.out.started(sc, e.o.Now())
		}
	}
	jobs.Add(1)
	go func() {
		defer jobs.Done()
		if p == nil {
			p = e.prepare(rctx, r)
		}
		c := e.run(rctx, p)
		cancel()
		// The slot stays taken until the outcome is buffered, so a slow
		// database slows claiming instead of piling up results.
		e.out.add(c, c.ScheduleID)
		e.mu.Lock()
		delete(e.active, r.ID)
		e.mu.Unlock()
		signal(e.slotFree)
	}()
}

// maxBackoff bounds the pause of a loop after a database error, so that
// the engine is working again within seconds of the database's return.
const maxBackoff = 5 * time.Second

// leaseLoop renews this instance's leases and recovers runs of dead owners.
func (e *Engine) leaseLoop(ctx context.Context) {
	tick := e.o.Lease / 3
	for sleep(ctx, tick) {
		if !e.heartbeat(ctx) {
			continue
		}
		e.mu.Lock()
		since := e.connectedSince
		e.mu.Unlock()
		if e.o.Now().Sub(since) >= e.o.Lease && e.leasesExpired(ctx) {
			if err := e.RecoverExpired(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("recovering expired runs failed", "err", err)
			}
		}
		if e.ticks++; e.ticks%pruneEvery == 0 {
			e.pruneCache(ctx)
		}
	}
}

// pruneEvery is how many lease ticks (Lease/3) pass between two looks at
// the number of schedules (pruneCache): deleted schedules' compiled
// entries are not worth a query every tick.
const pruneEvery = 30

// leaseChecker is implemented by stores that tell cheaply whether any
// lease expired (*store.DB).
type leaseChecker interface {
	HasExpiredLeases(ctx context.Context, now time.Time) (bool, error)
}

// leasesExpired reports whether the recovery sweep may find something:
// without an expired lease nobody died (one lookup instead of the sweep's
// statements every tick). A failed lookup answers yes.
func (e *Engine) leasesExpired(ctx context.Context) bool {
	lc, ok := e.st.(leaseChecker)
	if !ok {
		return true
	}
	any, err := lc.HasExpiredLeases(ctx, e.o.Now())
	return err != nil || any
}

// heartbeat renews this instance's liveness and its running runs' leases;
// it reports whether that worked.
func (e *Engine) heartbeat(ctx context.Context) bool {
	now := e.o.Now()
	hctx, cancel := context.WithTimeout(ctx, e.o.Lease/3)
	_, err := e.st.Heartbeat(hctx, e.o.NodeID, now.Add(e.o.Lease))
	cancel()
	e.mu.Lock()
	defer e.mu.Unlock()
	if err != nil {
		e.connectedSince = time.Time{}
		if ctx.Err() == nil {
			e.log.Warn("heartbeat failed", "err", err)
		}
		return false
	}
	if e.connectedSince.IsZero() {
		e.connectedSince = now
	}
	e.okAt = time.Now()
	return true
}

// pruneCache forgets the compiled schedules when the cache holds clearly
// more entries than there are schedules (deleted ones); they are compiled
// again on their next claim.
func (e *Engine) pruneCache(ctx context.Context) {
	n, err := e.st.CountSchedules(ctx)
	if err != nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.cache) > n+n/10+100 {
		e.cache = map[int64]*cached{}
		e.crons = map[string]*cronexpr.Schedule{}
	}
}

// release gives back the runs this instance claimed ahead but did not
// start, so that another instance or the next start fires them (under the
// misfire policy if that is late).
func (e *Engine) release() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := e.st.ReleaseRuns(ctx, e.o.NodeID, e.o.Now())
	if err != nil {
		e.log.Error("releasing runs claimed ahead failed; they are released when their lease expires", "err", err)
		return
	}
	e.queue.clear()
	if n > 0 {
		e.log.Info("released runs claimed ahead", "runs", n)
	}
}

// takeOver recovers, before this instance claims or starts anything, what
// an earlier process with the same node id left when it died (kill -9, a
// crash, a restart by systemd within the lease): its fires claimed ahead
// are released and its running runs retried or failed, as RecoverExpired
// does for a dead owner. Left alone they would stay owned by a node id
// that is alive again — the new process heartbeats — and nobody would ever
// start the fires or finish the runs (the running ones would block their
// schedules, whose later fires would all be skipped). It retries until
// the database answers and reports false when ctx ends first.
func (e *Engine) takeOver(ctx context.Context) bool {
	backoff := time.Second
	for {
		err := e.takeOverOnce(ctx)
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		e.setErr(err)
		e.log.Error("taking over the runs of an earlier process of this node failed; retrying", "err", err, "in", backoff)
		if !sleep(ctx, backoff) {
			return false
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

func (e *Engine) takeOverOnce(ctx context.Context) error {
	now := e.o.Now()
	n, err := e.st.ReleaseRuns(ctx, e.o.NodeID, now)
	if err != nil {
		return err
	}
	if n > 0 {
		e.log.Warn("released fires an earlier process of this node claimed ahead", "runs", n)
	}
	for {
		runs, err := e.st.RunningOf(ctx, e.o.NodeID, 500)
		if err != nil {
			return err
		}
		if len(runs) == 0 {
			return nil
		}
		cs, err := e.recoverRuns(ctx, runs, now, "the process of node %s that ran it died")
		if err != nil {
			return err
		}
		if len(cs) < len(runs) {
			return fmt.Errorf("%d run(s) of an earlier process of this node still fenced", len(runs)-len(cs))
		}
	}
}

// RecoverExpired retries or fails runs whose owner stopped renewing its
// lease (the process died), and releases the fires it had claimed ahead. A
// running run is detected at most Lease + Lease/3 after its owner's last
// heartbeat, a fire claimed ahead at most that long after its instant.
func (e *Engine) RecoverExpired(ctx context.Context) error {
	now := e.o.Now()
	if n, err := e.st.ReleaseRuns(ctx, "", now); err != nil {
		return err
	} else if n > 0 {
		e.log.Warn("released fires claimed ahead by an instance that stopped renewing its lease", "runs", n)
		signal(e.wakeClaim)
		signal(e.wakeWork)
	}
	runs, err := e.st.ExpiredRuns(ctx, now, 500)
	if err != nil {
		return err
	}
	_, err = e.recoverRuns(ctx, runs, now, "lease expired: owner %s stopped renewing it (process died?)")
	return err
}

// recoverRuns retries (or fails, when out of attempts) runs whose owner
// died, after the fence (if any) has killed what they left running; a run
// the fence cannot clear is left for a later sweep. why is the error
// recorded, with the owner for %s. It returns the completions written.
func (e *Engine) recoverRuns(ctx context.Context, runs []store.Run, now time.Time, why string) ([]store.Completion, error) {
	var cs []store.Completion
	for _, r := range runs {
		if e.o.Fence != nil {
			if err := e.o.Fence(ctx, r); err != nil {
				e.log.Error("run of a dead owner not recovered: what it left is still running", "run_id", r.ID,
					"schedule_id", r.JobID, "err", err)
				continue
			}
		}
		msg := fmt.Sprintf(why, r.LeaseOwner)
		c := store.Completion{RunID: r.ID, Owner: r.LeaseOwner, At: now, Error: msg}
		if r.Attempt < r.MaxAttempts {
			c.Status, c.Retry, c.RetryAt = store.StatusPending, true, &now
		} else {
			c.Status = store.StatusFailed
			e.recoveredStreak(ctx, r, &c)
		}
		e.log.Warn("run of a dead owner recovered", "run_id", r.ID, "schedule_id", r.JobID, "owner", r.LeaseOwner, "retry", c.Retry, "why", msg)
		cs = append(cs, c)
	}
	if len(cs) > 0 {
		signal(e.wakeWork)
	}
	return cs, e.st.CompleteRuns(ctx, cs)
}

// TriggerRun executes one specific pending run now (manual trigger), here,
// if no other instance has taken it. It returns store.ErrNotFound when the
// run is not pending.
func (e *Engine) TriggerRun(ctx context.Context, runID int64) error {
	r, err := e.st.ClaimRun(ctx, runID, e.o.NodeID, e.o.Now(), e.o.Lease)
	if err != nil {
		return err
	}
	c := e.execute(ctx, *r)
	return e.st.CompleteRuns(ctx, []store.Completion{c})
}

// execute runs one claimed run and returns its completion.
func (e *Engine) execute(ctx context.Context, r store.Run) store.Completion {
	return e.run(ctx, e.prepare(ctx, r))
}

// prepared is a claimed run made ready to execute: its job loaded, its
// handler, time limit and notice option read. A run claimed ahead of its
// instant is prepared before it, so that the instant only starts handlers.
type prepared struct {
	r        store.Run
	job      *Job
	h        Handler
	timeout  time.Duration
	notifyOn *bool
	// err fails the run without calling a handler (a configuration that
	// cannot run: no schedule, no handler, a bad option).
	err error
}

// prepare makes run r ready to execute.
func (e *Engine) prepare(ctx context.Context, r store.Run) *prepared {
	p := &prepared{r: r}
	p.job, p.err = e.loadJob(ctx, r)
	if p.err == nil {
		// The handlers do not know options.notify_on_failure.
		var err error
		p.notifyOn, p.job.Schedule.TaskParams, err = StripNoticeOption(p.job.Schedule.TaskParams)
		p.err = permanentIf(err)
	}
	if p.err != nil {
		return p
	}
	p.h = e.handlers[p.job.Schedule.JobType]
	if p.h == nil {
		p.err = permanent(fmt.Errorf("unknown job_type %q (no handler)", p.job.Schedule.JobType))
		return p
	}
	p.timeout = e.o.JobTimeout
	if t, ok := e.o.TypeTimeouts[p.job.Schedule.JobType]; ok && t > 0 {
		p.timeout = t
	}
	if opts := ParseJobOptions(p.job.Schedule.TaskParams); opts.Timeout > 0 {
		p.timeout = opts.Timeout
	}
	if to, ok := p.h.(Timeouter); ok {
		if d := to.Timeout(p.job); d > 0 {
			p.timeout = d
		}
	}
	return p
}

// run executes a prepared run and returns its completion.
func (e *Engine) run(ctx context.Context, p *prepared) store.Completion {
	r, job, err := p.r, p.job, p.err
	start := e.o.Now()
	// The run's logger is built only when something is logged: on the
	// success path of a busy instance that is most of a run's cost.
	log := func() *slog.Logger {
		return e.log.With("run_id", r.ID, "schedule_id", r.JobID, "job_type", r.JobType, "attempt", r.Attempt)
	}
	if e.o.Observer != nil {
		e.o.Observer.RunStarted(r.JobType, start.Sub(r.ScheduledFor))
	}
	c := store.Completion{RunID: r.ID, Owner: e.o.NodeID, StartedAt: start}
	c.ScheduleID, _ = strconv.ParseInt(r.JobID, 10, 64)
	var out *Outcome
	if err == nil {
		jctx, cancel := context.WithTimeout(ctx, p.timeout)
		out, err = safeHandle(jctx, p.h, job)
		if err != nil && errors.Is(jctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %d s", int(p.timeout.Seconds()))
		}
		cancel()
	}
	notifyOn := p.notifyOn
	end := e.o.Now()
	c.At = end
	if ctx.Err() != nil {
		// Shutdown cancelled the job: put it back untouched.
		log().Warn("run interrupted by shutdown; put back", "err", err)
		c.Status = store.StatusPending
		return c
	}
	if out != nil {
		if out.Result != nil {
			if b, merr := json.Marshal(out.Result); merr == nil {
				c.Result = b
			} else {
				log().Error("result not JSON-encodable", "err", merr)
			}
		}
		c.State, c.Notifications = out.State, out.Notifications
	}
	dur := end.Sub(start)
	if err != nil {
		c.Error = err.Error()
		if r.Attempt < r.MaxAttempts && !IsPermanent(err) {
			next := end.Add(e.backoff(job, r.Attempt))
			c.Status, c.Retry, c.RetryAt = store.StatusPending, true, &next
			log().Warn("run failed; will retry", "err", err, "retry_at", next, "duration", dur)
			if e.o.Observer != nil {
				e.o.Observer.Retried(r.JobType)
			}
		} else {
			c.Status = store.StatusFailed
			log().Error("run failed", "err", err, "duration", dur)
		}
	} else {
		c.Status = store.StatusCompleted
		if e.log.Enabled(ctx, slog.LevelDebug) {
			log().Debug("run completed", "duration", dur)
		}
	}
	e.streak(ctx, job, &c, notifyOn)
	if e.o.Observer != nil {
		e.o.Observer.RunFinished(r.JobType, c.Status, dur)
	}
	return c
}

// backoff returns the delay before the next attempt: the schedule's
// retry_delay (or the default), doubled per attempt, ±20 % jitter, at most 1 h.
func (e *Engine) backoff(job *Job, attempt int) time.Duration {
	base := e.o.RetryDelay
	if job != nil {
		if o := ParseJobOptions(job.Schedule.TaskParams); o.RetryDelay > 0 {
			base = o.RetryDelay
		}
	}
	d := base << min(attempt-1, 20)
	d = min(d, time.Hour)
	jitter := 0.8 + 0.4*rand.Float64()
	return time.Duration(float64(d) * jitter)
}

func (e *Engine) loadJob(ctx context.Context, r store.Run) (*Job, error) {
	job := &Job{Run: r}
	if len(r.Snapshot) > 0 && json.Unmarshal(r.Snapshot, &job.Schedule) == nil && job.Schedule.JobType != "" {
		return job, nil
	}
	// A run inserted by another process (web UI) without a snapshot.
	id, err := strconv.ParseInt(r.JobID, 10, 64)
	if err != nil {
		return job, permanent(fmt.Errorf("job_id %q is not a schedule id", r.JobID))
	}
	sc, err := e.st.GetSchedule(ctx, id)
	if err != nil {
		return job, permanent(fmt.Errorf("load schedule %d: %w", id, err))
	}
	job.Schedule = store.Snapshot{ID: sc.ID, Name: sc.Name, JobType: sc.JobType, Target: sc.Target,
		TaskParams: sc.TaskParams, Cron: sc.Cron, ExecutionTime: r.ScheduledFor, UserID: sc.UserID}
	return job, nil
}

// safeHandle calls h, turning a panic into an error.
func safeHandle(ctx context.Context, h Handler, job *Job) (out *Outcome, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = permanent(fmt.Errorf("job panicked: %v\n%s", p, debug.Stack()))
		}
	}()
	return h.Handle(ctx, job)
}

// permanentError marks failures that a retry cannot fix.
type permanentError struct{ err error }

func (p *permanentError) Error() string { return p.err.Error() }
func (p *permanentError) Unwrap() error { return p.err }

func permanent(err error) error { return &permanentError{err} }

// permanentIf is permanent(err), or nil for nil.
func permanentIf(err error) error {
	if err == nil {
		return nil
	}
	return permanent(err)
}

// Permanent marks err as not worth retrying (invalid configuration).
func Permanent(err error) error { return permanent(err) }

// IsPermanent reports whether err (or an error it wraps) was marked with
// Permanent.
func IsPermanent(err error) bool {
	var p *permanentError
	return errors.As(err, &p)
}
