// Command scheduler runs traders' scheduled work — cron schedules kept in a
// database, alert rules on market data, pipeline scripts — and delivers
// notifications when something happens.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

// rootCmd is the top-level command; each subcommand file adds itself in init.
var rootCmd = &cobra.Command{
	Use:           "scheduler",
	Short:         "Database-backed cron scheduler for trading alerts, scripts and reports",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// exitError carries a process exit status through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func main() {
	if err := rootCmd.Execute(); err != nil {
		code := 1
		if ee, ok := err.(*exitError); ok {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(code)
	}
}
