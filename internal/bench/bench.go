// Package bench measures the scheduler's capacity: it loads no-op schedules
// into a scratch database, runs the real engine and reports fires per
// second, scheduling lag and peak memory.
package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
)

// JobType is the job type of the bench's no-op schedules; their names
// start with NamePrefix so a scratch database can be recognised.
const (
	JobType    = "notification"
	NamePrefix = "bench-"
)

// Options describe one measurement.
type Options struct {
	// Schedules is the number of no-op schedules to load.
	Schedules int
	// Cron is their expression (e.g. "* * * * * *").
	Cron string
	// Stagger spreads the schedules of a "*/N * * * * *" cron evenly over
	// its N seconds (schedule i fires at seconds i mod N, i mod N + N, ...),
	// instead of all at the same instants.
	Stagger bool
	// For is how long fires are measured, from the first instant.
	For time.Duration
	// Lead is how long the engines run before the first instant (12 s,
	// more than the engine claims ahead: schedules that already existed, as
	// in operation; a shorter lead measures a cold start).
	Lead time.Duration
	// Engines is the number of engine instances (PostgreSQL only).
	Engines int
	// Workers per engine (default: Schedules, at most 10,000). A fire
	// holds a worker from its claim, half a second before its instant:
	// to start N fires due at one instant on time, an engine needs N
	// workers.
	Workers int
	// Open opens an extra store for each additional engine.
	Open func() (store.Store, error)
}

