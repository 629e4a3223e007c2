package indicators

import (
	"math"
	"math/rand"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// walkBars returns n hourly bars of a seeded geometric random walk.
func walkBars(n int, seed int64) []marketdata.Bar {
	r := rand.New(rand.NewSource(seed))
	bars := make([]marketdata.Bar, n)
	t0 := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	price := 100.0
	for i := range bars {
		o := price
		c := o * math.Exp(r.NormFloat64()*0.02)
		h := math.Max(o, c) * (1 + r.Float64()*0.01)
		l := math.Min(o, c) * (1 - r.Float64()*0.01)
		bars[i] = marketdata.Bar{Time: t0.Add(time.Duration(i) * time.Hour), Open: o, High: h, Low: l, Close: c, Volume: 1000 + r.Float64()*1000}
		price = c
	}
	return bars
}

var canonicalTypes = []string{"ADX", "ATR", "BBANDS", "CCI", "DEMA", "EMA", "MACD", "MFI", "MINUS_DI", "MOM", "NATR", "OBV",
	"PLUS_DI", "ROC", "RSI", "SAR", "SMA", "STOCH", "STOCHRSI", "SUPERTREND", "TEMA", "VWAP", "WILLR", "WMA"}

func TestKnown(t *testing.T) {
	got := Known()
	want := append(append([]string(nil), canonicalTypes...), "BOLLINGER")
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Known() = %v, want %v", got, want)
	}
}

func TestOutputs(t *testing.T) {
	cases := map[string][]string{
		"MACD": {"macd", "signal", "hist"}, "bbands": {"upper", "middle", "lower"}, "Bollinger": {"upper", "middle", "lower"},
		"STOCH": {"k", "d"}, "STOCHRSI": {"k", "d"}, "ADX": {"adx", "plus_di", "minus_di"},
		"SUPERTREND": {"supertrend", "direction"}, "RSI": {"value"}, "VWAP": {"value"}, "PLUS_DI": {"value"},
	}
	for typ, want := range cases {
		got, err := Outputs(typ)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Outputs(%q) = %v, %v; want %v", typ, got, err, want)
		}
	}
	got, _ := Outputs("MACD")
	got[0] = "changed"
	if again, _ := Outputs("MACD"); again[0] != "macd" {
		t.Errorf("Outputs returned shared slice: modifying it changed the registry")
	}
	if _, err := Outputs("RSX"); err == nil || !strings.Contains(err.Error(), `unknown indicator "RSX" (known: ADX, ATR, BBANDS`) {
		t.Errorf("Outputs(RSX) error = %v", err)
	}
}

func TestNormalizeFillsDefaultsAndKeysMatch(t *testing.T) {
	equivalent := [][]Spec{
		{
			{Type: "rsi"},
			{Type: "RSI", Params: map[string]float64{"period": 14}, Source: "close"},
			{Type: " Rsi ", Params: map[string]float64{"PERIOD": 14}, Source: " Close"},
		},
		{
			{Type: "BBANDS"},
			{Type: "bollinger", Params: map[string]float64{"period": 20, "std_dev": 2}},
			{Type: "BBANDS", Params: map[string]float64{"dev_up": 2, "dev_down": 2}, Source: "close"},
		},
		{
			{Type: "MACD"},
			{Type: "macd", Params: map[string]float64{"fast": 12, "slow": 26, "signal": 9}},
		},
		{
			{Type: "STOCHRSI"},
			{Type: "StochRSI", Params: map[string]float64{"period": 14, "fastk_period": 14, "slowk_period": 3, "slowd_period": 3}},
		},
		{
			{Type: "SUPERTREND"},
			{Type: "supertrend", Params: map[string]float64{"period": 10, "multiplier": 3}},
		},
	}
	for _, group := range equivalent {
		first := group[0].Key()
		for _, s := range group[1:] {
			if k := s.Key(); k != first {
				t.Errorf("Key(%+v) = %q, want %q", s, k, first)
			}
		}
	}
	n, err := Normalize(Spec{Type: "bollinger", Params: map[string]float64{"std_dev": 2.5}})
	if err != nil {
		t.Fatal(err)
	}
	want := Spec{Type: "BBANDS", Params: map[string]float64{"period": 20, "dev_up": 2.5, "dev_down": 2.5}, Source: "close"}
	if !reflect.DeepEqual(n, want) {
		t.Errorf("Normalize(bollinger std_dev 2.5) = %+v, want %+v", n, want)
	}
	if k := (Spec{Type: "RSI"}).Key(); k != "RSI(period=14,source=close)" {
		t.Errorf("RSI key = %q", k)
	}
	if k := (Spec{Type: "OBV"}).Key(); k != "OBV()" {
		t.Errorf("OBV key = %q", k)
	}
	if (Spec{Type: "RSI", Params: map[string]float64{"period": 14}}).Key() == (Spec{Type: "RSI", Params: map[string]float64{"period": 21}}).Key() {
		t.Error("RSI 14 and RSI 21 have the same key")
	}
	if (Spec{Type: "EMA", Source: "hl2"}).Key() == (Spec{Type: "EMA"}).Key() {
		t.Error("EMA on hl2 and on close have the same key")
	}
}

