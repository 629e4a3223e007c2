package alerts

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// evalCtx is the bar series and the indicator lines one evaluation reads.
type evalCtx struct {
	bars  []marketdata.Bar
	lines [][]float64 // indexed by indicator reference (parser.refs)
}

// operand yields one number per bar index; NaN means "no value" (warm-up,
// index before the series, division by zero).
type operand interface {
	// at returns the value at bar index i.
	at(c *evalCtx, i int) float64
	// label is the human form used in descriptions: RSI(14), close[1], 30.
	label() string
	// key is the name under which the value is reported: rsi_14, close, value.
	key() string
	// constant reports the value of a constant operand.
	constant() (float64, bool)
	// need is the number of bars needed for a value at the last index.
	need() int
	// toJSON returns the canonical JSON form.
	toJSON() any
}

// valueOp is {"value": 65000}.
type valueOp struct{ v float64 }

func (o valueOp) at(*evalCtx, int) float64       { return o.v }
func (o valueOp) label() string                  { return fmtConst(o.v) }
func (o valueOp) key() string                    { return "value" }
func (o valueOp) constant() (float64, bool)      { return o.v, true }
func (o valueOp) need() int                      { return 0 }
func (o valueOp) toJSON() any                    { return map[string]any{"value": o.v} }
func (o fieldOp) constant() (float64, bool)      { return 0, false }
func (o fieldOp) need() int                      { return 1 }
func (o fieldOp) toJSON() any                    { return map[string]any{"field": o.f} }
func (o fieldOp) label() string                  { return o.f }
func (o fieldOp) key() string                    { return o.f }
func (o *indicatorOp) constant() (float64, bool) { return 0, false }

// fields are the bar fields an operand may name.
var fields = []string{"open", "high", "low", "close", "volume", "hl2", "hlc3", "ohlc4"}

// fieldOp is {"field": "close"}.
type fieldOp struct{ f string }

func (o fieldOp) at(c *evalCtx, i int) float64 {
	if i < 0 || i >= len(c.bars) {
		return math.NaN()
	}
	return barField(&c.bars[i], o.f)
}

func barField(b *marketdata.Bar, f string) float64 {
	switch f {
	case "open":
		return b.Open
	case "high":
		return b.High
	case "low":
		return b.Low
	case "close":
		return b.Close
	case "volume":
		return b.Volume
	case "hl2":
		return (b.High + b.Low) / 2
	case "hlc3":
		return (b.High + b.Low + b.Close) / 3
	case "ohlc4":
		return (b.Open + b.High + b.Low + b.Close) / 4
	}
	return math.NaN()
}

// indicatorOp is {"indicator": {...}}: one output line of one indicator.
type indicatorOp struct {
	ref     int // index into Alert.refs
	spec    indicators.Spec
	line    string
	typ     string // type as the user wrote it (upper-cased), e.g. BOLLINGER
	output  string // user's display name, may be empty
	lbl     string
	autoKey string
	lb      int
	raw     map[string]any // canonical JSON
}

func (o *indicatorOp) at(c *evalCtx, i int) float64 {
	s := c.lines[o.ref]
	if i < 0 || i >= len(s) {
		return math.NaN()
	}
	return s[i]
}
func (o *indicatorOp) label() string { return o.lbl }
func (o *indicatorOp) key() string {
	if o.output != "" {
		return o.output
	}
	return o.autoKey
}
func (o *indicatorOp) need() int   { return o.lb + 1 }
func (o *indicatorOp) toJSON() any { return map[string]any{"indicator": o.raw} }

// shiftOp is any operand with "offset": k, the value k bars earlier.
type shiftOp struct {
	op operand
	k  int
}

func (o shiftOp) at(c *evalCtx, i int) float64 { return o.op.at(c, i-o.k) }
func (o shiftOp) label() string                { return o.op.label() + "[" + strconv.Itoa(o.k) + "]" }
func (o shiftOp) key() string                  { return o.op.key() + "[" + strconv.Itoa(o.k) + "]" }
func (o shiftOp) constant() (float64, bool)    { return o.op.constant() }
func (o shiftOp) need() int                    { return o.op.need() + o.k }
func (o shiftOp) toJSON() any {
	m := maps1(o.op.toJSON())
	m["offset"] = o.k
	return m
}

// changeOp is {"change": {"of": OPERAND, "bars": N}} (amount) or
// {"change_pct": {...}} (percent): the change of an operand over N bars.
type changeOp struct {
	of   operand
	bars int
	pct  bool
}

