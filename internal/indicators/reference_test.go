package indicators

import (
	"math"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// talibRefBars returns TA-Lib's 252-bar regression series as daily bars.
func talibRefBars() []marketdata.Bar {
	bars := make([]marketdata.Bar, len(talibRefClose))
	t0 := time.Date(2000, 1, 3, 0, 0, 0, 0, time.UTC)
	for i := range bars {
		bars[i] = marketdata.Bar{
			Time: t0.AddDate(0, 0, i), Open: talibRefOpen[i], High: talibRefHigh[i],
			Low: talibRefLow[i], Close: talibRefClose[i], Volume: talibRefVolume[i],
		}
	}
	return bars
}

// refCase is one published value: output[bar] of spec must be want within
// tol. bar is the absolute bar index (TA-Lib tables give indexes relative to
// the first output, outBegIdx; they are converted below).
type refCase struct {
	name   string
	spec   Spec
	output string
	bar    int
	want   float64
	tol    float64
}

func p(kv ...any) map[string]float64 {
	m := map[string]float64{}
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = float64(kv[i+1].(int))
	}
	return m
}

// TestTALibRegressionValues checks values published in TA-Lib's ta_regtest
// tables (src/tools/ta_regtest/ta_test_func/test_*.c) for the 252-bar
// series. The tables print 2 to 4 decimals, sometimes truncated rather than
// rounded, and TA-Lib itself compares them with an absolute tolerance of
// 0.01; tol is 0.01 unless the table's precision allows tighter.
func TestTALibRegressionValues(t *testing.T) {
	cases := []refCase{
		// test_ma.c: SMA 30, first value at bar 29.
		{"SMA30 first", Spec{Type: "SMA", Params: p("period", 30)}, "value", 29, 90.42, 0.01},
		{"SMA30 +1", Spec{Type: "SMA", Params: p("period", 30)}, "value", 30, 90.21, 0.01},
		{"SMA30 +2", Spec{Type: "SMA", Params: p("period", 30)}, "value", 31, 89.96, 0.01},
		{"SMA30 +29", Spec{Type: "SMA", Params: p("period", 30)}, "value", 58, 87.12, 0.01},
		{"SMA30 +221", Spec{Type: "SMA", Params: p("period", 30)}, "value", 250, 107.95, 0.01},
		{"SMA30 last", Spec{Type: "SMA", Params: p("period", 30)}, "value", 251, 108.42, 0.01},
		{"SMA2 first", Spec{Type: "SMA", Params: p("period", 2)}, "value", 1, 93.15, 0.01},
		{"SMA2 last", Spec{Type: "SMA", Params: p("period", 2)}, "value", 251, 108.31, 0.01},
		// test_ma.c: WMA 30.
		{"WMA30 first", Spec{Type: "WMA", Params: p("period", 30)}, "value", 29, 88.567, 0.001},
		{"WMA30 +1", Spec{Type: "WMA", Params: p("period", 30)}, "value", 30, 88.233, 0.001},
		{"WMA30 +2", Spec{Type: "WMA", Params: p("period", 30)}, "value", 31, 88.034, 0.001},
		{"WMA30 +29", Spec{Type: "WMA", Params: p("period", 30)}, "value", 58, 87.191, 0.001},
		{"WMA2 first", Spec{Type: "WMA", Params: p("period", 2)}, "value", 1, 93.71, 0.01},
		{"WMA2 last", Spec{Type: "WMA", Params: p("period", 2)}, "value", 251, 108.16, 0.01},
		// test_ma.c: EMA (classic, SMA seed, no unstable period).
		{"EMA10 first", Spec{Type: "EMA", Params: p("period", 10)}, "value", 9, 93.22, 0.01},
		{"EMA10 +1", Spec{Type: "EMA", Params: p("period", 10)}, "value", 10, 93.75, 0.01},
		{"EMA10 +20", Spec{Type: "EMA", Params: p("period", 10)}, "value", 29, 86.46, 0.01},
		{"EMA10 last", Spec{Type: "EMA", Params: p("period", 10)}, "value", 251, 108.97, 0.01},
		{"EMA2 first", Spec{Type: "EMA", Params: p("period", 2)}, "value", 1, 93.15, 0.01},
		{"EMA2 +1", Spec{Type: "EMA", Params: p("period", 2)}, "value", 2, 93.96, 0.01},
		{"EMA2 last", Spec{Type: "EMA", Params: p("period", 2)}, "value", 251, 108.21, 0.01},
		// test_rsi.c: RSI 14.
		{"RSI14 first", Spec{Type: "RSI", Params: p("period", 14)}, "value", 14, 49.14, 0.01},
		{"RSI14 +1", Spec{Type: "RSI", Params: p("period", 14)}, "value", 15, 52.32, 0.01},
		{"RSI14 +2", Spec{Type: "RSI", Params: p("period", 14)}, "value", 16, 46.07, 0.01},
		{"RSI14 last", Spec{Type: "RSI", Params: p("period", 14)}, "value", 251, 49.63, 0.01},
		// test_macd.c: MACD 12/26/9, first value at bar 33.
		{"MACD line", Spec{Type: "MACD"}, "macd", 33, -1.9738, 0.0001},
		{"MACD signal", Spec{Type: "MACD"}, "signal", 33, -2.7071, 0.0001},
		{"MACD hist", Spec{Type: "MACD"}, "hist", 33, -1.9738 - -2.7071, 0.0002},
		// test_bbands.c: BBANDS 20, 2, 2, SMA.
		{"BBANDS upper", Spec{Type: "BBANDS", Params: p("period", 20)}, "upper", 19, 98.0734, 0.0001},
		{"BBANDS middle", Spec{Type: "BBANDS", Params: p("period", 20)}, "middle", 19, 92.8910, 0.0001},
		{"BBANDS lower", Spec{Type: "BBANDS", Params: p("period", 20)}, "lower", 19, 87.7086, 0.0001},
		{"BOLLINGER alias, std_dev", Spec{Type: "bollinger", Params: p("period", 20, "std_dev", 2)}, "upper", 19, 98.0734, 0.0001},
		// test_trange.c: ATR 14.
		{"ATR14 first", Spec{Type: "ATR", Params: p("period", 14)}, "value", 14, 3.578, 0.001},
		{"ATR14 +1", Spec{Type: "ATR", Params: p("period", 14)}, "value", 15, 3.4876, 0.0001},
		{"ATR14 +2", Spec{Type: "ATR", Params: p("period", 14)}, "value", 16, 3.55, 0.01},
		{"ATR14 +12", Spec{Type: "ATR", Params: p("period", 14)}, "value", 26, 3.245, 0.001},
		{"ATR14 +13", Spec{Type: "ATR", Params: p("period", 14)}, "value", 27, 3.394, 0.001},
		{"ATR14 +14", Spec{Type: "ATR", Params: p("period", 14)}, "value", 28, 3.413, 0.001},
		{"ATR14 last", Spec{Type: "ATR", Params: p("period", 14)}, "value", 251, 3.26, 0.01},
		{"ATR1 = true range", Spec{Type: "ATR", Params: p("period", 1)}, "value", 1, 3.535, 0.001},
		{"ATR1 = true range +12", Spec{Type: "ATR", Params: p("period", 1)}, "value", 13, 9.685, 0.001},
		// test_per_hlc.c: NATR 14.
		{"NATR14 first", Spec{Type: "NATR", Params: p("period", 14)}, "value", 14, 3.9321, 0.0001},
		{"NATR14 +1", Spec{Type: "NATR", Params: p("period", 14)}, "value", 15, 3.7576, 0.0001},
		{"NATR14 last", Spec{Type: "NATR", Params: p("period", 14)}, "value", 251, 3.0229, 0.0001},
		// test_per_hlc.c: CCI.
		{"CCI2 first", Spec{Type: "CCI", Params: p("period", 2)}, "value", 1, 66.666, 0.001},
		{"CCI5 first", Spec{Type: "CCI", Params: p("period", 5)}, "value", 4, 18.857, 0.001},
		{"CCI11 first", Spec{Type: "CCI", Params: p("period", 11)}, "value", 10, 87.927, 0.001},
		{"CCI11 +1", Spec{Type: "CCI", Params: p("period", 11)}, "value", 11, 180.005, 0.001},
		{"CCI11 +2", Spec{Type: "CCI", Params: p("period", 11)}, "value", 12, 143.5190963, 1e-6},
		{"CCI11 +3", Spec{Type: "CCI", Params: p("period", 11)}, "value", 13, -113.8669783, 1e-6},
		{"CCI11 +20", Spec{Type: "CCI", Params: p("period", 11)}, "value", 30, -0.005587727, 1e-6},
		{"CCI11 +24", Spec{Type: "CCI", Params: p("period", 11)}, "value", 34, 113.4778681, 1e-6},
		{"CCI11 last", Spec{Type: "CCI", Params: p("period", 11)}, "value", 251, -169.65514, 1e-5},
		// test_per_hlc.c: WILLR 14.
		{"WILLR14 first", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 13, -90.1943, 0.0001},
		{"WILLR14 +1", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 14, -66.9903, 0.0001},
		{"WILLR14 +112", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 125, 0, 1e-9},
		{"WILLR14 bar 24", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 24, -89.2857, 0.0001},
		{"WILLR14 bar 25", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 25, -97.2602, 0.0001},
		{"WILLR14 bar 26", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 26, -71.5482, 0.0001},
		{"WILLR14 last", Spec{Type: "WILLR", Params: p("period", 14)}, "value", 251, -59.1515, 0.0001},
		// test_per_hlcv.c: MFI.
		{"MFI14 first", Spec{Type: "MFI", Params: p("period", 14)}, "value", 14, 42.8923, 0.0001},
		{"MFI14 +1", Spec{Type: "MFI", Params: p("period", 14)}, "value", 15, 45.6072, 0.0001},
		{"MFI14 last", Spec{Type: "MFI", Params: p("period", 14)}, "value", 251, 53.1997, 0.0001},
		{"MFI50 first", Spec{Type: "MFI", Params: p("period", 50)}, "value", 50, 44.2414, 0.0001},
		{"MFI50 last", Spec{Type: "MFI", Params: p("period", 50)}, "value", 251, 50.5905, 0.0001},
		// test_stoch.c: STOCH 5, 3 (SMA), 3 or 4 (SMA).
		{"STOCH 5/3/3 k first", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "k", 8, 24.0128, 0.01},
		{"STOCH 5/3/3 d first", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "d", 8, 36.254, 0.01},
		{"STOCH 5/3/3 k last", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "k", 251, 30.194, 0.01},
		{"STOCH 5/3/3 d last", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "d", 251, 43.69, 0.01},
		{"STOCH 5/3/4 k first", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 4)}, "k", 9, 38.139, 0.01},
		{"STOCH 5/3/4 d first", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 4)}, "d", 9, 36.725, 0.01},
		{"STOCH 5/3/4 d last", Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 4)}, "d", 251, 46.641, 0.01},
		// test_stoch.c: STOCHRSI(14, 14, 1, SMA) etc. (slowk_period 1 = TA-Lib's fastk).
		{"STOCHRSI 14/14/1 k first", Spec{Type: "STOCHRSI", Params: p("period", 14, "fastk_period", 14, "slowk_period", 1, "slowd_period", 1)}, "k", 27, 94.156709, 1e-6},
		{"STOCHRSI 14/14/1 d first", Spec{Type: "STOCHRSI", Params: p("period", 14, "fastk_period", 14, "slowk_period", 1, "slowd_period", 1)}, "d", 27, 94.156709, 1e-6},
		{"STOCHRSI 14/14/1 k last", Spec{Type: "STOCHRSI", Params: p("period", 14, "fastk_period", 14, "slowk_period", 1, "slowd_period", 1)}, "k", 251, 0, 1e-9},
		{"STOCHRSI 14/45/1 k first", Spec{Type: "STOCHRSI", Params: p("period", 14, "fastk_period", 45, "slowk_period", 1, "slowd_period", 1)}, "k", 58, 79.729186, 1e-6},
		{"STOCHRSI 14/45/1 k last", Spec{Type: "STOCHRSI", Params: p("period", 14, "fastk_period", 45, "slowk_period", 1, "slowd_period", 1)}, "k", 251, 48.1550743, 1e-6},
		{"STOCHRSI 11/13/16 k first", Spec{Type: "STOCHRSI", Params: p("period", 11, "fastk_period", 13, "slowk_period", 1, "slowd_period", 16)}, "k", 38, 5.25947, 1e-5},
		{"STOCHRSI 11/13/16 d first", Spec{Type: "STOCHRSI", Params: p("period", 11, "fastk_period", 13, "slowk_period", 1, "slowd_period", 16)}, "d", 38, 57.1711, 1e-4},
		{"STOCHRSI 11/13/16 d last", Spec{Type: "STOCHRSI", Params: p("period", 11, "fastk_period", 13, "slowk_period", 1, "slowd_period", 16)}, "d", 251, 15.7303, 1e-4},
		// test_mom.c: MOM 14 and ROC 14.
		{"MOM14 first", Spec{Type: "MOM", Params: p("period", 14)}, "value", 14, -0.50, 0.01},
		{"MOM14 +1", Spec{Type: "MOM", Params: p("period", 14)}, "value", 15, -2.00, 0.01},
		{"MOM14 +2", Spec{Type: "MOM", Params: p("period", 14)}, "value", 16, -5.22, 0.01},
		{"MOM14 bar 20", Spec{Type: "MOM", Params: p("period", 14)}, "value", 20, -4.15, 0.01},
		{"MOM14 last", Spec{Type: "MOM", Params: p("period", 14)}, "value", 251, -1.13, 0.01},
		{"ROC14 first", Spec{Type: "ROC", Params: p("period", 14)}, "value", 14, -0.546, 0.001},
		{"ROC14 +1", Spec{Type: "ROC", Params: p("period", 14)}, "value", 15, -2.109, 0.001},
		{"ROC14 +2", Spec{Type: "ROC", Params: p("period", 14)}, "value", 16, -5.53, 0.01},
		{"ROC14 bar 21", Spec{Type: "ROC", Params: p("period", 14)}, "value", 21, -5.5256, 0.0001},
		{"ROC14 last", Spec{Type: "ROC", Params: p("period", 14)}, "value", 251, -1.0367, 0.0001},
	}
	bars := talibRefBars()
	results := map[string]map[string][]float64{}
	for _, c := range cases {
		key := c.spec.Key()
		out, ok := results[key]
		if !ok {
			var err error
			out, err = Compute(c.spec, bars)
			if err != nil {
				t.Fatalf("%s: Compute: %v", c.name, err)
			}
			results[key] = out
		}
		got := out[c.output][c.bar]
		if math.IsNaN(got) || math.Abs(got-c.want) > c.tol {
			t.Errorf("%s: %s[%d] = %.6f, want %v ± %v", c.name, c.output, c.bar, got, c.want, c.tol)
		}
	}
}

