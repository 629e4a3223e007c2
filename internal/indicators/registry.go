package indicators

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

const (
	// maxPeriod is TA-Lib's upper bound for every period parameter.
	maxPeriod = 100000
	// seedWeight is the weight of the seed below which an indicator with
	// memory counts as converged (see the package documentation).
	seedWeight = 1e-4
	// sarUnstable is the fixed unstable-period allowance of SAR.
	sarUnstable = 100
	dayDuration = 24 * time.Hour
)

// paramDef describes one numeric parameter of an indicator.
type paramDef struct {
	name    string
	def     float64
	min     float64
	max     float64
	integer bool
	// exclusiveMin makes min itself invalid (value must be > min).
	exclusiveMin bool
}

// check validates v against the definition; the error names the param and
// the value.
func (p paramDef) check(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Errorf("%s: %v must be a finite number", p.name, v)
	}
	if p.integer && v != math.Trunc(v) {
		return fmt.Errorf("%s: %v must be a whole number", p.name, v)
	}
	if p.exclusiveMin && v <= p.min {
		return fmt.Errorf("%s: %v must be > %v", p.name, v, p.min)
	}
	if v < p.min {
		return fmt.Errorf("%s: %v must be >= %v", p.name, v, p.min)
	}
	if v > p.max {
		return fmt.Errorf("%s: %v must be <= %v", p.name, v, p.max)
	}
	return nil
}

func period(name string, def, min float64) paramDef {
	return paramDef{name: name, def: def, min: min, max: maxPeriod, integer: true}
}

func positive(name string, def float64) paramDef {
	return paramDef{name: name, def: def, min: 0, max: math.MaxFloat64, exclusiveMin: true}
}

// paramSet is a normalized parameter map.
type paramSet map[string]float64

func (p paramSet) int(name string) int { return int(p[name]) }

// definition describes one indicator type.
type definition struct {
	name    string
	outputs []string
	params  []paramDef
	// source reports whether Spec.Source applies.
	source bool
	// check validates relations between params (after defaults).
	check func(p paramSet) error
	// lookback is TA-Lib's lookback: the index of the first valid value.
	lookback func(p paramSet) int
	// unstable is the unstable-period allowance added by Lookback.
	unstable func(p paramSet) int
	// compute fills out (pre-filled with NaN, one slice per output).
	compute func(in *input, p paramSet, out map[string][]float64) error
}

func (d *definition) param(name string) (paramDef, bool) {
	for _, p := range d.params {
		if p.name == name {
			return p, true
		}
	}
	return paramDef{}, false
}

func (d *definition) paramNames() string {
	if len(d.params) == 0 {
		return "none"
	}
	names := make([]string, len(d.params))
	for i, p := range d.params {
		names[i] = p.name
	}
	if d.name == "BBANDS" {
		names = append(names, "std_dev")
	}
	return strings.Join(names, ", ")
}

// aliases maps alternative type names to canonical ones.
var aliases = map[string]string{"BOLLINGER": "BBANDS"}

func lookup(typ string) (*definition, error) {
	name := strings.ToUpper(strings.TrimSpace(typ))
	if canon, ok := aliases[name]; ok {
		name = canon
	}
	d, ok := registry[name]
	if !ok {
		return nil, fmt.Errorf("unknown indicator %q (known: %s)", typ, strings.Join(Known(), ", "))
	}
	return d, nil
}

// sources lists the price inputs a Spec.Source can name.
var sources = map[string]func(b *marketdata.Bar) float64{
	"open":   func(b *marketdata.Bar) float64 { return b.Open },
	"high":   func(b *marketdata.Bar) float64 { return b.High },
	"low":    func(b *marketdata.Bar) float64 { return b.Low },
	"close":  func(b *marketdata.Bar) float64 { return b.Close },
	"volume": func(b *marketdata.Bar) float64 { return b.Volume },
	"hl2":    func(b *marketdata.Bar) float64 { return (b.High + b.Low) / 2 },
	"hlc3":   func(b *marketdata.Bar) float64 { return (b.High + b.Low + b.Close) / 3 },
	"ohlc4":  func(b *marketdata.Bar) float64 { return (b.Open + b.High + b.Low + b.Close) / 4 },
}

var sourceNames = []string{"open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4"}

// input holds the columns of a bar series; src is the selected source.
type input struct {
	bars                           []marketdata.Bar
	open, high, low, close, volume []float64
	src                            []float64
}

func newInput(bars []marketdata.Bar, source string) *input {
	n := len(bars)
	in := &input{
		bars: bars,
		open: make([]float64, n), high: make([]float64, n), low: make([]float64, n),
		close: make([]float64, n), volume: make([]float64, n),
	}
	for i := range bars {
		b := &bars[i]
		in.open[i], in.high[i], in.low[i], in.close[i], in.volume[i] = b.Open, b.High, b.Low, b.Close, b.Volume
	}
	switch source {
	case "", "close":
		in.src = in.close
	case "open":
		in.src = in.open
	case "high":
		in.src = in.high
	case "low":
		in.src = in.low
	case "volume":
		in.src = in.volume
	default:
		f := sources[source]
		in.src = make([]float64, n)
		for i := range bars {
			in.src[i] = f(&bars[i])
		}
	}
	return in
}

