package main

import (
	"fmt"
	"log/slog"
	"os"
	"sort"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/notify"
)

func init() { rootCmd.AddCommand(newNotifyCmd()) }

// newNotifyCmd builds "scheduler notify" with "test" and "channels".
func newNotifyCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "notify",
		Short: "Check notification delivery",
	}
	c.AddCommand(newNotifyTestCmd(), newNotifyChannelsCmd())
	return c
}

// notifyTestFlags are the flags of "scheduler notify test".
type notifyTestFlags struct {
	channel, to, title, message, priority string
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
	return cmd
}

func newNotifyChannelsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "channels",
		Short: "Show which sink serves each channel in this configuration",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o, err := notify.OptionsFromEnv(os.Getenv)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			d := notify.Describe(o)
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
}
