package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// Outcome is what happened to one claimed notification.
type Outcome string

// Outcomes reported to Metrics.
const (
	OutcomeSent       Outcome = "sent"
	OutcomeRetry      Outcome = "retry"
	OutcomeDead       Outcome = "dead"
	OutcomeSuppressed Outcome = "suppressed"
	OutcomeAbandoned  Outcome = "abandoned" // the fault hook stopped it before marking
)

// Metrics receives one call per claimed notification. Implementations must
// be safe for concurrent use and fast (they run on the delivery path).
type Metrics interface {
	ObserveDelivery(channel string, outcome Outcome, attempt int, took time.Duration)
}

// MetricsFunc adapts a function to Metrics.
type MetricsFunc func(channel string, outcome Outcome, attempt int, took time.Duration)

// ObserveDelivery calls f.
func (f MetricsFunc) ObserveDelivery(channel string, outcome Outcome, attempt int, took time.Duration) {
	f(channel, outcome, attempt, took)
}

// Backoff returns the wait before retry number attempt (1 = first retry).
type Backoff func(attempt int) time.Duration

// ExponentialBackoff doubles base per attempt up to max, with jitter: the
// result is uniform in [d/2, d] so that many failing rows spread out.
func ExponentialBackoff(base, max time.Duration) Backoff {
	return func(attempt int) time.Duration {
		d := base
		for i := 1; i < attempt && d < max; i++ {
			d *= 2
		}
		d = min(d, max)
		if d <= 1 {
			return d
		}
		return d/2 + rand.N(d/2+1)
	}
}

// DispatcherConfig configures a Dispatcher. Outbox and Sinks are required;
// zero values of the rest take the documented defaults.
type DispatcherConfig struct {
	Outbox Outbox
	Sinks  Sinks // one lane per channel; rows of other channels are not claimed

	Disabled bool          // true: claimed rows are marked suppressed (NOTIFICATION_ENABLED=false)
	Retries  int           // retries after the first attempt (NOTIFICATION_RETRIES)
	Timeout  time.Duration // per attempt (NOTIFICATION_TIMEOUT), default 30s
	// RetryMaxAge (NOTIFICATION_RETRY_MAX_AGE): a transiently failing row
	// is retried until it has had 1 + Retries attempts and is older than
	// this (from CreatedAt), so that retries span a receiver's outage of
	// hours. 0 gives up after 1 + Retries attempts, whatever the age.
	RetryMaxAge time.Duration

	Owner       string // claim owner, default "hostname:pid"
	Concurrency int    // sends in flight per channel, default 8
	// PollEvery: look for due rows at least this often, default 2s (the
	// service uses SCHEDULER_POLL_INTERVAL). With a DueOutbox that is one
	// query for every channel, and the earliest retry time of a row sets
	// the next look; otherwise each channel's lane claims this often.
	PollEvery     time.Duration
	Backoff       Backoff       // default ExponentialBackoff(2s, 1h)
	MaxRetryAfter time.Duration // cap on a receiver's retry_after, default 1h

	// StuckAfter: rows in sending claimed longer ago than this are taken
	// over by the next claim (their process died, or hung past Timeout).
	// Default Timeout + 5s; it must exceed Timeout, since a live send is
	// cut off at Timeout and recorded at once.
	StuckAfter time.Duration
	// HoldFor: a failed row holds back the younger rows of its recipient
	// only while its retry is due within HoldFor; a row waiting longer lets
	// them pass, so a recipient is never blocked by one row for longer than
	// that. Default StuckAfter; negative: failed rows always hold back
	// (strict order, at the price of a blocked recipient during backoff).
	HoldFor      time.Duration
	RequeueEvery time.Duration // RequeueStuck and Purge run this often, default 1m
	// Retention: sent and suppressed rows older than this are purged every
	// RequeueEvery; 0 keeps them forever.
	Retention time.Duration

	Now     func() time.Time // default time.Now
	Logger  *slog.Logger     // default slog.Default()
	Metrics Metrics          // may be nil

	// AfterSend is a fault-injection hook for tests: it runs after Send and
	// before the outcome is recorded. A non-nil return abandons the row in
	// status sending, as if the process had died at that instant.
	AfterSend func(n Notification, sendErr error) error
}

// StuckGrace is how long after NOTIFICATION_TIMEOUT a row still in sending
// counts as abandoned by default: a live send is cut off at the timeout and
// its outcome recorded right away, well within the grace.
const StuckGrace = 5 * time.Second

// Dispatcher claims due outbox rows and delivers them: one lane per channel
// (a slow channel never blocks another), up to Concurrency sends in flight
// per lane, at most one per recipient (the Outbox ordering rule).
type Dispatcher struct {
	cfg   DispatcherConfig
	lanes []*lane
}