func TestNormalizeDoesNotModifyInput(t *testing.T) {
	params := map[string]float64{"STD_DEV": 3}
	if _, err := Normalize(Spec{Type: "BOLLINGER", Params: params}); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(params, map[string]float64{"STD_DEV": 3}) {
		t.Errorf("Normalize modified the caller's params: %v", params)
	}
}

func TestValidateErrors(t *testing.T) {
	cases := []struct {
		spec Spec
		want string
	}{
		{Spec{Type: "RSX"}, `unknown indicator "RSX" (known: ADX, ATR, BBANDS, BOLLINGER, CCI,`},
		{Spec{Type: ""}, `unknown indicator ""`},
		{Spec{Type: "RSI", Params: map[string]float64{"lenght": 14}}, `RSI: unknown param "lenght" (known: period)`},
		{Spec{Type: "OBV", Params: map[string]float64{"period": 14}}, `OBV: unknown param "period" (known: none)`},
		{Spec{Type: "SMA", Params: map[string]float64{"period": -3}}, "SMA: period: -3 must be >= 1"},
		{Spec{Type: "SMA", Params: map[string]float64{"period": 0}}, "SMA: period: 0 must be >= 1"},
		{Spec{Type: "RSI", Params: map[string]float64{"period": 1}}, "RSI: period: 1 must be >= 2"},
		{Spec{Type: "EMA", Params: map[string]float64{"period": 14.5}}, "EMA: period: 14.5 must be a whole number"},
		{Spec{Type: "EMA", Params: map[string]float64{"period": math.NaN()}}, "EMA: period: NaN must be a finite number"},
		{Spec{Type: "EMA", Params: map[string]float64{"period": 1e6}}, "EMA: period: 1e+06 must be <= 100000"},
		{Spec{Type: "MACD", Params: map[string]float64{"fast": 26, "slow": 12}}, "MACD: fast: 26 must be < slow (12)"},
		{Spec{Type: "BBANDS", Params: map[string]float64{"dev_up": 0}}, "BBANDS: dev_up: 0 must be > 0"},
		{Spec{Type: "BBANDS", Params: map[string]float64{"std_dev": 2, "dev_up": 2}}, "BBANDS: std_dev cannot be combined with dev_up"},
		{Spec{Type: "SAR", Params: map[string]float64{"acceleration": 0.3}}, "SAR: acceleration: 0.3 must be <= maximum (0.2)"},
		{Spec{Type: "SUPERTREND", Params: map[string]float64{"multiplier": -1}}, "SUPERTREND: multiplier: -1 must be > 0"},
		{Spec{Type: "RSI", Params: map[string]float64{"period": 14, "Period": 14}}, `RSI: param "period" given twice`},
		{Spec{Type: "RSI", Source: "hlc"}, `RSI: source: "hlc" is unknown (known: open, high, low, close, volume, hl2, hlc3, ohlc4)`},
		{Spec{Type: "ATR", Source: "close"}, `ATR: source: "close" is not supported`},
	}
	for _, c := range cases {
		err := Validate(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%+v) = %v, want error containing %q", c.spec, err, c.want)
		}
		if _, cerr := Compute(c.spec, walkBars(50, 1)); cerr == nil {
			t.Errorf("Compute(%+v) succeeded, want the validation error", c.spec)
		}
		if lb := Lookback(c.spec); lb != 0 {
			t.Errorf("Lookback(%+v) = %d, want 0 for an invalid spec", c.spec, lb)
		}
	}
	for _, typ := range Known() {
		if err := Validate(Spec{Type: typ}); err != nil {
			t.Errorf("Validate(%s with defaults) = %v", typ, err)
		}
	}
}

