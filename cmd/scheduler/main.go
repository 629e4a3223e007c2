// Command scheduler runs traders' scheduled work — cron schedules kept in a
// database, alert rules on market data, pipeline scripts — and delivers
// notifications when something happens.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
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

// actionError translates an error of internal/action or the store into the
// CLI's exit status: bad input (an invalid schedule, a name already taken,
// a value the store refuses: an id out of its column's range, a NUL byte)
// exits 2, anything else (not found, database) 1, each with its message.
func actionError(err error) error {
	var inv *action.InvalidError
	var ie *store.InputError
	var amb *action.AmbiguousNameError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &inv), errors.Is(err, store.ErrDuplicate), errors.As(err, &amb):
		return &exitError{2, err}
	case errors.As(err, &ie):
		return &exitError{2, ie}
	case errors.Is(err, store.ErrOutOfRange), errors.Is(err, store.ErrInvalidInput):
		return &exitError{2, err}
	}
	return err
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		code := 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		fmt.Fprintln(os.Stderr, "scheduler:", err)
		os.Exit(code)
	}
}
