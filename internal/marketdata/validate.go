package marketdata

import (
	"fmt"
	"math"
	"time"
)

// Gap is a run of missing bars inside a series: bars were expected to open
// at From, From+1 bar, ... up to but excluding To, where the next bar opens.
// Markets that close (nights, weekends, holidays) produce gaps normally;
// they are reported, not treated as errors.
type Gap struct {
	From    time.Time // open time of the first missing bar
	To      time.Time // open time of the bar after the gap
	Missing int       // number of missing bars
}

// Validate checks a series before use and reports its gaps. A series is
// valid when:
//   - every timestamp is strictly after the previous one (no duplicates, no
//     out-of-order bars);
//   - every bar is aligned to tf: 1d, 1w and 1M bars open exactly at the
//     calendar boundary of Timeframe.Open; intraday bars all share the same
//     offset from the timeframe grid (zero for Binance; US equities on Yahoo
//     have hourly bars at :30, a constant 30-minute offset);
//   - prices are finite and low <= open, close <= high;
//   - volume is finite and not negative.
//
// The first violation is returned as an error wrapping ErrInvalidData and
// naming the bar by index and open time.
func Validate(bars []Bar, tf Timeframe) ([]Gap, error) {
	if _, ok := timeframes[tf]; !ok {
		return nil, fmt.Errorf("validate: unknown timeframe %q", tf)
	}
	var gaps []Gap
	var phase time.Duration
	for i, b := range bars {
		if err := checkBar(b); err != nil {
			return nil, fmt.Errorf("%w: bar %d at %s: %v", ErrInvalidData, i, b.Time.UTC().Format(time.RFC3339), err)
		}
		off := b.Time.Sub(tf.Open(b.Time))
		if tf.calendar() && off != 0 {
			return nil, fmt.Errorf("%w: bar %d at %s: not aligned to %s (expected open %s)", ErrInvalidData, i, b.Time.UTC().Format(time.RFC3339), tf, tf.Open(b.Time).Format(time.RFC3339))
		}
		if i == 0 {
			phase = off
			continue
		}
		if off != phase {
			return nil, fmt.Errorf("%w: bar %d at %s: not aligned to %s (offset %s, earlier bars %s)", ErrInvalidData, i, b.Time.UTC().Format(time.RFC3339), tf, off, phase)
		}
		prev := bars[i-1].Time
		switch {
		case b.Time.Equal(prev):
			return nil, fmt.Errorf("%w: bar %d at %s: duplicate of bar %d", ErrInvalidData, i, b.Time.UTC().Format(time.RFC3339), i-1)
		case b.Time.Before(prev):
			return nil, fmt.Errorf("%w: bar %d at %s: out of order, before bar %d at %s", ErrInvalidData, i, b.Time.UTC().Format(time.RFC3339), i-1, prev.UTC().Format(time.RFC3339))
		}
		if want := tf.Next(prev); b.Time.After(want) {
			gaps = append(gaps, Gap{From: want, To: b.Time.UTC(), Missing: countBars(tf, want, b.Time)})
		}
	}
	return gaps, nil
}

// countBars counts bar opens in [from, to) for a gap.
func countBars(tf Timeframe, from, to time.Time) int {
	if !tf.calendar() {
		return int(to.Sub(from) / tf.Duration())
	}
	n := 0
	for t := from; t.Before(to); t = tf.Next(t) {
		n++
	}
	return n
}

func checkBar(b Bar) error {
	if b.Time.IsZero() {
		return fmt.Errorf("zero time")
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"open", b.Open}, {"high", b.High}, {"low", b.Low}, {"close", b.Close}, {"volume", b.Volume}} {
		if math.IsNaN(f.v) || math.IsInf(f.v, 0) {
			return fmt.Errorf("%s is %v", f.name, f.v)
		}
	}
	switch {
	case b.Low > b.High:
		return fmt.Errorf("low %v > high %v", b.Low, b.High)
	case b.Low > b.Open:
		return fmt.Errorf("low %v > open %v", b.Low, b.Open)
	case b.Low > b.Close:
		return fmt.Errorf("low %v > close %v", b.Low, b.Close)
	case b.Open > b.High:
		return fmt.Errorf("open %v > high %v", b.Open, b.High)
	case b.Close > b.High:
		return fmt.Errorf("close %v > high %v", b.Close, b.High)
	case b.Volume < 0:
		return fmt.Errorf("volume %v is negative", b.Volume)
	}
	return nil
}