// TestShortInputs runs every indicator on every length from 0 to a few bars
// past its TA-Lib lookback: no error, no panic, outputs aligned with the
// input, NaN up to the lookback and a value right after it.
func TestShortInputs(t *testing.T) {
	small := map[string]map[string]float64{
		"SMA": {"period": 4}, "EMA": {"period": 4}, "WMA": {"period": 4}, "DEMA": {"period": 4}, "TEMA": {"period": 4},
		"RSI": {"period": 4}, "MACD": {"fast": 3, "slow": 5, "signal": 3}, "BBANDS": {"period": 4}, "ATR": {"period": 4},
		"NATR": {"period": 4}, "ADX": {"period": 4}, "PLUS_DI": {"period": 4}, "MINUS_DI": {"period": 4}, "CCI": {"period": 4},
		"MFI": {"period": 4}, "ROC": {"period": 4}, "MOM": {"period": 4}, "WILLR": {"period": 4},
		"STOCH":    {"fastk_period": 4, "slowk_period": 2, "slowd_period": 2},
		"STOCHRSI": {"period": 4, "fastk_period": 4, "slowk_period": 2, "slowd_period": 2}, "SUPERTREND": {"period": 4},
	}
	daily := walkBars(40, 7)
	for i := range daily {
		daily[i].Time = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i)
	}
	for _, typ := range canonicalTypes {
		for _, params := range []map[string]float64{small[typ], nil, {"period": 1}} {
			s := Spec{Type: typ, Params: params}
			if Validate(s) != nil {
				continue // e.g. period 1 where the minimum is 2
			}
			n, _ := Normalize(s)
			d := registry[n.Type]
			lb := d.lookback(paramSet(n.Params))
			first := d.outputs[0]
			for length := 0; length <= lb+3 && length <= len(daily); length++ {
				out, err := Compute(s, daily[:length])
				if err != nil {
					t.Fatalf("%s on %d bars: %v", n.Key(), length, err)
				}
				for name, v := range out {
					if len(v) != length {
						t.Fatalf("%s on %d bars: output %s has %d values", n.Key(), length, name, len(v))
					}
				}
				for i := 0; i < length && i < lb; i++ {
					if !math.IsNaN(out[first][i]) {
						t.Errorf("%s on %d bars: %s[%d] = %v, want NaN before lookback %d", n.Key(), length, first, i, out[first][i], lb)
					}
				}
				if length > lb && math.IsNaN(out[first][lb]) {
					t.Errorf("%s on %d bars: %s[%d] is NaN, want a value at the lookback", n.Key(), length, first, lb)
				}
			}
		}
	}
}

func TestSources(t *testing.T) {
	bars := walkBars(30, 3)
	for src, f := range sources {
		out, err := Compute(Spec{Type: "SMA", Params: map[string]float64{"period": 3}, Source: strings.ToUpper(src)}, bars)
		if err != nil {
			t.Fatalf("source %s: %v", src, err)
		}
		want := (f(&bars[27]) + f(&bars[28]) + f(&bars[29])) / 3
		if got := out["value"][29]; math.Abs(got-want) > 1e-9*math.Abs(want) {
			t.Errorf("SMA(3) on %s = %v, want %v", src, got, want)
		}
	}
	closeOut, _ := Compute(Spec{Type: "RSI"}, bars)
	hl2Out, _ := Compute(Spec{Type: "RSI", Source: "hl2"}, bars)
	if closeOut["value"][29] == hl2Out["value"][29] {
		t.Error("RSI on hl2 equals RSI on close; source ignored")
	}
}