type lane struct {
	channel string
	sink    Sink
	wake    chan struct{}
	// driven: the dispatcher's poll (DueOutbox) wakes the lane when rows
	// are due; it does not poll on its own.
	driven bool

	mu        sync.Mutex
	nextRetry time.Time // earliest retry this process scheduled
}

// NewDispatcher checks cfg and fills in defaults.
func NewDispatcher(cfg DispatcherConfig) (*Dispatcher, error) {
	if cfg.Outbox == nil {
		return nil, errors.New("notify dispatcher: Outbox is nil")
	}
	if len(cfg.Sinks) == 0 {
		return nil, errors.New("notify dispatcher: no sinks")
	}
	if cfg.Retries < 0 {
		return nil, fmt.Errorf("notify dispatcher: Retries = %d: must be >= 0", cfg.Retries)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("notify dispatcher: Timeout = %s: must be > 0", cfg.Timeout)
	}
	if cfg.Owner == "" {
		host, _ := os.Hostname()
		cfg.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if cfg.Concurrency == 0 {
		cfg.Concurrency = 8
	}
	if cfg.Concurrency < 0 {
		return nil, fmt.Errorf("notify dispatcher: Concurrency = %d: must be > 0", cfg.Concurrency)
	}
	if cfg.PollEvery <= 0 {
		cfg.PollEvery = 2 * time.Second
	}
	if cfg.Backoff == nil {
		cfg.Backoff = ExponentialBackoff(2*time.Second, time.Hour)
	}
	if cfg.MaxRetryAfter <= 0 {
		cfg.MaxRetryAfter = time.Hour
	}
	if cfg.StuckAfter == 0 {
		cfg.StuckAfter = cfg.Timeout + StuckGrace
	}
	if cfg.StuckAfter <= cfg.Timeout {
		return nil, fmt.Errorf("notify dispatcher: StuckAfter = %s: must exceed Timeout (%s), or a live send would be taken over", cfg.StuckAfter, cfg.Timeout)
	}
	if cfg.HoldFor == 0 {
		cfg.HoldFor = cfg.StuckAfter
	}
	if cfg.RetryMaxAge < 0 {
		return nil, fmt.Errorf("notify dispatcher: RetryMaxAge = %s: must be >= 0", cfg.RetryMaxAge)
	}
	if cfg.RequeueEvery <= 0 {
		cfg.RequeueEvery = time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	d := &Dispatcher{cfg: cfg}
	for _, name := range cfg.Sinks.Names() {
		if cfg.Sinks[name] == nil {
			return nil, fmt.Errorf("notify dispatcher: sink of channel %q is nil", name)
		}
		_, driven := cfg.Outbox.(DueOutbox)
		d.lanes = append(d.lanes, &lane{channel: name, sink: cfg.Sinks[name], wake: make(chan struct{}, 1), driven: driven})
	}
	return d, nil
}

// NewDispatcherFromOptions builds a dispatcher with the sinks and settings of o.
func NewDispatcherFromOptions(o Options, outbox Outbox, logger *slog.Logger) (*Dispatcher, error) {
	return NewDispatcher(DispatcherConfig{
		Outbox:      outbox,
		Sinks:       NewSinks(o, nil, logger),
		Disabled:    !o.Enabled,
		Retries:     o.Retries,
		Timeout:     o.Timeout,
		RetryMaxAge: o.RetryMaxAge,
		Logger:      logger,
	})
}

// Notify wakes every lane to look for due rows now; the engine calls it after
// committing a transaction that inserted notifications. It never blocks.
func (d *Dispatcher) Notify() {
	for _, l := range d.lanes {
		select {
		case l.wake <- struct{}{}:
		default:
		}
	}
}

// Run delivers until ctx is cancelled. It requeues stuck rows at start and
// every RequeueEvery. On cancellation it stops claiming, lets the sends in
// flight finish (each bounded by Timeout) and records their outcome, then
// returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	d.requeue(ctx)
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.runLane(ctx, l)
		}()
	}
	t := time.NewTicker(d.cfg.RequeueEvery)
	defer t.Stop()
	due, _ := d.cfg.Outbox.(DueOutbox)
	poll := time.NewTimer(0)
	defer poll.Stop()
	if due == nil {
		poll.Stop()
	}
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return nil
		case <-t.C:
			d.requeue(ctx)
			d.purge(ctx)
		case <-poll.C:
			poll.Reset(d.pollDue(ctx, due))
		}
	}
}

