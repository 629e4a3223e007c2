package engine

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/store"
)

// outcomes buffers the outcomes of runs that finished here until they are
// written: by the completer in batches, or by the claim of the next fires
// of their schedules, in that claim's own transaction — so that a fire
// always finds its schedule's previous run finished, never skipped for
// work that is done.
type outcomes struct {
	mu sync.Mutex
	// buf holds outcomes not taken for writing yet, by run id.
	buf map[int64]store.Completion
	// finishing holds every run whose outcome is buffered or being
	// written, with its schedule.
	finishing map[int64]int64
	// writing counts, by schedule, outcomes the completer is writing;
	// claiming counts fires being claimed by id. A fire of a schedule in
	// either is not claimed until that is over.
	writing, claiming map[int64]int
	// executing holds, by schedule, when its exclusive run executing here
	// started (until its outcome is buffered): see executingRecently.
	executing map[int64]time.Time
	// slots bounds the buffer: a worker is free again once its outcome is
	// buffered, so a slow database slows claiming instead of piling up
	// results without end.
	slots chan struct{}
	// ready is signalled when an outcome is buffered.
	ready chan struct{}
}

func newOutcomes(capacity int) *outcomes {
	return &outcomes{buf: map[int64]store.Completion{}, finishing: map[int64]int64{}, writing: map[int64]int{},
		claiming: map[int64]int{}, executing: map[int64]time.Time{}, slots: make(chan struct{}, capacity), ready: make(chan struct{}, 1)}
}

// add buffers the outcome c of a run of schedule sc, waiting for room. The
// run counts as finishing at once, while it waits: a fire of its schedule
// is never skipped for a run that is done.
func (o *outcomes) add(c store.Completion, sc int64) {
	o.mu.Lock()
	o.finishing[c.RunID] = sc
	delete(o.executing, sc) // finishing from now on
	o.mu.Unlock()
	o.slots <- struct{}{}
	o.mu.Lock()
	o.buf[c.RunID] = c
	o.mu.Unlock()
	signal(o.ready)
}

// count returns the number of buffered outcomes.
func (o *outcomes) count() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.buf)
}

// take removes up to limit buffered outcomes for the completer to write.
func (o *outcomes) take(limit int) []store.Completion {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cs []store.Completion
	for id, c := range o.buf {
		if len(cs) == limit {
			break
		}
		cs = append(cs, c)
		delete(o.buf, id)
		o.writing[o.finishing[id]]++
	}
	return cs
}

// takeFor removes the buffered outcomes of the given schedules, for a
// claim of their next fires to write.
func (o *outcomes) takeFor(scheds map[int64]bool) []store.Completion {
	o.mu.Lock()
	defer o.mu.Unlock()
	var cs []store.Completion
	for id, c := range o.buf {
		if scheds[o.finishing[id]] {
			cs = append(cs, c)
			delete(o.buf, id)
		}
	}
	return cs
}

// written forgets outcomes that are written (byCompleter: taken by take)
// and frees their room.
func (o *outcomes) written(cs []store.Completion, byCompleter bool) {
	o.mu.Lock()
	for _, c := range cs {
		sc := o.finishing[c.RunID]
		delete(o.finishing, c.RunID)
		if byCompleter {
			o.dec(o.writing, sc)
		}
	}
	o.mu.Unlock()
	for range cs {
		<-o.slots
	}
}

// giveBack buffers again outcomes whose write failed.
func (o *outcomes) giveBack(cs []store.Completion, byCompleter bool) {
	o.mu.Lock()
	for _, c := range cs {
		o.buf[c.RunID] = c
		if byCompleter {
			o.dec(o.writing, o.finishing[c.RunID])
		}
	}
	o.mu.Unlock()
	signal(o.ready)
}

func (o *outcomes) dec(m map[int64]int, sc int64) {
	if m[sc]--; m[sc] <= 0 {
		delete(m, sc)
	}
}

// busy reports whether a fire of schedule sc must wait before it is
// claimed by id: an outcome of it is being written by the completer, or a
// fire of it is being claimed.
func (o *outcomes) busy(sc int64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.writing[sc] > 0 || o.claiming[sc] > 0
}

