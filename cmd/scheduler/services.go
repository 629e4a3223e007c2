package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/web"
)

// services are the parts of a running service besides the engine (HTTP API,
// notification dispatcher).
type services struct {
	stops []func()
	// addr is where the HTTP API listens ("" when disabled).
	addr string
}

func (s *services) stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

// startServices starts the HTTP API (unless HTTP_ADDR=off).
func startServices(ctx context.Context, a *app, e *engine.Engine, acts *action.Actions, m *metrics.Metrics) (*services, error) {
	s := &services{}
	if a.cfg.HTTPAddr == "off" {
		return s, nil
	}
	if err := api.CheckListen(a.cfg.HTTPAddr, a.cfg.APIToken); err != nil {
		return nil, err
	}
	started := time.Now()
	guesses := api.NewAuthLimiter(nil) // wrong tokens, through the API or the login page
	h := api.New(api.Deps{Store: a.db, Actions: acts, Engine: e, Token: a.cfg.APIToken, AuthLimiter: guesses,
		MetricsToken: a.cfg.MetricsToken, MetricsOpen: a.cfg.MetricsOpen, Addr: a.cfg.HTTPAddr, Version: appVersion,
		Environment: a.cfg.TradingEnv, Started: started, Gatherer: m.Registry(), Logger: a.log,
		Status: a.statusSections})
	dash, err := web.New(web.Deps{Store: a.db, Actions: acts, API: h, Engine: e, Token: a.cfg.APIToken, AuthLimiter: guesses,
		Addr: a.cfg.HTTPAddr, Location: a.cfg.Timezone, AlertSchemaDir: a.cfg.AlertSchemaDir, Logger: a.log,
		Status: a.statusSections, Bars: a.chartBars})
	if err != nil {
		return nil, err
	}
	h = web.Mount(h, dash)
	ln, err := net.Listen("tcp", a.cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("HTTP_ADDR: listen on %s: %w", a.cfg.HTTPAddr, err)
	}
	srv := api.NewServer(a.cfg.HTTPAddr, h)
	s.addr = ln.Addr().String()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			a.log.Error("HTTP API stopped", "err", err)
		}
	}()
	a.log.Info("HTTP API listening", "addr", s.addr, "dashboard", "http://"+s.addr+"/")
	s.stops = append(s.stops, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	return s, nil
}

// statusSections adds the parts of /status the API does not know about.
func (a *app) statusSections(ctx context.Context) map[string]any {
	out := map[string]any{"database": map[string]string{"dialect": a.db.Dialect(), "location": a.databaseLocation()}}
	for name, f := range a.status {
		out[name] = f(ctx)
	}
	return out
}

// chartBars serves the dashboard's alert charts from the market data client.
func (a *app) chartBars(ctx context.Context, symbol string, tf marketdata.Timeframe, n int) ([]marketdata.Bar, error) {
	s, err := a.market.Series(ctx, marketdata.Request{Symbol: symbol, Timeframe: tf, Bars: n})
	if err != nil {
		return nil, err
	}
	return s.Closed, nil
}
