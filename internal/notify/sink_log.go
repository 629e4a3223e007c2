package notify

import (
	"context"
	"log/slog"
)

// LogSink writes notifications to the service log. It never fails; it is the
// default channel when nothing else is configured, and what the demo uses.
type LogSink struct {
	Logger *slog.Logger // nil: slog.Default()
}

// Send logs the notification at INFO (WARN for HIGH and CRITICAL).
func (s *LogSink) Send(ctx context.Context, n Notification) error {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	level := slog.LevelInfo
	if n.Priority.Urgent() {
		level = slog.LevelWarn
	}
	l.LogAttrs(ctx, level, "notification",
		slog.String("title", n.Title),
		slog.String("body", n.Body),
		slog.String("priority", string(n.Priority)),
		slog.String("type", n.Type),
		slog.String("recipient", n.Recipient),
		slog.String("idempotency_key", n.IdempotencyKey),
		slog.Int64("schedule_id", n.ScheduleID),
		slog.Int64("run_id", n.RunID),
		slog.Any("data", n.Data),
	)
	return nil
}
