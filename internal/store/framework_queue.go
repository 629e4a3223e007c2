package store

// The trading framework's notification queue: msg_messages and
// msg_delivery_status (ORIGINAL-SYSTEM.md §6b). With NOTIFICATION_DELIVERY
// resolved to framework, a run's telegram and email notifications are
// written there, in the run's completion transaction, as the framework's
// NotificationService.create_message writes them; its notification
// processor delivers them and its admin UI lists them.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// frameworkQueue is the state of the framework's queue in a DB.
type frameworkQueue struct {
	found atomic.Bool // both tables exist (detected at Open and Migrate)
	use   atomic.Bool // completions write into them (UseFrameworkQueue)
}

// ErrFrameworkQueueMissing is returned (wrapped) by UseFrameworkQueue when
// msg_messages or msg_delivery_status does not exist.
var ErrFrameworkQueueMissing = notify.ErrFrameworkQueueMissing

// FrameworkQueueFound reports whether the framework's queue tables
// (msg_messages and msg_delivery_status) exist, as detected at Open and by
// Migrate. Always false on SQLite.
func (s *DB) FrameworkQueueFound() bool { return s.fq.found.Load() }

// FrameworkQueueInUse reports whether completions write telegram and email
// notifications into the framework's queue.
func (s *DB) FrameworkQueueInUse() bool { return s.fq.use.Load() }

// UseFrameworkQueue routes the telegram and email notifications of later
// completions into the framework's queue (on) or into the outbox (off).
// Turning it on without the tables is an error wrapping
// ErrFrameworkQueueMissing. Call it at start, before the engine runs.
func (s *DB) UseFrameworkQueue(on bool) error {
	if on && !s.fq.found.Load() {
		return fmt.Errorf("use the framework's notification queue: %w", ErrFrameworkQueueMissing)
	}
	s.fq.use.Store(on)
	return nil
}

// detectFrameworkQueue records whether both queue tables exist.
func (s *DB) detectFrameworkQueue(ctx context.Context, q querier) error {
	if s.d.name != "postgres" {
		s.fq.found.Store(false)
		return nil
	}
	var n int
	err := s.queryRow(ctx, q, `SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema()
		AND table_name IN ('msg_messages', 'msg_delivery_status')`).Scan(&n)
	if err != nil {
		return fmt.Errorf("look for the framework's notification queue: %w", err)
	}
	s.fq.found.Store(n == 2)
	return nil
}

// insertNotifications writes a completion's notifications: with the
// framework's queue in use, telegram and email rows that are pending go to
// msg_messages + msg_delivery_status and the rest (webhook, log, rows
// without a recipient, suppressed rows) to the outbox; otherwise all go to
// the outbox.
func (s *DB) insertNotifications(ctx context.Context, tx querier, ns []notify.Notification) error {
	if !s.fq.use.Load() || len(ns) == 0 {
		return s.insertOutbox(ctx, tx, ns)
	}
	queue, rest := splitForQueue(ns)
	for _, m := range queue {
		if err := s.insertQueueMessage(ctx, tx, m); err != nil {
			return err
		}
	}
	return s.insertOutbox(ctx, tx, rest)
}

// queueMessage is one msg_messages row: one planned notification event
// over all its framework channels.
type queueMessage struct {
	rows []notify.Notification // one per channel, in plan order
}

// splitForQueue groups the pending telegram and email rows of one event
// (same run, tag, type, title, body and priority) into one queue message;
// everything else stays for the outbox.
func splitForQueue(ns []notify.Notification) (queue []*queueMessage, rest []notify.Notification) {
	byEvent := map[string]*queueMessage{}
	for _, n := range ns {
		status := n.Status
		if status == "" {
			status = notify.StatusPending
		}
		if !notify.QueueChannel(n.Channel) || status != notify.StatusPending {
			rest = append(rest, n)
			continue
		}
		_, tag, _ := strings.Cut(n.IdempotencyKey, "#")
		key := strings.Join([]string{strconv.FormatInt(n.ScheduleID, 10), strconv.FormatInt(n.RunID, 10), tag, n.Type,
			string(n.Priority), n.Title, n.Body}, "\x00")
		m := byEvent[key]
		if m == nil {
			m = &queueMessage{}
			byEvent[key] = m
			queue = append(queue, m)
		}
		m.rows = append(m.rows, n)
	}
	return queue, rest
}

