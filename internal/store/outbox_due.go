package store

import (
	"context"
	"fmt"
	"time"
)

// NextDue implements notify.DueOutbox: one grouped query over the rows
// still to deliver (the partial indexes on pending, failed and sending
// rows keep it small).
func (o *Outbox) NextDue(ctx context.Context, stuckAfter time.Duration) (map[string]time.Time, error) {
	s := o.s
	rows, err := s.query(ctx, s.db, `SELECT channel, status, MIN(next_attempt_at), MIN(claimed_at) FROM notifications
		WHERE status IN ('pending', 'failed', 'sending') GROUP BY channel, status`)
	if err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var ch, status string
		var next, claimed NullTime
		if err := rows.Scan(&ch, &status, &next, &claimed); err != nil {
			return nil, fmt.Errorf("due notifications: %w", err)
		}
		at := next
		if status == "sending" {
			at = NullTime{T: claimed.T.Add(stuckAfter), Valid: claimed.Valid}
		}
		if !at.Valid {
			at = NullTime{T: time.Time{}, Valid: true} // no time: due now
		}
		if cur, ok := out[ch]; !ok || at.T.Before(cur) {
			out[ch] = at.T
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	return out, nil
}