func TestComputeRejectsNonFiniteBars(t *testing.T) {
	bars := walkBars(30, 4)
	bars[3].Close = math.NaN()
	_, err := Compute(Spec{Type: "SMA"}, bars)
	if err == nil || !strings.Contains(err.Error(), "bar 3") || !strings.Contains(err.Error(), "close is NaN") {
		t.Errorf("Compute with NaN close: err = %v, want one naming bar 3 and close", err)
	}
	bars = walkBars(30, 4)
	bars[7].Volume = math.Inf(1)
	if _, err := Compute(Spec{Type: "OBV"}, bars); err == nil || !strings.Contains(err.Error(), "volume is +Inf") {
		t.Errorf("Compute with infinite volume: err = %v", err)
	}
}

func TestComputeRecoversPanics(t *testing.T) {
	registry["TEST_PANIC"] = &definition{
		name: "TEST_PANIC", outputs: []string{"value"},
		lookback: func(paramSet) int { return 0 },
		compute: func(*input, paramSet, map[string][]float64) error {
			var s []float64
			_ = s[5] // index out of range, as go-talib does on short input
			return nil
		},
	}
	defer delete(registry, "TEST_PANIC")
	out, err := Compute(Spec{Type: "test_panic"}, walkBars(3, 1))
	if err == nil || out != nil || !strings.Contains(err.Error(), "internal error") || !strings.Contains(err.Error(), "index out of range") {
		t.Errorf("Compute of a panicking indicator = %v, %v; want nil and an internal error", out, err)
	}
}

// referenceMFI is a direct transcription of the money flow index formula.
func referenceMFI(bars []marketdata.Bar, n, i int) float64 {
	pos, neg := 0.0, 0.0
	for j := i - n + 1; j <= i; j++ {
		tp := (bars[j].High + bars[j].Low + bars[j].Close) / 3
		prev := (bars[j-1].High + bars[j-1].Low + bars[j-1].Close) / 3
		switch {
		case tp > prev:
			pos += tp * bars[j].Volume
		case tp < prev:
			neg += tp * bars[j].Volume
		}
	}
	if pos+neg < 1 {
		return 0
	}
	return 100 * pos / (pos + neg)
}

// TestMFIWithZeroVolumeStart covers the go-talib shift when the first
// window has no money flow: every value must stay on its own bar.
func TestMFIWithZeroVolumeStart(t *testing.T) {
	bars := walkBars(60, 5)
	for i := 0; i < 20; i++ {
		bars[i].Volume = 0
	}
	out, err := Compute(Spec{Type: "MFI", Params: map[string]float64{"period": 14}}, bars)
	if err != nil {
		t.Fatal(err)
	}
	for i := 14; i < len(bars); i++ {
		if want := referenceMFI(bars, 14, i); math.Abs(out["value"][i]-want) > 1e-9 {
			t.Errorf("MFI[%d] = %v, want %v", i, out["value"][i], want)
		}
	}
	bars = walkBars(60, 6)
	out, _ = Compute(Spec{Type: "MFI", Params: map[string]float64{"period": 14}}, bars)
	for i := 14; i < len(bars); i++ {
		if want := referenceMFI(bars, 14, i); math.Abs(out["value"][i]-want) > 1e-9 {
			t.Errorf("MFI[%d] = %v, want %v (normal volume)", i, out["value"][i], want)
		}
	}
}

func TestLookback(t *testing.T) {
	cases := []struct {
		spec Spec
		want int
	}{
		{Spec{Type: "SMA"}, 19},
		{Spec{Type: "BBANDS"}, 19},
		{Spec{Type: "RSI"}, 14 + 125},
		{Spec{Type: "ATR"}, 14 + 125},
		{Spec{Type: "MACD"}, 33 + 120 + 42},
		{Spec{Type: "ADX"}, 27 + 160},
		{Spec{Type: "STOCH"}, 17},
		{Spec{Type: "MFI"}, 14},
		{Spec{Type: "OBV"}, 0},
		{Spec{Type: "VWAP"}, 0},
		{Spec{Type: "SAR"}, 1 + sarUnstable},
	}
	for _, c := range cases {
		if got := Lookback(c.spec); got != c.want {
			t.Errorf("Lookback(%s) = %d, want %d", c.spec.Key(), got, c.want)
		}
	}
	if got := LookbackFor(Spec{Type: "VWAP"}, "1h"); got != 24 {
		t.Errorf("LookbackFor(VWAP, 1h) = %d, want 24", got)
	}
	if got := LookbackFor(Spec{Type: "VWAP"}, "5m"); got != 288 {
		t.Errorf("LookbackFor(VWAP, 5m) = %d, want 288", got)
	}
	if got := LookbackFor(Spec{Type: "VWAP"}, "1d"); got != 0 {
		t.Errorf("LookbackFor(VWAP, 1d) = %d, want 0", got)
	}
	if got := LookbackFor(Spec{Type: "RSI"}, "1h"); got != Lookback(Spec{Type: "RSI"}) {
		t.Errorf("LookbackFor(RSI, 1h) = %d, want Lookback", got)
	}
}

