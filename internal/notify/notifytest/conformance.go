package notifytest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// InsertFunc is the shape of the insert function TestOutbox receives: it
// stores rows as the store does inside the run-completion transaction.
type InsertFunc = func(ctx context.Context, ns []notify.Notification) error

// TestOutbox is the conformance suite of notify.Outbox. newOutbox must return
// an empty outbox for each call, and the function that inserts rows into it
// (ON CONFLICT (idempotency_key) DO NOTHING). The store's tests call it
// against SQLite and PostgreSQL; notifytest's own tests against MemOutbox.
//
// Stores must keep times to at least one-second precision (the suite uses
// whole seconds) and round-trip Data through JSON.
func TestOutbox(t *testing.T, newOutbox func(t *testing.T) (notify.Outbox, func(ctx context.Context, ns []notify.Notification) error)) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(t *testing.T, s *suite)
	}{
		{"InsertAndGet", testInsertAndGet},
		{"IdempotencyKeyUnique", testIdempotencyKeyUnique},
		{"ClaimOrderAndDue", testClaimOrderAndDue},
		{"ClaimChannelFilter", testClaimChannelFilter},
		{"PerRecipientOrder", testPerRecipientOrder},
		{"RetryScheduling", testRetryScheduling},
		{"MarkRequiresSending", testMarkRequiresSending},
		{"DeadAndSuppressed", testDeadAndSuppressed},
		{"RequeueStuck", testRequeueStuck},
		{"ClaimTakesOverStuck", testClaimTakesOverStuck},
		{"HoldUntil", testHoldUntil},
		{"Stats", testStats},
		{"Purge", testPurge},
		{"ConcurrentClaimersDistinct", testConcurrentClaimersDistinct},
		{"ConcurrentPerRecipientOrder", testConcurrentPerRecipientOrder},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ob, insert := newOutbox(t)
			tc.fn(t, &suite{t: t, ob: ob, insert: insert, ctx: context.Background()})
		})
	}
}

// base is the suite's clock origin: whole seconds, in UTC.
var base = time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }

type suite struct {
	t      *testing.T
	ob     notify.Outbox
	insert InsertFunc
	ctx    context.Context
	seq    int
}

// row builds a pending row created at second sec.
func (s *suite) row(channel, recipient string, sec int) notify.Notification {
	s.seq++
	return notify.Notification{
		IdempotencyKey: notify.IdempotencyKey(1, int64(s.seq), channel, recipient),
		Channel:        channel,
		Recipient:      recipient,
		Type:           notify.TypeAlert,
		Title:          fmt.Sprintf("title %d", s.seq),
		Body:           fmt.Sprintf("body %d", s.seq),
		Priority:       notify.PriorityNormal,
		CreatedAt:      at(sec),
		NextAttemptAt:  at(sec),
		RunID:          int64(s.seq),
		ScheduleID:     1,
		UserID:         7,
	}
}

func (s *suite) add(ns ...notify.Notification) {
	s.t.Helper()
	if err := s.insert(s.ctx, ns); err != nil {
		s.t.Fatalf("insert %d rows: %v", len(ns), err)
	}
}

func (s *suite) claim(owner string, now time.Time, limit int, channel string) []notify.Notification {
	s.t.Helper()
	rows, err := s.ob.Claim(s.ctx, notify.ClaimRequest{Owner: owner, Now: now, Limit: limit, Channel: channel})
	if err != nil {
		s.t.Fatalf("Claim(now=%s, limit=%d, channel=%q): %v", now.Format(time.TimeOnly), limit, channel, err)
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].ID <= rows[i-1].ID {
			s.t.Fatalf("Claim returned IDs out of ascending order: %v", ids(rows))
		}
	}
	return rows
}

func (s *suite) get(id int64) notify.Notification {
	s.t.Helper()
	n, err := s.ob.Get(s.ctx, id)
	if err != nil {
		s.t.Fatalf("Get(%d): %v", id, err)
	}
	return n
}

