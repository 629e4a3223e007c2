package engine

import (
	"container/heap"
	"context"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// runQueue holds the pending runs this instance inserted (claimed fires,
// retries), ordered by the time they may start, so that they are started
// on time by id instead of being searched for.
type runQueue struct {
	mu   sync.Mutex
	h    queueHeap
	wake chan struct{}
	// idle is signalled when the dispatcher has started every due run.
	idle chan struct{}
}

type queueHeap []store.Queued

func (h queueHeap) Len() int { return len(h) }
func (h queueHeap) Less(i, j int) bool {
	if h[i].RunAfter.Equal(h[j].RunAfter) {
		return h[i].ID < h[j].ID
	}
	return h[i].RunAfter.Before(h[j].RunAfter)
}
func (h queueHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *queueHeap) Push(x any)   { *h = append(*h, x.(store.Queued)) }
func (h *queueHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

func newRunQueue() *runQueue {
	return &runQueue{wake: make(chan struct{}, 1), idle: make(chan struct{}, 1)}
}

func (q *runQueue) push(rs ...store.Queued) {
	if len(rs) == 0 {
		return
	}
	q.mu.Lock()
	for _, r := range rs {
		heap.Push(&q.h, r)
	}
	q.mu.Unlock()
	signal(q.wake)
}

// due pops up to limit runs whose time has come, at most one per schedule
// and none of a schedule for which busy reports true (those stay queued;
// held reports that some did), and reports when the next one is due (zero
// when the queue is empty).
func (q *runQueue) due(now time.Time, limit int, busy func(schedule int64) bool) (qs []store.Queued, next time.Time, held bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var aside []store.Queued
	picked := map[int64]bool{}
	for len(q.h) > 0 && len(qs) < limit && !q.h[0].RunAfter.After(now) {
		r := heap.Pop(&q.h).(store.Queued)
		if picked[r.Schedule] || busy(r.Schedule) {
			aside = append(aside, r)
			continue
		}
		picked[r.Schedule] = true
		qs = append(qs, r)
	}
	for _, r := range aside {
		heap.Push(&q.h, r)
	}
	if len(q.h) > 0 {
		next = q.h[0].RunAfter
	}
	return qs, next, len(aside) > 0
}

// hasDue reports whether a queued run's time has come.
func (q *runQueue) hasDue(now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h) > 0 && !q.h[0].RunAfter.After(now)
}

// dueAtLeast reports whether at least n queued runs are due (a walk of the
// due part of the heap, at most n nodes).
func (q *runQueue) dueAtLeast(now time.Time, n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	count, stack := 0, []int{0}
	for len(stack) > 0 && count < n {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i >= len(q.h) || q.h[i].RunAfter.After(now) {
			continue
		}
		count++
		stack = append(stack, 2*i+1, 2*i+2)
	}
	return count >= n
}

// clear forgets every queued run.
func (q *runQueue) clear() {
	q.mu.Lock()
	q.h = nil
	q.mu.Unlock()
}

func (q *runQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h)
}

// dispatchClaimers is the number of claims by id in flight at once: a
// burst of fires due at one instant is started by two database sessions.
const dispatchClaimers = 2

// dispatchBatch bounds the fires claimed by id in one statement: a smaller
// batch starts sooner, and the claims of a burst overlap.
const dispatchBatch = 500

// gatherWait is how long the dispatcher waits for busy workers to be free
// before claiming fewer runs than are due.
const gatherWait = 5 * time.Millisecond

// waitForFinishing is how long a fire that waits for its predecessor's
// outcome to be written waits before it is claimed again.
const waitForFinishing = 20 * time.Millisecond

// claimLead is how long before their instant queued fires are claimed (set
// running in the database): the claim's time is spent before the instant,
// which then only starts them. Each waits for its instant holding a worker.
// A fire whose predecessor is still running then waits, claimed again
// shortly; it is skipped only if that run is still going at its instant.
const claimLead = 500 * time.Millisecond

// dispatchLoop claims queued runs up to claimLead before their time and
// starts them at it. Runs another instance took meanwhile are simply not
// returned by the claim; fires whose predecessor is finishing here, or still
// running before their instant, wait and are claimed again shortly; other
// runs that must wait for a running predecessor are handed to the general
// work loop.
func (e *Engine) dispatchLoop(ctx, jobsCtx context.Context, jobs *sync.WaitGroup) {
	sem := make(chan struct{}, dispatchClaimers)
	var claiming atomic.Int64 // runs being claimed: they take workers too
	var inflight sync.WaitGroup
	defer inflight.Wait()
	var gatherUntil time.Time
	for ctx.Err() == nil {
		busy := e.Active() + int(claiming.Load())
		free := e.o.Workers - busy
		if free <= 0 {
			if !sleep(ctx, time.Second, e.slotFree) {
				return
			}
			continue
		}
		now := e.o.Now()
		ahead := now.Add(e.o.claimLead)
		// More runs are due than workers are free, and busy workers are
		// about to be free: wait a moment for them, since claiming many
		// runs at once costs little more than claiming a few.
		if free < e.o.Workers/4 && busy > 0 && e.queue.dueAtLeast(ahead, free+1) {
			if gatherUntil.IsZero() {
				gatherUntil = now.Add(gatherWait)
			}
			if now.Before(gatherUntil) {
				if !sleep(ctx, gatherUntil.Sub(now), e.slotFree) {
					return
				}
				continue
			}
		}
		gatherUntil = time.Time{}
		flush := false
		qs, next, held := e.queue.due(ahead, min(free, dispatchBatch), func(sc int64) bool {
			if e.out.busy(sc) {
				flush = true
				return true
			}
			return e.out.executingRecently(sc, now)
		})
		if flush {
			// Fires wait for their schedule's previous outcome to be
			// written (or for a claim of the same schedule): write now.
			e.flushNow.Store(true)
		}
		if len(qs) > 0 {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				e.queue.push(qs...)
				return // still leased to this instance: released at shutdown
			}
			e.out.markClaiming(qs, 1)
			claiming.Add(int64(len(qs)))
			inflight.Add(1)
			go func() {
				defer inflight.Done()
				defer func() { <-sem }()
				e.claimQueued(ctx, jobsCtx, jobs, now, qs)
				e.out.markClaiming(qs, -1)
				claiming.Add(-int64(len(qs)))
				signal(e.slotFree)
				signal(e.queue.wake)
			}()
			continue
		}
		if !held {
			signal(e.queue.idle)
		}
		wait := e.o.PollInterval
		switch {
		case held:
			wait = waitForFinishing // woken earlier by a written outcome
		case !next.IsZero():
			wait = next.Sub(e.o.Now()) - e.o.claimLead
		}
		if !sleep(ctx, wait, e.queue.wake) {
			return
		}
	}
}

