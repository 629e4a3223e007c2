package main

import (
	"context"
	"net/http"
	"sync"
	"time"
)

// healthCheck is one periodic self-check result.
type healthCheck struct {
	OK     bool      `json:"ok"`
	Error  string    `json:"error,omitempty"`
	At     time.Time `json:"at"`
	TookMS int64     `json:"took_ms"`
}

// healthChecker runs the HEALTH_CHECK_INTERVAL self-checks (database,
// notification endpoint, market data providers) and keeps the last results
// for /status.
type healthChecker struct {
	a       *app
	mu      sync.Mutex
	results map[string]healthCheck
	// pruned is when the bar store's retention was last enforced.
	pruned time.Time
}

// barPruneEvery is how often the self-checks enforce BAR_RETENTION.
const barPruneEvery = time.Hour

func (h *healthChecker) run(ctx context.Context) {
	t := time.NewTicker(h.a.cfg.HealthInterval)
	defer t.Stop()
	for {
		h.check(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (h *healthChecker) check(ctx context.Context) {
	res := map[string]healthCheck{}
	probe := func(name string, f func(context.Context) error) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		start := time.Now()
		err := f(cctx)
		r := healthCheck{OK: err == nil, At: start.UTC(), TookMS: time.Since(start).Milliseconds()}
		if err != nil {
			r.Error = err.Error()
			if ctx.Err() == nil {
				h.a.log.Warn("health check failed", "check", name, "err", err)
			}
		}
		res[name] = r
	}
	probe("database", h.a.db.Ping)
	// The notify endpoint is checked only where it is the Telegram channel
	// (no bot token) and was configured explicitly: the default
	// localhost:8000 of a deployment that does not use it is not a fault.
	if h.a.notifyOpts.Enabled && h.a.cfg.Env("NOTIFICATION_SERVICE_URL") != "" && h.a.cfg.Env("TELEGRAM_BOT_TOKEN") == "" {
		probe("notification_service", func(ctx context.Context) error {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.a.notifyOpts.ServiceURL, nil)
			if err != nil {
				return err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return err
			}
			resp.Body.Close()
			return nil // any HTTP answer means the endpoint is up
		})
	}
	if h.a.bars != nil && time.Since(h.pruned) >= barPruneEvery {
		h.pruned = time.Now()
		h.pruneBars(ctx, res)
	} else if r, ok := h.last("bar_store_retention"); ok {
		res["bar_store_retention"] = r
	}
	for name, state := range h.a.market.Breakers() {
		res["provider_"+name] = healthCheck{OK: state != "open", At: time.Now().UTC(), Error: map[bool]string{true: "circuit breaker open"}[state == "open"]}
	}
	h.mu.Lock()
	h.results = res
	h.mu.Unlock()
}

func (h *healthChecker) snapshot(context.Context) any {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.results
}

// last returns the previous result of one check.
func (h *healthChecker) last(name string) (healthCheck, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r, ok := h.results[name]
	return r, ok
}

// pruneBars enforces BAR_RETENTION on the bar store (hourly, from the
// self-check loop: no loop of its own) and records the outcome.
func (h *healthChecker) pruneBars(ctx context.Context, res map[string]healthCheck) {
	pctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	pr, err := h.a.bars.Prune(pctx)
	r := healthCheck{OK: err == nil, At: start.UTC(), TookMS: time.Since(start).Milliseconds()}
	if err != nil {
		r.Error = err.Error()
		if ctx.Err() == nil {
			h.a.log.Warn("bar store retention failed", "err", err)
		}
	} else {
		h.a.log.Info("bar store retention enforced", "retention", h.a.bars.Retention(), "series", pr.Series, "bars_deleted", pr.Bars)
	}
	res["bar_store_retention"] = r
}