// QueueMessage is the content of one msg_messages row as
// NotificationService.create_message writes it; the store builds it from
// planned notifications (exported for tests and documentation).
type QueueMessage struct {
	MessageType  string         // ALERT, REPORT, SYSTEM
	Priority     string         // LOW, NORMAL, HIGH, CRITICAL
	Channels     []string       // telegram, email
	RecipientID  string         // as the old service: notify recipient_id / user_id, else the schedule's user id
	Content      map[string]any // title, message, metadata (the notification's data and routing)
	Metadata     map[string]any // the metadata column: source, telegram_chat_id, email_receiver, …
	ScheduledFor time.Time
}

// buildQueueMessage turns the rows of one event into a QueueMessage.
func buildQueueMessage(rows []notify.Notification) QueueMessage {
	first := rows[0]
	prio := first.Priority
	if prio == "" {
		prio = notify.PriorityNormal
	}
	q := QueueMessage{MessageType: notify.QueueMessageType(first.Type), Priority: string(prio),
		RecipientID: first.QueueRecipient, ScheduledFor: first.CreatedAt}
	if q.RecipientID == "" {
		q.RecipientID = strconv.FormatInt(first.UserID, 10)
	}
	if q.ScheduledFor.IsZero() {
		q.ScheduledFor = time.Now()
	}
	source := "scheduler_service"
	if first.Type == notify.TypeJob {
		source = "scheduler_data_processing"
	}
	meta := map[string]any{"source": source, "schedule_id": first.ScheduleID, "run_id": first.RunID,
		"user_id": first.UserID}
	for _, n := range rows {
		if !contains(q.Channels, n.Channel) {
			q.Channels = append(q.Channels, n.Channel)
		}
		switch n.Channel {
		case notify.ChannelTelegram:
			// The processor passes it to the Bot API as chat_id.
			if id, err := strconv.ParseInt(n.Recipient, 10, 64); err == nil {
				meta["telegram_chat_id"] = id
			} else {
				meta["telegram_chat_id"] = n.Recipient
			}
		case notify.ChannelEmail:
			meta["email_receiver"] = n.Recipient
		}
	}
	inner := map[string]any{}
	for k, v := range first.Data {
		inner[k] = v
	}
	for k, v := range meta {
		if k != "source" {
			inner[k] = v
		}
	}
	inner["title"], inner["message"], inner["channels"] = first.Title, first.Body, q.Channels
	q.Content = map[string]any{"title": first.Title, "message": first.Body, "metadata": inner}
	q.Metadata = meta
	return q
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// insertQueueMessage writes one msg_messages row (status PENDING,
// retry_count 0, max_retries 3) and one msg_delivery_status row per
// channel (status PENDING), as NotificationService.create_message does.
func (s *DB) insertQueueMessage(ctx context.Context, tx querier, m *queueMessage) error {
	q := buildQueueMessage(m.rows)
	content, err := json.Marshal(q.Content)
	if err != nil {
		return fmt.Errorf("framework queue message %s: content: %w", m.rows[0].IdempotencyKey, err)
	}
	meta, err := json.Marshal(q.Metadata)
	if err != nil {
		return fmt.Errorf("framework queue message %s: metadata: %w", m.rows[0].IdempotencyKey, err)
	}
	now := time.Now().UTC()
	var id int64
	err = s.queryRow(ctx, tx, `INSERT INTO msg_messages (message_type, priority, channels, recipient_id, content, metadata,
		created_at, scheduled_for, status, retry_count, max_retries)
		VALUES ($1, $2, $3::text[], $4, $5::jsonb, $6::jsonb, $7, $8, 'PENDING', 0, 3) RETURNING id`,
		q.MessageType, q.Priority, q.Channels, q.RecipientID, string(content), string(meta), now, q.ScheduledFor.UTC()).Scan(&id)
	if err != nil {
		return fmt.Errorf("insert msg_messages for %s: %w", m.rows[0].IdempotencyKey, err)
	}
	if _, err := s.exec(ctx, tx, `INSERT INTO msg_delivery_status (message_id, channel, status, created_at)
		SELECT $1, c, 'PENDING', $3 FROM unnest($2::text[]) AS c`, id, q.Channels, now); err != nil {
		return fmt.Errorf("insert msg_delivery_status of message %d: %w", id, err)
	}
	return nil
}
