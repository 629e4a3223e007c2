// Package config reads the service configuration from environment variables,
// applies the original service's defaults and validates every value up front.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// Config is the whole service configuration. Every field comes from the
// environment variable named in its comment.
type Config struct {
	// Database.
	DatabaseURL   string // DATABASE_URL ("" = SQLite file under ./data/)
	DBPoolSize    int    // DB_POOL_SIZE (10)
	DBMaxOverflow int    // DB_MAX_OVERFLOW (20)
	SQLEcho       bool   // SQL_ECHO (false)

	// Scheduler.
	MaxWorkers      int            // SCHEDULER_MAX_WORKERS (10)
	JobTimeout      time.Duration  // SCHEDULER_JOB_TIMEOUT (300 s)
	Timezone        *time.Location // SCHEDULER_TIMEZONE (UTC)
	MisfireGrace    time.Duration  // SCHEDULER_MISFIRE_GRACE (300 s)
	MisfireThresh   time.Duration  // SCHEDULER_MISFIRE_THRESHOLD (60 s)
	Coalesce        bool           // SCHEDULER_COALESCE (true)
	RetryCount      int            // SCHEDULER_RETRY_COUNT (3)
	RetryDelay      time.Duration  // SCHEDULER_RETRY_DELAY (10 s, doubled per attempt)
	LeaseTime       time.Duration  // SCHEDULER_LEASE (30 s)
	PollInterval    time.Duration  // SCHEDULER_POLL_INTERVAL (10 s, fallback poll)
	ShutdownGrace   time.Duration  // SCHEDULER_SHUTDOWN_GRACE (30 s)
	NodeID          string         // SCHEDULER_NODE_ID (hostname-pid)
	HealthInterval  time.Duration  // HEALTH_CHECK_INTERVAL (60 s)
	TradingEnv      string         // TRADING_ENV (development)
	LogLevel        slog.Level     // LOG_LEVEL (INFO)
	HTTPAddr        string         // HTTP_ADDR (127.0.0.1:8090; "off" disables)
	APIToken        string         // API_TOKEN
	MetricsToken    string         // METRICS_TOKEN (also accepted on /metrics)
	MetricsOpen     bool           // METRICS_OPEN (false: /metrics needs a token when API_TOKEN is set)
	AlertSchemaDir  string         // ALERT_SCHEMA_DIR (embedded schemas when unset)
	AlertLookback   int            // ALERT_DEFAULT_LOOKBACK (200)
	AlertMaxEval    time.Duration  // ALERT_MAX_EVAL_TIME (120 s)
	AlertOncePerBar bool           // ALERT_ONCE_PER_BAR (true)
	AlertMaxTrigger int            // ALERT_MAX_TRIGGERS (15)
	AlertFloodWin   time.Duration  // ALERT_FLOOD_WINDOW (180 s)
	BarRetention    time.Duration  // BAR_RETENTION (400 days): stored bars older than this are deleted

	// NotificationDelivery (NOTIFICATION_DELIVERY: auto, framework, direct;
	// default auto) says who delivers telegram and email notifications:
	// the framework's queue or this service's outbox (notify.ResolveDelivery).
	NotificationDelivery notify.DeliveryMode

	// Env is the getenv function the other packages read their own
	// variables with (market data, notifications, scripts).
	Env func(string) string
}

// Load reads the configuration from the process environment.
func Load() (*Config, error) { return FromEnv(os.Getenv) }

