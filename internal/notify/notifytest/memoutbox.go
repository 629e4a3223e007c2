// Package notifytest provides an in-memory notify.Outbox and the conformance
// suite (TestOutbox) that every notify.Outbox implementation must pass.
package notifytest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// MemOutbox is a notify.Outbox held in memory, safe for concurrent use. It
// follows the same rules as the SQL stores (see notify.Outbox) and passes
// TestOutbox. Claim costs O(recipients with undelivered rows), not O(rows).
type MemOutbox struct {
	mu      sync.Mutex
	nextID  int64
	rows    map[int64]*notify.Notification
	byKey   map[string]int64
	queues  map[string]map[string][]int64 // channel → recipient → active ids, ascending
	sending map[int64]struct{}
	now     func() time.Time
}

// NewMemOutbox returns an empty outbox. A zero CreatedAt on insert becomes
// time.Now().
func NewMemOutbox() *MemOutbox {
	return &MemOutbox{
		rows:    map[int64]*notify.Notification{},
		byKey:   map[string]int64{},
		queues:  map[string]map[string][]int64{},
		sending: map[int64]struct{}{},
		now:     time.Now,
	}
}

// Insert adds rows in order, ignoring any whose IdempotencyKey exists (as
// INSERT ... ON CONFLICT DO NOTHING). IDs are assigned ascending; Status ""
// becomes pending; a zero NextAttemptAt becomes CreatedAt. Data is copied
// through JSON, as a database would store it. A row without channel or key,
// or with a status other than pending, dead or suppressed, is an error and
// nothing is inserted.
func (m *MemOutbox) Insert(_ context.Context, ns []notify.Notification) error {
	prepared := make([]notify.Notification, len(ns))
	for i, n := range ns {
		if n.Channel == "" {
			return fmt.Errorf("insert notification %d: empty channel", i)
		}
		if n.IdempotencyKey == "" {
			return fmt.Errorf("insert notification %d: empty idempotency key", i)
		}
		if n.Status == "" {
			n.Status = notify.StatusPending
		}
		switch n.Status {
		case notify.StatusPending, notify.StatusDead, notify.StatusSuppressed:
		default:
			return fmt.Errorf("insert notification %d: status %q: want pending, dead or suppressed", i, n.Status)
		}
		if n.Data != nil {
			b, err := json.Marshal(n.Data)
			if err != nil {
				return fmt.Errorf("insert notification %d: data: %w", i, err)
			}
			n.Data = nil
			if err := json.Unmarshal(b, &n.Data); err != nil {
				return fmt.Errorf("insert notification %d: data: %w", i, err)
			}
		}
		prepared[i] = n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, n := range prepared {
		if _, dup := m.byKey[n.IdempotencyKey]; dup {
			continue
		}
		m.nextID++
		n.ID = m.nextID
		if n.CreatedAt.IsZero() {
			n.CreatedAt = m.now()
		}
		if n.NextAttemptAt.IsZero() {
			n.NextAttemptAt = n.CreatedAt
		}
		n.UpdatedAt = n.CreatedAt
		n.Attempts, n.ClaimedBy, n.ClaimedAt, n.SentAt = 0, "", time.Time{}, time.Time{}
		row := n
		m.rows[n.ID] = &row
		m.byKey[n.IdempotencyKey] = n.ID
		if n.Status == notify.StatusPending {
			q := m.queues[n.Channel]
			if q == nil {
				q = map[string][]int64{}
				m.queues[n.Channel] = q
			}
			q[n.Recipient] = append(q[n.Recipient], n.ID)
		}
	}
	return nil
}

// All returns a copy of every row in ID order (for tests and debugging).
func (m *MemOutbox) All() []notify.Notification {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]notify.Notification, 0, len(m.rows))
	for _, r := range m.rows {
		out = append(out, copyRow(r))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func copyRow(r *notify.Notification) notify.Notification {
	c := *r
	c.Data = maps.Clone(r.Data)
	return c
}

// Claim implements notify.Outbox.
func (m *MemOutbox) Claim(ctx context.Context, req notify.ClaimRequest) ([]notify.Notification, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		return nil, fmt.Errorf("claim: limit %d: must be > 0", req.Limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hold := notify.HoldLimit(req)
	var cand []int64
	scan := func(q map[string][]int64) {
		for _, ids := range q {
			// The first row of the recipient that is claimable or holds
			// back the rest decides; failed rows waiting beyond the hold
			// limit are passed over.
			for _, id := range ids {
				r := m.rows[id]
				due := (r.Status == notify.StatusPending || r.Status == notify.StatusFailed) && !r.NextAttemptAt.After(req.Now)
				stale := r.Status == notify.StatusSending && r.ClaimedAt.Before(req.StuckBefore)
				if due || stale {
					cand = append(cand, r.ID)
					break
				}
				if r.Status == notify.StatusFailed && r.NextAttemptAt.After(hold) {
					continue
				}
				break
			}
		}
	}
	if req.Channel != "" {
		scan(m.queues[req.Channel])
	} else {
		for _, q := range m.queues {
			scan(q)
		}
	}
	slices.Sort(cand)
	if len(cand) > req.Limit {
		cand = cand[:req.Limit]
	}
	out := make([]notify.Notification, len(cand))
	for i, id := range cand {
		r := m.rows[id]
		r.Status = notify.StatusSending
		r.Attempts++
		r.ClaimedBy, r.ClaimedAt, r.UpdatedAt = req.Owner, req.Now, req.Now
		m.sending[r.ID] = struct{}{}
		out[i] = copyRow(r)
	}
	return out, nil
}

// finish moves a sending row to a terminal or retry status.
func (m *MemOutbox) finish(ctx context.Context, id int64, at time.Time, f func(r *notify.Notification)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[id]
	if !ok || r.Status != notify.StatusSending {
		return fmt.Errorf("notification %d: %w", id, notify.ErrNotClaimed)
	}
	delete(m.sending, id)
	r.ClaimedBy = ""
	r.UpdatedAt = at
	f(r)
	if !r.Status.Active() {
		q := m.queues[r.Channel]
		ids := q[r.Recipient]
		if i := indexOf(ids, id); i >= 0 {
			ids = append(ids[:i:i], ids[i+1:]...)
		}
		if len(ids) == 0 {
			delete(q, r.Recipient)
		} else {
			q[r.Recipient] = ids
		}
	}
	return nil
}

func indexOf(ids []int64, id int64) int {
	for i, v := range ids {
		if v == id {
			return i
		}
	}
	return -1
}

// MarkSent implements notify.Outbox.
func (m *MemOutbox) MarkSent(ctx context.Context, id int64, at time.Time) error {
	return m.finish(ctx, id, at, func(r *notify.Notification) {
		r.Status, r.SentAt = notify.StatusSent, at
	})
}

// MarkRetry implements notify.Outbox.
func (m *MemOutbox) MarkRetry(ctx context.Context, id int64, at, next time.Time, errMsg string) error {
	return m.finish(ctx, id, at, func(r *notify.Notification) {
		r.Status, r.NextAttemptAt, r.LastError = notify.StatusFailed, next, errMsg
	})
}

// MarkDead implements notify.Outbox.
func (m *MemOutbox) MarkDead(ctx context.Context, id int64, at time.Time, reason string) error {
	return m.finish(ctx, id, at, func(r *notify.Notification) {
		r.Status, r.LastError = notify.StatusDead, reason
	})
}

// MarkSuppressed implements notify.Outbox.
func (m *MemOutbox) MarkSuppressed(ctx context.Context, id int64, at time.Time, reason string) error {
	return m.finish(ctx, id, at, func(r *notify.Notification) {
		r.Status, r.LastError = notify.StatusSuppressed, reason
	})
}

// RequeueStuck implements notify.Outbox.
func (m *MemOutbox) RequeueStuck(ctx context.Context, claimedBefore time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id := range m.sending {
		r := m.rows[id]
		if r.ClaimedAt.Before(claimedBefore) {
			r.Status, r.ClaimedBy = notify.StatusPending, ""
			delete(m.sending, id)
			n++
		}
	}
	return n, nil
}

// Get implements notify.Outbox.
func (m *MemOutbox) Get(ctx context.Context, id int64) (notify.Notification, error) {
	if err := ctx.Err(); err != nil {
		return notify.Notification{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.rows[id]
	if !ok {
		return notify.Notification{}, fmt.Errorf("notification %d: not found", id)
	}
	return copyRow(r), nil
}

// Stats implements notify.Outbox.
func (m *MemOutbox) Stats(ctx context.Context, now time.Time) (notify.OutboxStats, error) {
	if err := ctx.Err(); err != nil {
		return notify.OutboxStats{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	s := notify.OutboxStats{LastErrorByChannel: map[string]notify.ChannelError{}}
	var oldest time.Time
	for _, r := range m.rows {
		switch r.Status {
		case notify.StatusPending:
			s.Pending++
		case notify.StatusFailed:
			s.Failed++
		case notify.StatusSending:
			s.Sending++
		case notify.StatusSent:
			s.Sent++
		case notify.StatusDead:
			s.Dead++
		case notify.StatusSuppressed:
			s.Suppressed++
		}
		if r.Status.Active() && (oldest.IsZero() || r.CreatedAt.Before(oldest)) {
			oldest = r.CreatedAt
		}
		if r.LastError != "" {
			cur, ok := s.LastErrorByChannel[r.Channel]
			if !ok || r.UpdatedAt.After(cur.At) || (r.UpdatedAt.Equal(cur.At) && r.ID > cur.ID) {
				s.LastErrorByChannel[r.Channel] = notify.ChannelError{ID: r.ID, Error: r.LastError, At: r.UpdatedAt}
			}
		}
	}
	if !oldest.IsZero() && now.After(oldest) {
		s.OldestPendingAge = now.Sub(oldest)
	}
	return s, nil
}

// Purge implements notify.Outbox.
func (m *MemOutbox) Purge(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, r := range m.rows {
		if (r.Status == notify.StatusSent || r.Status == notify.StatusSuppressed) && r.UpdatedAt.Before(before) {
			delete(m.rows, id)
			delete(m.byKey, r.IdempotencyKey)
			n++
		}
	}
	return n, nil
}

var _ notify.Outbox = (*MemOutbox)(nil)
