package marketdata

import (
	"sync"
	"time"
)

// Breaker states as reported by Client.Breakers.
const (
	BreakerClosed   = "closed"    // requests flow
	BreakerOpen     = "open"      // requests are refused until the cooldown ends
	BreakerHalfOpen = "half-open" // one probe request may go through
)

// breaker is a per-provider circuit breaker: it opens after `threshold`
// consecutive failed attempts, refuses requests for `cooldown`, then lets
// one probe through (half-open); the probe's success closes it, its failure
// opens it again for another cooldown.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu       sync.Mutex
	failures int
	open     bool
	openedAt time.Time
	probing  bool
}

// allow reports whether an attempt may proceed. In half-open state only one
// attempt (the probe) is allowed until it reports back.
func (b *breaker) allow() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return true
	}
	if b.now().Sub(b.openedAt) < b.cooldown || b.probing {
		return false
	}
	b.probing = true
	return true
}

// success records a successful attempt and closes the breaker.
func (b *breaker) success() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures, b.open, b.probing = 0, false, false
}

// failure records a failed attempt; it reports whether this opened the
// breaker.
func (b *breaker) failure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.failures++
	wasProbe := b.probing
	b.probing = false
	if wasProbe || (!b.open && b.failures >= b.threshold) {
		b.open = true
		b.openedAt = b.now()
		return true
	}
	return false
}

// release ends a probe that neither succeeded nor failed in a way that
// says something about the provider (e.g. unsupported timeframe).
func (b *breaker) release() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
}

// state returns BreakerClosed, BreakerOpen or BreakerHalfOpen.
func (b *breaker) state() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case !b.open:
		return BreakerClosed
	case b.probing || b.now().Sub(b.openedAt) >= b.cooldown:
		return BreakerHalfOpen
	default:
		return BreakerOpen
	}
}