func (o changeOp) at(c *evalCtx, i int) float64 {
	now, then := o.of.at(c, i), o.of.at(c, i-o.bars)
	if !o.pct {
		return now - then
	}
	if then == 0 {
		return math.NaN()
	}
	return (now - then) / math.Abs(then) * 100
}
func (o changeOp) name() string {
	if o.pct {
		return "change_pct"
	}
	return "change"
}
func (o changeOp) label() string {
	return fmt.Sprintf("%s(%s, %d)", o.name(), o.of.label(), o.bars)
}
func (o changeOp) key() string               { return fmt.Sprintf("%s_%s_%d", o.of.key(), o.name(), o.bars) }
func (o changeOp) constant() (float64, bool) { return 0, false }
func (o changeOp) need() int                 { return o.of.need() + o.bars }
func (o changeOp) toJSON() any {
	return map[string]any{o.name(): map[string]any{"of": o.of.toJSON(), "bars": o.bars}}
}

func maps1(v any) map[string]any {
	m, _ := v.(map[string]any)
	out := make(map[string]any, len(m)+1)
	for k, x := range m {
		out[k] = x
	}
	return out
}

// lineAliases maps common alternative spellings onto output names.
var lineAliases = map[string]string{
	"histogram": "hist", "macd_hist": "hist", "macd_signal": "signal", "signal_line": "signal",
	"upper_band": "upper", "middle_band": "middle", "mid": "middle", "basis": "middle", "lower_band": "lower",
	"+di": "plus_di", "pdi": "plus_di", "di_plus": "plus_di", "-di": "minus_di", "mdi": "minus_di", "di_minus": "minus_di",
	"%k": "k", "%d": "d",
}

// paramOrder is the order in which params appear in labels and value names.
var paramOrder = []string{"period", "fast", "slow", "signal", "fastk_period", "slowk_period", "slowd_period",
	"std_dev", "dev_up", "dev_down", "multiplier", "acceleration", "maximum"}

// operand parses an OPERAND object at path.
func (p *parser) operand(path string, v any) operand {
	m, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "operand must be an object such as {\"value\": 30}, {\"field\": \"close\"} or {\"indicator\": {...}}, got %s", describeJSON(v))
		return nil
	}
	kinds := []string{"value", "field", "indicator", "change", "change_pct"}
	var kind string
	for k := range m {
		switch {
		case slices.Contains(kinds, k):
			if kind != "" {
				p.addf(path, "operand has both %q and %q; use exactly one of %s", kind, k, strings.Join(kinds, ", "))
				return nil
			}
			kind = k
		case k == "offset":
		default:
			p.addf(path+"."+k, "unknown operand key (allowed: %s, offset)", strings.Join(kinds, ", "))
			return nil
		}
	}
	if kind == "" {
		p.addf(path, "operand needs one of %s", strings.Join(kinds, ", "))
		return nil
	}
	var op operand
	sub := path + "." + kind
	switch kind {
	case "value":
		f, ok := p.number(sub, m[kind])
		if !ok {
			return nil
		}
		op = valueOp{f}
	case "field":
		s, ok := m[kind].(string)
		if !ok || !slices.Contains(fields, strings.ToLower(s)) {
			p.addf(sub, "unknown field %s (known: %s)", describeJSON(m[kind]), strings.Join(fields, ", "))
			return nil
		}
		op = fieldOp{strings.ToLower(s)}
	case "indicator":
		op = p.indicator(sub, m[kind])
	case "change", "change_pct":
		op = p.change(sub, kind == "change_pct", m[kind])
	}
	if op == nil {
		return nil
	}
	if raw, has := m["offset"]; has {
		k, ok := p.integer(path+".offset", raw, 0, 100000)
		if !ok {
			return nil
		}
		if _, isConst := op.constant(); isConst && k != 0 {
			p.addf(path+".offset", "offset %d on a constant has no effect; remove it", k)
			return nil
		}
		if k > 0 {
			op = shiftOp{op, k}
		}
	}
	return op
}

func (p *parser) change(path string, pct bool, v any) operand {
	m, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "must be an object {\"of\": OPERAND, \"bars\": N}, got %s", describeJSON(v))
		return nil
	}
	if _, ok := m["value"]; ok {
		// moving_up names its operand "value"; change and change_pct "of".
		p.addf(path+".value", "unknown key: the operand of a change is given as \"of\", e.g. {\"of\": {\"field\": \"close\"}, \"bars\": 24}")
		return nil
	}
	if !p.onlyKeys(path, m, "of", "bars") {
		return nil
	}
	if _, ok := m["of"]; !ok {
		p.addf(path+".of", "required")
		return nil
	}
	of := p.operand(path+".of", m["of"])
	n, ok := p.integer(path+".bars", m["bars"], 1, 100000)
	if of == nil || !ok {
		return nil
	}
	if _, c := of.constant(); c {
		p.addf(path+".of", "the change of a constant is always 0")
		return nil
	}
	return changeOp{of: of, bars: n, pct: pct}
}

