package metrics_test

import (
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atf/scheduler/internal/metrics"
)

// The engine reports through the engine.Observer methods, the other
// packages through plain-string hooks; the registry is served with promhttp.
func Example() {
	m := metrics.New(metrics.Options{Version: "dev", NoRuntime: true})
	m.RunStarted("script", 40*time.Millisecond) // engine.Options{Observer: m}
	m.RunFinished("script", "completed", time.Second)
	m.NotificationDelivered("telegram", "sent", 80*time.Millisecond)
	m.DataFetched("binance", "ok", 120*time.Millisecond)
	m.AlertTriggered("alert", 1)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(m.Registry(), promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	for _, line := range strings.Split(rec.Body.String(), "\n") {
		if strings.HasSuffix(line, "_total") || strings.Contains(line, "_total{") {
			if !strings.HasPrefix(line, "#") {
				fmt.Println(line)
			}
		}
	}
	// Output:
	// scheduler_alerts_triggered_total{job_type="alert"} 1
	// scheduler_data_fetches_total{outcome="ok",provider="binance"} 1
	// scheduler_notifications_total{channel="telegram",outcome="sent"} 1
	// scheduler_runs_started_total{job_type="script"} 1
	// scheduler_runs_total{job_type="script",status="completed"} 1
}