func (s *suite) stats(now time.Time) notify.OutboxStats {
	s.t.Helper()
	st, err := s.ob.Stats(s.ctx, now)
	if err != nil {
		s.t.Fatalf("Stats: %v", err)
	}
	return st
}

func (s *suite) must(what string, err error) {
	s.t.Helper()
	if err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

func ids(ns []notify.Notification) []int64 {
	out := make([]int64, len(ns))
	for i, n := range ns {
		out[i] = n.ID
	}
	return out
}

func bodies(ns []notify.Notification) []string {
	out := make([]string, len(ns))
	for i, n := range ns {
		out[i] = n.Body
	}
	return out
}

func testInsertAndGet(t *testing.T, s *suite) {
	n := s.row("telegram", "859865894", 0)
	n.Priority = notify.PriorityCritical
	n.Type = notify.TypeJob
	n.Data = map[string]any{"ticker": "BTCUSDT", "close": 65000.5, "values": map[string]any{"rsi_14": 28.7}}
	n.NextAttemptAt = at(5)
	s.add(n)
	rows := s.claim("a", at(5), 10, "")
	if len(rows) != 1 {
		t.Fatalf("claimed %d rows, want 1", len(rows))
	}
	g := s.get(rows[0].ID)
	if g.ID <= 0 {
		t.Errorf("ID = %d, want > 0", g.ID)
	}
	checks := []struct {
		field     string
		got, want any
	}{
		{"IdempotencyKey", g.IdempotencyKey, n.IdempotencyKey},
		{"Channel", g.Channel, n.Channel},
		{"Recipient", g.Recipient, n.Recipient},
		{"Type", g.Type, n.Type},
		{"Title", g.Title, n.Title},
		{"Body", g.Body, n.Body},
		{"Priority", g.Priority, n.Priority},
		{"Status", g.Status, notify.StatusSending},
		{"Attempts", g.Attempts, 1},
		{"ClaimedBy", g.ClaimedBy, "a"},
		{"RunID", g.RunID, n.RunID},
		{"ScheduleID", g.ScheduleID, n.ScheduleID},
		{"UserID", g.UserID, n.UserID},
		{"LastError", g.LastError, ""},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %#v, want %#v", c.field, c.got, c.want)
		}
	}
	if !reflect.DeepEqual(g.Data, n.Data) {
		t.Errorf("Data = %#v, want %#v", g.Data, n.Data)
	}
	for _, c := range []struct {
		field     string
		got, want time.Time
	}{
		{"CreatedAt", g.CreatedAt, n.CreatedAt},
		{"NextAttemptAt", g.NextAttemptAt, n.NextAttemptAt},
		{"ClaimedAt", g.ClaimedAt, at(5)},
	} {
		if !c.got.Equal(c.want) {
			t.Errorf("%s = %s, want %s", c.field, c.got, c.want)
		}
	}
	if !g.SentAt.IsZero() {
		t.Errorf("SentAt = %s before sending, want zero", g.SentAt)
	}
	s.must("MarkSent", s.ob.MarkSent(s.ctx, g.ID, at(6)))
	g = s.get(g.ID)
	if g.Status != notify.StatusSent || !g.SentAt.Equal(at(6)) || g.ClaimedBy != "" {
		t.Errorf("after MarkSent: status %q, sent_at %s, claimed_by %q; want sent, %s, empty", g.Status, g.SentAt, g.ClaimedBy, at(6))
	}
	if _, err := s.ob.Get(s.ctx, g.ID+1000); err == nil {
		t.Errorf("Get of an unknown id returned no error")
	}
}

func testIdempotencyKeyUnique(t *testing.T, s *suite) {
	a := s.row("telegram", "1", 0)
	b := a
	b.Body = "duplicate in the same batch"
	s.add(a, b)
	c := a
	c.Body = "duplicate in a later batch"
	s.add(c)
	other := s.row("telegram", "2", 0)
	s.add(other)
	rows := s.claim("a", at(1), 10, "")
	if got := bodies(rows); !slices.Equal(got, []string{a.Body, other.Body}) {
		t.Fatalf("claimed bodies %q, want %q (duplicates of a key must be ignored)", got, []string{a.Body, other.Body})
	}
	if st := s.stats(at(1)); st.Sending != 2 || st.Pending != 0 {
		t.Errorf("stats sending=%d pending=%d, want 2 and 0", st.Sending, st.Pending)
	}
}

