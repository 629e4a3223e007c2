package jobs

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// ScreenerConfig is screener task_params validated exactly as the screener
// job type validates them. It exists so that tools such as
// "scheduler screener test" can replay a screener over historical bars
// through the live evaluation code.
type ScreenerConfig struct{ p *screenerParams }

// ParseScreenerConfig validates screener task_params with the live
// validation: errors are the same *alerts.ConfigError, one path-and-reason
// problem per line (e.g. `tickers[0]: "BTC USDT" is not a ticker symbol ...`).
// lists add to (and override) BuiltinTickerLists as Deps.TickerLists does;
// schemaDir is ALERT_SCHEMA_DIR ("" = the embedded schema).
func ParseScreenerConfig(raw []byte, lists map[string][]string, schemaDir string) (*ScreenerConfig, error) {
	e := newEnv(Deps{TickerLists: lists})
	p, err := parseScreener(raw, e.lists, schemaDir)
	if err != nil {
		return nil, err
	}
	return &ScreenerConfig{p: p}, nil
}

// Name is the screener's task_params name ("" when not given).
func (c *ScreenerConfig) Name() string { return c.p.name }

// Tickers are the screened tickers in order, named lists expanded and
// duplicates removed.
func (c *ScreenerConfig) Tickers() []string { return slices.Clone(c.p.tickers) }

// List is the ticker list name, when the tickers came from one.
func (c *ScreenerConfig) List() string { return c.p.listName }

// Timeframe is the bar timeframe the rule is evaluated on.
func (c *ScreenerConfig) Timeframe() marketdata.Timeframe { return c.p.alert.Timeframe }

// Rule describes the rule, e.g. "RSI(14) < 30".
func (c *ScreenerConfig) Rule() string { return c.p.alert.RuleString() }

// MinBars is the number of closed bars a ticker needs before the rule can
// be evaluated on it.
func (c *ScreenerConfig) MinBars() int { return c.p.alert.MinBars() }

// Lookback is the number of closed bars the live screener fetches per
// ticker (and the replay hands to each evaluation).
func (c *ScreenerConfig) Lookback() int { return c.p.alert.Lookback() }

// ScreenerReplayOptions bound the bar times a replay evaluates.
type ScreenerReplayOptions struct {
	// From and To bound the open times of the evaluated bars (inclusive);
	// zero means unbounded. Earlier bars still serve as history.
	From, To time.Time
}

// ScreenerReplayStep is one bar time at which at least one ticker matched.
type ScreenerReplayStep struct {
	// BarTime is the open time of the bar that just closed.
	BarTime time.Time
	// Screened is the number of tickers evaluated at BarTime (those with a
	// bar at BarTime and enough history).
	Screened int
	// Matches are the matching tickers in the config's ticker order, as
	// the live screener reports them (values are the compared values).
	Matches []ScreenerMatch
}

// ScreenerReplaySummary counts what a screener replay did.
type ScreenerReplaySummary struct {
	// BarTimes is the number of distinct bar times in the selected range.
	BarTimes int
	// Evaluations is the number of ticker × bar evaluations.
	Evaluations int
	// WarmUp is the number of ticker bars in range skipped because the
	// ticker had fewer than MinBars bars up to them.
	WarmUp int
	// MatchTimes is the number of bar times with at least one match.
	MatchTimes int
	// Matches is the number of ticker matches over all bar times.
	Matches int
	// PerTicker counts the matches of each ticker (every ticker listed).
	PerTicker map[string]int
}

// replayProvider is the provider name replayed matches carry unless the
// screener pins one with options.provider.
const replayProvider = "replay"