// FromEnv reads the configuration through getenv. All problems are reported
// together, one per variable, each naming the variable and its value.
func FromEnv(getenv func(string) string) (*Config, error) {
	r := reader{getenv: getenv}
	c := &Config{Env: getenv}
	c.DatabaseURL = strings.TrimSpace(getenv("DATABASE_URL"))
	if c.DatabaseURL != "" {
		if _, err := ParseDatabaseURL(c.DatabaseURL); err != nil {
			r.errs = append(r.errs, fmt.Errorf("DATABASE_URL: %w", err))
		}
	}
	c.DBPoolSize = r.int("DB_POOL_SIZE", 10, 1, 1000)
	c.DBMaxOverflow = r.int("DB_MAX_OVERFLOW", 20, 0, 1000)
	c.SQLEcho = r.bool("SQL_ECHO", false)
	c.MaxWorkers = r.int("SCHEDULER_MAX_WORKERS", 10, 1, 10000)
	c.JobTimeout = r.seconds("SCHEDULER_JOB_TIMEOUT", 300)
	c.MisfireGrace = r.seconds("SCHEDULER_MISFIRE_GRACE", 300)
	c.MisfireThresh = r.seconds("SCHEDULER_MISFIRE_THRESHOLD", 60)
	c.Coalesce = r.bool("SCHEDULER_COALESCE", true)
	c.RetryCount = r.int("SCHEDULER_RETRY_COUNT", 3, 0, 100)
	c.RetryDelay = r.seconds("SCHEDULER_RETRY_DELAY", 10)
	c.LeaseTime = r.seconds("SCHEDULER_LEASE", 30)
	c.PollInterval = r.seconds("SCHEDULER_POLL_INTERVAL", 10)
	c.ShutdownGrace = r.seconds("SCHEDULER_SHUTDOWN_GRACE", 30)
	c.HealthInterval = r.seconds("HEALTH_CHECK_INTERVAL", 60)
	c.AlertLookback = r.int("ALERT_DEFAULT_LOOKBACK", 200, 1, 100000)
	c.AlertMaxEval = r.seconds("ALERT_MAX_EVAL_TIME", 120)
	c.AlertOncePerBar = r.bool("ALERT_ONCE_PER_BAR", true)
	c.AlertMaxTrigger = r.int("ALERT_MAX_TRIGGERS", 15, 1, 1000000)
	c.AlertFloodWin = r.seconds("ALERT_FLOOD_WINDOW", 180)
	c.BarRetention = r.days("BAR_RETENTION", 400, 1, 36500)
	c.AlertSchemaDir = getenv("ALERT_SCHEMA_DIR")
	if c.AlertSchemaDir != "" {
		if st, err := os.Stat(c.AlertSchemaDir); err != nil || !st.IsDir() {
			r.errs = append(r.errs, fmt.Errorf("ALERT_SCHEMA_DIR: %q is not a directory", c.AlertSchemaDir))
		}
	}

	mode, err := notify.ParseDeliveryMode(getenv("NOTIFICATION_DELIVERY"))
	if err != nil {
		r.errs = append(r.errs, err)
	}
	c.NotificationDelivery = mode

	tz := r.str("SCHEDULER_TIMEZONE", "UTC")
	loc, err := time.LoadLocation(tz)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("SCHEDULER_TIMEZONE: unknown time zone %q", tz))
		loc = time.UTC
	}
	c.Timezone = loc

	c.TradingEnv = strings.ToLower(r.str("TRADING_ENV", "development"))
	switch c.TradingEnv {
	case "development", "staging", "production", "test":
	default:
		r.errs = append(r.errs, fmt.Errorf("TRADING_ENV: %q is not one of development, staging, production", c.TradingEnv))
	}
	lvl := strings.ToUpper(r.str("LOG_LEVEL", "INFO"))
	switch lvl {
	case "DEBUG":
		c.LogLevel = slog.LevelDebug
	case "INFO":
		c.LogLevel = slog.LevelInfo
	case "WARNING", "WARN":
		c.LogLevel = slog.LevelWarn
	case "ERROR", "CRITICAL":
		c.LogLevel = slog.LevelError
	default:
		r.errs = append(r.errs, fmt.Errorf("LOG_LEVEL: %q is not one of DEBUG, INFO, WARNING, ERROR", lvl))
	}

	c.NodeID = getenv("SCHEDULER_NODE_ID")
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = fmt.Sprintf("%s-%d", host, os.Getpid())
	}
	c.APIToken = getenv("API_TOKEN")
	c.MetricsToken = getenv("METRICS_TOKEN")
	c.MetricsOpen = r.bool("METRICS_OPEN", false)
	c.HTTPAddr = r.str("HTTP_ADDR", "127.0.0.1:8090")
	if c.HTTPAddr != "off" {
		host, _, err := net.SplitHostPort(c.HTTPAddr)
		if err != nil {
			r.errs = append(r.errs, fmt.Errorf("HTTP_ADDR: %q is not host:port", c.HTTPAddr))
		} else if !isLoopback(host) && c.APIToken == "" {
			r.errs = append(r.errs, fmt.Errorf("HTTP_ADDR: %q is not a loopback address; set API_TOKEN to listen on it", c.HTTPAddr))
		}
	}
	if len(r.errs) > 0 {
		return c, errors.Join(r.errs...)
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// DB describes a parsed DATABASE_URL.
type DB struct {
	// Driver is "postgres" or "sqlite".
	Driver string
	// DSN is what the driver is opened with: a postgres:// URL for pgx, a
	// file path for SQLite.
	DSN string
}

// ParseDatabaseURL accepts postgres://, postgresql://, SQLAlchemy forms such
// as postgresql+psycopg2://, sqlite:///relative.db, sqlite:////abs.db,
// sqlite:path.db, and an empty string (the embedded default
// ./data/scheduler.db).
func ParseDatabaseURL(raw string) (DB, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return DB{Driver: "sqlite", DSN: filepath.Join("data", "scheduler.db")}, nil
	}
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok {
		return DB{}, fmt.Errorf("%q has no scheme (want postgres://... or sqlite:///path.db)", redact(raw))
	}
	base, _, _ := strings.Cut(strings.ToLower(scheme), "+")
	switch base {
	case "postgres", "postgresql":
		u, err := url.Parse("postgres:" + rest)
		if err != nil {
			return DB{}, fmt.Errorf("%q is not a valid URL: %v", redact(raw), err)
		}
		if u.Host == "" && u.Query().Get("host") == "" {
			return DB{}, fmt.Errorf("%q has no host", redact(raw))
		}
		return DB{Driver: "postgres", DSN: u.String()}, nil
	case "sqlite", "sqlite3":
		p := rest
		switch {
		case strings.HasPrefix(p, "///"): // sqlite:///rel.db or sqlite:////abs.db
			p = p[3:]
		case strings.HasPrefix(p, "//"):
			p = p[2:]
		}
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		if p == "" || p == ":memory:" {
			return DB{}, fmt.Errorf("%q names no database file (in-memory databases lose every schedule at exit)", raw)
		}
		return DB{Driver: "sqlite", DSN: p}, nil
	}
	return DB{}, fmt.Errorf("unsupported scheme %q in %q (want postgres or sqlite)", scheme, redact(raw))
}

