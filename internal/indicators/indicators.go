// Package indicators computes technical indicators on bar series with values
// that match TA-Lib and TradingView.
//
// # Indicators
//
// Computation is done with github.com/markcheno/go-talib (a Go port of TA-Lib)
// wherever TA-Lib has the function, so values match TA-Lib's own regression
// data. The port pads the warm-up with zeros and panics on inputs that are too
// short; this package checks lengths before calling it, turns every value
// before the TA-Lib lookback into NaN and recovers any panic into an error.
//
// Type names are case-insensitive; BOLLINGER is an alias of BBANDS. Params
// and their defaults (filled in by Normalize):
//
//	Type        Params (default)                                         Outputs                  Source
//	SMA         period (20)                                              value                    yes
//	EMA         period (20)                                              value                    yes
//	WMA         period (9)                                               value                    yes
//	DEMA        period (9)                                               value                    yes
//	TEMA        period (9)                                               value                    yes
//	RSI         period (14, >= 2), Wilder smoothing                      value                    yes
//	MACD        fast (12), slow (26), signal (9); fast < slow            macd, signal, hist       yes
//	BBANDS      period (20, >= 2), dev_up (2), dev_down (2); std_dev     upper, middle, lower     yes
//	            sets both deviations and cannot be combined with them
//	ATR         period (14), Wilder smoothing                            value                    no
//	NATR        period (14), ATR / close * 100 (period 1: true range)     value                    no
//	ADX         period (14, >= 2)                                        adx, plus_di, minus_di   no
//	PLUS_DI     period (14)                                              value                    no
//	MINUS_DI    period (14)                                              value                    no
//	CCI         period (20, >= 2)                                        value                    no
//	MFI         period (14, >= 2)                                        value                    no
//	OBV         -                                                        value                    no
//	ROC         period (10)                                              value                    yes
//	MOM         period (10)                                              value                    yes
//	WILLR       period (14, >= 2)                                        value                    no
//	SAR         acceleration (0.02), maximum (0.2)                       value                    no
//	STOCH       fastk_period (14), slowk_period (3), slowd_period (3)    k, d                     no
//	STOCHRSI    period (14, >= 2), fastk_period (14), slowk_period (3),  k, d                     yes
//	            slowd_period (3)
//	VWAP        -                                                        value                    no
//	SUPERTREND  period (10), multiplier (3)                              supertrend, direction    no
//
// Periods are whole numbers from 1 (or the minimum shown) to 100000. A
// default is the framework's wherever the framework has the indicator (its
// alert evaluator and the Telegram bot's indicator guide: SMA and EMA 20,
// RSI 14, Bollinger 20 and 2.0, MACD 12/26/9, ADX, ATR, MFI and Williams %R
// 14, Stochastic 14/3, CCI 20, ROC 10), else TradingView's built-in one
// (WMA, DEMA, TEMA 9, MOM 10, Stochastic slowing 3, Stoch RSI 14/14/3/3);
// the formulas are TA-Lib's. The first output is the default one.
//
// Period 1 follows TA-Lib where TA-Lib accepts it: ATR(1) and NATR(1) are
// the raw true range (TA-Lib returns TA_TRANGE for both, so NATR(1) is not
// divided by the close), PLUS_DI(1) and MINUS_DI(1) are TA-Lib's one-bar
// ratios +DM/TR and −DM/TR (not × 100), ROC(1), MOM(1), STOCH and STOCHRSI
// with periods of 1 are TA-Lib's values. Where TA-Lib refuses period 1
// (SMA, EMA, WMA, DEMA, TEMA, MACD fast) the value is the source itself,
// the limit of the formula; MACD with signal 1 has signal = MACD line and
// hist 0 (TA-Lib accepts signal 1 but returns unusable values there).
//
// Source (open, high, low, close, volume, hl2, hlc3, ohlc4; empty means
// close) applies to the single-series indicators marked "yes"; giving a
// source to any other indicator is an error.
//
// Notes on individual indicators:
//
//   - MACD is computed exactly as TA-Lib's TA_MACD (both EMAs start on the
//     same bar, the fast one seeded with the SMA of the fast period ending
//     there; the signal is an EMA of the MACD line seeded with an SMA). The
//     go-talib Macd function seeds the signal EMA with zeros and is not used.
//   - STOCH uses SMA smoothing for %K and %D (TA-Lib's default).
//   - STOCHRSI follows TradingView's "Stoch RSI": k = SMA(slowk_period) of the
//     stochastic (fastk_period) of RSI(period), d = SMA(slowd_period) of k.
//     With slowk_period 1 it equals TA-Lib's STOCHRSI(period, fastk_period,
//     slowd_period, SMA).
//   - OBV follows TA-Lib: the first value is the first bar's volume. Its level
//     depends on where the series starts; only its changes are meaningful.
//   - SAR is TA-Lib's parabolic SAR (Wilder).
//
// # VWAP
//
// VWAP is anchored to the UTC day (as TradingView's session-anchored VWAP on
// a 24-hour market). For bar i of day D:
//
//	tp(i)   = (high(i) + low(i) + close(i)) / 3
//	VWAP(i) = sum of tp(j) * volume(j) / sum of volume(j), j = first bar of D .. i
//
// The day of a bar is the UTC date of its open time, and a day is anchored
// at its first bar in the series, so a day whose 00:00 bar is missing (a gap
// over midnight, an exchange outage) starts at its first available bar, as
// TradingView's session VWAP does. Only the series' first day is different:
// unless its first bar opens at 00:00 UTC, that day began before the series
// and its bars are NaN. A bar whose cumulative day volume is zero is NaN.
// VWAP requires bar times in strictly increasing order.
//
// # SUPERTREND
//
// SUPERTREND is TradingView's ta.supertrend(multiplier, period) with the
// direction sign flipped so that +1 means up-trend. Its ATR is TradingView's
// ta.atr, not TA-Lib's ATR: the true range of bar 0 is high − low, and the
// Wilder average (ta.rma) is seeded with the mean of the first `period` true
// ranges, so the first value is on bar period−1, one bar earlier than
// TA-Lib's ATR, and the line matches a TradingView chart that starts on the
// same bar (TA-Lib's seeding differed by up to 0.4 % over the first ~150
// bars):
//
//	tr(0)    = high(0) - low(0); tr(i) = max(high-low, |high-close(i-1)|, |low-close(i-1)|)
//	atr(i)   = mean of tr(0..period-1) at i = period-1, then (tr(i) + (period-1) * atr(i-1)) / period
//	mid(i)   = (high(i) + low(i)) / 2
//	basicU   = mid(i) + multiplier * atr(i)
//	basicL   = mid(i) - multiplier * atr(i)
//	upper(i) = basicU if basicU < upper(i-1) or close(i-1) > upper(i-1); else upper(i-1)
//	lower(i) = basicL if basicL > lower(i-1) or close(i-1) < lower(i-1); else lower(i-1)
//	           (before the first bar with an ATR both bands are 0, Pine's
//	           nz(); bar 0 of period 1 has no previous close and takes the basic bands)
//	direction(i) = -1 on the first bar with an ATR; otherwise
//	               if supertrend(i-1) == upper(i-1): +1 if close(i) > upper(i), else -1
//	               else:                             -1 if close(i) < lower(i), else +1
//	supertrend(i) = lower(i) if direction(i) == +1, else upper(i)
//
// # Lookback and the unstable period
//
// Lookback(s) is TA-Lib's lookback (the number of bars before the first
// value) plus an allowance for the unstable period of indicators with
// memory. TA-Lib calls it the "unstable period": an EMA or a Wilder average
// depends on every bar since it was seeded, so its first values depend on
// where the series starts and differ from a chart (TradingView) that started
// years earlier. The allowance is the number of bars after which the weight
// that the seed still has in the value is below 1e-4 (0.01 %):
//
//   - one smoothing stage with factor a (a = 2/(n+1) for an EMA, 1/n for
//     Wilder): the smallest m with (1-a)^m < 1e-4;
//   - k chained stages with the same factor (DEMA k=2, TEMA k=3, ADX k=2):
//     the smallest m with P(Binomial(m, a) < k) < 1e-4, the weight of the
//     seed in a k-stage cascade;
//   - MACD: the allowance of the slow EMA plus that of the signal EMA.
//
// This gives, for example, 125 bars for RSI(14) and ATR(14) (Lookback 139),
// 162 for MACD(12,26,9) (Lookback 195), 160 for ADX(14) (Lookback 187) and
// 42 for EMA(9) (Lookback 50); a long EMA needs many bars (EMA(200):
// Lookback 1121).
// Indicators with memory and
// their allowance: EMA, DEMA, TEMA, MACD (EMA); RSI, ATR, NATR, PLUS_DI,
// MINUS_DI, STOCHRSI, SUPERTREND (Wilder); ADX (two Wilder stages); SAR (a
// fixed 100 bars: its state has no decay factor but resynchronises after a
// few reversals). MFI gets none: TA-Lib lists it among its unstable-period
// functions, but it is a finite window sum. OBV and VWAP get none (see
// above). Values at indexes >= Lookback(s) of a series are converged; a
// series of Lookback(s)+1 bars yields one converged value, its last.
package indicators