// TestTALibWarmupBoundaries checks that the first value sits exactly where
// TA-Lib's outBegIdx puts it (the bar before is NaN, not the port's zero).
func TestTALibWarmupBoundaries(t *testing.T) {
	bars := talibRefBars()
	cases := []struct {
		spec   Spec
		output string
		first  int // TA-Lib's expectedBegIdx
	}{
		{Spec{Type: "SMA", Params: p("period", 30)}, "value", 29},
		{Spec{Type: "EMA", Params: p("period", 10)}, "value", 9},
		{Spec{Type: "RSI", Params: p("period", 14)}, "value", 14},
		{Spec{Type: "MACD"}, "macd", 33},
		{Spec{Type: "MACD"}, "signal", 33},
		{Spec{Type: "BBANDS", Params: p("period", 20)}, "lower", 19},
		{Spec{Type: "ATR", Params: p("period", 14)}, "value", 14},
		{Spec{Type: "ADX", Params: p("period", 14)}, "adx", 27},
		{Spec{Type: "ADX", Params: p("period", 14)}, "plus_di", 14},
		{Spec{Type: "PLUS_DI", Params: p("period", 14)}, "value", 14},
		{Spec{Type: "MINUS_DI", Params: p("period", 14)}, "value", 14},
		{Spec{Type: "CCI", Params: p("period", 11)}, "value", 10},
		{Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "d", 8},
		{Spec{Type: "STOCHRSI", Params: p("period", 11, "fastk_period", 13, "slowk_period", 1, "slowd_period", 16)}, "d", 38},
		{Spec{Type: "MFI", Params: p("period", 49)}, "value", 49},
		{Spec{Type: "DEMA", Params: p("period", 14)}, "value", 26},
		{Spec{Type: "TEMA", Params: p("period", 14)}, "value", 39},
		{Spec{Type: "WILLR", Params: p("period", 14)}, "value", 13},
	}
	for _, c := range cases {
		out, err := Compute(c.spec, bars)
		if err != nil {
			t.Fatalf("%s: %v", c.spec.Key(), err)
		}
		v := out[c.output]
		if !math.IsNaN(v[c.first-1]) {
			t.Errorf("%s %s[%d] = %v, want NaN (warm-up)", c.spec.Key(), c.output, c.first-1, v[c.first-1])
		}
		if math.IsNaN(v[c.first]) {
			t.Errorf("%s %s[%d] is NaN, want the first value", c.spec.Key(), c.output, c.first)
		}
	}
}