// claimQueued claims queued runs by id and starts them. When the claim
// fails they stay pending in the database, leased to this instance, and
// are queued again after a pause.
func (e *Engine) claimQueued(ctx, jobsCtx context.Context, jobs *sync.WaitGroup, now time.Time, qs []store.Queued) {
	ids := make([]int64, len(qs))
	scheds := make(map[int64]bool, len(qs))
	bySched := make(map[int64]int64, len(qs))
	for i, q := range qs {
		ids[i], scheds[q.Schedule], bySched[q.ID] = q.ID, true, q.Schedule
	}
	// The claim writes the buffered outcomes of these schedules first, in
	// its transaction; a run of them that finishes meanwhile makes its
	// fire wait for the outcome instead of being skipped.
	done := e.out.takeFor(scheds)
	cctx, cancel := detached(ctx)
	runs, waiting, err := e.st.ClaimRunIDs(cctx, store.ClaimByID{Owner: e.o.NodeID, Now: now, Until: now.Add(e.o.claimLead), IDs: ids, Lease: e.o.Lease,
		Finishing: e.out.finishingIDs(scheds), Done: done})
	cancel()
	if err != nil {
		e.out.giveBack(done, false) // the completer writes them
		if ctx.Err() != nil {
			return
		}
		e.setErr(err)
		e.log.Warn("claim queued runs failed; retrying", "err", err, "runs", len(ids), "in", time.Second)
		sleep(ctx, time.Second)
		for i := range qs {
			qs[i].RunAfter = now
		}
		e.queue.push(qs...)
		return
	}
	e.setErr(nil)
	e.afterWritten(done, false)
	e.startAtInstants(jobsCtx, jobs, runs)
	if len(waiting) > 0 {
		// Their predecessors finished here (the outcomes are written now)
		// or still run before the fires' instants: claimed again shortly.
		e.flushNow.Store(true)
		at := e.o.Now().Add(waitForFinishing)
		back := make([]store.Queued, len(waiting))
		for i, id := range waiting {
			back[i] = store.Queued{ID: id, RunAfter: at, Schedule: bySched[id]}
		}
		e.queue.push(back...)
	}
	if len(runs)+len(waiting) < len(ids) {
		signal(e.wakeWork) // waiting ones were handed to the general claim
	}
}

// startAtInstants starts claimed runs, each at its instant: those claimed
// ahead of it (claimLead) wait, in one goroutine per batch, holding their
// workers. When the engine's jobs are cancelled first (the end of the
// shutdown grace), the waiting runs are put back untouched.
func (e *Engine) startAtInstants(jobsCtx context.Context, jobs *sync.WaitGroup, runs []store.Run) {
	now := e.o.Now()
	var later []store.Run
	for _, r := range runs {
		if r.RunAfter != nil && r.RunAfter.After(now) {
			later = append(later, r)
			continue
		}
		e.start(jobsCtx, jobs, r, nil)
	}
	if len(later) == 0 {
		return
	}
	slices.SortFunc(later, func(a, b store.Run) int { return a.RunAfter.Compare(*b.RunAfter) })
	e.mu.Lock()
	for _, r := range later {
		e.active[r.ID] = func() {} // its worker is taken from now on
	}
	e.mu.Unlock()
	jobs.Add(1)
	go func() {
		defer jobs.Done()
		ready := make([]*prepared, len(later))
		for i, r := range later {
			ready[i] = e.prepare(jobsCtx, r)
		}
		for i, r := range later {
			if d := r.RunAfter.Sub(e.o.Now()); d > 0 && !sleep(jobsCtx, d) {
				e.putBack(later[i:])
				return
			}
			e.start(jobsCtx, jobs, r, ready[i])
		}
	}()
}

// putBack returns claimed runs that never started to pending, through the
// completer, and frees their workers.
func (e *Engine) putBack(runs []store.Run) {
	for _, r := range runs {
		c := store.Completion{RunID: r.ID, Owner: e.o.NodeID, At: e.o.Now(), Status: store.StatusPending}
		c.ScheduleID, _ = strconv.ParseInt(r.JobID, 10, 64)
		e.out.add(c, c.ScheduleID)
		e.mu.Lock()
		delete(e.active, r.ID)
		e.mu.Unlock()
	}
	signal(e.slotFree)
}
