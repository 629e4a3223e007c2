package metrics

import (
	"context"
	"log/slog"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atf/scheduler/internal/store"
)

// StoreCollector reads gauges from the store at scrape time: the due
// backlog (pending runs), running runs, schedules, the outbox backlog by
// status and the age of the oldest pending notification. Register it with
// Metrics.Registry().MustRegister.
type StoreCollector struct {
	st      store.Store
	now     func() time.Time
	timeout time.Duration
	log     *slog.Logger

	up, backlog, running, schedules, outbox, oldest, missed *prometheus.Desc
}

// NewStoreCollector returns a collector over st. now is the clock (nil
// means time.Now); each scrape queries the store once, bounded by 5 s.
func NewStoreCollector(st store.Store, now func() time.Time, log *slog.Logger) *StoreCollector {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.Default()
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName(Namespace, "", name), help, labels, nil)
	}
	return &StoreCollector{st: st, now: now, timeout: 5 * time.Second, log: log,
		up:        d("store_up", "1 when the last scrape could read the store, else 0."),
		backlog:   d("due_backlog_runs", "Runs waiting to start (status pending), including retries waiting for their delay."),
		running:   d("running_runs", "Runs executing now on any instance (status running)."),
		schedules: d("schedules", "Schedules by state (total, enabled, invalid).", "state"),
		outbox:    d("outbox_notifications", "Notifications in the outbox by status.", "status"),
		oldest:    d("outbox_oldest_pending_seconds", "Age of the oldest notification waiting to be delivered (0 when none)."),
		missed:    d("missed_fire_records", "Missed-fire records stored in the run history."),
	}
}

// Describe implements prometheus.Collector.
func (c *StoreCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.backlog, c.running, c.schedules, c.outbox, c.oldest, c.missed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *StoreCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	st, err := c.st.Stats(ctx, c.now())
	if err != nil {
		c.log.Warn("metrics: reading store stats failed", "err", err)
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, 0)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(c.up, 1)
	gauge(c.backlog, float64(st.RunsByStatus[store.StatusPending]))
	gauge(c.running, float64(st.RunsByStatus[store.StatusRunning]))
	gauge(c.missed, float64(st.MissedRecords))
	gauge(c.schedules, float64(st.Schedules), "total")
	gauge(c.schedules, float64(st.Enabled), "enabled")
	gauge(c.schedules, float64(len(st.Invalid)), "invalid")
	statuses := make([]string, 0, len(st.OutboxByStatus))
	for s := range st.OutboxByStatus {
		statuses = append(statuses, s)
	}
	sort.Strings(statuses)
	for _, s := range statuses {
		gauge(c.outbox, float64(st.OutboxByStatus[s]), s)
	}
	gauge(c.oldest, st.OldestPendingAge)
}