// TestADXAgainstTALib checks ADX, +DI and -DI against test_adx.c, whose
// table gives these values rounded to whole numbers.
func TestADXAgainstTALib(t *testing.T) {
	out, err := Compute(Spec{Type: "ADX", Params: p("period", 14)}, talibRefBars())
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		output string
		bar    int
		want   float64
	}{
		{"adx", 27, 23}, {"adx", 28, 22}, {"adx", 250, 17}, {"adx", 251, 16},
		{"plus_di", 14, 20}, {"plus_di", 27, 22}, {"plus_di", 28, 20}, {"plus_di", 251, 21},
		{"minus_di", 14, 30}, {"minus_di", 28, 25}, {"minus_di", 251, 21},
	}
	for _, c := range cases {
		if got := out[c.output][c.bar]; math.Round(got) != c.want {
			t.Errorf("ADX(14) %s[%d] = %.4f, rounds to %v, want %v", c.output, c.bar, got, math.Round(got), c.want)
		}
	}
	for _, typ := range []string{"PLUS_DI", "MINUS_DI"} {
		single, err := Compute(Spec{Type: typ, Params: p("period", 14)}, talibRefBars())
		if err != nil {
			t.Fatal(err)
		}
		name := map[string]string{"PLUS_DI": "plus_di", "MINUS_DI": "minus_di"}[typ]
		if single["value"][251] != out[name][251] {
			t.Errorf("%s[251] = %v, ADX output %s[251] = %v; want equal", typ, single["value"][251], name, out[name][251])
		}
	}
}

