package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/config"
	"github.com/atf/scheduler/internal/jobs/script"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
)

// readmeSection returns the lines of README.md's section "## title" (up to
// the next "## ").
func readmeSection(t *testing.T, title string) []string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(raw), "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README.md has no section %q", title)
	}
	if i := strings.Index(rest, "\n## "); i >= 0 {
		rest = rest[:i]
	}
	return strings.Split(rest, "\n")
}

var backticked = regexp.MustCompile("`([A-Z][A-Z0-9_]+)`")

// readmeDefaults parses README's configuration table: variable → the
// default cell's text for it ("" for an empty cell, "—" or "(none)").
func readmeDefaults(t *testing.T) map[string]string {
	t.Helper()
	out := tableDefaults(t, "README.md", readmeSection(t, "Configuration"))
	if len(out) < 40 {
		t.Fatalf("only %d variables in README's configuration table: the parser no longer matches it", len(out))
	}
	return out
}

// tableDefaults parses the "| variable | default | meaning |" tables in
// lines: variable → its default cell's text; a row naming several
// variables has their defaults comma-separated (one empty cell, "—" or
// "(none)" for all of them).
func tableDefaults(t *testing.T, file string, lines []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	in := false
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "| variable | default |"):
			in = true
			continue
		case !strings.HasPrefix(l, "|"):
			in = false
		}
		if !in || !strings.HasPrefix(l, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(l, "|"), "|")
		if len(cells) < 3 {
			t.Fatalf("%s: configuration row %q: want 3 cells", file, l)
		}
		var names []string
		for _, m := range backticked.FindAllStringSubmatch(cells[0], -1) {
			names = append(names, m[1])
		}
		def := strings.TrimSpace(cells[1])
		parts := []string{def}
		if len(names) > 1 {
			parts = strings.Split(def, ",")
			if noDefault(def) {
				parts = make([]string, len(names))
			}
		}
		if len(parts) != len(names) {
			t.Fatalf("%s: configuration row %q: %d variables but %d defaults (comma-separated)", file, cells[0], len(names), len(parts))
		}
		for i, n := range names {
			p := strings.TrimSpace(parts[i])
			if noDefault(p) {
				p = ""
			}
			out[n] = p
		}
	}
	return out
}

// noDefault reports whether a default cell says "none".
func noDefault(s string) bool {
	s = strings.TrimSpace(s)
	return s == "" || s == "—" || s == "(none)"
}

// rateLimitsText renders the code's default rate limits in the README's
// words and in the README's order of providers ("the framework's: binance
// 1200/min, yahoo 60/min and 1/s, ..."); a provider the README names that
// has no limit, or a limit the README leaves out, makes it differ.
func rateLimitsText(cell string, limits map[string]marketdata.RateLimit) string {
	rest, _ := strings.CutPrefix(cell, "the framework's: ")
	var parts []string
	for _, item := range strings.Split(rest, ", ") {
		name, _, _ := strings.Cut(item, " ")
		l, ok := limits[name]
		if !ok {
			return fmt.Sprintf("(no default limit for %q)", name)
		}
		s := fmt.Sprintf("%s %g/min", name, l.PerMinute)
		if l.PerSecond > 0 {
			s += fmt.Sprintf(" and %g/s", l.PerSecond)
		}
		parts = append(parts, s)
	}
	if len(parts) != len(limits) {
		return fmt.Sprintf("(the code has default limits for %d providers)", len(limits))
	}
	return "the framework's: " + strings.Join(parts, ", ")
}

// recordEnv is a getenv that answers from vals and records every name read.
type recordEnv struct {
	vals map[string]string
	read map[string]bool
}

func (r *recordEnv) get(k string) string { r.read[k] = true; return r.vals[k] }

func secondsText(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) }

