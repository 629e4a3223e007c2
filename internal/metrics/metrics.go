// Package metrics holds the scheduler's Prometheus registry and the hooks through which the engine, notifications, market data and alerts report to it.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name of the service.
const Namespace = "scheduler"

// Result values of DataFetched that are not fetch attempts: a cache hit is
// counted in the cache metric, skips carry no latency.
const (
	fetchCacheHit = "cache_hit"
)

// CacheMarketData is the cache label of market-data cache lookups reported
// through DataFetched.
const CacheMarketData = "marketdata"

// Metrics owns a Prometheus registry and every collector of the service. Its
// methods are safe for concurrent use. It implements engine.Observer; the
// other hooks take plain strings so that packages reporting to it need not
// import Prometheus.
type Metrics struct {
	reg *prometheus.Registry

	runs        *prometheus.CounterVec
	runDuration *prometheus.HistogramVec
	lag         *prometheus.HistogramVec
	started     *prometheus.CounterVec
	fired       *prometheus.CounterVec
	skipped     *prometheus.CounterVec
	missed      *prometheus.CounterVec
	retries     *prometheus.CounterVec

	notifications *prometheus.CounterVec
	notifyLatency *prometheus.HistogramVec
	fetches       *prometheus.CounterVec
	fetchLatency  *prometheus.HistogramVec
	alerts        *prometheus.CounterVec
	cache         *prometheus.CounterVec
}

// Options tune New.
type Options struct {
	// Version and Environment are exported as labels of scheduler_build_info.
	Version, Environment string
	// NoRuntime leaves out the Go runtime and process collectors.
	NoRuntime bool
}

// latencyBuckets spans 5 ms to about 5 minutes (jobs, fetches, deliveries).
var latencyBuckets = prometheus.ExponentialBuckets(0.005, 2.5, 14)

// lagBuckets spans 10 ms to about 40 minutes of scheduling lag.
var lagBuckets = []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600}

// New returns a Metrics with a fresh registry holding all collectors.
func New(o Options) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: name, Help: help}, labels)
		m.reg.MustRegister(c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: name, Help: help, Buckets: buckets}, labels)
		m.reg.MustRegister(h)
		return h
	}
	m.runs = counter("runs_total", "Finished run attempts by job type and status (completed, failed, or pending when put back for a retry).", "job_type", "status")
	m.runDuration = histogram("run_duration_seconds", "Duration of run attempts by job type.", latencyBuckets, "job_type")
	m.lag = histogram("run_lag_seconds", "Scheduling lag: started_at minus scheduled_for of each attempt, by job type.", lagBuckets, "job_type")
	m.started = counter("runs_started_total", "Run attempts started by job type.", "job_type")
	m.fired = counter("fires_total", "Pending runs created by the claim loop, by job type.", "job_type")
	m.skipped = counter("skipped_runs_total", "Fires skipped because the previous run was still running, by job type.", "job_type")
	m.missed = counter("missed_fires_total", "Missed-fire records written by the misfire policy, by job type.", "job_type")
	m.retries = counter("retries_total", "Failed attempts scheduled for a retry, by job type.", "job_type")
	m.notifications = counter("notifications_total", "Notification delivery outcomes by channel (sent, retry, dead, suppressed, abandoned).", "channel", "outcome")
	m.notifyLatency = histogram("notification_delivery_seconds", "Duration of notification delivery attempts by channel.", latencyBuckets, "channel")
	m.fetches = counter("data_fetches_total", "Market data fetch attempts and skips by provider and outcome.", "provider", "outcome")
	m.fetchLatency = histogram("data_fetch_duration_seconds", "Duration of market data fetch attempts by provider.", latencyBuckets, "provider")
	m.alerts = counter("alerts_triggered_total", "Alert and screener triggers by job type.", "job_type")
	m.cache = counter("cache_lookups_total", "Cache lookups by cache and result (hit, miss).", "cache", "result")

	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: Namespace, Name: "build_info",
		Help: "Always 1; labels carry the version and environment."}, []string{"version", "environment"})
	info.WithLabelValues(o.Version, o.Environment).Set(1)
	m.reg.MustRegister(info)
	if !o.NoRuntime {
		m.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	return m
}

// Registry returns the registry, to serve (it is a prometheus.Gatherer) or
// to register more collectors such as a StoreCollector.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// RunStarted implements engine.Observer: it records the scheduling lag.
func (m *Metrics) RunStarted(jobType string, lag time.Duration) {
	m.started.WithLabelValues(jobType).Inc()
	m.lag.WithLabelValues(jobType).Observe(max(lag, 0).Seconds())
}

// RunFinished implements engine.Observer: it counts the attempt by status
// and records its duration.
func (m *Metrics) RunFinished(jobType, status string, d time.Duration) {
	m.runs.WithLabelValues(jobType, status).Inc()
	m.runDuration.WithLabelValues(jobType).Observe(d.Seconds())
}

// Fired implements engine.Observer: it counts the pending runs, skips and
// missed-fire records one claim produced for a schedule.
func (m *Metrics) Fired(jobType string, pending, skipped, missed int) {
	if pending > 0 {
		m.fired.WithLabelValues(jobType).Add(float64(pending))
	}
	if skipped > 0 {
		m.skipped.WithLabelValues(jobType).Add(float64(skipped))
	}
	if missed > 0 {
		m.missed.WithLabelValues(jobType).Add(float64(missed))
	}
}

// Retried implements engine.Observer.
func (m *Metrics) Retried(jobType string) { m.retries.WithLabelValues(jobType).Inc() }

// NotificationDelivered counts one delivery outcome of a notification on
// channel and records how long the attempt took (took <= 0 records no
// latency). Wire it to the notify dispatcher with
//
//	notify.MetricsFunc(func(ch string, o notify.Outcome, _ int, took time.Duration) {
//		m.NotificationDelivered(ch, string(o), took)
//	})
func (m *Metrics) NotificationDelivered(channel, outcome string, took time.Duration) {
	m.notifications.WithLabelValues(channel, outcome).Inc()
	if took > 0 {
		m.notifyLatency.WithLabelValues(channel).Observe(took.Seconds())
	}
}

// DataFetched counts one market data fetch attempt (or skip) of provider
// with its outcome and latency. The outcome "cache_hit" is counted as a
// hit of the "marketdata" cache instead of a fetch. Wire it to the market
// data client with
//
//	OnOutcome: func(o marketdata.Outcome) { m.DataFetched(o.Provider, o.Result, o.Duration) }
func (m *Metrics) DataFetched(provider, outcome string, d time.Duration) {
	if outcome == fetchCacheHit {
		m.CacheLookup(CacheMarketData, true)
		return
	}
	m.fetches.WithLabelValues(provider, outcome).Inc()
	if d > 0 {
		m.fetchLatency.WithLabelValues(provider).Observe(d.Seconds())
	}
}

// AlertTriggered counts n triggers of a job type (alert, screener).
func (m *Metrics) AlertTriggered(jobType string, n int) {
	if n > 0 {
		m.alerts.WithLabelValues(jobType).Add(float64(n))
	}
}

// CacheLookup counts one lookup in the named cache (for example
// "indicators" or "marketdata").
func (m *Metrics) CacheLookup(cache string, hit bool) {
	result := "miss"
	if hit {
		result = "hit"
	}
	m.cache.WithLabelValues(cache, result).Inc()
}