// pollDue asks the outbox when its rows are due, wakes the lanes that have
// due rows and returns when to ask again: PollEvery, or earlier when a
// row's retry (next_attempt_at) or a stuck send's takeover comes first.
func (d *Dispatcher) pollDue(ctx context.Context, due DueOutbox) time.Duration {
	now := d.cfg.Now()
	next, err := due.NextDue(ctx, d.cfg.StuckAfter)
	if err != nil {
		if ctx.Err() == nil {
			d.cfg.Logger.Error("notify: look for due notifications", "err", err)
		}
		return d.cfg.PollEvery
	}
	wait := d.cfg.PollEvery
	for _, l := range d.lanes {
		at, ok := next[l.channel]
		if !ok {
			continue
		}
		if !at.After(now) {
			select {
			case l.wake <- struct{}{}:
			default:
			}
			continue
		}
		wait = min(wait, at.Sub(now)+time.Millisecond)
	}
	return wait
}

func (d *Dispatcher) requeue(ctx context.Context) {
	n, err := d.cfg.Outbox.RequeueStuck(ctx, d.cfg.Now().Add(-d.cfg.StuckAfter))
	switch {
	case err != nil && ctx.Err() == nil:
		d.cfg.Logger.Error("notify: requeue stuck notifications", "err", err)
	case n > 0:
		d.cfg.Logger.Warn("notify: requeued notifications stuck in sending", "count", n, "stuck_after", d.cfg.StuckAfter)
		d.Notify()
	}
}

func (d *Dispatcher) purge(ctx context.Context) {
	if d.cfg.Retention <= 0 {
		return
	}
	n, err := d.cfg.Outbox.Purge(ctx, d.cfg.Now().Add(-d.cfg.Retention))
	if err != nil && ctx.Err() == nil {
		d.cfg.Logger.Error("notify: purge delivered notifications", "err", err)
	} else if n > 0 {
		d.cfg.Logger.Info("notify: purged delivered notifications", "count", n)
	}
}

func (d *Dispatcher) runLane(ctx context.Context, l *lane) {
	done := make(chan struct{}, d.cfg.Concurrency)
	inflight := 0
	timer := time.NewTimer(0)
	defer timer.Stop()
	claimFailed := false
	for {
		if ctx.Err() != nil {
			if inflight == 0 {
				return
			}
			<-done
			inflight--
			continue
		}
		if free := d.cfg.Concurrency - inflight; free > 0 {
			rows, err := d.cfg.Outbox.Claim(ctx, d.claimRequest(free, l.channel))
			claimFailed = err != nil
			if err != nil && ctx.Err() == nil {
				d.cfg.Logger.Error("notify: claim", "channel", l.channel, "err", err)
			}
			for _, n := range rows {
				inflight++
				go func() {
					d.deliver(ctx, l, n)
					done <- struct{}{}
				}()
			}
			if len(rows) == free {
				continue // there may be more due rows
			}
		}
		wait := d.cfg.PollEvery
		if l.driven && !claimFailed {
			wait = time.Hour // woken by Notify, the dispatcher's poll or a finished send
		}
		if !claimFailed {
			l.mu.Lock()
			if !l.nextRetry.IsZero() {
				if until := l.nextRetry.Sub(d.cfg.Now()); until < wait {
					wait = max(until, time.Millisecond)
				}
			}
			l.mu.Unlock()
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
		case <-l.wake:
		case <-done:
			inflight--
			// Collect every other finished send too, so that the next
			// claim asks for all free slots at once.
			for drained := false; !drained; {
				select {
				case <-done:
					inflight--
				default:
					drained = true
				}
			}
		case <-timer.C:
			l.mu.Lock()
			if !l.nextRetry.IsZero() && !l.nextRetry.After(d.cfg.Now()) {
				l.nextRetry = time.Time{}
			}
			l.mu.Unlock()
		}
	}
}

// claimRequest asks for up to limit rows of channel, taking over rows left
// in sending for longer than StuckAfter and letting younger rows pass a
// failed one whose retry is more than HoldFor away.
func (d *Dispatcher) claimRequest(limit int, channel string) ClaimRequest {
	now := d.cfg.Now()
	req := ClaimRequest{Owner: d.cfg.Owner, Now: now, Limit: limit, Channel: channel, StuckBefore: now.Add(-d.cfg.StuckAfter)}
	if d.cfg.HoldFor > 0 {
		req.HoldUntil = now.Add(d.cfg.HoldFor)
	}
	return req
}

// maxAttempts is the first attempt plus the retries.
func (d *Dispatcher) maxAttempts() int { return 1 + d.cfg.Retries }

// exhausted reports whether n, after attempts attempts, has had its last
// one: 1 + Retries attempts and older than RetryMaxAge.
func (d *Dispatcher) exhausted(n Notification, attempts int, now time.Time) bool {
	return attempts >= d.maxAttempts() && now.Sub(n.CreatedAt) >= d.cfg.RetryMaxAge
}

