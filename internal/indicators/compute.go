package indicators

import (
	"fmt"
	"math"
	"time"

	talib "github.com/markcheno/go-talib"
)

// Thin adapters so that single-series and high/low/close functions share
// one length-checking path.
func taSMA(x []float64, n int) []float64  { return talib.Sma(x, n) }
func taEMA(x []float64, n int) []float64  { return talib.Ema(x, n) }
func taWMA(x []float64, n int) []float64  { return talib.Wma(x, n) }
func taDEMA(x []float64, n int) []float64 { return talib.Dema(x, n) }
func taTEMA(x []float64, n int) []float64 { return talib.Tema(x, n) }
func taRSI(x []float64, n int) []float64  { return talib.Rsi(x, n) }
func taROC(x []float64, n int) []float64  { return talib.Roc(x, n) }
func taMOM(x []float64, n int) []float64  { return talib.Mom(x, n) }

func taPlusDI(h, l, c []float64, n int) []float64  { return talib.PlusDI(h, l, c, n) }
func taMinusDI(h, l, c []float64, n int) []float64 { return talib.MinusDI(h, l, c, n) }
func taCCI(h, l, c []float64, n int) []float64     { return talib.Cci(h, l, c, n) }
func taWILLR(h, l, c []float64, n int) []float64   { return talib.WillR(h, l, c, n) }

// copyFrom copies src[from:] into dst[from:], leaving dst[:from] NaN.
func copyFrom(dst, src []float64, from int) {
	if from < len(dst) {
		copy(dst[from:], src[from:])
	}
}

// single runs a one-series function whose first valid value is at index
// lookback; shorter inputs leave out all NaN without calling it.
func single(x []float64, n, lookback int, fn func([]float64, int) []float64, out []float64) error {
	if len(x) <= lookback {
		return nil
	}
	copyFrom(out, fn(x, n), lookback)
	return nil
}

// hlc is single for functions of high, low and close.
func hlc(in *input, n, lookback int, fn func(h, l, c []float64, n int) []float64, out []float64) error {
	if len(in.close) <= lookback {
		return nil
	}
	copyFrom(out, fn(in.high, in.low, in.close, n), lookback)
	return nil
}

// computeMACD follows TA-Lib's TA_MACD: both EMAs produce their first value
// on bar slow-1 (the fast one seeded with the SMA of the fast bars ending
// there), and the signal is an EMA of the MACD line seeded with the SMA of
// its first signal values.
func computeMACD(in *input, p paramSet, out map[string][]float64) error {
	fast, slow, sig := p.int("fast"), p.int("slow"), p.int("signal")
	x := in.src
	lookback := slow - 1 + sig - 1
	if len(x) <= lookback {
		return nil
	}
	slowEMA := talib.Ema(x, slow)             // valid from slow-1
	fastEMA := talib.Ema(x[slow-fast:], fast) // valid from fast-1, i.e. bar slow-1
	line := make([]float64, len(x)-(slow-1))
	for i := range line {
		bar := i + slow - 1
		line[i] = fastEMA[bar-(slow-fast)] - slowEMA[bar]
	}
	signal := talib.Ema(line, sig) // valid from sig-1, i.e. bar lookback
	m, s, h := out["macd"], out["signal"], out["hist"]
	for i := sig - 1; i < len(line); i++ {
		bar := i + slow - 1
		m[bar], s[bar], h[bar] = line[i], signal[i], line[i]-signal[i]
	}
	return nil
}

func computeBBANDS(in *input, p paramSet, out map[string][]float64) error {
	n := p.int("period")
	if len(in.src) <= n-1 {
		return nil
	}
	u, m, l := talib.BBands(in.src, n, p["dev_up"], p["dev_down"], talib.SMA)
	copyFrom(out["upper"], u, n-1)
	copyFrom(out["middle"], m, n-1)
	copyFrom(out["lower"], l, n-1)
	return nil
}