func testClaimOrderAndDue(t *testing.T, s *suite) {
	var ns []notify.Notification
	for i := range 5 {
		ns = append(ns, s.row("telegram", fmt.Sprint(100+i), i))
	}
	ns[2].NextAttemptAt = at(60) // not due yet
	s.add(ns...)
	first := s.claim("a", at(10), 2, "")
	if got := bodies(first); !slices.Equal(got, []string{ns[0].Body, ns[1].Body}) {
		t.Fatalf("first claim %q, want the two oldest due rows %q", got, []string{ns[0].Body, ns[1].Body})
	}
	for _, r := range first {
		if r.Status != notify.StatusSending || r.Attempts != 1 || r.ClaimedBy != "a" || !r.ClaimedAt.Equal(at(10)) {
			t.Errorf("claimed row %d: status %q attempts %d owner %q claimed_at %s; want sending, 1, a, %s", r.ID, r.Status, r.Attempts, r.ClaimedBy, r.ClaimedAt, at(10))
		}
	}
	second := s.claim("b", at(10), 10, "")
	if got := bodies(second); !slices.Equal(got, []string{ns[3].Body, ns[4].Body}) {
		t.Fatalf("second claim %q, want %q (row 3 is not due)", got, []string{ns[3].Body, ns[4].Body})
	}
	if rest := s.claim("b", at(59), 10, ""); len(rest) != 0 {
		t.Fatalf("claim before the due time returned %q", bodies(rest))
	}
	if rest := s.claim("b", at(60), 10, ""); len(rest) != 1 || rest[0].Body != ns[2].Body {
		t.Fatalf("claim at the due time returned %q, want %q", bodies(rest), ns[2].Body)
	}
}

func testClaimChannelFilter(t *testing.T, s *suite) {
	tg := s.row("telegram", "1", 0)
	em := s.row("email", "a@example.com", 1)
	s.add(tg, em)
	rows := s.claim("a", at(5), 10, "email")
	if len(rows) != 1 || rows[0].Channel != "email" {
		t.Fatalf("claim with channel email returned %v", bodies(rows))
	}
	rows = s.claim("a", at(5), 10, "telegram")
	if len(rows) != 1 || rows[0].Channel != "telegram" {
		t.Fatalf("claim with channel telegram returned %v", bodies(rows))
	}
}

func testPerRecipientOrder(t *testing.T, s *suite) {
	a1, a2, a3 := s.row("telegram", "A", 0), s.row("telegram", "A", 1), s.row("telegram", "A", 2)
	b1 := s.row("telegram", "B", 3)
	ea := s.row("email", "A", 4) // same recipient string, other channel: independent
	c0 := s.row("telegram", "C", 0)
	c0.Status, c0.LastError = notify.StatusDead, "no recipient"
	c1 := s.row("telegram", "C", 5)
	s.add(a1, a2, a3, b1, ea, c0, c1)

	got := s.claim("w", at(10), 10, "")
	want := []string{a1.Body, b1.Body, ea.Body, c1.Body}
	if !slices.Equal(bodies(got), want) {
		t.Fatalf("claim = %q, want %q: one row per (channel, recipient), a dead older row blocks nothing", bodies(got), want)
	}
	if more := s.claim("w", at(10), 10, ""); len(more) != 0 {
		t.Fatalf("claim while A's first row is sending returned %q", bodies(more))
	}
	idA1 := got[0].ID
	s.must("MarkRetry", s.ob.MarkRetry(s.ctx, idA1, at(10), at(30), "503"))
	if more := s.claim("w", at(20), 10, ""); len(more) != 0 {
		t.Fatalf("claim while A's first row waits for its retry returned %q (younger rows must wait)", bodies(more))
	}
	again := s.claim("w", at(30), 10, "")
	if len(again) != 1 || again[0].ID != idA1 || again[0].Attempts != 2 {
		t.Fatalf("claim at the retry time = %q (attempts %v), want A1 with attempts 2", bodies(again), attempts(again))
	}
	s.must("MarkSent A1", s.ob.MarkSent(s.ctx, idA1, at(31)))
	next := s.claim("w", at(31), 10, "")
	if len(next) != 1 || next[0].Body != a2.Body {
		t.Fatalf("after A1 sent, claim = %q, want A2", bodies(next))
	}
	s.must("MarkDead A2", s.ob.MarkDead(s.ctx, next[0].ID, at(32), "400"))
	last := s.claim("w", at(32), 10, "")
	if len(last) != 1 || last[0].Body != a3.Body {
		t.Fatalf("after A2 dead, claim = %q, want A3", bodies(last))
	}
}