// unfinishedTooOften reports whether n, claimed again although its attempts
// had run out, came back from an attempt that never finished (the process
// died while sending): it then goes dead without another send. With
// RetryMaxAge a regular retry may exceed 1 + Retries attempts; it is due at
// most MaxRetryAfter after an attempt made before RetryMaxAge, so only a row
// older than both together can be one that keeps dying.
func (d *Dispatcher) unfinishedTooOften(n Notification, now time.Time) bool {
	if n.Attempts <= d.maxAttempts() {
		return false
	}
	return d.cfg.RetryMaxAge == 0 || now.Sub(n.CreatedAt) >= d.cfg.RetryMaxAge+d.cfg.MaxRetryAfter
}

// gaveUp describes a row given up after attempts attempts.
func (d *Dispatcher) gaveUp(n Notification, attempts int, now time.Time) string {
	if d.cfg.RetryMaxAge > 0 {
		return fmt.Sprintf("gave up after %d attempts over %s", attempts, now.Sub(n.CreatedAt).Round(time.Second))
	}
	return fmt.Sprintf("gave up after %d attempts", attempts)
}

// deliver sends one claimed row and records the outcome. Sending and marking
// do not stop when ctx is cancelled: a send cut off halfway would leave the
// receiver's state unknown and cause a duplicate after the requeue.
func (d *Dispatcher) deliver(ctx context.Context, l *lane, n Notification) {
	bg := context.WithoutCancel(ctx)
	log := d.cfg.Logger.With("id", n.ID, "channel", n.Channel, "key", n.IdempotencyKey, "attempt", n.Attempts)
	if d.cfg.Disabled {
		d.mark(log, n, OutcomeSuppressed, 0, d.cfg.Outbox.MarkSuppressed(bg, n.ID, d.cfg.Now(), "notifications are disabled (NOTIFICATION_ENABLED=false)"))
		return
	}
	if now := d.cfg.Now(); d.unfinishedTooOften(n, now) {
		reason := fmt.Sprintf("%s; the last one did not finish (process stopped while sending?); last error: %s", d.gaveUp(n, n.Attempts-1, now), n.LastError)
		d.mark(log, n, OutcomeDead, 0, d.cfg.Outbox.MarkDead(bg, n.ID, now, reason))
		return
	}
	start := time.Now()
	sctx, cancel := context.WithTimeout(bg, d.cfg.Timeout)
	err := l.sink.Send(sctx, n)
	if err != nil && errorsIsTimeout(sctx.Err()) {
		err = TransientError(0, fmt.Errorf("no answer within NOTIFICATION_TIMEOUT=%s: %w", d.cfg.Timeout, err))
	}
	cancel()
	took := time.Since(start)
	if d.cfg.AfterSend != nil {
		if herr := d.cfg.AfterSend(n, err); herr != nil {
			log.Warn("notify: fault hook abandoned the notification before recording the outcome", "err", herr)
			d.observe(n, OutcomeAbandoned, took)
			return
		}
	}
	now := d.cfg.Now()
	if err == nil {
		d.mark(log, n, OutcomeSent, took, d.cfg.Outbox.MarkSent(bg, n.ID, now))
		return
	}
	kind, hint := Classify(err)
	msg := err.Error()
	switch {
	case kind == Permanent:
		log.Warn("notify: permanent delivery error", "err", err)
		d.mark(log, n, OutcomeDead, took, d.cfg.Outbox.MarkDead(bg, n.ID, now, "permanent error: "+msg))
	case d.exhausted(n, n.Attempts, now):
		log.Warn("notify: giving up", "err", err)
		d.mark(log, n, OutcomeDead, took, d.cfg.Outbox.MarkDead(bg, n.ID, now, d.gaveUp(n, n.Attempts, now)+": "+msg))
	default:
		wait := hint
		if wait <= 0 {
			wait = d.cfg.Backoff(n.Attempts)
		}
		wait = min(wait, d.cfg.MaxRetryAfter)
		next := now.Add(wait)
		log.Info("notify: delivery failed, will retry", "kind", kind.String(), "retry_in", wait, "err", err)
		d.mark(log, n, OutcomeRetry, took, d.cfg.Outbox.MarkRetry(bg, n.ID, now, next, msg))
		l.mu.Lock()
		if l.nextRetry.IsZero() || next.Before(l.nextRetry) {
			l.nextRetry = next
		}
		l.mu.Unlock()
	}
}

func (d *Dispatcher) mark(log *slog.Logger, n Notification, o Outcome, took time.Duration, err error) {
	if err != nil {
		// The row stays in sending; the periodic requeue retries it later.
		log.Error("notify: record delivery outcome", "outcome", string(o), "err", err)
	}
	d.observe(n, o, took)
}

func (d *Dispatcher) observe(n Notification, o Outcome, took time.Duration) {
	if d.cfg.Metrics != nil {
		d.cfg.Metrics.ObserveDelivery(n.Channel, o, n.Attempts, took)
	}
}
