package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/notify"
	"github.com/spf13/cobra"
)

func init() {
	rootCmd.AddCommand(&cobra.Command{
		Use:   "start",
		Short: "Run the scheduler service in the foreground",
		Long: `Runs the scheduler: fires due schedules, executes runs, delivers notifications
and serves the HTTP API. SIGINT/SIGTERM shut down gracefully; SIGHUP reloads
(re-validates) every schedule.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runStart(cmd.Context()) },
	})
}

func runStart(parent context.Context) error {
	ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := loadApp(ctx, true)
	if err != nil {
		return err
	}
	defer a.close()
	return serve(ctx, a)
}

// serve runs the service on a loaded app until ctx ends: engine, HTTP API,
// notification dispatcher, SIGHUP reload. `start` and `demo` share it.
func serve(ctx context.Context, a *app) error {
	if a.db.Dialect() == "sqlite" {
		unlock, err := lockSQLite(a.db.Path())
		if err != nil {
			return err
		}
		defer unlock()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	m := a.metrics
	m.Registry().MustRegister(metrics.NewStoreCollector(a.db, time.Now, a.log))
	a.observer = m
	disp, err := notify.NewDispatcher(notify.DispatcherConfig{
		Outbox: a.db.Outbox(), Sinks: notify.NewSinks(a.notifyOpts, nil, a.log), Disabled: !a.notifyOpts.Enabled,
		Retries: a.notifyOpts.Retries, Timeout: a.notifyOpts.Timeout, RetryMaxAge: a.notifyOpts.RetryMaxAge, Owner: a.cfg.NodeID, Logger: a.log,
		PollEvery: a.cfg.PollInterval,
		Metrics: notify.MetricsFunc(func(ch string, o notify.Outcome, _ int, took time.Duration) {
			m.NotificationDelivered(ch, string(o), took)
		}),
	})
	if err != nil {
		return err
	}
	a.outbox = disp
	a.status["data_providers"] = func(context.Context) any { return a.market.Breakers() }
	a.status["data_provider_config"] = func(context.Context) any { return a.market.ProviderStates() }
	health := &healthChecker{a: a}
	a.status["health"] = health.snapshot
	go health.run(ctx)
	a.status["dispatcher"] = func(ctx context.Context) any {
		st, err := a.db.Outbox().Stats(ctx, time.Now())
		if err != nil {
			return map[string]string{"error": err.Error()}
		}
		return action.SummarizeOutbox(st) // redacted: webhook URLs in delivery errors
	}
	dispDone := make(chan struct{})
	go func() { defer close(dispDone); _ = disp.Run(ctx) }()
	defer func() { <-dispDone }()
	// Registered after the wait above, so it runs first: a start that
	// fails below (a port in use, say) stops the dispatcher and the health
	// checks and returns its error instead of waiting for them forever.
	defer cancel()
	e := a.engine()
	acts := a.actions(e)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			r, err := acts.Reload(ctx)
			if err != nil {
				a.log.Error("reload failed", "err", err)
				continue
			}
			a.log.Info("reloaded schedules (SIGHUP)", "valid", r.Valid, "invalid", r.Invalid, "next_run_set", r.NextRunSet)
		}
	}()
	srv, err := startServices(ctx, a, e, acts, m)
	if err != nil {
		return err
	}
	a.log.Info("scheduler started", "version", appVersion, "node", e.NodeID(), "database", a.db.Dialect(),
		"environment", a.cfg.TradingEnv, "notification_delivery", a.delivery.String())
	err = e.Run(ctx)
	srv.stop()
	return err
}

// lockSQLite makes sure only one service runs on a SQLite file: several
// instances need PostgreSQL.
func lockSQLite(dbPath string) (func(), error) {
	lockPath := dbPath + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock file %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder, _ := os.ReadFile(lockPath)
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			abs, _ := filepath.Abs(dbPath)
			return nil, fmt.Errorf("another scheduler (pid %s) is already running on the SQLite database %s; "+
				"several instances need PostgreSQL (set DATABASE_URL=postgres://...)", strings.TrimSpace(string(holder)), abs)
		}
		return nil, fmt.Errorf("lock %s: %w", lockPath, err)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