// TestSARWilderBook checks SAR(0.02, 0.2) against the example in Wilder's
// "New Concepts in Technical Trading Systems" as tabulated in TA-Lib's
// test_sar.c (38 bars, first value on the second bar).
func TestSARWilderBook(t *testing.T) {
	high := []float64{51.12,
		52.35, 52.1, 51.8, 52.1, 52.5, 52.8, 52.5, 53.5, 53.5, 53.8, 54.2, 53.4, 53.5,
		54.4, 55.2, 55.7, 57, 57.5, 58, 57.7, 58, 57.5, 57, 56.7, 57.5,
		56.70, 56.00, 56.20, 54.80, 55.50, 54.70, 54.00, 52.50, 51.00, 51.50, 51.70, 53.00}
	low := []float64{50.0,
		51.5, 51, 50.5, 51.25, 51.7, 51.85, 51.5, 52.3, 52.5, 53, 53.5, 52.5, 52.1, 53,
		54, 55, 56, 56.5, 57, 56.5, 57.3, 56.7, 56.3, 56.2, 56,
		55.50, 55.00, 54.90, 54.00, 54.50, 53.80, 53.00, 51.50, 50.00, 50.50, 50.20, 51.50}
	bars := make([]marketdata.Bar, len(high))
	for i := range bars {
		mid := (high[i] + low[i]) / 2
		bars[i] = marketdata.Bar{Time: time.Unix(int64(i)*86400, 0).UTC(), Open: mid, High: high[i], Low: low[i], Close: mid, Volume: 1}
	}
	out, err := Compute(Spec{Type: "SAR"}, bars)
	if err != nil {
		t.Fatal(err)
	}
	v := out["value"]
	if !math.IsNaN(v[0]) {
		t.Errorf("SAR[0] = %v, want NaN", v[0])
	}
	for _, c := range []struct {
		bar       int
		want, tol float64
	}{{1, 50.00, 0.01}, {2, 50.047, 0.001}, {5, 50.182, 0.001}, {36, 52.93, 0.01}, {37, 50.00, 0.01}} {
		if math.Abs(v[c.bar]-c.want) > c.tol {
			t.Errorf("SAR[%d] = %.4f, want %v ± %v", c.bar, v[c.bar], c.want, c.tol)
		}
	}
}

