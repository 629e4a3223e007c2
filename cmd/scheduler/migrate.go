package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/config"
	"github.com/atf/scheduler/internal/store"
)

func init() {
	var dryRun, asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the database schema, adopting the Python service's tables (also done at start)",
		Long: "migrate creates or upgrades the schema in one transaction. On a database of the Python service it\n" +
			"retires runs left pending or running for more than 10 minutes and adds this service's columns,\n" +
			"indexes and tables, never changing an existing column. --dry-run prints what it would do and\n" +
			"changes nothing.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load()
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("configuration: %w", err)}
			}
			dbc, _ := config.ParseDatabaseURL(cfg.DatabaseURL)
			log := newLogger(cfg, os.Stderr)
			db, err := store.Open(cmd.Context(), store.Options{Driver: dbc.Driver, DSN: dbc.DSN, MaxConns: 2, Echo: cfg.SQLEcho, Logger: log})
			if err != nil {
				return fmt.Errorf("database %s: %w", config.Redact(cfg.DatabaseURL), err)
			}
			defer db.Close()
			ctx, cancel := context.WithTimeout(cmd.Context(), 5*time.Minute)
			defer cancel()
			rep, err := db.MigrateReport(ctx, dryRun)
			if err != nil {
				return fmt.Errorf("database %s: %w", config.Redact(cfg.DatabaseURL), err)
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), rep)
			}
			printMigration(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print what the migration would do; change nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	rootCmd.AddCommand(cmd)
}

// printMigration writes a migration report for people.
func printMigration(w io.Writer, r *store.MigrationReport) {
	verb := "applied"
	if r.DryRun {
		verb = "would apply (dry run: nothing changed)"
	}
	switch {
	case !r.Changed():
		fmt.Fprintf(w, "database schema is up to date (%s)\n", r.Dialect)
	case r.Adopted:
		fmt.Fprintf(w, "adopting the previous scheduler's tables (%s): %s migrations %v\n", r.Dialect, verb, r.Versions)
	default:
		fmt.Fprintf(w, "%s: %s migrations %v\n", r.Dialect, verb, r.Versions)
	}
	list := func(what string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(w, "  %s (%d):\n    %s\n", what, len(items), strings.Join(items, "\n    "))
		}
	}
	list("tables added", r.TablesAdded)
	list("columns added", r.ColumnsAdded)
	list("indexes added", r.IndexesAdded)
	list("indexes dropped", r.IndexesDropped)
	if r.RunsRetired > 0 {
		fmt.Fprintf(w, "  runs retired: %d (left pending or running by the previous scheduler for more than %s; set cancelled, result.reason \"retired\")\n",
			r.RunsRetired, store.StaleRunAge)
	}
	if r.JobIDType != "" {
		fmt.Fprintf(w, "  job_schedule_runs.job_id is %s\n", r.JobIDType)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "  warning: %s\n", warn)
	}
}