// ReplayScreener feeds the bars (per ticker, oldest first; every ticker of
// the config must have bars) to the screener one bar time at a time: the
// union of all tickers' bar times, in order. At bar time T every ticker
// that has a bar opening at T is evaluated exactly as a live run at that
// bar's close would evaluate it (the same per-ticker code path: the last
// Lookback closed bars up to T, a fresh state, the shared indicator
// cache); a ticker without a bar at T is not evaluated at T. emit is
// called for each bar time with at least one match; an emit error stops
// the replay and is returned as is.
func ReplayScreener(ctx context.Context, c *ScreenerConfig, bars map[string][]marketdata.Bar, opt ScreenerReplayOptions,
	emit func(ScreenerReplayStep) error) (ScreenerReplaySummary, error) {
	p := c.p
	sum := ScreenerReplaySummary{PerTicker: make(map[string]int, len(p.tickers))}
	var all []time.Time
	for _, t := range p.tickers {
		b, ok := bars[t]
		if !ok || len(b) == 0 {
			return sum, fmt.Errorf("ticker %s: no bars", t)
		}
		for i := range b {
			if i > 0 && !b[i].Time.After(b[i-1].Time) {
				return sum, fmt.Errorf("ticker %s: bar %s is not after the previous bar's %s", t,
					b[i].Time.UTC().Format(time.RFC3339), b[i-1].Time.UTC().Format(time.RFC3339))
			}
			all = append(all, b[i].Time.UTC())
		}
		sum.PerTicker[t] = 0
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
	all = slices.CompactFunc(all, time.Time.Equal)

	e := newEnv(Deps{})
	tf := p.alert.Timeframe
	next := make([]int, len(p.tickers)) // per ticker: index of the first bar after the current bar time
	for _, bt := range all {
		if err := ctx.Err(); err != nil {
			return sum, err
		}
		inRange := (opt.From.IsZero() || !bt.Before(opt.From)) && (opt.To.IsZero() || !bt.After(opt.To))
		if inRange {
			sum.BarTimes++
		}
		step := ScreenerReplayStep{BarTime: bt}
		for i, t := range p.tickers {
			b := bars[t]
			for next[i] < len(b) && !b[next[i]].Time.After(bt) {
				next[i]++
			}
			n := next[i]
			if !inRange || n == 0 || !b[n-1].Time.Equal(bt) {
				continue
			}
			if n < p.alert.MinBars() {
				sum.WarmUp++
				continue
			}
			md := &replayMarket{symbol: t, tf: tf, bars: b[:n], provider: p.provider}
			m, err := screenOne(ctx, md, e, p, t, tf.Next(bt))
			if err != nil {
				return sum, fmt.Errorf("ticker %s bar %s: %w", t, bt.Format(time.RFC3339), err)
			}
			step.Screened++
			sum.Evaluations++
			if m != nil {
				step.Matches = append(step.Matches, *m)
				sum.PerTicker[t]++
			}
		}
		if len(step.Matches) == 0 {
			continue
		}
		sum.MatchTimes++
		sum.Matches += len(step.Matches)
		if emit != nil {
			if err := emit(step); err != nil {
				return sum, err
			}
		}
	}
	return sum, nil
}

// replayMarket serves one ticker's closed bars up to the replayed bar time,
// the last req.Bars of them, as the market data client would at that
// bar's close.
type replayMarket struct {
	symbol   string
	tf       marketdata.Timeframe
	bars     []marketdata.Bar
	provider string
}

// Series implements MarketData.
func (m *replayMarket) Series(_ context.Context, req marketdata.Request) (marketdata.Series, error) {
	if req.Symbol != m.symbol || req.Timeframe != m.tf {
		return marketdata.Series{}, fmt.Errorf("replay: asked for %s %s, have %s %s", req.Symbol, req.Timeframe, m.symbol, m.tf)
	}
	closed := m.bars
	if req.Bars > 0 && len(closed) > req.Bars {
		closed = closed[len(closed)-req.Bars:]
	}
	prov := m.provider
	if prov == "" {
		prov = replayProvider
	}
	return marketdata.Series{Symbol: m.symbol, ProviderSymbol: m.symbol, Timeframe: m.tf, Provider: prov, Closed: closed,
		FetchedAt: req.Now}, nil
}