// Report is the outcome of a measurement.
type Report struct {
	Schedules   int     `json:"schedules"`
	Cron        string  `json:"cron"`
	Stagger     bool    `json:"stagger"`
	Dialect     string  `json:"dialect"`
	Seconds     float64 `json:"seconds"`
	Fires       int     `json:"fires"`
	FiresPerSec float64 `json:"fires_per_second"`
	LagP50      float64 `json:"lag_p50_ms"`
	LagP99      float64 `json:"lag_p99_ms"`
	LagMax      float64 `json:"lag_max_ms"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
	HeapMB      float64 `json:"peak_heap_mb"`
	Handled     int64   `json:"handled"`
	// Skipped and Missed count the fires inside the measurement that were
	// recorded skipped (their previous run still running) or missed.
	Skipped int `json:"skipped"`
	Missed  int `json:"missed"`
	// ByStatus counts the bench runs by status when the engines stopped.
	ByStatus map[string]int `json:"runs_by_status"`
}

// String formats the report for people.
func (r Report) String() string {
	cron := r.Cron
	if r.Stagger {
		cron += ", staggered"
	}
	return fmt.Sprintf("%s: %d schedules (%s) for %.0f s: %d fires started, %.0f fires/s, lag p50 %.0f ms p99 %.0f ms max %.0f ms, skipped %d, missed %d, peak RSS %.0f MB (heap %.0f MB), runs at stop %v",
		r.Dialect, r.Schedules, cron, r.Seconds, r.Fires, r.FiresPerSec, r.LagP50, r.LagP99, r.LagMax, r.Skipped, r.Missed, r.PeakRSSMB, r.HeapMB, r.ByStatus)
}

// noop is the bench job: it only counts.
type noop struct{ n *atomic.Int64 }

func (h noop) Validate(json.RawMessage) error { return nil }
func (h noop) Handle(context.Context, *engine.Job) (*engine.Outcome, error) {
	h.n.Add(1)
	return nil, nil
}

// ErrNotScratch is returned when the database holds real schedules.
var ErrNotScratch = errors.New("database holds schedules that the bench did not create; use a scratch database")

// Load inserts n bench schedules (after checking the database is scratch)
// with next_run_at set to their first fire after now + lead; stagger as in
// Options. It returns the earliest first fire.
func Load(ctx context.Context, db *store.DB, n int, cron string, stagger bool, lead time.Duration) (time.Time, error) {
	real, err := db.CountOtherSchedules(ctx, NamePrefix)
	if err != nil {
		return time.Time{}, fmt.Errorf("check scratch database: %w", err)
	}
	if real > 0 {
		return time.Time{}, fmt.Errorf("%w (%d found)", ErrNotScratch, real)
	}
	crons := []string{cron}
	if stagger {
		var step int
		rest, ok := strings.CutPrefix(cron, "*/")
		if ok {
			var tail string
			_, err := fmt.Sscanf(rest, "%d %s", &step, &tail)
			ok = err == nil && step > 1 && step <= 60 && strings.HasSuffix(rest, " * * * * *")
		}
		if !ok {
			return time.Time{}, fmt.Errorf("--stagger: cron %q is not of the form \"*/N * * * * *\" with N in 2-60", cron)
		}
		crons = crons[:0]
		for s := range step {
			crons = append(crons, fmt.Sprintf("%d/%d * * * * *", s, step))
		}
	}
	firsts := make([]time.Time, len(crons))
	for i, c := range crons {
		sched, err := cronexpr.Parse(c, time.UTC)
		if err != nil {
			return time.Time{}, fmt.Errorf("--cron: %w", err)
		}
		firsts[i] = sched.Next(time.Now().Add(lead))
	}
	if err := db.LoadScratch(ctx, store.Scratch{Prefix: NamePrefix, JobType: JobType, N: n, Crons: crons, Firsts: firsts}); err != nil {
		return time.Time{}, err
	}
	return slices.MinFunc(firsts, time.Time.Compare), nil
}

// Run loads the schedules, runs the engine(s) for o.For and measures.
func Run(ctx context.Context, db *store.DB, o Options) (Report, error) {
	if o.Workers <= 0 {
		o.Workers = min(max(o.Schedules, 1), 10_000)
	}
	if o.Engines <= 0 {
		o.Engines = 1
	}
	if o.Lead <= 0 {
		o.Lead = 12 * time.Second
	}
	measureFrom, err := Load(ctx, db, o.Schedules, o.Cron, o.Stagger, o.Lead)
	if err != nil {
		return Report{}, err
	}
	var handled atomic.Int64
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("BENCH_LOG") != "" {
		quiet = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{}, o.Engines)
	for i := range o.Engines {
		st := store.Store(db)
		if i > 0 {
			var err error
			if st, err = o.Open(); err != nil {
				cancel()
				return Report{}, err
			}
		}
		e := engine.New(st, map[string]engine.Handler{JobType: noop{&handled}}, engine.Options{
			NodeID: "bench-" + strconv.Itoa(i), Workers: o.Workers, Logger: quiet, RetryCount: 0,
			PollInterval: time.Second, ShutdownGrace: 5 * time.Second})
		go func() { _ = e.Run(runCtx); done <- struct{}{} }()
	}
	var peakHeap uint64
	start := measureFrom
	tick := time.NewTicker(100 * time.Millisecond)
	for time.Since(start) < o.For {
		<-tick.C
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		peakHeap = max(peakHeap, ms.HeapInuse)
	}
	tick.Stop()
	end := time.Now()
	cancel()
	for range o.Engines {
		<-done
	}
	r := Report{Schedules: o.Schedules, Cron: o.Cron, Stagger: o.Stagger, Dialect: db.Dialect(), Seconds: end.Sub(start).Seconds(),
		Handled: handled.Load(), HeapMB: float64(peakHeap) / (1 << 20), PeakRSSMB: peakRSS()}
	all, err := db.RunWindow(ctx, JobType, time.Time{}, end.Add(time.Hour))
	if err != nil {
		return r, err
	}
	r.ByStatus = all.ByStatus
	w, err := db.RunWindow(ctx, JobType, start, end)
	if err != nil {
		return r, err
	}
	lags := w.Lags
	r.Fires = len(lags)
	r.Skipped, r.Missed = w.ByStatus[store.StatusSkipped], w.ByStatus[store.StatusMissed]
	// Rate over the span in which fires were due: from the first instant
	// (the load schedules it two seconds ahead) to the end.
	if !w.First.IsZero() && end.Sub(w.First) > 0 {
		r.FiresPerSec = float64(len(lags)) / end.Sub(w.First).Seconds()
	}
	if len(lags) > 0 {
		slices.Sort(lags)
		r.LagP50 = lags[len(lags)/2]
		r.LagP99 = lags[min(len(lags)-1, len(lags)*99/100)]
		r.LagMax = lags[len(lags)-1]
	}
	return r, nil
}

// peakRSS returns the process's peak resident set size in MB (Linux).
func peakRSS() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseFloat(f[0], 64)
				return kb / 1024
			}
		}
	}
	return 0
}
