package main

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/bench"
	"github.com/atf/scheduler/internal/config"
	"github.com/atf/scheduler/internal/store"
	"github.com/spf13/cobra"
)

func init() {
	var o bench.Options
	var dbURL string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure capacity: fires/s, scheduling lag and peak memory with no-op schedules",
		Long: `Loads N no-op schedules into a scratch database (it refuses a database that
holds real schedules), runs the real engine for the given time and prints
fires per second, the lag between scheduled_for and started_at (p50, p99,
max) and the peak resident memory.`,
		Example: `  scheduler bench --schedules 10000 --cron "* * * * * *" --for 30s --db sqlite:///tmp/bench.db
  scheduler bench --schedules 100000 --cron "*/10 * * * * *" --for 60s --db postgres://postgres@127.0.0.1/bench
  scheduler bench --schedules 100000 --cron "*/10 * * * * *" --stagger --for 60s --db postgres://postgres@127.0.0.1/bench`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dbURL == "" {
				return &exitError{2, fmt.Errorf("--db: a scratch database URL is required")}
			}
			for _, f := range []struct {
				name string
				v    int
				min  int
			}{{"--schedules", o.Schedules, 1}, {"--engines", o.Engines, 1}, {"--workers", o.Workers, 0}} {
				if f.v < f.min || f.v > 1_000_000 {
					return &exitError{2, fmt.Errorf("%s %d: want %d to 1000000", f.name, f.v, f.min)}
				}
			}
			dbc, err := config.ParseDatabaseURL(dbURL)
			if err != nil {
				return &exitError{2, fmt.Errorf("--db: %w", err)}
			}
			open := func() (*store.DB, error) {
				db, err := store.Open(cmd.Context(), store.Options{Driver: dbc.Driver, DSN: dbc.DSN, MaxConns: 40})
				if err != nil {
					return nil, err
				}
				return db, db.Migrate(cmd.Context())
			}
			db, err := open()
			if err != nil {
				return err
			}
			defer db.Close()
			o.Open = func() (store.Store, error) { return open() }
			r, err := bench.Run(cmd.Context(), db, o)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), r)
			}
			fmt.Fprintln(cmd.OutOrStdout(), r.String())
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Schedules, "schedules", 10000, "number of no-op schedules")
	f.StringVar(&o.Cron, "cron", "* * * * * *", "their cron expression")
	f.BoolVar(&o.Stagger, "stagger", false, `spread schedules of a "*/N * * * * *" cron evenly over its N seconds`)
	f.DurationVar(&o.For, "for", 30*time.Second, "how long to measure, from the first fire (the engine runs 12 s before it)")
	f.IntVar(&o.Engines, "engines", 1, "engine instances in this process (PostgreSQL)")
	f.IntVar(&o.Workers, "workers", 0, "workers per engine (default: the number of schedules, at most 10,000)")
	f.StringVar(&dbURL, "db", "", "scratch database URL (required)")
	f.BoolVar(&asJSON, "json", false, "print JSON")
	rootCmd.AddCommand(cmd)
}
