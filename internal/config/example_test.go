package config_test

import (
	"fmt"

	"github.com/atf/scheduler/internal/config"
)

// SQLAlchemy-style URLs of the original service are accepted unchanged.
func ExampleParseDatabaseURL() {
	for _, u := range []string{"postgresql+psycopg2://trader:secret@localhost/trading", "sqlite:///data/scheduler.db", ""} {
		db, _ := config.ParseDatabaseURL(u)
		fmt.Println(db.Driver, config.Redact(db.DSN))
	}
	// Output:
	// postgres postgres://trader:xxxxx@localhost/trading
	// sqlite data/scheduler.db
	// sqlite data/scheduler.db
}