// tulipBars is the 15-bar series used throughout Tulip Indicators'
// published test vectors (tests/untest.txt).
func tulipBars() []marketdata.Bar {
	high := []float64{82.15, 81.89, 83.03, 83.30, 83.85, 83.90, 83.33, 84.30, 84.84, 85.00, 85.90, 86.58, 86.98, 88.00, 87.87}
	low := []float64{81.29, 80.64, 81.31, 82.65, 83.07, 83.11, 82.49, 82.30, 84.15, 84.11, 84.03, 85.39, 85.76, 87.17, 87.01}
	closes := []float64{81.59, 81.06, 82.87, 83.00, 83.61, 83.15, 82.84, 83.99, 84.55, 84.36, 85.53, 86.54, 86.89, 87.77, 87.29}
	vol := []float64{5653100, 6447400, 7690900, 3831400, 4455100, 3798000, 3936200, 4732000, 4841300, 3915300, 6830800, 6694100, 5293600, 7985800, 4807900}
	bars := make([]marketdata.Bar, len(closes))
	for i := range bars {
		bars[i] = marketdata.Bar{Time: time.Unix(int64(i)*86400, 0).UTC(), Open: closes[i], High: high[i], Low: low[i], Close: closes[i], Volume: vol[i]}
	}
	return bars
}

