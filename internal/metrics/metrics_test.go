package metrics_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

var _ engine.Observer = (*metrics.Metrics)(nil)

// value returns the value of the sample of family name whose labels
// include want: a counter's or gauge's value, a histogram's sample count.
// ok is false when there is no such sample.
func value(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) (v float64, ok bool) {
	t.Helper()
	fams, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	metric:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if have[k] != v {
					continue metric
				}
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				return m.GetCounter().GetValue(), true
			case dto.MetricType_GAUGE:
				return m.GetGauge().GetValue(), true
			case dto.MetricType_HISTOGRAM:
				return float64(m.GetHistogram().GetSampleCount()), true
			}
		}
	}
	return 0, false
}

func mustValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, want float64) {
	t.Helper()
	v, ok := value(t, g, name, labels)
	if !ok {
		t.Fatalf("%s%v: no sample", name, labels)
	}
	if v != want {
		t.Fatalf("%s%v = %v, want %v", name, labels, v, want)
	}
}

func TestObserverAndHooks(t *testing.T) {
	m := metrics.New(metrics.Options{Version: "1.2.3", Environment: "test", NoRuntime: true})
	g := m.Registry()
	m.RunStarted("alert", 1500*time.Millisecond)
	m.RunStarted("alert", -time.Second) // clock skew is recorded as zero lag
	m.RunFinished("alert", store.StatusCompleted, 2*time.Second)
	m.RunFinished("alert", store.StatusFailed, time.Second)
	m.RunFinished("alert", store.StatusCompleted, time.Second)
	m.Fired("script", 3, 1, 2)
	m.Fired("script", 0, 0, 0)
	m.Retried("script")
	m.NotificationDelivered("telegram", "sent", 20*time.Millisecond)
	m.NotificationDelivered("telegram", "dead", 0)
	m.DataFetched("binance", "ok", 30*time.Millisecond)
	m.DataFetched("binance", "cache_hit", 0)
	m.AlertTriggered("screener", 4)
	m.CacheLookup("indicators", false)

	mustValue(t, g, "scheduler_runs_total", map[string]string{"job_type": "alert", "status": "completed"}, 2)
	mustValue(t, g, "scheduler_runs_total", map[string]string{"job_type": "alert", "status": "failed"}, 1)
	mustValue(t, g, "scheduler_run_duration_seconds", map[string]string{"job_type": "alert"}, 3)
	mustValue(t, g, "scheduler_run_lag_seconds", map[string]string{"job_type": "alert"}, 2)
	mustValue(t, g, "scheduler_runs_started_total", map[string]string{"job_type": "alert"}, 2)
	mustValue(t, g, "scheduler_fires_total", map[string]string{"job_type": "script"}, 3)
	mustValue(t, g, "scheduler_skipped_runs_total", map[string]string{"job_type": "script"}, 1)
	mustValue(t, g, "scheduler_missed_fires_total", map[string]string{"job_type": "script"}, 2)
	mustValue(t, g, "scheduler_retries_total", map[string]string{"job_type": "script"}, 1)
	mustValue(t, g, "scheduler_notifications_total", map[string]string{"channel": "telegram", "outcome": "sent"}, 1)
	mustValue(t, g, "scheduler_notifications_total", map[string]string{"channel": "telegram", "outcome": "dead"}, 1)
	mustValue(t, g, "scheduler_notification_delivery_seconds", map[string]string{"channel": "telegram"}, 1)
	mustValue(t, g, "scheduler_data_fetches_total", map[string]string{"provider": "binance", "outcome": "ok"}, 1)
	mustValue(t, g, "scheduler_data_fetch_duration_seconds", map[string]string{"provider": "binance"}, 1)
	mustValue(t, g, "scheduler_cache_lookups_total", map[string]string{"cache": "marketdata", "result": "hit"}, 1)
	mustValue(t, g, "scheduler_cache_lookups_total", map[string]string{"cache": "indicators", "result": "miss"}, 1)
	mustValue(t, g, "scheduler_alerts_triggered_total", map[string]string{"job_type": "screener"}, 4)
	mustValue(t, g, "scheduler_build_info", map[string]string{"version": "1.2.3", "environment": "test"}, 1)
	if _, ok := value(t, g, "scheduler_data_fetches_total", map[string]string{"outcome": "cache_hit"}); ok {
		t.Fatal("a cache hit was counted as a fetch")
	}
	// The lag histogram put the 1.5 s observation above the 1 s bucket.
	fams, _ := g.Gather()
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(buf.String(), `scheduler_run_lag_seconds_bucket{job_type="alert",le="1"} 1`) {
		t.Fatalf("lag buckets wrong:\n%s", grep(buf.String(), "run_lag"))
	}
}

func TestRuntimeCollectors(t *testing.T) {
	m := metrics.New(metrics.Options{})
	if _, ok := value(t, m.Registry(), "go_goroutines", nil); !ok {
		t.Fatal("go_goroutines missing")
	}
}

func grep(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestStoreCollector(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := metrics.New(metrics.Options{NoRuntime: true})
		now := time.Now()
		m.Registry().MustRegister(metrics.NewStoreCollector(db, func() time.Time { return now }, nil))
		g := m.Registry()
		mustValue(t, g, "scheduler_store_up", nil, 1)
		mustValue(t, g, "scheduler_due_backlog_runs", nil, 0)

		sc := &store.Schedule{UserID: 1, Name: "s", JobType: "script", Cron: "0 0 1 1 *", TaskParams: json.RawMessage(`{}`)}
		if err := db.CreateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			if _, err := db.InsertRun(ctx, sc, now.Add(time.Duration(i)*time.Second).Truncate(time.Microsecond), 1); err != nil {
				t.Fatal(err)
			}
		}
		mustValue(t, g, "scheduler_due_backlog_runs", nil, 2)
		mustValue(t, g, "scheduler_schedules", map[string]string{"state": "total"}, 1)
		mustValue(t, g, "scheduler_schedules", map[string]string{"state": "enabled"}, 0)
		mustValue(t, g, "scheduler_outbox_oldest_pending_seconds", nil, 0)

		db.Close()
		mustValue(t, g, "scheduler_store_up", nil, 0)
	})
}

// handler completes every run.
type handler struct{}

func (handler) Validate(json.RawMessage) error { return nil }
func (handler) Handle(context.Context, *engine.Job) (*engine.Outcome, error) {
	return &engine.Outcome{Result: "ok"}, nil
}

func TestEngineReportsRuns(t *testing.T) {
	db := storetest.SQLite(t)
	ctx := context.Background()
	m := metrics.New(metrics.Options{NoRuntime: true})
	e := engine.New(db, map[string]engine.Handler{"script": handler{}}, engine.Options{NodeID: "m", Observer: m,
		PollInterval: 100 * time.Millisecond, Logger: discard()})
	sc := &store.Schedule{UserID: 1, Name: "s", JobType: "script", Cron: "0 0 1 1 *", TaskParams: json.RawMessage(`{}`), Enabled: true}
	if err := db.CreateSchedule(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := db.InsertRun(ctx, sc, time.Now().Truncate(time.Microsecond), 1); err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = e.Run(runCtx) })
	defer func() { cancel(); wg.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, _ := value(t, m.Registry(), "scheduler_runs_total", map[string]string{"job_type": "script", "status": "completed"})
		if v == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("runs_total{completed} = %v after 10 s, want 1", v)
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustValue(t, m.Registry(), "scheduler_run_lag_seconds", map[string]string{"job_type": "script"}, 1)
	mustValue(t, m.Registry(), "scheduler_run_duration_seconds", map[string]string{"job_type": "script"}, 1)
}
