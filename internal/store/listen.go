package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Channels of the original service's LISTEN/NOTIFY protocol.
const (
	// ChannelUpdates: any payload means "schedules changed".
	ChannelUpdates = "scheduler_updates"
	// ChannelManualTrigger: payload {"run_id": N, "schedule_id": M} names a
	// pending run inserted by another process.
	ChannelManualTrigger = "scheduler_manual_trigger"
	// ChannelOutbox: notifications were queued in the outbox (sent by the
	// transaction that inserts them, at its commit); dispatchers of every
	// instance look for due rows.
	ChannelOutbox = "scheduler_outbox"
)

// CanListen reports whether the database delivers notifications
// (PostgreSQL); SQLite callers rely on polling instead.
func (s *DB) CanListen() bool { return s.pool != nil }

// Listen delivers notifications on channels to fn until ctx ends. A lost
// connection is re-established with backoff; after each (re)connect fn is
// called with channel "" so the caller can catch up on what it missed.
func (s *DB) Listen(ctx context.Context, channels []string, fn func(channel, payload string)) error {
	if s.pool == nil {
		return fmt.Errorf("listen: %s has no LISTEN/NOTIFY", s.d.name)
	}
	backoff := 500 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx, channels, fn)
		if ctx.Err() != nil {
			break
		}
		s.log.Warn("listen connection lost; reconnecting", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 30*time.Second)
	}
	return ctx.Err()
}

func (s *DB) listenOnce(ctx context.Context, channels []string, fn func(channel, payload string)) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("acquire listen connection: %w", err)
	}
	// The connection carries LISTEN state: never give it back to the pool.
	pc := conn.Hijack()
	defer pc.Close(context.Background())
	for _, ch := range channels {
		if _, err := pc.Exec(ctx, "LISTEN "+pgx.Identifier{ch}.Sanitize()); err != nil {
			return fmt.Errorf("listen %s: %w", ch, err)
		}
	}
	fn("", "")
	for {
		n, err := pc.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		fn(n.Channel, n.Payload)
	}
}

// Notify sends a notification on channel (PostgreSQL); on SQLite it does
// nothing.
func (s *DB) Notify(ctx context.Context, channel, payload string) error {
	if s.pool == nil {
		return nil
	}
	if _, err := s.exec(ctx, s.db, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("notify %s: %w", channel, err)
	}
	return nil
}
