package engine

import (
	"container/heap"
	"context"
	"sync"
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

// due pops up to limit runs whose time has come, and reports when the next
// one is due (zero when the queue is empty).
func (q *runQueue) due(now time.Time, limit int) (ids []int64, next time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.h) > 0 && len(ids) < limit && !q.h[0].RunAfter.After(now) {
		ids = append(ids, heap.Pop(&q.h).(store.Queued).ID)
	}
	if len(q.h) > 0 {
		next = q.h[0].RunAfter
	}
	return ids, next
}

// hasDue reports whether a queued run's time has come.
func (q *runQueue) hasDue(now time.Time) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.h) > 0 && !q.h[0].RunAfter.After(now)
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

// dispatchLoop starts queued runs at their time. Runs another instance took
// meanwhile, or that must wait for a running predecessor, are simply not
// returned by the claim; the general work loop finds the waiting ones.
func (e *Engine) dispatchLoop(ctx, jobsCtx context.Context, jobs *sync.WaitGroup) {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		free := e.o.Workers - e.Active()
		if free <= 0 {
			if !sleep(ctx, time.Second, e.slotFree) {
				return
			}
			continue
		}
		now := e.o.Now()
		ids, next := e.queue.due(now, free)
		if len(ids) > 0 {
			runs, err := e.st.ClaimRunIDs(ctx, e.o.NodeID, now, ids, e.o.Lease)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				// They stay pending in the database, leased to this
				// instance: try again after a pause.
				e.setErr(err)
				e.log.Warn("claim queued runs failed; retrying", "err", err, "runs", len(ids), "in", backoff)
				for _, id := range ids {
					e.queue.push(store.Queued{ID: id, RunAfter: now})
				}
				sleep(ctx, backoff)
				backoff = min(backoff*2, 5*time.Second)
				continue
			}
			backoff = 100 * time.Millisecond
			for _, r := range runs {
				e.start(jobsCtx, jobs, r)
			}
			if len(runs) < len(ids) {
				signal(e.wakeWork) // waiting ones were handed to the general claim
			}
			continue
		}
		signal(e.queue.idle)
		wait := e.o.PollInterval
		if !next.IsZero() {
			wait = next.Sub(e.o.Now())
		}
		if !sleep(ctx, wait, e.queue.wake) {
			return
		}
	}
}