// TestOBVAgainstTulip checks OBV against Tulip Indicators' published vector.
// Tulip starts the line at 0 and TA-Lib (this package) at the first bar's
// volume, so the published values are shifted by volume[0].
func TestOBVAgainstTulip(t *testing.T) {
	want := []float64{0, -6447400, 1243500, 5074900, 9530000, 5732000, 1795800, 6527800, 11369100, 7453800, 14284600, 20978700, 26272300, 34258100, 29450200}
	bars := tulipBars()
	out, err := Compute(Spec{Type: "OBV"}, bars)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got := out["value"][i] - bars[0].Volume; got != w {
			t.Errorf("OBV[%d] - volume[0] = %v, want %v", i, got, w)
		}
	}
}

// TestTulipVectors checks a few more indicators against Tulip Indicators'
// published 3-decimal vectors (tests/untest.txt), which start at the first
// valid bar.
func TestTulipVectors(t *testing.T) {
	bars := tulipBars()
	cases := []struct {
		spec   Spec
		output string
		first  int
		want   []float64
	}{
		{Spec{Type: "SMA", Params: p("period", 5)}, "value", 4, []float64{82.426, 82.738, 83.094, 83.318, 83.628, 83.778, 84.254, 84.994, 85.574, 86.218, 86.804}},
		{Spec{Type: "WMA", Params: p("period", 5)}, "value", 4, []float64{82.825, 83.066, 83.100, 83.399, 83.809, 84.053, 84.637, 85.399, 86.031, 86.763, 87.121}},
		{Spec{Type: "RSI", Params: p("period", 5)}, "value", 5, []float64{72.034, 64.927, 75.936, 79.796, 74.713, 83.033, 87.478, 88.755, 91.483, 78.498}},
		{Spec{Type: "MOM", Params: p("period", 5)}, "value", 5, []float64{1.560, 1.780, 1.120, 1.550, 0.750, 2.380, 3.700, 2.900, 3.220, 2.930}},
		{Spec{Type: "WILLR", Params: p("period", 5)}, "value", 4, []float64{-7.477, -23.006, -40.927, -15.500, -11.417, -23.704, -10.278, -0.935, -3.051, -5.793, -17.884}},
		{Spec{Type: "BBANDS", Params: p("period", 5, "dev_up", 2, "dev_down", 2)}, "lower", 4, []float64{80.530, 80.987, 82.533, 82.472, 82.418, 82.435, 82.511, 83.143, 83.536, 83.870, 85.289}},
		{Spec{Type: "BBANDS", Params: p("period", 5, "dev_up", 2, "dev_down", 2)}, "upper", 4, []float64{84.322, 84.489, 83.655, 84.164, 84.838, 85.121, 85.997, 86.845, 87.612, 88.566, 88.319}},
		{Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "k", 8, []float64{77.385, 83.126, 84.867, 88.361, 95.246, 96.740, 91.091}},
		{Spec{Type: "STOCH", Params: p("fastk_period", 5, "slowk_period", 3, "slowd_period", 3)}, "d", 8, []float64{75.702, 78.011, 81.793, 85.452, 89.491, 93.449, 94.359}},
		{Spec{Type: "MFI", Params: p("period", 5)}, "value", 5, []float64{61.172, 67.308, 62.796, 64.661, 45.238, 67.841, 85.578, 85.963, 87.504, 84.647}},
	}
	for _, c := range cases {
		out, err := Compute(c.spec, bars)
		if err != nil {
			t.Fatalf("%s: %v", c.spec.Key(), err)
		}
		v := out[c.output]
		if !math.IsNaN(v[c.first-1]) {
			t.Errorf("%s %s[%d] = %v, want NaN", c.spec.Key(), c.output, c.first-1, v[c.first-1])
		}
		for i, w := range c.want {
			if got := v[c.first+i]; math.Abs(got-w) > 0.0005+1e-9 {
				t.Errorf("%s %s[%d] = %.5f, want %.3f", c.spec.Key(), c.output, c.first+i, got, w)
			}
		}
	}
}