func attempts(ns []notify.Notification) []int {
	out := make([]int, len(ns))
	for i, n := range ns {
		out[i] = n.Attempts
	}
	return out
}

func testRetryScheduling(t *testing.T, s *suite) {
	s.add(s.row("webhook", "https://example.com/h", 0))
	r := s.claim("a", at(1), 1, "")[0]
	s.must("MarkRetry", s.ob.MarkRetry(s.ctx, r.ID, at(2), at(42), "HTTP 503: down"))
	g := s.get(r.ID)
	if g.Status != notify.StatusFailed || !g.NextAttemptAt.Equal(at(42)) || g.LastError != "HTTP 503: down" || g.Attempts != 1 || g.ClaimedBy != "" {
		t.Fatalf("after MarkRetry: status %q next %s error %q attempts %d owner %q; want failed, %s, the message, 1, empty",
			g.Status, g.NextAttemptAt, g.LastError, g.Attempts, g.ClaimedBy, at(42))
	}
	if st := s.stats(at(3)); st.Failed != 1 || st.Pending != 0 || st.Sending != 0 {
		t.Errorf("stats failed=%d pending=%d sending=%d, want 1 0 0", st.Failed, st.Pending, st.Sending)
	}
	if rows := s.claim("a", at(41), 5, ""); len(rows) != 0 {
		t.Fatalf("claimed before next attempt time: %q", bodies(rows))
	}
	rows := s.claim("a", at(42), 5, "")
	if len(rows) != 1 || rows[0].Attempts != 2 || rows[0].LastError != "HTTP 503: down" {
		t.Fatalf("claim at next attempt = %d rows (attempts %v), want the row with attempts 2 and its last error", len(rows), attempts(rows))
	}
}

func testMarkRequiresSending(t *testing.T, s *suite) {
	s.add(s.row("telegram", "1", 0), s.row("telegram", "2", 0))
	pending := s.claim("a", at(1), 1, "")[0]
	s.must("MarkSent", s.ob.MarkSent(s.ctx, pending.ID, at(2)))
	other := pending.ID + 1 // the second row, still pending
	for name, err := range map[string]error{
		"MarkSent twice":        s.ob.MarkSent(s.ctx, pending.ID, at(3)),
		"MarkRetry of sent":     s.ob.MarkRetry(s.ctx, pending.ID, at(3), at(4), "x"),
		"MarkDead of pending":   s.ob.MarkDead(s.ctx, other, at(3), "x"),
		"MarkSent of pending":   s.ob.MarkSent(s.ctx, other, at(3)),
		"MarkSuppressed absent": s.ob.MarkSuppressed(s.ctx, other+1000, at(3), "x"),
	} {
		if !errors.Is(err, notify.ErrNotClaimed) {
			t.Errorf("%s: err = %v, want ErrNotClaimed", name, err)
		}
	}
	if g := s.get(pending.ID); g.Status != notify.StatusSent {
		t.Errorf("a refused mark changed the sent row to %q", g.Status)
	}
	if g := s.get(other); g.Status != notify.StatusPending {
		t.Errorf("a refused mark changed the pending row to %q", g.Status)
	}
}

