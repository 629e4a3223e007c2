// Package indicators computes technical indicators on bar series with values
// that match TA-Lib and TradingView.
package indicators

import (
	"errors"

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
func (s Spec) Key() string { panic("TODO") }

// Known returns the sorted list of supported indicator types.
func Known() []string { panic("TODO") }

// Outputs returns the output names of an indicator type; the first is the
// default output.
func Outputs(typ string) ([]string, error) { return nil, errors.New("TODO") }

// Validate checks the type and params (names, ranges) of s; the error names
// the bad param and value.
func Validate(s Spec) error { return errors.New("TODO") }

// Lookback returns how many bars are needed before the first valid value of s,
// including the unstable period of exponential indicators.
func Lookback(s Spec) int { return 0 }

// Compute returns every output of s aligned with bars; warm-up values are NaN.
func Compute(s Spec, bars []marketdata.Bar) (map[string][]float64, error) {
	return nil, errors.New("TODO")
}