func computeATR(in *input, p paramSet, out map[string][]float64) error {
	return hlc(in, p.int("period"), p.int("period"), talib.Atr, out["value"])
}

// computeNATR follows TA-Lib's TA_NATR: ATR / close × 100 for periods from
// 2, and for period 1 the raw true range, not normalized (ta_NATR.c returns
// TA_TRANGE there, as ta_ATR.c does).
func computeNATR(in *input, p paramSet, out map[string][]float64) error {
	return hlc(in, p.int("period"), p.int("period"), talib.Natr, out["value"])
}

func computeADX(in *input, p paramSet, out map[string][]float64) error {
	n := p.int("period")
	if err := hlc(in, n, n, taPlusDI, out["plus_di"]); err != nil {
		return err
	}
	if err := hlc(in, n, n, taMinusDI, out["minus_di"]); err != nil {
		return err
	}
	return hlc(in, n, 2*n-1, talib.Adx, out["adx"])
}

// computeMFI calls talib.Mfi. When the money flow of the first window sums
// to less than 1, the port skips that output without advancing its index, so
// every later value lands one bar early; TA-Lib writes 0 there. The shift is
// undone here.
func computeMFI(in *input, p paramSet, out map[string][]float64) error {
	n := p.int("period")
	if len(in.close) <= n {
		return nil
	}
	r := talib.Mfi(in.high, in.low, in.close, in.volume, n)
	v := out["value"]
	prev := (in.high[0] + in.low[0] + in.close[0]) / 3
	total := 0.0
	for i := 1; i <= n; i++ {
		tp := (in.high[i] + in.low[i] + in.close[i]) / 3
		if tp != prev {
			total += tp * in.volume[i]
		}
		prev = tp
	}
	if total < 1 {
		v[n] = 0
		for i := n + 1; i < len(v); i++ {
			v[i] = r[i-1]
		}
		return nil
	}
	copyFrom(v, r, n)
	return nil
}

func computeOBV(in *input, _ paramSet, out map[string][]float64) error {
	if len(in.close) == 0 {
		return nil
	}
	copy(out["value"], talib.Obv(in.close, in.volume))
	return nil
}

func computeSAR(in *input, p paramSet, out map[string][]float64) error {
	if len(in.high) < 2 {
		return nil
	}
	copyFrom(out["value"], talib.Sar(in.high, in.low, p["acceleration"], p["maximum"]), 1)
	return nil
}

func computeSTOCH(in *input, p paramSet, out map[string][]float64) error {
	fk, sk, sd := p.int("fastk_period"), p.int("slowk_period"), p.int("slowd_period")
	lookback := fk + sk + sd - 3
	if len(in.close) <= lookback {
		return nil
	}
	k, d := talib.Stoch(in.high, in.low, in.close, fk, sk, talib.SMA, sd, talib.SMA)
	copyFrom(out["k"], k, lookback)
	copyFrom(out["d"], d, lookback)
	return nil
}

// computeSTOCHRSI runs the TA-Lib slow stochastic on the valid part of the
// RSI, so no zero padding enters a window.
func computeSTOCHRSI(in *input, p paramSet, out map[string][]float64) error {
	n, fk, sk, sd := p.int("period"), p.int("fastk_period"), p.int("slowk_period"), p.int("slowd_period")
	stochLookback := fk + sk + sd - 3
	if len(in.src) <= n+stochLookback {
		return nil
	}
	rsi := talib.Rsi(in.src, n)[n:]
	k, d := talib.Stoch(rsi, rsi, rsi, fk, sk, talib.SMA, sd, talib.SMA)
	ko, do := out["k"], out["d"]
	for i := stochLookback; i < len(rsi); i++ {
		ko[i+n], do[i+n] = k[i], d[i]
	}
	return nil
}