// redact hides a password in a database URL for error messages and logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// Redact returns DATABASE_URL with any password replaced, for display.
func Redact(raw string) string { return redact(raw) }

type reader struct {
	getenv func(string) string
	errs   []error
}

func (r *reader) str(name, def string) string {
	if v := strings.TrimSpace(r.getenv(name)); v != "" {
		return v
	}
	return def
}

func (r *reader) int(name string, def, lo, hi int) int {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not an integer", name, v))
		return def
	}
	if n < lo || n > hi {
		r.errs = append(r.errs, fmt.Errorf("%s: %d out of range %d-%d", name, n, lo, hi))
		return def
	}
	return n
}

func (r *reader) bool(name string, def bool) bool {
	v := strings.ToLower(strings.TrimSpace(r.getenv(name)))
	switch v {
	case "":
		return def
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	r.errs = append(r.errs, fmt.Errorf("%s: %q is not a boolean (true/false)", name, v))
	return def
}

// days reads a number of whole days ("400", "400d") or a Go duration
// ("9600h") between lo and hi days.
func (r *reader) days(name string, def, lo, hi int) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return time.Duration(def) * 24 * time.Hour
	}
	d, err := time.ParseDuration(v)
	if n, aerr := strconv.Atoi(strings.TrimSuffix(v, "d")); aerr == nil {
		d, err = time.Duration(n)*24*time.Hour, nil
		if n < lo || n > hi {
			d = -1 // out of range below, without overflowing
		}
	}
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a number of days (400, 400d) or a duration (9600h)", name, v))
		return time.Duration(def) * 24 * time.Hour
	}
	if d < time.Duration(lo)*24*time.Hour || d > time.Duration(hi)*24*time.Hour {
		r.errs = append(r.errs, fmt.Errorf("%s: %q out of range %d-%d days", name, v, lo, hi))
		return time.Duration(def) * 24 * time.Hour
	}
	return d
}

// seconds reads a positive number of seconds (fractions allowed).
func (r *reader) seconds(name string, def float64) time.Duration {
	v := strings.TrimSpace(r.getenv(name))
	if v == "" {
		return time.Duration(def * float64(time.Second))
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		r.errs = append(r.errs, fmt.Errorf("%s: %q is not a number of seconds", name, v))
		return time.Duration(def * float64(time.Second))
	}
	if f <= 0 {
		r.errs = append(r.errs, fmt.Errorf("%s: %v must be > 0 seconds", name, f))
		return time.Duration(def * float64(time.Second))
	}
	return time.Duration(f * float64(time.Second))
}