// TestRSIStockChartsExample checks RSI(14) on the 33 closes of StockCharts'
// ChartSchool RSI worked example. The ChartSchool table rounds its averages
// to two decimals at each step (its first value is 70.53); the values below
// are the same recurrence computed without intermediate rounding, as
// published in other libraries' tests, to two decimals.
func TestRSIStockChartsExample(t *testing.T) {
	closes := []float64{44.34, 44.09, 44.15, 43.61, 44.33, 44.83, 45.10, 45.42, 45.84, 46.08, 45.89, 46.03, 45.61, 46.28, 46.28,
		46.00, 46.03, 46.41, 46.22, 45.64, 46.21, 46.25, 45.71, 46.45, 45.78, 45.35, 44.03, 44.18, 44.22, 44.57, 43.42, 42.66, 43.13}
	want := []float64{70.46, 66.25, 66.48, 69.35, 66.29, 57.92, 62.88, 63.21, 56.01, 62.34, 54.67, 50.39, 40.02, 41.49, 41.90,
		45.50, 37.32, 33.09, 37.79}
	bars := make([]marketdata.Bar, len(closes))
	for i, c := range closes {
		bars[i] = marketdata.Bar{Time: time.Unix(int64(i)*86400, 0).UTC(), Open: c, High: c, Low: c, Close: c, Volume: 1}
	}
	out, err := Compute(Spec{Type: "RSI", Params: p("period", 14)}, bars)
	if err != nil {
		t.Fatal(err)
	}
	for i, w := range want {
		if got := out["value"][14+i]; math.Abs(got-w) > 0.005+1e-9 {
			t.Errorf("RSI[%d] = %.4f, want %.2f", 14+i, got, w)
		}
	}
	if got := out["value"][14]; math.Abs(got-70.53) > 0.1 {
		t.Errorf("RSI[14] = %.4f, want within 0.1 of ChartSchool's rounded 70.53", got)
	}
}