func testDeadAndSuppressed(t *testing.T, s *suite) {
	inserted := s.row("telegram", "", 0)
	inserted.Status, inserted.LastError = notify.StatusDead, "no Telegram chat id for user 7"
	sup := s.row("email", "x@example.com", 0)
	sup.Status, sup.LastError = notify.StatusSuppressed, "disabled"
	s.add(inserted, sup, s.row("telegram", "9", 1), s.row("email", "y@example.com", 2))
	rows := s.claim("a", at(5), 10, "")
	if len(rows) != 2 {
		t.Fatalf("claimed %d rows, want 2 (inserted dead/suppressed rows are never claimed)", len(rows))
	}
	s.must("MarkDead", s.ob.MarkDead(s.ctx, rows[0].ID, at(6), "permanent error: chat not found"))
	s.must("MarkSuppressed", s.ob.MarkSuppressed(s.ctx, rows[1].ID, at(6), "NOTIFICATION_ENABLED=false"))
	if g := s.get(rows[0].ID); g.Status != notify.StatusDead || g.LastError != "permanent error: chat not found" {
		t.Errorf("dead row: status %q error %q", g.Status, g.LastError)
	}
	if g := s.get(rows[1].ID); g.Status != notify.StatusSuppressed || g.LastError != "NOTIFICATION_ENABLED=false" {
		t.Errorf("suppressed row: status %q error %q", g.Status, g.LastError)
	}
	st := s.stats(at(7))
	if st.Dead != 2 || st.Suppressed != 2 || st.Undelivered() != 0 {
		t.Errorf("stats dead=%d suppressed=%d undelivered=%d, want 2 2 0", st.Dead, st.Suppressed, st.Undelivered())
	}
	if rows := s.claim("a", at(100), 10, ""); len(rows) != 0 {
		t.Errorf("claimed finished rows: %q", bodies(rows))
	}
}

func testRequeueStuck(t *testing.T, s *suite) {
	s.add(s.row("telegram", "1", 0), s.row("telegram", "2", 0))
	rows := s.claim("dead-process", at(10), 1, "")
	later := s.claim("live-process", at(20), 1, "")
	n, err := s.ob.RequeueStuck(s.ctx, at(10))
	s.must("RequeueStuck", err)
	if n != 0 {
		t.Fatalf("RequeueStuck(claimed before %s) = %d, want 0 (the boundary is strict)", at(10), n)
	}
	n, err = s.ob.RequeueStuck(s.ctx, at(15))
	s.must("RequeueStuck", err)
	if n != 1 {
		t.Fatalf("RequeueStuck(claimed before %s) = %d, want 1", at(15), n)
	}
	g := s.get(rows[0].ID)
	if g.Status != notify.StatusPending || g.Attempts != 1 || g.ClaimedBy != "" {
		t.Errorf("requeued row: status %q attempts %d owner %q, want pending, 1, empty", g.Status, g.Attempts, g.ClaimedBy)
	}
	if g := s.get(later[0].ID); g.Status != notify.StatusSending {
		t.Errorf("row claimed after the cutoff has status %q, want sending", g.Status)
	}
	again := s.claim("new-process", at(30), 5, "")
	if len(again) != 1 || again[0].ID != rows[0].ID || again[0].Attempts != 2 || again[0].ClaimedBy != "new-process" {
		t.Fatalf("claim after requeue = %v attempts %v, want row %d with attempts 2", ids(again), attempts(again), rows[0].ID)
	}
	if err := s.ob.MarkSent(s.ctx, rows[0].ID, at(31)); err != nil {
		t.Errorf("MarkSent after reclaim: %v", err)
	}
}

