package store_test

import (
	"context"
	"testing"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestOutboxConformance(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *store.DB{"sqlite": storetest.SQLite, "postgres": storetest.Postgres} {
		t.Run(name, func(t *testing.T) {
			notifytest.TestOutbox(t, func(t *testing.T) (notify.Outbox, func(ctx context.Context, ns []notify.Notification) error) {
				ob := open(t).Outbox()
				return ob, ob.Insert
			})
		})
	}
}
