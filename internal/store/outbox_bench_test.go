package store_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// benchOutbox measures delivery through the real dispatcher, the store's
// outbox and the notify_api sink to a fast local receiver: notifications
// per second from "pending" to "sent".
func benchOutbox(b *testing.B, db *store.DB) {
	var got atomic.Int64
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		fmt.Fprint(w, `{"success": true, "message": "Notification queued"}`)
	}))
	defer recv.Close()
	o := notify.DefaultOptions()
	o.ServiceURL = recv.URL
	ob := db.Outbox()
	d, err := notify.NewDispatcher(notify.DispatcherConfig{Outbox: ob, Sinks: notify.NewSinks(o, nil, nil),
		Retries: 3, Timeout: 5 * time.Second, Concurrency: 32, PollEvery: 50 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = d.Run(ctx) }()
	const n = 2000
	total := 0
	start := time.Now()
	for i := 0; b.Loop(); i++ {
		ns := make([]notify.Notification, n)
		for j := range ns {
			chat := fmt.Sprint(1000 + j%200) // 200 recipients
			ns[j] = notify.Notification{IdempotencyKey: fmt.Sprintf("b:%d:%d", i, j), Channel: notify.ChannelTelegram,
				Recipient: chat, Title: "t", Body: "body", Priority: notify.PriorityNormal, CreatedAt: time.Now()}
		}
		if err := ob.Insert(ctx, ns); err != nil {
			b.Fatal(err)
		}
		d.Notify()
		total += n
		deadline := time.Now().Add(time.Minute)
		for got.Load() < int64(total) {
			if time.Now().After(deadline) {
				st, _ := ob.Stats(ctx, time.Now())
				b.Fatalf("delivered %d of %d within a minute; outbox %+v", got.Load(), total, st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(total)/time.Since(start).Seconds(), "notifications/s")
}

func BenchmarkOutboxSQLite(b *testing.B)   { benchOutbox(b, storetest.SQLite(b)) }
func BenchmarkOutboxPostgres(b *testing.B) { benchOutbox(b, storetest.Postgres(b)) }
