package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/notify/notifytest"
)

// benchDispatch delivers b.N notifications spread over 200 recipients through
// sink and reports notifications per second.
func benchDispatch(b *testing.B, sink notify.Sink, concurrency int) {
	ob := notifytest.NewMemOutbox()
	if err := ob.Insert(context.Background(), rows("telegram", b.N, 200)); err != nil {
		b.Fatal(err)
	}
	var delivered atomic.Int64
	all := make(chan struct{})
	d, err := notify.NewDispatcher(notify.DispatcherConfig{
		Outbox:      ob,
		Sinks:       notify.Sinks{"telegram": sink},
		Retries:     3,
		Concurrency: concurrency,
		Logger:      quietLogger(),
		Metrics: notify.MetricsFunc(func(_ string, o notify.Outcome, _ int, _ time.Duration) {
			if o == notify.OutcomeSent && delivered.Add(1) == int64(b.N) {
				close(all)
			}
		}),
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.ResetTimer()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	<-all
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notifications/s")
}

// BenchmarkDispatcherNotifyAPI measures the whole path: claim from the
// in-memory outbox, POST to a fast local notify endpoint, mark sent.
func BenchmarkDispatcherNotifyAPI(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		io.WriteString(w, `{"success": true, "message": "Notification queued"}`)
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	benchDispatch(b, &notify.NotifyAPISink{BaseURL: srv.URL, Client: client}, 32)
}

// BenchmarkDispatcherNoopSink measures the dispatcher and in-memory outbox
// alone.
func BenchmarkDispatcherNoopSink(b *testing.B) {
	benchDispatch(b, notify.SinkFunc(func(context.Context, notify.Notification) error { return nil }), 32)
}