import (
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/marketdata"
)

// Spec identifies one indicator computation. Equal specs on the same series
// give equal results, so Key can be used for caching.
type Spec struct {
	// Type is the upper-case indicator name, e.g. "RSI", "MACD", "BBANDS".
	Type string
	// Params holds numeric parameters by name, e.g. "period", "fast",
	// "slow", "signal", "dev_up", "dev_down".
	Params map[string]float64
	// Source is the price input: open, high, low, close, volume, hl2, hlc3
	// or ohlc4. Empty means close.
	Source string
}

// Key returns a canonical string for the spec (type, sorted params, source).
// Specs that Normalize to the same spec have the same key, e.g. {"rsi", nil,
// ""} and {"RSI", {"period": 14}, "close"} both give "RSI(period=14,source=close)".
// A spec that does not validate gets a key built from its raw fields.
func (s Spec) Key() string {
	if n, err := Normalize(s); err == nil {
		s = n
	} else {
		s.Type = strings.ToUpper(strings.TrimSpace(s.Type))
		s.Source = strings.ToLower(strings.TrimSpace(s.Source))
	}
	names := make([]string, 0, len(s.Params))
	for k := range s.Params {
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString(s.Type)
	b.WriteByte('(')
	for i, k := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.FormatFloat(s.Params[k], 'g', -1, 64))
	}
	if s.Source != "" {
		if len(names) > 0 {
			b.WriteByte(',')
		}
		b.WriteString("source=")
		b.WriteString(s.Source)
	}
	b.WriteByte(')')
	return b.String()
}