// indicator parses {"type": ..., "params": {...}, "output": ..., "line": ...}.
func (p *parser) indicator(path string, v any) operand {
	m, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "must be an object {\"type\": ..., \"params\": {...}}, got %s", describeJSON(v))
		return nil
	}
	if !p.onlyKeys(path, m, "type", "params", "output", "line") {
		return nil
	}
	typRaw, ok := m["type"].(string)
	if !ok || strings.TrimSpace(typRaw) == "" {
		p.addf(path+".type", "must be an indicator name such as \"RSI\", got %s", describeJSON(m["type"]))
		return nil
	}
	typ := strings.ToUpper(strings.TrimSpace(typRaw))
	if !p.knownIndicator(typ) {
		p.addf(path+".type", "unknown indicator %q (known: %s)", typRaw, strings.Join(indicators.Known(), ", "))
		return nil
	}
	spec := indicators.Spec{Type: typ, Params: map[string]float64{}}
	var band string
	if pr, has := m["params"]; has {
		pm, ok := pr.(map[string]any)
		if !ok {
			p.addf(path+".params", "must be an object of numbers, got %s", describeJSON(pr))
			return nil
		}
		bad := false
		for _, k := range sortedKeys(pm) {
			pv := pm[k]
			switch strings.ToLower(k) {
			case "source":
				s, ok := pv.(string)
				if !ok {
					p.addf(path+".params.source", "must be a string such as \"close\", got %s", describeJSON(pv))
					bad = true
					continue
				}
				spec.Source = strings.ToLower(s)
			case "band":
				s, ok := pv.(string)
				if !ok {
					p.addf(path+".params.band", "must be \"upper\", \"middle\" or \"lower\", got %s", describeJSON(pv))
					bad = true
					continue
				}
				band = strings.ToLower(s)
			default:
				f, ok := p.number(path+".params."+k, pv)
				if !ok {
					bad = true
					continue
				}
				spec.Params[k] = f
			}
		}
		if bad {
			return nil
		}
	}
	norm, err := indicators.Normalize(spec)
	if err != nil {
		p.addf(path+".params", "%v", err)
		return nil
	}
	outs, err := indicators.Outputs(norm.Type)
	if err != nil || len(outs) == 0 {
		p.addf(path+".type", "indicator %q has no outputs: %v", typRaw, err)
		return nil
	}
	output := ""
	if o, has := m["output"]; has {
		s, ok := o.(string)
		if !ok || strings.TrimSpace(s) == "" {
			p.addf(path+".output", "must be a non-empty name for notifications, got %s", describeJSON(o))
			return nil
		}
		output = s
	}
	line := ""
	resolve := func(at, s string) (string, bool) {
		l := strings.ToLower(strings.TrimSpace(s))
		if a, ok := lineAliases[l]; ok {
			l = a
		}
		if !slices.Contains(outs, l) {
			p.addf(at, "unknown line %q for %s (lines: %s)", s, typ, strings.Join(outs, ", "))
			return "", false
		}
		return l, true
	}
	if band != "" {
		if norm.Type != "BBANDS" {
			p.addf(path+".params.band", "band applies only to BOLLINGER/BBANDS, not %s", typ)
			return nil
		}
		if line, ok = resolve(path+".params.band", band); !ok {
			return nil
		}
	}
	if lr, has := m["line"]; has {
		s, ok := lr.(string)
		if !ok {
			p.addf(path+".line", "must be a string (lines: %s), got %s", strings.Join(outs, ", "), describeJSON(lr))
			return nil
		}
		l, ok := resolve(path+".line", s)
		if !ok {
			return nil
		}
		if line != "" && line != l {
			p.addf(path+".line", "line %q contradicts params.band %q", s, band)
			return nil
		}
		line = l
	}
	if line == "" && output != "" && len(outs) > 1 {
		// The original service let "output" name the line in some configs.
		if l, ok := lineAliases[strings.ToLower(output)]; ok && slices.Contains(outs, l) {
			line = l
		} else if slices.Contains(outs, strings.ToLower(output)) {
			line = strings.ToLower(output)
		}
	}
	if line == "" {
		line = defaultLine(norm.Type, outs)
	}
	op := &indicatorOp{spec: norm, line: line, typ: typ, output: output}
	op.lb = indicators.LookbackFor(norm, p.tf)
	op.lbl, op.autoKey = indicatorNames(typ, spec, norm, line, outs)
	raw := map[string]any{"type": typ, "line": line}
	params := map[string]any{}
	for k, f := range spec.Params {
		params[k] = f
	}
	if spec.Source != "" {
		params["source"] = spec.Source
	}
	if len(params) > 0 {
		raw["params"] = params
	}
	if output != "" {
		raw["output"] = output
	}
	op.raw = raw
	op.ref = p.ref(norm, line)
	return op
}

