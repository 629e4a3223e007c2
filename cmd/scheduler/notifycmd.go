package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/notify"
)

func init() { rootCmd.AddCommand(newNotifyCmd()) }

// newNotifyCmd builds "scheduler notify" with "test", "channels" and "retry".
func newNotifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "notify",
		Short: "Check notification delivery, requeue dead notifications",
	}
	c.AddCommand(newNotifyTestCmd(), newNotifyChannelsCmd(), newNotifyRetryCmd())
	return c
}

// newNotifyRetryCmd builds "scheduler notify retry": it translates the
// flags into action.RetryNotifications and its errors into exit statuses.
func newNotifyRetryCmd() *cobra.Command {
	var idFlag string
	var dead, asJSON bool
	cmd := &cobra.Command{
		Use:   "retry (--id N | --dead) [--json]",
		Short: "Requeue dead outbox notifications for delivery",
		Long: `Moves dead notifications of the outbox back to pending, with their attempts
reset: --id N the one row, --dead every dead row. A running service delivers
them within a few seconds, before the younger notifications of the same
recipient. The same action as POST /api/v1/notifications/{id}/retry.
Exit status: 0 requeued, 1 no such notification, not dead, or a database
failure, 2 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req := action.RetryRequest{AllDead: dead}
			if cmd.Flags().Changed("id") {
				id, err := strconv.ParseInt(idFlag, 10, 64)
				if err != nil || id < 1 {
					return &exitError{code: 2, err: fmt.Errorf("--id %q: want a positive whole number", idFlag)}
				}
				req.ID = id
			}
			if req.ID == 0 && !dead || req.ID != 0 && dead {
				return &exitError{code: 2, err: errors.New("give --id N (one dead notification) or --dead (every dead notification), not both")}
			}
			a, err := loadExistingApp(cmd.Context())
			if err != nil {
				return err
			}
			defer a.close()
			res, err := a.actions(nil).RetryNotifications(cmd.Context(), req)
			switch {
			case errors.Is(err, action.ErrBadRetry):
				return &exitError{code: 2, err: err}
			case err != nil:
				return &exitError{code: 1, err: err}
			}
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), res)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "requeued %d dead notification(s)\n", res.Requeued)
			return nil
		},
	}
	cmd.Flags().StringVar(&idFlag, "id", "", "requeue this dead notification (its id)")
	cmd.Flags().BoolVar(&dead, "dead", false, "requeue every dead notification")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}

// notifyTestFlags are the flags of "scheduler notify test".
type notifyTestFlags struct {
	channel, to, title, message, priority string
	asJSON                                bool
}

func newNotifyTestCmd() *cobra.Command {
	var f notifyTestFlags
	cmd := &cobra.Command{
		Use:   "test --channel telegram --to CHAT [--title T] [--message M] [--priority P]",
		Short: "Send a test message through the real sink of a channel",
		Long: `Sends one message through the sink that serves the channel in this
configuration (telegram: the Bot API when TELEGRAM_BOT_TOKEN is set, else
POST {NOTIFICATION_SERVICE_URL}/api/notify; email: SMTP_*; webhook: the URL
given with --to, signed with WEBHOOK_SECRET; log: the service log). The
message does not go through the outbox. --to defaults to
TELEGRAM_DEFAULT_CHAT_ID, NOTIFICATION_DEFAULT_EMAIL or NOTIFICATION_WEBHOOK_URL.
Exit status: 0 when the receiver accepted it, 1 when delivery failed,
2 on invalid configuration or flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := notify.OptionsFromEnv(os.Getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			logger := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			m := notify.TestMessage{Channel: f.channel, To: f.to, Title: f.title, Body: f.message, Priority: notify.Priority(f.priority)}
			if !notify.KnownChannel(f.channel) {
				return &exitError{code: 2, err: fmt.Errorf("--channel %q: unknown channel, want one of telegram, email, webhook, log", f.channel)}
			}
			if _, err := notify.ParsePriority(f.priority); err != nil {
				return &exitError{code: 2, err: fmt.Errorf("--priority: %w", err)}
			}
			desc, err := notify.SendTest(cmd.Context(), o, m, nil, logger)
			if err != nil {
				if desc == "" { // rejected before sending: bad input
					return &exitError{code: 2, err: err}
				}
				kind, _ := notify.Classify(err)
				return &exitError{code: 1, err: fmt.Errorf("%w (%s error)", err, kind)}
			}
			if f.asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"sent": true, "channel": f.channel, "via": desc})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sent: channel %s via %s\n", f.channel, desc)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.channel, "channel", "telegram", "channel: telegram, email, webhook or log")
	fl.StringVar(&f.to, "to", "", "recipient: Telegram chat id, email address or webhook URL")
	fl.StringVar(&f.title, "title", "", "title (default: a standard test title)")
	fl.StringVar(&f.message, "message", "", "message body (default: a standard test text)")
	fl.StringVar(&f.priority, "priority", "normal", "priority: low, normal, high, critical")
	fl.BoolVar(&f.asJSON, "json", false, `print {"sent", "channel", "via"} as JSON`)
	return cmd
}

func newNotifyChannelsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "channels",
		Short: "Show which sink serves each channel in this configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := notify.OptionsFromEnv(os.Getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			d := notify.Describe(o)
			if asJSON {
				return writeJSON(cmd.OutOrStdout(), map[string]any{"channels": d, "default_channel": o.DefaultChannel,
					"enabled": o.Enabled, "timeout_seconds": o.Timeout.Seconds(), "retries": o.Retries})
			}
			names := make([]string, 0, len(d))
			for k := range d {
				names = append(names, k)
			}
			sort.Strings(names)
			for _, k := range names {
				fmt.Fprintf(cmd.OutOrStdout(), "%-8s %s\n", k, d[k])
			}
			fmt.Fprintf(cmd.OutOrStdout(), "default channel: %s; enabled: %t; timeout: %s; retries: %d\n", o.DefaultChannel, o.Enabled, o.Timeout, o.Retries)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
