package api_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// POST /api/v1/notifications/{id}/retry requeues a dead notification: 200
// with the count, 409 when it is not dead, 404 when unknown, 400 on a bad id.
func TestRetryNotification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ob := db.Outbox()
		dead := notify.Notification{IdempotencyKey: "k-dead", Channel: "telegram", Recipient: "42", Type: notify.TypeAlert,
			Title: "t", Body: "b", Priority: notify.PriorityNormal, Status: notify.StatusDead, LastError: "gave up after 4 attempts: HTTP 503",
			CreatedAt: time.Now().Add(-time.Hour)}
		if err := ob.Insert(ctx, []notify.Notification{dead}); err != nil {
			t.Fatal(err)
		}
		acts := action.New(action.Config{Store: db, Outbox: ob, Logger: quiet()})
		srv := httptest.NewServer(api.New(api.Deps{Store: db, Actions: acts, Logger: quiet()}))
		t.Cleanup(srv.Close)
		f := &fixture{t: t, db: db, srv: srv}

		var id int64
		for i := int64(1); i < 100 && id == 0; i++ {
			if n, err := ob.Get(ctx, i); err == nil && n.IdempotencyKey == "k-dead" {
				id = i
			}
		}
		var res action.RetryResult
		f.expect("POST", fmt.Sprintf("/api/v1/notifications/%d/retry", id), "", 200, &res)
		if res.Requeued != 1 || res.ID != id {
			t.Fatalf("retry answer %+v, want 1 requeued", res)
		}
		if n, _ := ob.Get(ctx, id); n.Status != notify.StatusPending || n.Attempts != 0 {
			t.Fatalf("row after retry: status %q attempts %d", n.Status, n.Attempts)
		}
		var e errorBody
		f.expect("POST", fmt.Sprintf("/api/v1/notifications/%d/retry", id), "", 409, &e)
		if e.Error == "" {
			t.Errorf("409 without an error message")
		}
		f.expect("POST", "/api/v1/notifications/999999/retry", "", 404, nil)
		f.expect("POST", "/api/v1/notifications/abc/retry", "", 400, nil)
		f.expect("POST", "/api/v1/notifications/0/retry", "", 400, nil)
	})
}