func TestUnstableBars(t *testing.T) {
	for _, n := range []int{2, 9, 14, 26, 200} {
		for _, a := range []float64{emaFactor(n), wilderFactor(n)} {
			m := unstableBars(a, 1)
			if !(math.Pow(1-a, float64(m)) < seedWeight && math.Pow(1-a, float64(m-1)) >= seedWeight) {
				t.Errorf("unstableBars(%v, 1) = %d: (1-a)^m = %v, (1-a)^(m-1) = %v", a, m, math.Pow(1-a, float64(m)), math.Pow(1-a, float64(m-1)))
			}
			if m2, m3 := unstableBars(a, 2), unstableBars(a, 3); !(m < m2 && m2 < m3) {
				t.Errorf("unstableBars(%v, 1..3) = %d, %d, %d; want increasing", a, m, m2, m3)
			}
		}
	}
	// Two stages: (1-a)^m + m a (1-a)^(m-1) < 1e-4 at m, not at m-1.
	a := wilderFactor(14)
	two := func(m int) float64 {
		return math.Pow(1-a, float64(m)) + float64(m)*a*math.Pow(1-a, float64(m-1))
	}
	if m := unstableBars(a, 2); !(two(m) < seedWeight && two(m-1) >= seedWeight) {
		t.Errorf("unstableBars(1/14, 2) = %d: tail %v, previous %v", m, two(m), two(m-1))
	}
	if unstableBars(1, 1) != 0 {
		t.Error("unstableBars(1, 1) != 0: a period-1 average has no memory")
	}
}

// TestConvergenceWithinLookback checks the unstable-period allowance: the last
// value computed on only Lookback(s)+1 bars agrees with the value computed on
// a long history (relative difference below 1e-3). OBV is excluded: its
// level depends on the start of the series by definition.
func TestConvergenceWithinLookback(t *testing.T) {
	series := make([][]marketdata.Bar, 6)
	for i := range series {
		series[i] = walkBars(2500, int64(100+i))
	}
	for _, typ := range canonicalTypes {
		if typ == "OBV" {
			continue
		}
		s := Spec{Type: typ}
		lb := LookbackFor(s, "1h")
		for _, bars := range series {
			full, err := Compute(s, bars)
			if err != nil {
				t.Fatal(err)
			}
			tail, err := Compute(s, bars[len(bars)-lb-1:])
			if err != nil {
				t.Fatal(err)
			}
			for name, f := range full {
				a, b := f[len(f)-1], tail[name][len(tail[name])-1]
				if math.IsNaN(a) || math.IsNaN(b) || math.Abs(a-b) > 1e-3*math.Max(1, math.Abs(a)) {
					t.Errorf("%s %s: last value %v on %d bars, %v on %d bars", s.Key(), name, a, len(bars), b, lb+1)
				}
			}
		}
	}
}

