package notifytest

import (
	"context"
	"testing"

	"github.com/atf/scheduler/internal/notify"
)

func TestMemOutboxConformance(t *testing.T) {
	TestOutbox(t, func(t *testing.T) (notify.Outbox, func(ctx context.Context, ns []notify.Notification) error) {
		m := NewMemOutbox()
		return m, m.Insert
	})
}

func TestMemOutboxRejectsBadRows(t *testing.T) {
	m := NewMemOutbox()
	cases := map[string]notify.Notification{
		"no channel": {IdempotencyKey: "k"},
		"no key":     {Channel: "log"},
		"sending":    {Channel: "log", IdempotencyKey: "k", Status: notify.StatusSending},
	}
	for name, n := range cases {
		if err := m.Insert(context.Background(), []notify.Notification{n}); err == nil {
			t.Errorf("%s: Insert accepted %+v", name, n)
		}
	}
	if got := len(m.All()); got != 0 {
		t.Errorf("rejected inserts left %d rows", got)
	}
}