func testStats(t *testing.T, s *suite) {
	empty := s.stats(at(0))
	if empty.Undelivered() != 0 || empty.Dead != 0 || empty.OldestPendingAge != 0 || len(empty.LastErrorByChannel) != 0 {
		t.Fatalf("stats of an empty outbox: %+v", empty)
	}
	s.add(s.row("telegram", "1", 0), s.row("telegram", "2", 10), s.row("email", "e@example.com", 20), s.row("webhook", "https://h.example/x", 30))
	rows := s.claim("a", at(40), 10, "")
	if len(rows) != 4 {
		t.Fatalf("claimed %d, want 4", len(rows))
	}
	s.must("retry", s.ob.MarkRetry(s.ctx, rows[0].ID, at(41), at(100), "telegram: 500 first"))
	s.must("dead", s.ob.MarkDead(s.ctx, rows[1].ID, at(45), "telegram: 400 chat not found"))
	s.must("retry email", s.ob.MarkRetry(s.ctx, rows[2].ID, at(42), at(100), "email: 421 busy"))
	st := s.stats(at(70))
	if st.Failed != 2 || st.Dead != 1 || st.Sending != 1 || st.Pending != 0 || st.Sent != 0 {
		t.Errorf("counts pending=%d failed=%d sending=%d sent=%d dead=%d, want 0 2 1 0 1", st.Pending, st.Failed, st.Sending, st.Sent, st.Dead)
	}
	if st.OldestPendingAge != 70*time.Second {
		t.Errorf("OldestPendingAge = %s, want 1m10s (row created at +0s still retrying)", st.OldestPendingAge)
	}
	want := map[string]string{"telegram": "telegram: 400 chat not found", "email": "email: 421 busy"}
	if len(st.LastErrorByChannel) != len(want) {
		t.Errorf("LastErrorByChannel = %+v, want channels %v", st.LastErrorByChannel, want)
	}
	for ch, msg := range want {
		if got := st.LastErrorByChannel[ch]; got.Error != msg {
			t.Errorf("LastErrorByChannel[%s] = %q, want %q (the latest by UpdatedAt)", ch, got.Error, msg)
		}
	}
	if got := st.LastErrorByChannel["telegram"]; !got.At.Equal(at(45)) || got.ID != rows[1].ID {
		t.Errorf("LastErrorByChannel[telegram] at %s id %d, want %s id %d", got.At, got.ID, at(45), rows[1].ID)
	}
}

func testPurge(t *testing.T, s *suite) {
	s.add(s.row("telegram", "1", 0), s.row("telegram", "2", 0), s.row("telegram", "3", 0))
	rows := s.claim("a", at(1), 10, "")
	s.must("sent", s.ob.MarkSent(s.ctx, rows[0].ID, at(10)))
	s.must("dead", s.ob.MarkDead(s.ctx, rows[1].ID, at(10), "x"))
	n, err := s.ob.Purge(s.ctx, at(10))
	s.must("Purge", err)
	if n != 0 {
		t.Fatalf("Purge(before %s) = %d, want 0 (strict)", at(10), n)
	}
	n, err = s.ob.Purge(s.ctx, at(11))
	s.must("Purge", err)
	if n != 1 {
		t.Fatalf("Purge(before %s) = %d, want 1 (only the sent row)", at(11), n)
	}
	if _, err := s.ob.Get(s.ctx, rows[0].ID); err == nil {
		t.Errorf("purged row is still there")
	}
	if g := s.get(rows[1].ID); g.Status != notify.StatusDead {
		t.Errorf("dead row after purge: %q", g.Status)
	}
	if g := s.get(rows[2].ID); g.Status != notify.StatusSending {
		t.Errorf("sending row after purge: %q", g.Status)
	}
}