// computeVWAP implements the UTC-day anchored VWAP of the package
// documentation: each day is anchored at its first bar in the series; the
// series' first day only when that bar opens at 00:00 UTC.
func computeVWAP(in *input, _ paramSet, out map[string][]float64) error {
	v := out["value"]
	bars := in.bars
	var day time.Time
	complete := false
	pv, vol := 0.0, 0.0
	for i := range bars {
		t := bars[i].Time.UTC()
		if i > 0 && !t.After(bars[i-1].Time) {
			return fmt.Errorf("VWAP needs increasing bar times: bar %d (%s) is not after bar %d (%s)",
				i, t.Format(time.RFC3339), i-1, bars[i-1].Time.UTC().Format(time.RFC3339))
		}
		if d := t.Truncate(dayDuration); i == 0 || !d.Equal(day) {
			day = d
			// A later day's first bar is its first bar (a gap over
			// midnight is an outage, not missing data); the series' first
			// day may have begun before the series.
			complete = i > 0 || t.Equal(d)
			pv, vol = 0, 0
		}
		tp := (in.high[i] + in.low[i] + in.close[i]) / 3
		pv += tp * in.volume[i]
		vol += in.volume[i]
		if complete && vol != 0 {
			v[i] = pv / vol
		}
	}
	return nil
}

// tradingViewATR is TradingView's ta.atr(n): ta.rma of ta.tr(true), whose
// first true range (bar 0, no previous close) is high − low; the average is
// seeded with the mean of the first n true ranges, so its first value is at
// bar n−1 (TA-Lib's ATR starts one bar later, without bar 0's range).
func tradingViewATR(in *input, n int) []float64 {
	atr := nanSlice(len(in.close))
	if len(in.close) < n {
		return atr
	}
	alpha := 1 / float64(n)
	sum := 0.0
	for i := range in.close {
		tr := in.high[i] - in.low[i]
		if i > 0 {
			tr = max(tr, math.Abs(in.high[i]-in.close[i-1]), math.Abs(in.low[i]-in.close[i-1]))
		}
		switch {
		case i < n-1:
			sum += tr
		case i == n-1:
			atr[i] = (sum + tr) / float64(n)
		default:
			atr[i] = alpha*tr + (1-alpha)*atr[i-1]
		}
	}
	return atr
}

// computeSUPERTREND implements TradingView's ta.supertrend (see the package
// documentation) on TradingView's ATR, with +1 meaning up-trend.
func computeSUPERTREND(in *input, p paramSet, out map[string][]float64) error {
	n, mult := p.int("period"), p["multiplier"]
	first := n - 1
	if len(in.close) <= first {
		return nil
	}
	atr := tradingViewATR(in, n)
	st, dir := out["supertrend"], out["direction"]
	// The bands of the bar before the first are 0 (Pine's nz(band[1])): a
	// basic band below 0 on the first bar is replaced by 0 unless the
	// previous close is below it, as in Pine. Bar 0 (period 1) has no
	// previous close; its bands are the basic bands.
	var upper, lower float64
	for i := first; i < len(in.close); i++ {
		mid := (in.high[i] + in.low[i]) / 2
		basicU, basicL := mid+mult*atr[i], mid-mult*atr[i]
		prevUpper, prevLower, prevClose := upper, lower, math.NaN()
		if i > 0 {
			prevClose = in.close[i-1]
		} else {
			upper, lower = basicU, basicL
		}
		if basicU < prevUpper || prevClose > prevUpper {
			upper = basicU
		}
		if basicL > prevLower || prevClose < prevLower {
			lower = basicL
		}
		if i == first {
			dir[i], st[i] = -1, upper
			continue
		}
		if st[i-1] == prevUpper {
			if in.close[i] > upper {
				dir[i] = 1
			} else {
				dir[i] = -1
			}
		} else {
			if in.close[i] < lower {
				dir[i] = -1
			} else {
				dir[i] = 1
			}
		}
		if dir[i] == 1 {
			st[i] = lower
		} else {
			st[i] = upper
		}
	}
	return nil
}
