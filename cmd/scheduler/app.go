package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/config"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// app is the wiring shared by the commands.
type app struct {
	cfg      *config.Config
	log      *slog.Logger
	db       *store.DB
	handlers map[string]engine.Handler
	// status holds extra /status sections by name (outbox, providers).
	status map[string]func(context.Context) any
	// observer receives engine metrics (nil in one-shot commands).
	observer engine.Observer
	// notifyOpts configures notification delivery (NOTIFICATION_*, SMTP_*,
	// TELEGRAM_*, WEBHOOK_SECRET).
	notifyOpts notify.Options
	// delivery says who delivers telegram and email notifications
	// (NOTIFICATION_DELIVERY resolved against the database) and why.
	delivery notify.Delivery
	// dataOpts configures market data (DATA_*, provider URLs).
	dataOpts marketdata.Options
	// outbox is woken after completions that queued notifications.
	outbox interface{ Notify() }
	// metrics is the Prometheus registry and hooks of this process.
	metrics *metrics.Metrics
	// market is the process's market data client (shared cache).
	market *marketdata.Client
	// bars is the bar store behind the market data cache (BAR_RETENTION).
	bars *store.Bars
}

// newLogger returns a JSON logger in production and a text logger otherwise.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.TradingEnv == "production" || cfg.TradingEnv == "staging" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// loadApp reads the configuration, opens and migrates the database. With
// wait, an unreachable database is retried with exponential backoff until
// ctx ends (service start); otherwise the first error is returned (CLI).
func loadApp(ctx context.Context, wait bool) (*app, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if !wait && os.Getenv("LOG_LEVEL") == "" {
		cfg.LogLevel = slog.LevelWarn // one-shot commands: quiet unless asked
	}
	a := &app{cfg: cfg, log: newLogger(cfg, os.Stderr), status: map[string]func(context.Context) any{}}
	slog.SetDefault(a.log)
	var cerrs []error
	sc, err := script.ConfigFromEnv(cfg.Env)
	cerrs = append(cerrs, err)
	a.notifyOpts, err = notify.OptionsFromEnv(cfg.Env)
	cerrs = append(cerrs, err)
	a.dataOpts, err = marketdata.OptionsFromEnv(cfg.Env)
	cerrs = append(cerrs, err)
	if err := errors.Join(cerrs...); err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	dbc, _ := config.ParseDatabaseURL(cfg.DatabaseURL)
	backoff := time.Second
	for {
		a.db, err = openDB(ctx, cfg, dbc, a.log)
		if err == nil || !wait {
			break
		}
		a.log.Error("database not reachable; retrying", "err", err, "in", backoff, "database", config.Redact(cfg.DatabaseURL))
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("database: %w (gave up: %v)", err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, time.Minute)
	}
	if err != nil {
		return nil, fmt.Errorf("database %s: %w", config.Redact(cfg.DatabaseURL), err)
	}
	if err := a.resolveDelivery(); err != nil {
		a.db.Close()
		return nil, fmt.Errorf("configuration: %w", err)
	}
	a.metrics = metrics.New(metrics.Options{Version: appVersion, Environment: cfg.TradingEnv})
	a.dataOpts.OnOutcome = func(o marketdata.Outcome) { a.metrics.DataFetched(o.Provider, o.Result, o.Duration) }
	a.dataOpts.Logger = a.log
	a.bars = a.db.Bars(cfg.BarRetention)
	a.dataOpts.BarStore = a.bars
	market, err := marketdata.New(a.dataOpts)
	if err != nil {
		a.db.Close()
		return nil, fmt.Errorf("configuration: market data: %w", err)
	}
	a.market = market
	a.log.Info("script interpreter", "python", sc.Python, "why", sc.PythonSource, "root", sc.Root)
	a.handlers = jobs.Handlers(jobs.Deps{
		Script:               sc,
		ScriptProcesses:      a.db,
		JobTimeout:           cfg.JobTimeout,
		Market:               market,
		DB:                   a.db,
		Planner:              &notify.Planner{Options: a.notifyOpts, Directory: a.db.Directory(), Logger: a.log},
		Indicators:           indicators.NewCache(8192),
		AlertSchemaDir:       cfg.AlertSchemaDir,
		AlertLimits:          alerts.Limits{MaxTriggers: cfg.AlertMaxTrigger, FloodWindow: cfg.AlertFloodWin},
		AlertDefaultLookback: cfg.AlertLookback,
		AlertEveryEvaluation: !cfg.AlertOncePerBar,
		DatabaseURL:          cfg.DatabaseURL,
		OnAlertTriggered: func(jobType string, n int) {
			a.metrics.AlertTriggered(jobType, n)
		},
		Logger: a.log,
	})
	return a, nil
}

