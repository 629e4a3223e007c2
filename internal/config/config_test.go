package config

import (
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaultsAreTheSeeds(t *testing.T) {
	c, err := FromEnv(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.DBPoolSize != 10 || c.DBMaxOverflow != 20 || c.MaxWorkers != 10 || c.JobTimeout != 300*time.Second ||
		c.Timezone.String() != "UTC" || c.AlertLookback != 200 || c.AlertMaxEval != 120*time.Second ||
		!c.AlertOncePerBar || c.HealthInterval != 60*time.Second || c.TradingEnv != "development" ||
		c.MisfireGrace != 300*time.Second || c.MisfireThresh != 60*time.Second || c.HTTPAddr != "127.0.0.1:8090" ||
		c.NotificationDelivery != notify.DeliveryAuto {
		t.Fatalf("defaults = %+v", c)
	}
}

func TestNonsenseIsRejectedNamingVariableAndValue(t *testing.T) {
	_, err := FromEnv(env(map[string]string{
		"DB_POOL_SIZE": "-1", "LOG_LEVEL": "LOUD", "DATABASE_URL": "mysql://x/y", "SCHEDULER_TIMEZONE": "Mars/Base",
		"SCHEDULER_JOB_TIMEOUT": "abc", "SQL_ECHO": "maybe", "HTTP_ADDR": "0.0.0.0:8090", "NOTIFICATION_DELIVERY": "queue",
	}))
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"DB_POOL_SIZE: -1 out of range 1-1000",
		`LOG_LEVEL: "LOUD" is not one of DEBUG, INFO, WARNING, ERROR`,
		`DATABASE_URL: unsupported scheme "mysql"`,
		`SCHEDULER_TIMEZONE: unknown time zone "Mars/Base"`,
		`SCHEDULER_JOB_TIMEOUT: "abc" is not a number of seconds`,
		`SQL_ECHO: "maybe" is not a boolean`,
		`HTTP_ADDR: "0.0.0.0:8090" is not a loopback address; set API_TOKEN`,
		`NOTIFICATION_DELIVERY="queue": want auto, framework or direct`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}

func TestParseDatabaseURL(t *testing.T) {
	for _, tc := range []struct{ in, driver, dsn string }{
		{"", "sqlite", "data/scheduler.db"},
		{"sqlite:///data/app.db", "sqlite", "data/app.db"},
		{"sqlite:////var/lib/app.db", "sqlite", "/var/lib/app.db"},
		{"sqlite:app.db", "sqlite", "app.db"},
		{"postgresql+psycopg2://u:p@db:5432/trading", "postgres", "postgres://u:p@db:5432/trading"},
		{"postgres://u@127.0.0.1/test?sslmode=disable", "postgres", "postgres://u@127.0.0.1/test?sslmode=disable"},
		{"postgresql://u@localhost/x", "postgres", "postgres://u@localhost/x"},
	} {
		got, err := ParseDatabaseURL(tc.in)
		if err != nil || got.Driver != tc.driver || got.DSN != tc.dsn {
			t.Errorf("ParseDatabaseURL(%q) = %+v, %v; want %s %s", tc.in, got, err, tc.driver, tc.dsn)
		}
	}
	for _, bad := range []string{"nonsense", "sqlite:///", "sqlite://:memory:", "postgres:///db"} {
		if _, err := ParseDatabaseURL(bad); err == nil {
			t.Errorf("ParseDatabaseURL(%q) accepted", bad)
		}
	}
	if _, err := ParseDatabaseURL("mysql://root:secret@h/db"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("password leaked or accepted: %v", err)
	}
}