// emaFactor and wilderFactor are the smoothing factors of an EMA and of
// Wilder's average of period n.
func emaFactor(n int) float64    { return 2 / float64(n+1) }
func wilderFactor(n int) float64 { return 1 / float64(n) }

// unstableBars returns the smallest m such that the seed of a cascade of
// `stages` smoothing stages with factor a weighs less than seedWeight after m
// bars: P(Binomial(m, a) < stages) < seedWeight.
func unstableBars(a float64, stages int) int {
	if a >= 1 || a <= 0 {
		return 0
	}
	tail := func(m int) float64 {
		// sum_{j<stages} C(m,j) a^j (1-a)^(m-j), in log space for large m.
		lq := math.Log1p(-a)
		la := math.Log(a)
		s := 0.0
		for j := 0; j < stages && j <= m; j++ {
			lc, _ := math.Lgamma(float64(m + 1))
			l1, _ := math.Lgamma(float64(j + 1))
			l2, _ := math.Lgamma(float64(m - j + 1))
			s += math.Exp(lc - l1 - l2 + float64(j)*la + float64(m-j)*lq)
		}
		return s
	}
	// One stage has a closed form; it is also a lower bound for more stages.
	lo := int(math.Ceil(math.Log(seedWeight) / math.Log1p(-a)))
	if stages <= 1 {
		return lo
	}
	hi := lo
	for tail(hi) >= seedWeight {
		hi *= 2
	}
	for lo < hi { // smallest m in [lo, hi] with tail(m) < seedWeight
		mid := (lo + hi) / 2
		if tail(mid) < seedWeight {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

func emaUnstable(name string, stages int) func(p paramSet) int {
	return func(p paramSet) int { return unstableBars(emaFactor(p.int(name)), stages) }
}

func wilderUnstable(name string, stages int) func(p paramSet) int {
	return func(p paramSet) int { return unstableBars(wilderFactor(p.int(name)), stages) }
}

// periodMinus1Times returns a lookback of k*(period-1).
func periodMinus1Times(k int) func(p paramSet) int {
	return func(p paramSet) int { return k * (p.int("period") - 1) }
}

func periodLookback(p paramSet) int { return p.int("period") }

// registry holds every indicator type by canonical name.
var registry = map[string]*definition{}

func register(d *definition) { registry[d.name] = d }

func init() {
	value := []string{"value"}
	for _, ma := range []struct {
		name   string
		def    float64 // the framework's default (SMA, EMA), else TradingView's
		stages int
		k      int
		fn     func(x []float64, n int) []float64
	}{
		{"SMA", 20, 0, 1, taSMA}, {"EMA", 20, 1, 1, taEMA}, {"WMA", 9, 0, 1, taWMA},
		{"DEMA", 9, 2, 2, taDEMA}, {"TEMA", 9, 3, 3, taTEMA},
	} {
		ma := ma
		d := &definition{
			name: ma.name, outputs: value, source: true,
			params:   []paramDef{period("period", ma.def, 1)},
			lookback: periodMinus1Times(ma.k),
			compute: func(in *input, p paramSet, out map[string][]float64) error {
				return single(in.src, p.int("period"), ma.k*(p.int("period")-1), ma.fn, out["value"])
			},
		}
		if ma.stages > 0 {
			d.unstable = emaUnstable("period", ma.stages)
		}
		register(d)
	}
	register(&definition{
		name: "RSI", outputs: value, source: true,
		params:   []paramDef{period("period", 14, 2)},
		lookback: periodLookback, unstable: wilderUnstable("period", 1),
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return single(in.src, p.int("period"), p.int("period"), taRSI, out["value"])
		},
	})
	register(&definition{
		name: "MACD", outputs: []string{"macd", "signal", "hist"}, source: true,
		params: []paramDef{period("fast", 12, 1), period("slow", 26, 2), period("signal", 9, 1)},
		check: func(p paramSet) error {
			if p["fast"] >= p["slow"] {
				return fmt.Errorf("fast: %v must be < slow (%v)", p["fast"], p["slow"])
			}
			return nil
		},
		lookback: func(p paramSet) int { return p.int("slow") - 1 + p.int("signal") - 1 },
		unstable: func(p paramSet) int {
			return unstableBars(emaFactor(p.int("slow")), 1) + unstableBars(emaFactor(p.int("signal")), 1)
		},
		compute: computeMACD,
	})
	register(&definition{
		name: "BBANDS", outputs: []string{"upper", "middle", "lower"}, source: true,
		params:   []paramDef{period("period", 20, 2), positive("dev_up", 2), positive("dev_down", 2)},
		lookback: periodMinus1Times(1),
		compute:  computeBBANDS,
	})
	register(&definition{
		name: "ATR", outputs: value, params: []paramDef{period("period", 14, 1)},
		lookback: periodLookback, unstable: wilderUnstable("period", 1),
		compute: computeATR,
	})
	register(&definition{
		name: "NATR", outputs: value, params: []paramDef{period("period", 14, 1)},
		lookback: periodLookback, unstable: wilderUnstable("period", 1),
		compute: computeNATR,
	})
	register(&definition{
		name: "ADX", outputs: []string{"adx", "plus_di", "minus_di"},
		params:   []paramDef{period("period", 14, 2)},
		lookback: func(p paramSet) int { return 2*p.int("period") - 1 },
		unstable: wilderUnstable("period", 2),
		compute:  computeADX,
	})
	register(&definition{
		name: "PLUS_DI", outputs: value, params: []paramDef{period("period", 14, 1)},
		lookback: periodLookback, unstable: wilderUnstable("period", 1),
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return hlc(in, p.int("period"), p.int("period"), taPlusDI, out["value"])
		},
	})
	register(&definition{
		name: "MINUS_DI", outputs: value, params: []paramDef{period("period", 14, 1)},
		lookback: periodLookback, unstable: wilderUnstable("period", 1),
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return hlc(in, p.int("period"), p.int("period"), taMinusDI, out["value"])
		},
	})
	register(&definition{
		name: "CCI", outputs: value, params: []paramDef{period("period", 20, 2)},
		lookback: periodMinus1Times(1),
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return hlc(in, p.int("period"), p.int("period")-1, taCCI, out["value"])
		},
	})
	register(&definition{
		name: "MFI", outputs: value, params: []paramDef{period("period", 14, 2)},
		lookback: periodLookback,
		compute:  computeMFI,
	})
	register(&definition{
		name: "OBV", outputs: value,
		lookback: func(paramSet) int { return 0 },
		compute:  computeOBV,
	})
	register(&definition{
		name: "ROC", outputs: value, source: true, params: []paramDef{period("period", 10, 1)},
		lookback: periodLookback,
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return single(in.src, p.int("period"), p.int("period"), taROC, out["value"])
		},
	})
	register(&definition{
		name: "MOM", outputs: value, source: true, params: []paramDef{period("period", 10, 1)},
		lookback: periodLookback,
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return single(in.src, p.int("period"), p.int("period"), taMOM, out["value"])
		},
	})
	register(&definition{
		name: "WILLR", outputs: value, params: []paramDef{period("period", 14, 2)},
		lookback: periodMinus1Times(1),
		compute: func(in *input, p paramSet, out map[string][]float64) error {
			return hlc(in, p.int("period"), p.int("period")-1, taWILLR, out["value"])
		},
	})
	register(&definition{
		name: "SAR", outputs: value,
		params: []paramDef{
			{name: "acceleration", def: 0.02, min: 0, max: 1, exclusiveMin: true},
			{name: "maximum", def: 0.2, min: 0, max: 1, exclusiveMin: true},
		},
		check: func(p paramSet) error {
			if p["acceleration"] > p["maximum"] {
				return fmt.Errorf("acceleration: %v must be <= maximum (%v)", p["acceleration"], p["maximum"])
			}
			return nil
		},
		lookback: func(paramSet) int { return 1 },
		unstable: func(paramSet) int { return sarUnstable },
		compute:  computeSAR,
	})
	register(&definition{
		name: "STOCH", outputs: []string{"k", "d"},
		params: []paramDef{period("fastk_period", 14, 1), period("slowk_period", 3, 1), period("slowd_period", 3, 1)},
		lookback: func(p paramSet) int {
			return p.int("fastk_period") + p.int("slowk_period") + p.int("slowd_period") - 3
		},
		compute: computeSTOCH,
	})
	register(&definition{
		name: "STOCHRSI", outputs: []string{"k", "d"}, source: true,
		params: []paramDef{period("period", 14, 2), period("fastk_period", 14, 1), period("slowk_period", 3, 1), period("slowd_period", 3, 1)},
		lookback: func(p paramSet) int {
			return p.int("period") + p.int("fastk_period") + p.int("slowk_period") + p.int("slowd_period") - 3
		},
		unstable: wilderUnstable("period", 1),
		compute:  computeSTOCHRSI,
	})
	register(&definition{
		name: "VWAP", outputs: value,
		lookback: func(paramSet) int { return 0 },
		compute:  computeVWAP,
	})
	register(&definition{
		name: "SUPERTREND", outputs: []string{"supertrend", "direction"},
		params:   []paramDef{period("period", 10, 1), positive("multiplier", 3)},
		lookback: periodMinus1Times(1), unstable: wilderUnstable("period", 1),
		compute: computeSUPERTREND,
	})
}