// defaultLine is the line of a multi-output indicator that names none: the
// middle band of BOLLINGER/BBANDS (the original service's default, its
// params.band defaulted to middle), else the first output.
func defaultLine(typ string, outs []string) string {
	if typ == "BBANDS" {
		return "middle"
	}
	return outs[0]
}

// indicatorNames builds the label ("MACD(12,26,9).signal", "SMA(20, high)")
// and the default value name ("macd_12_26_9_signal", "sma_20_high") from the
// params the user gave (defaults are not repeated).
func indicatorNames(typ string, given, norm indicators.Spec, line string, outs []string) (label, key string) {
	names := make([]string, 0, len(given.Params))
	for k := range given.Params {
		names = append(names, strings.ToLower(k))
	}
	sort.Slice(names, func(i, j int) bool {
		a, b := slices.Index(paramOrder, names[i]), slices.Index(paramOrder, names[j])
		if a < 0 {
			a = len(paramOrder)
		}
		if b < 0 {
			b = len(paramOrder)
		}
		if a != b {
			return a < b
		}
		return names[i] < names[j]
	})
	vals := make([]string, 0, len(names)+1)
	for _, n := range names {
		for k, v := range given.Params {
			if strings.ToLower(k) == n {
				vals = append(vals, fmtConst(v))
			}
		}
	}
	if norm.Source != "" && norm.Source != "close" {
		vals = append(vals, norm.Source)
	}
	label = typ + "(" + strings.Join(vals, ",") + ")"
	key = strings.ToLower(typ)
	for _, v := range vals {
		key += "_" + strings.ReplaceAll(v, ".", "_")
	}
	if len(outs) > 1 {
		label += "." + line
		key += "_" + line
	}
	return label, key
}

// number parses a JSON number; anything else is a problem at path.
func (p *parser) number(path string, v any) (float64, bool) {
	var f float64
	switch n := v.(type) {
	case json.Number:
		x, err := n.Float64()
		if err != nil {
			p.addf(path, "number %s out of range", n)
			return 0, false
		}
		f = x
	case float64:
		f = n
	case int:
		f = float64(n)
	default:
		p.addf(path, "must be a number, got %s", describeJSON(v))
		return 0, false
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		p.addf(path, "must be a finite number, got %v", f)
		return 0, false
	}
	return f, true
}

// integer parses a whole JSON number in [lo, hi].
func (p *parser) integer(path string, v any, lo, hi int) (int, bool) {
	if v == nil {
		p.addf(path, "required (a whole number from %d to %d)", lo, hi)
		return 0, false
	}
	f, ok := p.number(path, v)
	if !ok {
		return 0, false
	}
	if f != math.Trunc(f) || f < float64(lo) || f > float64(hi) {
		p.addf(path, "must be a whole number from %d to %d, got %s", lo, hi, fmtConst(f))
		return 0, false
	}
	return int(f), true
}

// onlyKeys reports unknown keys of m as problems.
func (p *parser) onlyKeys(path string, m map[string]any, allowed ...string) bool {
	ok := true
	for _, k := range sortedKeys(m) {
		if !slices.Contains(allowed, k) {
			p.addf(path+"."+k, "unknown key (allowed: %s)", strings.Join(allowed, ", "))
			ok = false
		}
	}
	return ok
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// describeJSON renders a decoded JSON value for an error message.
func describeJSON(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "string " + strconv.Quote(x)
	case bool:
		return "boolean " + strconv.FormatBool(x)
	case json.Number:
		return "number " + x.String()
	case float64:
		return "number " + fmtConst(x)
	case []any:
		return fmt.Sprintf("array of %d", len(x))
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// fmtConst formats a number as written: 30, 0.25, 65000.
func fmtConst(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// fmtNum formats a measured value: two decimals, or six significant digits
// below 1 (small crypto prices).
func fmtNum(v float64) string {
	switch {
	case math.IsNaN(v):
		return "n/a"
	case v == 0:
		return "0.00"
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}