func testConcurrentClaimersDistinct(t *testing.T, s *suite) {
	const rows, claimers = 120, 4
	var ns []notify.Notification
	for i := range rows {
		ns = append(ns, s.row("telegram", fmt.Sprint(i), 0))
	}
	s.add(ns...)
	var mu sync.Mutex
	seen := map[int64]string{}
	var dup []string
	var wg sync.WaitGroup
	errs := make(chan error, claimers)
	for c := range claimers {
		owner := fmt.Sprintf("claimer-%d", c)
		wg.Go(func() {
			for {
				got, err := s.ob.Claim(s.ctx, notify.ClaimRequest{Owner: owner, Now: at(1), Limit: 5})
				if err != nil {
					errs <- err
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, r := range got {
					if prev, ok := seen[r.ID]; ok {
						dup = append(dup, fmt.Sprintf("row %d to %s and %s", r.ID, prev, owner))
					}
					seen[r.ID] = owner
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Claim: %v", err)
	}
	if len(dup) > 0 {
		t.Fatalf("rows handed to two claimers: %v", dup)
	}
	// A SKIP LOCKED claimer may stop early while others still hold locks;
	// whatever is left must be claimable now.
	rest := s.claim("final", at(1), rows, "")
	if len(seen)+len(rest) != rows {
		t.Fatalf("claimed %d + %d rows, want %d", len(seen), len(rest), rows)
	}
}

func testConcurrentPerRecipientOrder(t *testing.T, s *suite) {
	const recipients, per, workers = 4, 12, 4
	var ns []notify.Notification
	for r := range recipients { // each recipient's rows in one block
		for i := range per {
			ns = append(ns, s.row("telegram", fmt.Sprint("R", r), i))
		}
	}
	s.add(ns...)
	var (
		mu       sync.Mutex
		inflight = map[string]int64{}
		order    = map[string][]int64{}
		sent     int
		problems []string
	)
	var wg sync.WaitGroup
	deadline := time.Now().Add(20 * time.Second)
	for w := range workers {
		owner := fmt.Sprintf("worker-%d", w)
		wg.Go(func() {
			for time.Now().Before(deadline) {
				mu.Lock()
				done := sent == len(ns)
				mu.Unlock()
				if done {
					return
				}
				got, err := s.ob.Claim(s.ctx, notify.ClaimRequest{Owner: owner, Now: at(100), Limit: 3, Channel: "telegram"})
				if err != nil {
					mu.Lock()
					problems = append(problems, "claim: "+err.Error())
					mu.Unlock()
					return
				}
				mu.Lock()
				for _, r := range got {
					if other, busy := inflight[r.Recipient]; busy {
						problems = append(problems, fmt.Sprintf("row %d of %s claimed while row %d is in flight", r.ID, r.Recipient, other))
					}
					inflight[r.Recipient] = r.ID
					order[r.Recipient] = append(order[r.Recipient], r.ID)
				}
				mu.Unlock()
				for _, r := range got {
					// Leave the in-flight set before the mark commits, so a
					// claim that follows the commit never sees a stale entry.
					mu.Lock()
					delete(inflight, r.Recipient)
					mu.Unlock()
					if err := s.ob.MarkSent(s.ctx, r.ID, at(101)); err != nil {
						mu.Lock()
						problems = append(problems, "mark: "+err.Error())
						mu.Unlock()
						return
					}
					mu.Lock()
					sent++
					mu.Unlock()
				}
				if len(got) == 0 {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	if len(problems) > 0 {
		t.Fatalf("%d problems, first: %s", len(problems), problems[0])
	}
	if sent != len(ns) {
		t.Fatalf("sent %d of %d rows before the deadline", sent, len(ns))
	}
	for rcpt, got := range order {
		if !sort.SliceIsSorted(got, func(i, j int) bool { return got[i] < got[j] }) || len(got) != per {
			t.Errorf("recipient %s delivered in order %v, want %d ascending IDs", rcpt, got, per)
		}
	}
}

// testClaimTakesOverStuck: a sending row claimed before StuckBefore is handed
// out again (attempts + 1, new owner), one claimed later is not, and the
// recipient's younger rows stay behind it.
func testClaimTakesOverStuck(t *testing.T, s *suite) {
	s.add(s.row("telegram", "A", 0), s.row("telegram", "A", 1), s.row("telegram", "B", 2))
	first := s.claim("crashed", at(10), 1, "")
	if len(first) != 1 || first[0].Recipient != "A" {
		t.Fatalf("first claim = %v", ids(first))
	}
	b := s.claim("live", at(20), 5, "")
	if len(b) != 1 || b[0].Recipient != "B" {
		t.Fatalf("second claim = %q, want B's row only (A's second row waits behind the sending one)", bodies(b))
	}
	req := func(now, stuck int) []notify.Notification {
		rows, err := s.ob.Claim(s.ctx, notify.ClaimRequest{Owner: "new", Now: at(now), Limit: 5, StuckBefore: at(stuck)})
		s.must("Claim", err)
		return rows
	}
	if rows := req(30, 10); len(rows) != 0 {
		t.Fatalf("Claim(StuckBefore = the claim instant) = %q, want nothing (the boundary is strict)", bodies(rows))
	}
	rows := req(40, 15)
	if len(rows) != 1 || rows[0].ID != first[0].ID || rows[0].Attempts != 2 || rows[0].ClaimedBy != "new" || !rows[0].ClaimedAt.Equal(at(40)) {
		t.Fatalf("Claim(StuckBefore after the crashed claim) = %v attempts %v, want row %d again with attempts 2, owner new, claimed at %s",
			ids(rows), attempts(rows), first[0].ID, at(40))
	}
	if rows := req(41, 15); len(rows) != 0 {
		t.Fatalf("claim right after the takeover = %q, want nothing (the row is freshly claimed, B is in flight)", bodies(rows))
	}
	s.must("MarkSent", s.ob.MarkSent(s.ctx, first[0].ID, at(42)))
	next := s.claim("new", at(43), 5, "")
	if len(next) != 1 || next[0].Recipient != "A" || next[0].ID <= first[0].ID {
		t.Fatalf("after the taken-over row was sent, claim = %v, want A's second row", ids(next))
	}
}

// testHoldUntil: a failed row holds back its recipient's younger rows only
// while its retry is due by HoldUntil; zero HoldUntil keeps strict order.
func testHoldUntil(t *testing.T, s *suite) {
	s.add(s.row("telegram", "A", 0), s.row("telegram", "A", 1), s.row("telegram", "A", 2))
	head := s.claim("w", at(5), 1, "")[0]
	s.must("MarkRetry", s.ob.MarkRetry(s.ctx, head.ID, at(6), at(3600), "503"))
	claim := func(now, hold int) []notify.Notification {
		req := notify.ClaimRequest{Owner: "w", Now: at(now), Limit: 5}
		if hold >= 0 {
			req.HoldUntil = at(hold)
		}
		rows, err := s.ob.Claim(s.ctx, req)
		s.must("Claim", err)
		return rows
	}
	if rows := claim(10, -1); len(rows) != 0 {
		t.Fatalf("claim without HoldUntil = %q, want nothing (strict order)", bodies(rows))
	}
	if rows := claim(10, 3600); len(rows) != 0 {
		t.Fatalf("claim with the retry due at HoldUntil = %q, want nothing", bodies(rows))
	}
	rows := claim(10, 45)
	if len(rows) != 1 || rows[0].ID != head.ID+1 {
		t.Fatalf("claim with the retry beyond HoldUntil = %v, want the second row %d only", ids(rows), head.ID+1)
	}
	if more := claim(11, 46); len(more) != 0 {
		t.Fatalf("claim while the second row is sending = %q, want nothing (one in flight per recipient)", bodies(more))
	}
	s.must("MarkSent", s.ob.MarkSent(s.ctx, rows[0].ID, at(12)))
	third := claim(13, 48)
	if len(third) != 1 || third[0].ID != head.ID+2 {
		t.Fatalf("after the second row was sent, claim = %v, want the third", ids(third))
	}
	s.must("MarkSent", s.ob.MarkSent(s.ctx, third[0].ID, at(14)))
	if rows := claim(3599, 3640); len(rows) != 0 {
		t.Fatalf("claim before the head's retry = %q, want nothing", bodies(rows))
	}
	if rows := claim(3600, 3640); len(rows) != 1 || rows[0].ID != head.ID || rows[0].Attempts != 2 {
		t.Fatalf("claim at the head's retry = %v attempts %v, want the head with attempts 2", ids(rows), attempts(rows))
	}
}