// resolveDelivery applies NOTIFICATION_DELIVERY: the framework's queue when
// configured (or, with auto, when its tables exist), else the outbox. The
// mode in effect and its reason appear in `status` and /status.
func (a *app) resolveDelivery() error {
	d, err := notify.ResolveDelivery(a.cfg.NotificationDelivery, a.db.FrameworkQueueFound())
	if err != nil {
		return err
	}
	if err := a.db.UseFrameworkQueue(d.Framework); err != nil {
		return err
	}
	a.delivery = d
	a.notifyOpts.FrameworkQueue = d.Framework
	a.status["notification_delivery"] = func(context.Context) any { return d.String() }
	a.log.Debug("notification delivery", "mode", d.String())
	return nil
}

func openDB(ctx context.Context, cfg *config.Config, dbc config.DB, log *slog.Logger) (*store.DB, error) {
	db, err := store.Open(ctx, store.Options{Driver: dbc.Driver, DSN: dbc.DSN,
		MaxConns: cfg.DBPoolSize + cfg.DBMaxOverflow, Echo: cfg.SQLEcho, Logger: log})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.Ping(pctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.Migrate(pctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// engineOptions maps the configuration onto engine options.
func (a *app) engineOptions() engine.Options {
	c := a.cfg
	return engine.Options{NodeID: c.NodeID, Workers: c.MaxWorkers, JobTimeout: c.JobTimeout,
		TypeTimeouts:     map[string]time.Duration{"alert": c.AlertMaxEval, "screener": c.AlertMaxEval},
		MisfireThreshold: c.MisfireThresh, MisfireGrace: c.MisfireGrace, Coalesce: c.Coalesce,
		RetryCount: c.RetryCount, RetryDelay: c.RetryDelay, Lease: c.LeaseTime, PollInterval: c.PollInterval,
		ShutdownGrace: c.ShutdownGrace, Location: c.Timezone, Logger: a.log, Observer: a.observer, Outbox: a.outbox,
		Fence: jobs.KillLeftovers(a.db, a.log)}
}

// actions returns the schedule actions over the app's store, with the
// configured time zone, handlers and retry count; e (nil in one-shot
// commands) is woken after every change.
func (a *app) actions(e *engine.Engine) *action.Actions {
	c := action.Config{Store: a.db, Handlers: a.handlers, Location: a.cfg.Timezone, RetryCount: a.cfg.RetryCount,
		Outbox: a.db.Outbox(), Logger: a.log}
	if e != nil {
		c.Engine = e
	}
	return action.New(c)
}

// engine returns an engine over the app's store (also used by CLI commands
// for validation and one-off runs).
func (a *app) engine() *engine.Engine { return engine.New(a.db, a.handlers, a.engineOptions()) }

func (a *app) close() {
	if a.db != nil {
		a.db.Close()
	}
}

// databaseLocation is where the data lives, for people: the SQLite file's
// absolute path, or the PostgreSQL URL with its password redacted.
func (a *app) databaseLocation() string {
	return databaseLocation(a.db.Dialect(), a.db.Path(), a.cfg.DatabaseURL)
}

// databaseLocation is the SQLite file's absolute path, or the DATABASE_URL
// with its password redacted.
func databaseLocation(dialect, path, url string) string {
	if dialect == "sqlite" {
		if p, err := filepath.Abs(path); err == nil {
			return p
		}
		return path
	}
	return config.Redact(url)
}

// loadExistingApp is loadApp for commands that only read: when the
// configured SQLite file does not exist it exits 1 naming the path instead
// of creating an empty database (which would show nothing, silently).
func loadExistingApp(ctx context.Context) (*app, error) {
	cfg, err := config.Load()
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	if dbc, err := config.ParseDatabaseURL(cfg.DatabaseURL); err == nil && dbc.Driver == "sqlite" {
		if _, err := os.Stat(dbc.DSN); errors.Is(err, fs.ErrNotExist) {
			abs, _ := filepath.Abs(dbc.DSN)
			return nil, &exitError{1, fmt.Errorf("no database at %s (DATABASE_URL %q); run this in the folder the service runs in, or set DATABASE_URL", abs, cfg.DatabaseURL)}
		}
	}
	return loadApp(ctx, false)
}