// TestCompositeDefinitions checks indicators defined on top of others
// against their definitions: DEMA = 2·EMA − EMA(EMA), TEMA = 3·EMA −
// 3·EMA(EMA) + EMA(EMA(EMA)) (each EMA seeded with an SMA on its first full
// window), and the TradingView-style STOCHRSI k = SMA(slowk) of the raw
// stochastic of RSI, d = SMA(slowd) of k.
func TestCompositeDefinitions(t *testing.T) {
	bars := walkBars(200, 9)
	closes := make([]float64, len(bars))
	for i := range bars {
		closes[i] = bars[i].Close
	}
	const n = 7
	ema := func(x []float64, from int) []float64 { // EMA of x[from:], aligned with x
		out := nanSlice(len(x))
		k := 2.0 / (n + 1)
		sum := 0.0
		for i := from; i < from+n; i++ {
			sum += x[i]
		}
		out[from+n-1] = sum / n
		for i := from + n; i < len(x); i++ {
			out[i] = out[i-1] + k*(x[i]-out[i-1])
		}
		return out
	}
	e1 := ema(closes, 0)
	e2 := ema(e1, n-1)
	e3 := ema(e2, 2*(n-1))
	dema, _ := Compute(Spec{Type: "DEMA", Params: map[string]float64{"period": n}}, bars)
	tema, _ := Compute(Spec{Type: "TEMA", Params: map[string]float64{"period": n}}, bars)
	for i := 3 * (n - 1); i < len(bars); i++ {
		if want := 2*e1[i] - e2[i]; math.Abs(dema["value"][i]-want) > 1e-9 {
			t.Errorf("DEMA[%d] = %v, want %v", i, dema["value"][i], want)
		}
		if want := 3*e1[i] - 3*e2[i] + e3[i]; math.Abs(tema["value"][i]-want) > 1e-9 {
			t.Errorf("TEMA[%d] = %v, want %v", i, tema["value"][i], want)
		}
	}

	raw, _ := Compute(Spec{Type: "STOCHRSI", Params: map[string]float64{"slowk_period": 1, "slowd_period": 1}}, bars)
	tv, _ := Compute(Spec{Type: "STOCHRSI"}, bars) // 14, 14, 3, 3
	first := 14 + 13 + 2 + 2
	if !math.IsNaN(tv["d"][first-1]) || math.IsNaN(tv["d"][first]) {
		t.Errorf("STOCHRSI d first value not at bar %d", first)
	}
	for i := first; i < len(bars); i++ {
		k := (raw["k"][i] + raw["k"][i-1] + raw["k"][i-2]) / 3
		if math.Abs(tv["k"][i]-k) > 1e-9 {
			t.Errorf("STOCHRSI k[%d] = %v, want SMA3 of raw k = %v", i, tv["k"][i], k)
		}
		d := (tv["k"][i] + tv["k"][i-1] + tv["k"][i-2]) / 3
		if math.Abs(tv["d"][i]-d) > 1e-9 {
			t.Errorf("STOCHRSI d[%d] = %v, want SMA3 of k = %v", i, tv["d"][i], d)
		}
	}
}

// TestFrameworkDefaults: a param the configuration leaves out gets the
// framework's default wherever the framework has the indicator — its alert
// evaluator (src/common/alerts/alert_evaluator.py: SMA/EMA period 20, RSI 14,
// BOLLINGER period 20, std_dev 2.0), its bbands_signal plugin and the Telegram
// bot's indicator guide (json_generator.html: MACD 12/26/9, ADX, ATR, MFI,
// Williams %R 14, Stochastic K 14 / D 3, CCI 20, ROC 10).
func TestFrameworkDefaults(t *testing.T) {
	cases := []struct {
		typ  string
		want map[string]float64
	}{
		{"SMA", map[string]float64{"period": 20}},
		{"EMA", map[string]float64{"period": 20}},
		{"RSI", map[string]float64{"period": 14}},
		{"BOLLINGER", map[string]float64{"period": 20, "dev_up": 2, "dev_down": 2}},
		{"MACD", map[string]float64{"fast": 12, "slow": 26, "signal": 9}},
		{"ADX", map[string]float64{"period": 14}},
		{"ATR", map[string]float64{"period": 14}},
		{"MFI", map[string]float64{"period": 14}},
		{"WILLR", map[string]float64{"period": 14}},
		{"STOCH", map[string]float64{"fastk_period": 14, "slowd_period": 3}},
		{"CCI", map[string]float64{"period": 20}},
		{"ROC", map[string]float64{"period": 10}},
	}
	for _, c := range cases {
		n, err := Normalize(Spec{Type: c.typ})
		if err != nil {
			t.Fatalf("%s: %v", c.typ, err)
		}
		for k, v := range c.want {
			if n.Params[k] != v {
				t.Errorf("%s without %s: %s = %v, the framework's default is %v", c.typ, k, k, n.Params[k], v)
			}
		}
	}
}
