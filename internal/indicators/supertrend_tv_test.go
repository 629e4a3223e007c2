package indicators

import (
	"math"
	"testing"

	"github.com/atf/scheduler/internal/marketdata"
)

// pineSupertrend is a line-by-line transcription of the reference
// implementations TradingView publishes for ta.tr(true), ta.rma, ta.atr and
// ta.supertrend (Pine Script v5 manual), with na as NaN and Pine's
// direction sign (-1 = up-trend). It is deliberately written independently
// of computeSUPERTREND, bar by bar as Pine runs.
func pineSupertrend(bars []marketdata.Bar, factor float64, atrPeriod int) (st, dir []float64) {
	n := len(bars)
	na := math.NaN()
	isNa := math.IsNaN
	nz := func(x float64) float64 {
		if isNa(x) {
			return 0
		}
		return x
	}
	tr, rma, sma := make([]float64, n), make([]float64, n), make([]float64, n)
	upper, lower := make([]float64, n), make([]float64, n)
	st, dir = make([]float64, n), make([]float64, n)
	for i := 0; i < n; i++ {
		high, low, close := bars[i].High, bars[i].Low, bars[i].Close
		// ta.tr(true): na(high[1]) ? high-low : max(high-low, |high-close[1]|, |low-close[1]|)
		if i == 0 {
			tr[i] = high - low
		} else {
			prevClose := bars[i-1].Close
			tr[i] = math.Max(math.Max(high-low, math.Abs(high-prevClose)), math.Abs(low-prevClose))
		}
		// ta.sma(tr, length): na until length values exist.
		sma[i] = na
		if i >= atrPeriod-1 {
			s := 0.0
			for j := i - atrPeriod + 1; j <= i; j++ {
				s += tr[j]
			}
			sma[i] = s / float64(atrPeriod)
		}
		// pine_rma: sum := na(sum[1]) ? ta.sma(src, length) : alpha*src + (1-alpha)*nz(sum[1])
		alpha := 1 / float64(atrPeriod)
		prevSum := na
		if i > 0 {
			prevSum = rma[i-1]
		}
		if isNa(prevSum) {
			rma[i] = sma[i]
		} else {
			rma[i] = alpha*tr[i] + (1-alpha)*nz(prevSum)
		}
		atr := rma[i]
		src := (high + low) / 2
		upperBand, lowerBand := src+factor*atr, src-factor*atr
		prevLowerBand, prevUpperBand, prevClose, prevATR, prevST := 0.0, 0.0, na, na, na
		if i > 0 {
			prevLowerBand, prevUpperBand = nz(lower[i-1]), nz(upper[i-1])
			prevClose, prevATR, prevST = bars[i-1].Close, rma[i-1], st[i-1]
		}
		// A comparison with na is false in Pine.
		if !(lowerBand > prevLowerBand || prevClose < prevLowerBand) {
			lowerBand = prevLowerBand
		}
		if !(upperBand < prevUpperBand || prevClose > prevUpperBand) {
			upperBand = prevUpperBand
		}
		if isNa(atr) {
			lowerBand, upperBand = na, na
		}
		lower[i], upper[i] = lowerBand, upperBand
		d := na
		switch {
		case isNa(atr):
		case isNa(prevATR):
			d = 1
		case prevST == prevUpperBand:
			d = 1
			if close > upperBand {
				d = -1
			}
		default:
			d = -1
			if close < lowerBand {
				d = 1
			}
		}
		dir[i] = d
		st[i] = na
		if !isNa(d) {
			st[i] = upperBand
			if d == -1 {
				st[i] = lowerBand
			}
		}
	}
	return st, dir
}

// TestSupertrendMatchesTradingView compares SUPERTREND with the Pine
// transcription above on TA-Lib's 252-bar series and on the synthetic series
// of testdata/talib_period1.json (flat zero-range stretch, price gap): same
// first bar (period − 1), every value within 1e-9, every direction equal
// (ours is Pine's with the sign flipped).
func TestSupertrendMatchesTradingView(t *testing.T) {
	series := map[string][]marketdata.Bar{"ta_regtest": talibRefBars()}
	for name, s := range loadTALibPeriod1(t) {
		if s.Inputs != nil {
			series[name] = barsFromColumns(s.Inputs)
		}
	}
	if len(series) != 2 {
		t.Fatalf("want two series, got %d", len(series))
	}
	for name, bars := range series {
		for _, c := range []struct {
			period int
			mult   float64
		}{{10, 3}, {7, 2}, {3, 1}, {2, 0.5}, {14, 1.5}} {
			wantST, wantDir := pineSupertrend(bars, c.mult, c.period)
			out, err := Compute(Spec{Type: "SUPERTREND", Params: map[string]float64{"period": float64(c.period), "multiplier": c.mult}}, bars)
			if err != nil {
				t.Fatal(err)
			}
			flips := 0
			for i := range bars {
				gs, gd := out["supertrend"][i], out["direction"][i]
				ws, wd := wantST[i], -wantDir[i]
				if math.IsNaN(ws) != math.IsNaN(gs) || math.Abs(gs-ws) > 1e-9*math.Max(1, math.Abs(ws)) || (math.IsNaN(wd) != math.IsNaN(gd)) || (!math.IsNaN(wd) && gd != wd) {
					t.Fatalf("%s SUPERTREND(%d, %v) bar %d: got %v/%v, TradingView %v/%v", name, c.period, c.mult, i, gs, gd, ws, wd)
				}
				if i > 0 && !math.IsNaN(wd) && !math.IsNaN(wantDir[i-1]) && wantDir[i] != wantDir[i-1] {
					flips++
				}
			}
			if math.IsNaN(wantST[c.period-1]) || !math.IsNaN(wantST[c.period-2]) {
				t.Fatalf("%s SUPERTREND(%d): Pine's first value is not on bar period-1", name, c.period)
			}
			if flips == 0 {
				t.Errorf("%s SUPERTREND(%d, %v): no trend change in the series; the comparison proves little", name, c.period, c.mult)
			}
		}
	}
}