// holdExecuting is how long a fire waits for its schedule's exclusive run
// that executes here, counted from that run's start. A run started that
// recently has most likely been delayed by load, not slow: under overload
// the claims of two consecutive fires can come within moments of each
// other, and the second fire would be skipped for a run that finishes a
// few milliseconds later. Past it the fire is claimed and, when the run
// still executes, skipped as usual.
const holdExecuting = time.Second

// started notes that the exclusive run of schedule sc started executing
// here at t.
func (o *outcomes) started(sc int64, t time.Time) {
	o.mu.Lock()
	o.executing[sc] = t
	o.mu.Unlock()
}

// executingRecently reports whether schedule sc has an exclusive run
// executing here that started less than holdExecuting before now.
func (o *outcomes) executingRecently(sc int64, now time.Time) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	t, ok := o.executing[sc]
	return ok && now.Sub(t) < holdExecuting
}

// markClaiming adds (d = 1) or removes (d = -1) the schedules of qs from
// those being claimed.
func (o *outcomes) markClaiming(qs []store.Queued, d int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, q := range qs {
		if o.claiming[q.Schedule] += d; o.claiming[q.Schedule] <= 0 {
			delete(o.claiming, q.Schedule)
		}
	}
}

// finishingIDs returns the runs whose outcome is buffered or being
// written: all of them, or (scheds non-nil) those of the given schedules.
func (o *outcomes) finishingIDs(scheds map[int64]bool) []int64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	var ids []int64
	for id, sc := range o.finishing {
		if scheds == nil || scheds[sc] {
			ids = append(ids, id)
		}
	}
	return ids
}

// completerBatch is the most outcomes the completer writes in one
// transaction.
const completerBatch = 2000

// completer writes buffered outcomes in batches, one transaction each,
// until stop is closed; then it writes what is left and returns.
func (e *Engine) completer(stop <-chan struct{}) {
	for {
		select {
		case <-e.out.ready:
		case <-stop:
			for {
				batch := e.out.take(completerBatch)
				if len(batch) == 0 {
					return
				}
				e.writeOutcomes(batch)
			}
		}
		first := time.Now()
		for n := e.out.count(); n > 0 && e.deferCompletions(first, n); n = e.out.count() {
			select {
			case <-stop:
			case <-time.After(5 * time.Millisecond):
				continue
			}
			break
		}
		for {
			batch := e.out.take(completerBatch)
			if len(batch) == 0 {
				break
			}
			e.writeOutcomes(batch)
		}
	}
}

// writeOutcomes writes a batch the completer took, retrying until the
// database takes it.
func (e *Engine) writeOutcomes(batch []store.Completion) {
	backoff := 100 * time.Millisecond
	for {
		err := e.st.CompleteRuns(context.Background(), batch)
		if err == nil {
			e.afterWritten(batch, true)
			return
		}
		e.setErr(err)
		e.log.Error("writing run results failed; retrying", "err", err, "runs", len(batch), "in", backoff)
		time.Sleep(backoff)
		backoff = min(backoff*2, 10*time.Second)
	}
}

// afterWritten follows written outcomes up: retries are queued, the outbox
// and fires waiting for these outcomes are woken.
func (e *Engine) afterWritten(cs []store.Completion, byCompleter bool) {
	if len(cs) == 0 {
		return
	}
	e.setErr(nil)
	e.out.written(cs, byCompleter)
	signal(e.queue.wake)
	for _, c := range cs {
		if c.Retry && c.RetryAt != nil {
			e.queue.push(store.Queued{ID: c.RunID, RunAfter: *c.RetryAt, Schedule: c.ScheduleID})
		}
	}
	if e.o.Outbox != nil && slices.ContainsFunc(cs, func(c store.Completion) bool { return len(c.Notifications) > 0 }) {
		e.o.Outbox.Notify()
	}
	if e.watchingManual() {
		signal(e.wakeWork) // a manual run may have waited for one of these
	}
}

// deferCompletions reports whether the completer should keep collecting
// outcomes instead of writing them: while claimed runs are due and wait to
// be started, starting them is the better use of the database (their
// claims write their predecessors' outcomes themselves). At most a second
// and 10,000 outcomes are held back.
func (e *Engine) deferCompletions(first time.Time, n int) bool {
	if e.flushNow.Swap(false) {
		return false
	}
	return n < 10_000 && time.Since(first) < time.Second && e.queue.hasDue(e.o.Now())
}