// Known returns the sorted list of supported indicator types, aliases
// included.
func Known() []string {
	out := make([]string, 0, len(registry)+len(aliases))
	for name := range registry {
		out = append(out, name)
	}
	for name := range aliases {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Outputs returns the output names of an indicator type; the first is the
// default output. The type is case-insensitive and may be an alias.
func Outputs(typ string) ([]string, error) {
	d, err := lookup(typ)
	if err != nil {
		return nil, err
	}
	return append([]string(nil), d.outputs...), nil
}

// Validate checks the type and params (names, ranges) of s; the error names
// the bad param and value.
func Validate(s Spec) error {
	_, err := Normalize(s)
	return err
}

// Normalize resolves the type alias and case, lower-cases param names and
// the source, fills every documented default and checks names and ranges. The
// result has the canonical type, a new Params map holding every param of
// the type, and Source "close" by default for indicators that take a source
// ("" for those that do not). Equivalent specs normalize to equal specs.
func Normalize(s Spec) (Spec, error) {
	d, err := lookup(s.Type)
	if err != nil {
		return Spec{}, err
	}
	given := make(map[string]float64, len(s.Params))
	for k, v := range s.Params {
		name := strings.ToLower(strings.TrimSpace(k))
		if _, dup := given[name]; dup {
			return Spec{}, fmt.Errorf("%s: param %q given twice (names are case-insensitive)", d.name, name)
		}
		given[name] = v
	}
	if d.name == "BBANDS" {
		if sd, ok := given["std_dev"]; ok {
			for _, other := range []string{"dev_up", "dev_down"} {
				if _, both := given[other]; both {
					return Spec{}, fmt.Errorf("%s: std_dev cannot be combined with %s", d.name, other)
				}
			}
			delete(given, "std_dev")
			given["dev_up"], given["dev_down"] = sd, sd
		}
	}
	params := make(map[string]float64, len(d.params))
	for name, v := range given {
		pd, ok := d.param(name)
		if !ok {
			return Spec{}, fmt.Errorf("%s: unknown param %q (known: %s)", d.name, name, d.paramNames())
		}
		if err := pd.check(v); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", d.name, err)
		}
		params[name] = v
	}
	for _, pd := range d.params {
		if _, ok := params[pd.name]; !ok {
			params[pd.name] = pd.def
		}
	}
	if d.check != nil {
		if err := d.check(params); err != nil {
			return Spec{}, fmt.Errorf("%s: %w", d.name, err)
		}
	}
	src := strings.ToLower(strings.TrimSpace(s.Source))
	if d.source {
		if src == "" {
			src = "close"
		}
		if _, ok := sources[src]; !ok {
			return Spec{}, fmt.Errorf("%s: source: %q is unknown (known: %s)", d.name, s.Source, strings.Join(sourceNames, ", "))
		}
	} else if src != "" {
		return Spec{}, fmt.Errorf("%s: source: %q is not supported (%s has fixed inputs)", d.name, s.Source, d.name)
	}
	return Spec{Type: d.name, Params: params, Source: src}, nil
}

// Lookback returns how many bars are needed before the first valid value of s,
// including the unstable period of exponential indicators (see the package
// documentation). It returns 0 for a spec that does not validate.
func Lookback(s Spec) int {
	n, err := Normalize(s)
	if err != nil {
		return 0
	}
	d := registry[n.Type]
	p := paramSet(n.Params)
	u := 0
	if d.unstable != nil {
		u = d.unstable(p)
	}
	return d.lookback(p) + u
}

// LookbackFor is Lookback for a series of timeframe tf. It differs only for
// VWAP, which needs the bars since the start of the UTC day: on intraday
// timeframes it returns the number of bars in a day, so that a series of
// LookbackFor+1 bars always contains the session start of its last bar.
func LookbackFor(s Spec, tf marketdata.Timeframe) int {
	n, err := Normalize(s)
	if err != nil {
		return 0
	}
	if n.Type == "VWAP" {
		d := tf.Duration()
		if d > 0 && d < dayDuration {
			return int(dayDuration / d)
		}
	}
	return Lookback(n)
}

// Compute returns every output of s aligned with bars; warm-up values are NaN.
// Too few bars for any value give all-NaN outputs, not an error. Bars with a
// non-finite price or volume are an error. A panic inside the computation is
// recovered and returned as an error.
func Compute(s Spec, bars []marketdata.Bar) (out map[string][]float64, err error) {
	n, err := Normalize(s)
	if err != nil {
		return nil, err
	}
	if err := checkBars(bars); err != nil {
		return nil, fmt.Errorf("%s: %w", n.Key(), err)
	}
	d := registry[n.Type]
	defer func() {
		if r := recover(); r != nil {
			slog.Error("indicator computation panicked", "spec", n.Key(), "bars", len(bars), "panic", r)
			out, err = nil, fmt.Errorf("%s on %d bars: internal error: %v", n.Key(), len(bars), r)
		}
	}()
	in := newInput(bars, n.Source)
	out = make(map[string][]float64, len(d.outputs))
	for _, name := range d.outputs {
		out[name] = nanSlice(len(bars))
	}
	if err := d.compute(in, paramSet(n.Params), out); err != nil {
		return nil, fmt.Errorf("%s: %w", n.Key(), err)
	}
	return out, nil
}

// checkBars rejects non-finite prices and volumes, naming the bar and field.
func checkBars(bars []marketdata.Bar) error {
	for i := range bars {
		b := &bars[i]
		for _, f := range [...]struct {
			name string
			v    float64
		}{{"open", b.Open}, {"high", b.High}, {"low", b.Low}, {"close", b.Close}, {"volume", b.Volume}} {
			if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
				return fmt.Errorf("bar %d (%s): %s is %v", i, b.Time.UTC().Format("2006-01-02T15:04:05Z"), f.name, f.v)
			}
		}
	}
	return nil
}

func nanSlice(n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = math.NaN()
	}
	return s
}
