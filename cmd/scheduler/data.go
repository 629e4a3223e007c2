package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/atf/scheduler/internal/marketdata"
)

func init() { rootCmd.AddCommand(newDataCmd()) }

// newDataCmd builds "scheduler data" with its "fetch" subcommand.
func newDataCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Check market data providers and routing",
	}
	cmd.AddCommand(newDataFetchCmd())
	return cmd
}

// dataFetchFlags are the flags of "scheduler data fetch".
type dataFetchFlags struct {
	symbol, timeframe, provider, format string
	bars                                int
}

func newDataFetchCmd() *cobra.Command {
	var f dataFetchFlags
	cmd := &cobra.Command{
		Use:   "fetch --symbol BTCUSDT [--timeframe 1h] [--bars 50] [--provider binance] [--format table|csv|json]",
		Short: "Fetch bars through the configured provider chain and print them",
		Long: `Fetch asks the provider chain configured by DATA_PROVIDERS / DATA_ROUTES
(or the one --provider named) for the latest closed bars of a symbol and
prints them with the provider that served them, the symbol spelling sent to
it and the forming bar. Use it to check connectivity and the routing table.
--format csv prints the bars in the CSV layout that "alert test --data" and
the csv provider (DATA_CSV_DIR) read. Exit status 2 means no provider could
serve the request; each provider's reason is printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runDataFetch(cmd.Context(), f, os.Getenv, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	cmd.Flags().StringVar(&f.symbol, "symbol", "", "symbol as alerts spell it, e.g. BTCUSDT, AAPL, ^VIX (required)")
	cmd.Flags().StringVar(&f.timeframe, "timeframe", "1h", "timeframe: 1m 3m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 1w 1M")
	cmd.Flags().IntVar(&f.bars, "bars", 0, "closed bars to fetch (0 means DATA_DEFAULT_LOOKBACK)")
	cmd.Flags().StringVar(&f.provider, "provider", "", "pin one provider instead of the configured chain")
	cmd.Flags().StringVar(&f.format, "format", "table", "output: table, csv or json")
	_ = cmd.MarkFlagRequired("symbol")
	cmd.Long += "\n\nProviders, the variables that configure them and their default rate limits\n(PROVIDER_RATE_LIMITS overrides them):\n\n" + marketdata.ProviderHelp()
	return cmd
}

// runDataFetch implements "scheduler data fetch".
func runDataFetch(ctx context.Context, f dataFetchFlags, getenv func(string) string, stdout, stderr io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.format != "table" && f.format != "csv" && f.format != "json" {
		return &exitError{code: 2, err: fmt.Errorf("--format %q: want table, csv or json", f.format)}
	}
	if f.bars < 0 {
		return &exitError{code: 2, err: fmt.Errorf("--bars %d: must be 0 (default lookback) or more", f.bars)}
	}
	tf, err := marketdata.ParseTimeframe(f.timeframe)
	if err != nil {
		return &exitError{code: 2, err: fmt.Errorf("--timeframe: %w", err)}
	}
	opts, err := marketdata.OptionsFromEnv(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	opts.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, err := marketdata.New(opts)
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	chain := client.Chain(f.symbol)
	if f.provider != "" {
		chain = []string{f.provider}
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := client.Series(ctx, marketdata.Request{Symbol: f.symbol, Timeframe: tf, Bars: f.bars, Provider: f.provider})
	if err != nil {
		if errors.Is(err, marketdata.ErrNoProvider) {
			var np *marketdata.NoProviderError
			if errors.As(err, &np) {
				fmt.Fprintf(stderr, "no provider could serve %s %s (chain: %s):\n", f.symbol, tf, strings.Join(chain, " → "))
				defer fmt.Fprintln(stderr, providerSummary(client.ProviderStates()))
				for _, a := range np.Attempts {
					fmt.Fprintf(stderr, "  %s (as %s): %v\n", a.Provider, client.ProviderSymbol(a.Provider, f.symbol), a.Err)
				}
			}
			return &exitError{code: 2, err: fmt.Errorf("%w: %s %s (reasons above)", marketdata.ErrNoProvider, f.symbol, tf)}
		}
		return err
	}
	switch f.format {
	case "csv":
		return marketdata.WriteCSV(stdout, s.Closed)
	case "json":
		return writeJSON(stdout, dataFetchReport{Symbol: s.Symbol, Timeframe: string(s.Timeframe), Provider: s.Provider,
			ProviderSymbol: s.ProviderSymbol, Chain: chain, Closed: jsonBars(s.Closed), Forming: jsonBar(s.Forming)})
	}
	return printDataSeries(stdout, s, chain, client)
}

// printDataSeries prints a series as a table with a summary header.
func printDataSeries(w io.Writer, s marketdata.Series, chain []string, client *marketdata.Client) error {
	fmt.Fprintf(w, "%s %s: %d closed bars from %s (as %s); chain %s\n",
		s.Symbol, s.Timeframe, len(s.Closed), s.Provider, s.ProviderSymbol, strings.Join(chain, " → "))
	fmt.Fprintln(w, providerSummary(client.ProviderStates()))
	if p, ok := client.Provider("binance"); ok && s.Provider == "binance" {
		if b, ok := p.(*marketdata.Binance); ok && b.UsedWeight() >= 0 {
			fmt.Fprintf(w, "binance used weight this minute: %d\n", b.UsedWeight())
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "time\topen\thigh\tlow\tclose\tvolume\t")
	num := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	row := func(b marketdata.Bar, note string) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Time.UTC().Format(time.RFC3339), num(b.Open), num(b.High), num(b.Low), num(b.Close), num(b.Volume), note)
	}
	for _, b := range s.Closed {
		row(b, "")
	}
	if s.Forming != nil {
		row(*s.Forming, "  (forming)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if n := len(s.Gaps); n > 0 {
		missing := 0
		for _, g := range s.Gaps {
			missing += g.Missing
		}
		fmt.Fprintf(w, "%d gaps, %d missing bars (normal when the market closes)\n", n, missing)
	}
	return nil
}

// dataFetchReport is what "scheduler data fetch --format json" prints.
type dataFetchReport struct {
	Symbol         string    `json:"symbol"`
	Timeframe      string    `json:"timeframe"`
	Provider       string    `json:"provider"`
	ProviderSymbol string    `json:"provider_symbol"`
	Chain          []string  `json:"chain"`
	Closed         []barJSON `json:"closed"`
	Forming        *barJSON  `json:"forming,omitempty"`
}

// barJSON is a bar in JSON output: the open time and OHLCV.
type barJSON struct {
	Time   time.Time `json:"time"`
	Open   float64   `json:"open"`
	High   float64   `json:"high"`
	Low    float64   `json:"low"`
	Close  float64   `json:"close"`
	Volume float64   `json:"volume"`
}

func jsonBar(b *marketdata.Bar) *barJSON {
	if b == nil {
		return nil
	}
	return &barJSON{Time: b.Time.UTC(), Open: b.Open, High: b.High, Low: b.Low, Close: b.Close, Volume: b.Volume}
}

func jsonBars(bs []marketdata.Bar) []barJSON {
	out := make([]barJSON, len(bs))
	for i := range bs {
		out[i] = *jsonBar(&bs[i])
	}
	return out
}