// TestREADMEConfigurationDefaults checks every default in README's
// configuration table against what the code does with the variable unset,
// and that every variable the configuration readers consult is documented:
// in the table or in the package README the table points to.
func TestREADMEConfigurationDefaults(t *testing.T) {
	doc := readmeDefaults(t)
	env := &recordEnv{vals: map[string]string{}, read: map[string]bool{}}
	c, err := config.FromEnv(env.get)
	if err != nil {
		t.Fatal(err)
	}
	md, err := marketdata.OptionsFromEnv(env.get)
	if err != nil {
		t.Fatal(err)
	}
	no, err := notify.OptionsFromEnv(env.get)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := script.ConfigFromEnv(env.get)
	if err != nil {
		t.Fatal(err)
	}
	dbc, err := config.ParseDatabaseURL("")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	host, _ := os.Hostname()
	b := strconv.FormatBool
	i := strconv.Itoa
	// prose holds defaults written in words, each with the code fact that
	// makes the words true.
	prose := func(ok bool, text string) string {
		if !ok {
			return "(the code no longer does what the README says: " + text + ")"
		}
		return text
	}
	logLevel := map[slog.Level]string{slog.LevelDebug: "DEBUG", slog.LevelInfo: "INFO", slog.LevelWarn: "WARNING", slog.LevelError: "ERROR"}[c.LogLevel]
	withURL, err := notify.OptionsFromEnv(func(k string) string {
		if k == "NOTIFICATION_SERVICE_URL" {
			return "http://bot.example:8000"
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"DATABASE_URL":                 "*(empty: `./" + dbc.DSN + "`)*",
		"DB_POOL_SIZE":                 i(c.DBPoolSize),
		"DB_MAX_OVERFLOW":              i(c.DBMaxOverflow),
		"SQL_ECHO":                     b(c.SQLEcho),
		"SCHEDULER_MAX_WORKERS":        i(c.MaxWorkers),
		"SCHEDULER_JOB_TIMEOUT":        secondsText(c.JobTimeout),
		"SCHEDULER_TIMEZONE":           c.Timezone.String(),
		"SCHEDULER_MISFIRE_THRESHOLD":  secondsText(c.MisfireThresh),
		"SCHEDULER_MISFIRE_GRACE":      secondsText(c.MisfireGrace),
		"SCHEDULER_COALESCE":           b(c.Coalesce),
		"SCHEDULER_RETRY_COUNT":        i(c.RetryCount),
		"SCHEDULER_RETRY_DELAY":        secondsText(c.RetryDelay),
		"SCHEDULER_LEASE":              secondsText(c.LeaseTime),
		"SCHEDULER_POLL_INTERVAL":      secondsText(c.PollInterval),
		"SCHEDULER_SHUTDOWN_GRACE":     secondsText(c.ShutdownGrace),
		"SCHEDULER_NODE_ID":            prose(c.NodeID == fmt.Sprintf("%s-%d", host, os.Getpid()), "host-pid"),
		"HTTP_ADDR":                    c.HTTPAddr,
		"API_TOKEN":                    c.APIToken,
		"METRICS_TOKEN":                c.MetricsToken,
		"METRICS_OPEN":                 b(c.MetricsOpen),
		"TRADING_ENV":                  c.TradingEnv,
		"LOG_LEVEL":                    logLevel,
		"HEALTH_CHECK_INTERVAL":        secondsText(c.HealthInterval),
		"ALERT_SCHEMA_DIR":             prose(c.AlertSchemaDir == "", "*(embedded)*"),
		"ALERT_DEFAULT_LOOKBACK":       i(c.AlertLookback),
		"ALERT_MAX_EVAL_TIME":          secondsText(c.AlertMaxEval),
		"ALERT_ONCE_PER_BAR":           b(c.AlertOncePerBar),
		"ALERT_MAX_TRIGGERS":           i(c.AlertMaxTrigger),
		"ALERT_FLOOD_WINDOW":           secondsText(c.AlertFloodWin),
		"SCRIPT_ROOT":                  prose(sc.Root == wd, "current directory"),
		"SCRIPT_ALLOWED_DIRS":          strings.Join(sc.AllowedDirs, ","),
		"SCRIPT_PYTHON":                prose(script.DefaultPython == "python3", "`SCRIPT_ROOT/.venv/bin/python`, else `SCRIPT_ROOT/venv/bin/python`, else python3"),
		"SCRIPT_USER_ID_SCRIPTS":       prose(len(script.DefaultUserIDScripts) == 7 && slices.Contains(script.DefaultUserIDScripts, "src/strategy_pack/run.py"), doc["SCRIPT_USER_ID_SCRIPTS"]),
		"SCRIPT_KILL_GRACE":            secondsText(sc.KillGrace),
		"SCRIPT_ENV_PASSTHROUGH":       strings.Join(sc.Passthrough, ","),
		"NOTIFICATION_DELIVERY":        string(c.NotificationDelivery),
		"NOTIFICATION_SERVICE_URL":     no.ServiceURL,
		"TELEGRAM_API_KEY":             no.TelegramAPIKey,
		"NOTIFICATION_TIMEOUT":         secondsText(no.Timeout),
		"NOTIFICATION_RETRIES":         i(no.Retries),
		"NOTIFICATION_ENABLED":         b(no.Enabled),
		"NOTIFICATION_RETRY_MAX_AGE":   strings.TrimSuffix(no.RetryMaxAge.String(), "0m0s"),
		"NOTIFICATION_DEFAULT_CHANNEL": prose(no.DefaultChannel == notify.ChannelLog && withURL.DefaultChannel == notify.ChannelTelegram, "telegram when a bot token or `NOTIFICATION_SERVICE_URL` is set, else log"),
		"TELEGRAM_BOT_TOKEN":           no.TelegramBotToken,
		"TELEGRAM_API_URL":             no.TelegramAPIURL,
		"TELEGRAM_DEFAULT_CHAT_ID":     no.TelegramDefaultChatID,
		"WEBHOOK_SECRET":               no.WebhookSecret,
		"WEBHOOK_ALLOW_PRIVATE":        b(no.WebhookAllowPrivate),
		"SMTP_HOST":                    no.SMTP.Host,
		"SMTP_PORT":                    i(no.SMTP.Port),
		"SMTP_USER":                    no.SMTP.User,
		"SMTP_PASSWORD":                no.SMTP.Password,
		"SMTP_FROM":                    prose(no.SMTP.From == "", "`SMTP_USER` when it is an address"),
		"DATA_PROVIDERS":               strings.Join(md.Providers, ","),
		"DATA_ROUTES":                  "",
		"DATA_CACHE_ENABLED":           b(md.CacheEnabled),
		"DATA_CACHE_TTL":               secondsText(md.CacheTTL),
		"DATA_DEFAULT_LOOKBACK":        i(md.DefaultLookback),
		"BAR_RETENTION":                i(int(c.BarRetention / (24 * time.Hour))),
		"DATA_MAX_RETRIES":             i(md.MaxRetries),
		"DATA_TIMEOUT":                 secondsText(md.Timeout),
		"BINANCE_BASE_URL":             md.BinanceBaseURL,
		"YAHOO_BASE_URL":               md.YahooBaseURL,
		"DATA_CSV_DIR":                 md.CSVDir,
		// Documented in the package READMEs only.
		"DATA_SYMBOL_MAP":            "",
		"DATA_RETRY_BACKOFF":         secondsText(md.RetryBackoff),
		"DATA_BREAKER_FAILURES":      i(md.BreakerFailures),
		"DATA_BREAKER_COOLDOWN":      secondsText(md.BreakerCooldown),
		"DATA_CACHE_MAX_SERIES":      i(md.CacheMaxSeries),
		"DATA_CACHE_MAX_BARS":        i(md.CacheMaxBars),
		"NOTIFICATION_DEFAULT_EMAIL": no.DefaultEmail,
		"NOTIFICATION_WEBHOOK_URL":   no.DefaultWebhookURL,
	}
	for _, k := range marketdata.KeyVariables() {
		want[k] = md.Keys[k]
	}
	want["PROVIDER_RATE_LIMITS"] = rateLimitsText(doc["PROVIDER_RATE_LIMITS"], md.RateLimits)
	if len(md.Routes) != 0 {
		t.Errorf("DATA_ROUTES: the code has default routes %v; the README says none", md.Routes)
	}
	for name, d := range doc {
		w, ok := want[name]
		if !ok {
			t.Errorf("README configuration table lists %s, which this test does not check: add it to want", name)
			continue
		}
		if d != w {
			t.Errorf("README default of %s is %q; the code's is %q", name, d, w)
		}
	}
	// The package READMEs' variable tables: every plain default (one
	// backticked value or none) is the code's; prose is left to review.
	documented := map[string]bool{}
	for name := range doc {
		documented[name] = true
	}
	for _, p := range []string{"internal/marketdata/README-data.md", "internal/notify/README-notify.md", "internal/alerts/README-rules.md"} {
		raw, err := os.ReadFile(filepath.Join("..", "..", p))
		if err != nil {
			t.Fatal(err)
		}
		for name, d := range tableDefaults(t, p, strings.Split(string(raw), "\n")) {
			documented[name] = true
			if strings.Count(d, "`") > 2 || (d != "" && !(strings.HasPrefix(d, "`") && strings.HasSuffix(d, "`"))) {
				continue // prose
			}
			w, ok := want[name]
			if !ok {
				t.Errorf("%s documents %s, which this test does not check: add it to want", p, name)
				continue
			}
			if got := strings.Trim(d, "`"); got != w {
				t.Errorf("%s: default of %s is %q; the code's is %q", p, name, got, w)
			}
		}
	}
	if !env.read["DATA_SYMBOL_MAP"] || !env.read["SCRIPT_ROOT"] || !env.read["NOTIFICATION_WEBHOOK_URL"] {
		t.Fatalf("the readers were not seen reading their variables (%d recorded): the check below would be empty", len(env.read))
	}
	for name := range env.read {
		if !documented[name] {
			t.Errorf("%s is read by the configuration but in no variable table (README's or a package README's)", name)
		}
	}
}

// configReads returns the names of every variable the configuration
// readers consult (config, market data, notifications, scripts).
func configReads(t *testing.T) map[string]bool {
	t.Helper()
	env := &recordEnv{vals: map[string]string{}, read: map[string]bool{}}
	if _, err := config.FromEnv(env.get); err != nil {
		t.Fatal(err)
	}
	if _, err := marketdata.OptionsFromEnv(env.get); err != nil {
		t.Fatal(err)
	}
	if _, err := notify.OptionsFromEnv(env.get); err != nil {
		t.Fatal(err)
	}
	if _, err := script.ConfigFromEnv(env.get); err != nil {
		t.Fatal(err)
	}
	return env.read
}

// TestEnvExampleNamesEveryVariable keeps deploy/scheduler.env.example, the
// file an operator starts from, in step with the code: it names every
// variable the configuration reads, and no variable the code ignores.
func TestEnvExampleNamesEveryVariable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "deploy", "scheduler.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	read := configReads(t)
	named := map[string]bool{}
	for _, l := range strings.Split(string(raw), "\n") {
		l = strings.TrimPrefix(strings.TrimSpace(l), "#")
		name, _, ok := strings.Cut(l, "=")
		if ok && regexp.MustCompile(`^[A-Z][A-Z0-9_]+$`).MatchString(name) {
			named[name] = true
		}
	}
	for name := range read {
		if !named[name] {
			t.Errorf("deploy/scheduler.env.example does not name %s, which the configuration reads", name)
		}
	}
	for name := range named {
		if !read[name] {
			t.Errorf("deploy/scheduler.env.example names %s, which no configuration reader reads", name)
		}
	}
}
