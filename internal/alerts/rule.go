package alerts

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// node is one rule tree node.
type node interface {
	// eval reports whether the node holds at bar index i; NaN operands make
	// comparisons false.
	eval(c *evalCtx, i int) bool
	// explain describes the node with its values at bar i and records every
	// compared value in vals.
	explain(c *evalCtx, i int, vals map[string]float64) string
	// String is the static form: "RSI(14) < 30".
	String() string
	// need is the number of bars needed to evaluate the last index.
	need() int
	// toJSON returns the canonical JSON form.
	toJSON() any
}

// sider is a crossing node whose side (above, below, equal) is kept in
// state_json.sides under its path.
type sider interface {
	sideKey() string
	side(c *evalCtx, i int) string
}

// comparison operators and their symbols.
var cmpOps = map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<=", "eq": "==", "ne": "!="}

// rangeOps: inside_band means between, outside_band means outside.
var rangeOps = map[string]bool{"between": true, "inside_band": true, "outside": false, "outside_band": false}

// nodeOps lists every operator key, for error messages.
var nodeOps = []string{"and", "or", "not", "gt", "gte", "lt", "lte", "eq", "ne", "between", "outside",
	"inside_band", "outside_band", "crosses_above", "crosses_below", "touches", "moving_up", "moving_down", "plugin"}

// eqTolerance is the relative tolerance of eq and ne.
const eqTolerance = 1e-9

func approxEqual(a, b float64) bool {
	return math.Abs(a-b) <= eqTolerance*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

// ---- logical ----

type logicNode struct {
	and  bool
	kids []node
}

func (n *logicNode) op() string {
	if n.and {
		return "and"
	}
	return "or"
}

func (n *logicNode) eval(c *evalCtx, i int) bool {
	for _, k := range n.kids {
		if k.eval(c, i) != n.and {
			return !n.and
		}
	}
	return n.and
}

func (n *logicNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	parts := make([]string, 0, len(n.kids))
	for _, k := range n.kids {
		if n.and || k.eval(c, i) {
			parts = append(parts, k.explain(c, i, vals))
		}
	}
	return strings.Join(parts, " "+n.op()+" ")
}

func (n *logicNode) String() string {
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = k.String()
		if _, ok := k.(*logicNode); ok {
			parts[i] = "(" + parts[i] + ")"
		}
	}
	return strings.Join(parts, " "+n.op()+" ")
}

func (n *logicNode) need() int {
	m := 0
	for _, k := range n.kids {
		m = max(m, k.need())
	}
	return m
}

func (n *logicNode) toJSON() any {
	kids := make([]any, len(n.kids))
	for i, k := range n.kids {
		kids[i] = k.toJSON()
	}
	return map[string]any{n.op(): kids}
}

type notNode struct{ kid node }

func (n *notNode) eval(c *evalCtx, i int) bool { return !n.kid.eval(c, i) }
func (n *notNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	n.kid.explain(c, i, vals)
	return "not (" + n.kid.String() + ")"
}
func (n *notNode) String() string { return "not (" + n.kid.String() + ")" }
func (n *notNode) need() int      { return n.kid.need() }
func (n *notNode) toJSON() any    { return map[string]any{"not": n.kid.toJSON()} }

// ---- comparison ----

type cmpNode struct {
	op       string
	lhs, rhs operand
}

func (n *cmpNode) eval(c *evalCtx, i int) bool {
	a, b := n.lhs.at(c, i), n.rhs.at(c, i)
	if math.IsNaN(a) || math.IsNaN(b) {
		return false
	}
	switch n.op {
	case "gt":
		return a > b
	case "gte":
		return a >= b
	case "lt":
		return a < b
	case "lte":
		return a <= b
	case "eq":
		return approxEqual(a, b)
	case "ne":
		return !approxEqual(a, b)
	}
	return false
}

func (n *cmpNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	a, b := record(c, i, n.lhs, vals), record(c, i, n.rhs, vals)
	s := n.String() + ": "
	_, lc := n.lhs.constant()
	_, rc := n.rhs.constant()
	switch {
	case rc:
		return s + fmtNum(a)
	case lc:
		return s + fmtNum(b)
	}
	return s + fmtNum(a) + " vs " + fmtNum(b)
}

func (n *cmpNode) String() string {
	return n.lhs.label() + " " + cmpOps[n.op] + " " + n.rhs.label()
}
func (n *cmpNode) need() int { return max(n.lhs.need(), n.rhs.need()) }
func (n *cmpNode) toJSON() any {
	return map[string]any{n.op: map[string]any{"lhs": n.lhs.toJSON(), "rhs": n.rhs.toJSON()}}
}

// record stores the value of o at i in vals under its key (constants under
// "value", a second different constant under "value_2", ...) and returns it.
func record(c *evalCtx, i int, o operand, vals map[string]float64) float64 {
	v := o.at(c, i)
	if vals == nil || math.IsNaN(v) {
		return v
	}
	k := o.key()
	if _, isConst := o.constant(); isConst {
		for n := 2; ; n++ {
			if old, taken := vals[k]; !taken || old == v {
				break
			}
			k = fmt.Sprintf("%s_%d", o.key(), n)
		}
	}
	vals[k] = v
	return v
}

// ---- range ----

type rangeNode struct {
	op             string
	val, low, high operand
}

func (n *rangeNode) eval(c *evalCtx, i int) bool {
	v, lo, hi := n.val.at(c, i), n.low.at(c, i), n.high.at(c, i)
	if math.IsNaN(v) || math.IsNaN(lo) || math.IsNaN(hi) {
		return false
	}
	in := v >= lo && v <= hi
	return in == rangeOps[n.op]
}

func (n *rangeNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	v := record(c, i, n.val, vals)
	lo, hi := record(c, i, n.low, vals), record(c, i, n.high, vals)
	s := n.String() + ": " + fmtNum(v)
	_, lc := n.low.constant()
	_, hc := n.high.constant()
	if !lc || !hc {
		s += " (range " + fmtNum(lo) + " to " + fmtNum(hi) + ")"
	}
	return s
}

func (n *rangeNode) String() string {
	word := "between"
	if !rangeOps[n.op] {
		word = "outside"
	}
	return fmt.Sprintf("%s %s %s and %s", n.val.label(), word, n.low.label(), n.high.label())
}
func (n *rangeNode) need() int { return max(n.val.need(), n.low.need(), n.high.need()) }
func (n *rangeNode) toJSON() any {
	return map[string]any{n.op: map[string]any{"value": n.val.toJSON(), "lower": n.low.toJSON(), "upper": n.high.toJSON()}}
}

// ---- crossing ----

type crossNode struct {
	above    bool
	lhs, rhs operand
	path     string
}

func (n *crossNode) eval(c *evalCtx, i int) bool {
	a0, b0, a1, b1 := n.lhs.at(c, i-1), n.rhs.at(c, i-1), n.lhs.at(c, i), n.rhs.at(c, i)
	if math.IsNaN(a0) || math.IsNaN(b0) || math.IsNaN(a1) || math.IsNaN(b1) {
		return false
	}
	if n.above {
		return a0 <= b0 && a1 > b1
	}
	return a0 >= b0 && a1 < b1
}

func (n *crossNode) verb() string {
	if n.above {
		return "crossed above"
	}
	return "crossed below"
}

func (n *crossNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	a0, b0 := n.lhs.at(c, i-1), n.rhs.at(c, i-1)
	a1, b1 := record(c, i, n.lhs, vals), record(c, i, n.rhs, vals)
	recordPrev(n.lhs, a0, vals)
	s := fmt.Sprintf("%s %s %s: %s → %s", n.lhs.label(), n.verb(), n.rhs.label(), fmtNum(a0), fmtNum(a1))
	if _, rc := n.rhs.constant(); !rc {
		recordPrev(n.rhs, b0, vals)
		s += fmt.Sprintf(" (%s %s → %s)", n.rhs.label(), fmtNum(b0), fmtNum(b1))
	}
	return s
}

func recordPrev(o operand, v float64, vals map[string]float64) {
	if vals != nil && !math.IsNaN(v) {
		vals[o.key()+"_prev"] = v
	}
}

func (n *crossNode) String() string {
	w := "crosses above"
	if !n.above {
		w = "crosses below"
	}
	return n.lhs.label() + " " + w + " " + n.rhs.label()
}
func (n *crossNode) need() int { return max(n.lhs.need(), n.rhs.need()) + 1 }
func (n *crossNode) toJSON() any {
	op := "crosses_above"
	if !n.above {
		op = "crosses_below"
	}
	return map[string]any{op: map[string]any{"lhs": n.lhs.toJSON(), "rhs": n.rhs.toJSON()}}
}
func (n *crossNode) sideKey() string { return n.path }
func (n *crossNode) side(c *evalCtx, i int) string {
	return sideOf(n.lhs.at(c, i), n.rhs.at(c, i))
}

func sideOf(a, b float64) string {
	switch {
	case math.IsNaN(a) || math.IsNaN(b):
		return ""
	case a > b:
		return "above"
	case a < b:
		return "below"
	}
	return "equal"
}

// ---- touches ----

// touchNode: the level lies inside the bar's low-high range.
type touchNode struct{ level operand }

func (n *touchNode) eval(c *evalCtx, i int) bool {
	if i < 0 || i >= len(c.bars) {
		return false
	}
	l := n.level.at(c, i)
	return !math.IsNaN(l) && c.bars[i].Low <= l && l <= c.bars[i].High
}
func (n *touchNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	l := record(c, i, n.level, vals)
	b := c.bars[i]
	vals["low"], vals["high"] = b.Low, b.High
	return fmt.Sprintf("bar range %s to %s touched %s (%s)", fmtNum(b.Low), fmtNum(b.High), n.level.label(), fmtNum(l))
}
func (n *touchNode) String() string { return "bar touches " + n.level.label() }
func (n *touchNode) need() int      { return max(1, n.level.need()) }
func (n *touchNode) toJSON() any {
	return map[string]any{"touches": map[string]any{"level": n.level.toJSON()}}
}

// ---- moving up / down ----

// movingNode: the value rose (fell) by at least pct percent or amount from
// its lowest (highest) value of the previous bars bars.
type movingNode struct {
	up     bool
	val    operand
	bars   int
	pct    bool
	amount float64 // percent when pct
}

func (n *movingNode) ref(c *evalCtx, i int) float64 {
	ref := math.NaN()
	for j := i - n.bars; j < i; j++ {
		v := n.val.at(c, j)
		if math.IsNaN(v) {
			return math.NaN()
		}
		if math.IsNaN(ref) || (n.up && v < ref) || (!n.up && v > ref) {
			ref = v
		}
	}
	return ref
}

func (n *movingNode) move(c *evalCtx, i int) (now, ref, moved float64) {
	now, ref = n.val.at(c, i), n.ref(c, i)
	moved = now - ref
	if !n.up {
		moved = -moved
	}
	if n.pct {
		if ref == 0 {
			return now, ref, math.NaN()
		}
		moved = moved / math.Abs(ref) * 100
	}
	return now, ref, moved
}

func (n *movingNode) eval(c *evalCtx, i int) bool {
	_, _, moved := n.move(c, i)
	return !math.IsNaN(moved) && moved >= n.amount
}

func (n *movingNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	now, ref, moved := n.move(c, i)
	record(c, i, n.val, vals)
	if !math.IsNaN(ref) {
		vals[n.val.key()+"_ref"] = ref
	}
	unit := ""
	if n.pct {
		unit = "%"
	}
	return fmt.Sprintf("%s moved %s %s%s within %d bars: %s → %s", n.val.label(), n.dir(), fmtNum(moved), unit, n.bars, fmtNum(ref), fmtNum(now))
}

func (n *movingNode) dir() string {
	if n.up {
		return "up"
	}
	return "down"
}

func (n *movingNode) String() string {
	unit := ""
	if n.pct {
		unit = "%"
	}
	return fmt.Sprintf("%s moving %s %s%s within %d bars", n.val.label(), n.dir(), fmtConst(n.amount), unit, n.bars)
}
func (n *movingNode) need() int { return n.val.need() + n.bars }
func (n *movingNode) toJSON() any {
	m := map[string]any{"value": n.val.toJSON(), "bars": n.bars}
	if n.pct {
		m["pct"] = n.amount
	} else {
		m["amount"] = n.amount
	}
	return map[string]any{"moving_" + n.dir(): m}
}

// ---- bbands_signal plugin ----

// bbandsTypes are the six signal types of the bbands_signal plugin.
var bbandsTypes = []string{"cross_upper_up", "cross_upper_down", "cross_lower_up", "cross_lower_down", "touch_upper", "touch_lower"}

type bbandsNode struct {
	typ    string
	params map[string]any // canonical JSON params
	band   *indicatorOp   // upper or lower line
	price  operand        // close (or source)
	path   string
}

func (n *bbandsNode) eval(c *evalCtx, i int) bool {
	switch n.typ {
	case "touch_upper", "touch_lower":
		if i < 0 || i >= len(c.bars) {
			return false
		}
		b := n.band.at(c, i)
		if math.IsNaN(b) {
			return false
		}
		if n.typ == "touch_upper" {
			return c.bars[i].High >= b
		}
		return c.bars[i].Low <= b
	}
	p0, b0, p1, b1 := n.price.at(c, i-1), n.band.at(c, i-1), n.price.at(c, i), n.band.at(c, i)
	if math.IsNaN(p0) || math.IsNaN(b0) || math.IsNaN(p1) || math.IsNaN(b1) {
		return false
	}
	if strings.HasSuffix(n.typ, "_up") {
		return p0 <= b0 && p1 > b1
	}
	return p0 >= b0 && p1 < b1
}

func (n *bbandsNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	b1 := record(c, i, n.band, vals)
	switch n.typ {
	case "touch_upper":
		vals["high"] = c.bars[i].High
		return fmt.Sprintf("high touched %s: %s >= %s", n.band.label(), fmtNum(c.bars[i].High), fmtNum(b1))
	case "touch_lower":
		vals["low"] = c.bars[i].Low
		return fmt.Sprintf("low touched %s: %s <= %s", n.band.label(), fmtNum(c.bars[i].Low), fmtNum(b1))
	}
	p0, b0 := n.price.at(c, i-1), n.band.at(c, i-1)
	p1 := record(c, i, n.price, vals)
	recordPrev(n.price, p0, vals)
	recordPrev(n.band, b0, vals)
	verb := "crossed above"
	if strings.HasSuffix(n.typ, "_down") {
		verb = "crossed below"
	}
	return fmt.Sprintf("%s %s %s: %s → %s (band %s → %s)", n.price.label(), verb, n.band.label(), fmtNum(p0), fmtNum(p1), fmtNum(b0), fmtNum(b1))
}

func (n *bbandsNode) String() string {
	switch n.typ {
	case "touch_upper":
		return "high touches " + n.band.label()
	case "touch_lower":
		return "low touches " + n.band.label()
	case "cross_upper_up", "cross_lower_up":
		return n.price.label() + " crosses above " + n.band.label()
	}
	return n.price.label() + " crosses below " + n.band.label()
}
func (n *bbandsNode) need() int { return n.band.need() + 1 }
func (n *bbandsNode) toJSON() any {
	return map[string]any{"plugin": "bbands_signal", "params": n.params}
}
func (n *bbandsNode) sideKey() string {
	if strings.HasPrefix(n.typ, "touch") {
		return ""
	}
	return n.path
}
func (n *bbandsNode) side(c *evalCtx, i int) string {
	return sideOf(n.price.at(c, i), n.band.at(c, i))
}

// ---- parsing ----

// indRef is one indicator line that an evaluation needs.
type indRef struct {
	spec indicators.Spec
	key  string // spec key, shared by all lines of one computation
	line string
}

// parser collects problems while building the rule tree.
type parser struct {
	problems []Problem
	tf       marketdata.Timeframe
	refs     []indRef
	siders   []sider
}

func (p *parser) addf(path, format string, args ...any) {
	p.problems = append(p.problems, Problem{Path: path, Msg: fmt.Sprintf(format, args...)})
}

var (
	knownOnce sync.Once
	knownSet  map[string]bool
)

func (p *parser) knownIndicator(typ string) bool {
	knownOnce.Do(func() {
		knownSet = map[string]bool{}
		for _, k := range indicators.Known() {
			knownSet[strings.ToUpper(k)] = true
		}
	})
	return knownSet[typ]
}

// ref registers an indicator line and returns its index.
func (p *parser) ref(spec indicators.Spec, line string) int {
	key := specKey(spec)
	for i, r := range p.refs {
		if r.key == key && r.line == line {
			return i
		}
	}
	p.refs = append(p.refs, indRef{spec: spec, key: key, line: line})
	return len(p.refs) - 1
}

// specKey is a canonical key of a normalized spec (type, sorted params,
// source), used to group lines of one computation.
func specKey(s indicators.Spec) string { return s.Key() }

// node parses a rule tree node at path.
func (p *parser) node(path string, v any) node {
	m, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "rule node must be an object with one operator key (%s), got %s", strings.Join(nodeOps, ", "), describeJSON(v))
		return nil
	}
	if _, ok := m["plugin"]; ok {
		return p.plugin(path, m)
	}
	if len(m) != 1 {
		keys := sortedKeys(m)
		if len(keys) == 0 {
			p.addf(path, "empty rule node; need one operator key (%s)", strings.Join(nodeOps, ", "))
		} else {
			p.addf(path, "rule node must have exactly one operator key, got %d (%s)", len(keys), strings.Join(keys, ", "))
		}
		return nil
	}
	var op string
	var arg any
	for op, arg = range m {
	}
	sub := path + "." + op
	switch {
	case op == "and" || op == "or":
		arr, ok := arg.([]any)
		if !ok || len(arr) == 0 {
			p.addf(sub, "must be a non-empty array of rule nodes, got %s", describeJSON(arg))
			return nil
		}
		n := &logicNode{and: op == "and"}
		for i, k := range arr {
			if kid := p.node(fmt.Sprintf("%s[%d]", sub, i), k); kid != nil {
				n.kids = append(n.kids, kid)
			}
		}
		if len(n.kids) != len(arr) {
			return nil
		}
		if n.and && !p.checkAnd(sub, n) {
			return nil
		}
		return n
	case op == "not":
		if arr, isArr := arg.([]any); isArr {
			p.addf(sub, "takes one rule node (an object), got an array of %d", len(arr))
			return nil
		}
		kid := p.node(sub, arg)
		if kid == nil {
			return nil
		}
		return &notNode{kid}
	case cmpOps[op] != "" || op == "crosses_above" || op == "crosses_below":
		lhs, rhs := p.pair(sub, arg)
		if lhs == nil || rhs == nil {
			return nil
		}
		_, lc := lhs.constant()
		_, rc := rhs.constant()
		if lc && rc {
			p.addf(sub, "compares two constants (%s, %s); one side must be a field or an indicator", lhs.label(), rhs.label())
			return nil
		}
		if !p.checkCompare(sub, op, lhs, rhs) {
			return nil
		}
		if cmpOps[op] != "" {
			return &cmpNode{op: op, lhs: lhs, rhs: rhs}
		}
		n := &crossNode{above: op == "crosses_above", lhs: lhs, rhs: rhs, path: sub}
		p.siders = append(p.siders, n)
		return n
	case slices.Contains([]string{"between", "outside", "inside_band", "outside_band"}, op):
		am, ok := arg.(map[string]any)
		if !ok {
			p.addf(sub, "must be an object {\"value\": OPERAND, \"lower\": OPERAND, \"upper\": OPERAND}, got %s", describeJSON(arg))
			return nil
		}
		if !p.onlyKeys(sub, am, "value", "lower", "upper") {
			return nil
		}
		val, lo, hi := p.required(sub, am, "value"), p.required(sub, am, "lower"), p.required(sub, am, "upper")
		if val == nil || lo == nil || hi == nil {
			return nil
		}
		if !p.checkRange(sub, op, val, lo, hi) {
			return nil
		}
		return &rangeNode{op: op, val: val, low: lo, high: hi}
	case op == "touches":
		am, ok := arg.(map[string]any)
		if !ok {
			p.addf(sub, "must be an object {\"level\": OPERAND}, got %s", describeJSON(arg))
			return nil
		}
		if !p.onlyKeys(sub, am, "level") {
			return nil
		}
		lvl := p.required(sub, am, "level")
		if lvl == nil {
			return nil
		}
		return &touchNode{level: lvl}
	case op == "moving_up" || op == "moving_down":
		return p.moving(sub, op == "moving_up", arg)
	}
	p.addf(sub, "unknown operator %q (known: %s)", op, strings.Join(nodeOps, ", "))
	return nil
}

// required parses the operand am[key], reporting a missing one.
func (p *parser) required(path string, am map[string]any, key string) operand {
	v, ok := am[key]
	if !ok {
		p.addf(path+"."+key, "required")
		return nil
	}
	return p.operand(path+"."+key, v)
}

// pair parses {"lhs": OPERAND, "rhs": OPERAND}.
func (p *parser) pair(path string, v any) (operand, operand) {
	am, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "must be an object {\"lhs\": OPERAND, \"rhs\": OPERAND}, got %s", describeJSON(v))
		return nil, nil
	}
	if !p.onlyKeys(path, am, "lhs", "rhs") {
		return nil, nil
	}
	return p.required(path, am, "lhs"), p.required(path, am, "rhs")
}

func (p *parser) moving(path string, up bool, v any) node {
	am, ok := v.(map[string]any)
	if !ok {
		p.addf(path, "must be an object {\"value\": OPERAND, \"bars\": N, \"pct\": X} (or \"amount\": X), got %s", describeJSON(v))
		return nil
	}
	if !p.onlyKeys(path, am, "value", "bars", "pct", "amount") {
		return nil
	}
	val := p.required(path, am, "value")
	bars, okb := p.integer(path+".bars", am["bars"], 1, 100000)
	_, hasPct := am["pct"]
	_, hasAmt := am["amount"]
	if hasPct == hasAmt {
		p.addf(path, "needs exactly one of \"pct\" or \"amount\"")
		return nil
	}
	key := "amount"
	if hasPct {
		key = "pct"
	}
	amt, oka := p.number(path+"."+key, am[key])
	if val == nil || !okb || !oka {
		return nil
	}
	if amt <= 0 {
		p.addf(path+"."+key, "must be above 0, got %s", fmtConst(amt))
		return nil
	}
	if _, c := val.constant(); c {
		p.addf(path+".value", "a constant never moves; use a field or an indicator")
		return nil
	}
	return &movingNode{up: up, val: val, bars: bars, pct: hasPct, amount: amt}
}

// plugin parses {"plugin": "bbands_signal", "params": {...}}.
func (p *parser) plugin(path string, m map[string]any) node {
	if !p.onlyKeys(path, m, "plugin", "params") {
		return nil
	}
	name, _ := m["plugin"].(string)
	if name != "bbands_signal" {
		p.addf(path+".plugin", "unknown plugin %s (known: bbands_signal)", describeJSON(m["plugin"]))
		return nil
	}
	sub := path + ".params"
	pm, ok := m["params"].(map[string]any)
	if !ok {
		p.addf(sub, "required object with \"type\" (%s), got %s", strings.Join(bbandsTypes, ", "), describeJSON(m["params"]))
		return nil
	}
	if !p.onlyKeys(sub, pm, "type", "period", "dev_up", "dev_down", "source") {
		return nil
	}
	typ, _ := pm["type"].(string)
	if !slices.Contains(bbandsTypes, typ) {
		p.addf(sub+".type", "unknown bbands_signal type %s (known: %s)", describeJSON(pm["type"]), strings.Join(bbandsTypes, ", "))
		return nil
	}
	period, devUp, devDown := 14, 2.0, 2.0
	ok = true
	if v, has := pm["period"]; has {
		period, ok = p.integer(sub+".period", v, 2, 100000)
	}
	for _, d := range []struct {
		key string
		dst *float64
	}{{"dev_up", &devUp}, {"dev_down", &devDown}} {
		if v, has := pm[d.key]; has {
			f, okf := p.number(sub+"."+d.key, v)
			if okf && f <= 0 {
				p.addf(sub+"."+d.key, "must be above 0, got %s", fmtConst(f))
				okf = false
			}
			ok = ok && okf
			*d.dst = f
		}
	}
	source := "close"
	if v, has := pm["source"]; has {
		s, isStr := v.(string)
		if !isStr || !slices.Contains(fields, strings.ToLower(s)) {
			p.addf(sub+".source", "unknown source %s (known: %s)", describeJSON(v), strings.Join(fields, ", "))
			return nil
		}
		source = strings.ToLower(s)
	}
	if !ok {
		return nil
	}
	line := "upper"
	if strings.Contains(typ, "lower") {
		line = "lower"
	}
	spec := indicators.Spec{Type: "BBANDS", Params: map[string]float64{"period": float64(period), "dev_up": devUp, "dev_down": devDown}, Source: source}
	norm, err := indicators.Normalize(spec)
	if err != nil {
		p.addf(sub, "%v", err)
		return nil
	}
	band := &indicatorOp{spec: norm, line: line, typ: "BBANDS", lb: indicators.LookbackFor(norm, p.tf)}
	band.lbl = fmt.Sprintf("%s Bollinger band BB(%d,%s,%s)", line, period, fmtConst(devUp), fmtConst(devDown))
	band.autoKey = fmt.Sprintf("bb_%s_%d_%s", line, period, strings.ReplaceAll(fmtConst(devUp), ".", "_"))
	if devDown != devUp {
		band.autoKey += "_" + strings.ReplaceAll(fmtConst(devDown), ".", "_")
	}
	band.raw = map[string]any{"type": "BBANDS", "line": line, "params": map[string]any{"period": period, "dev_up": devUp, "dev_down": devDown, "source": source}}
	band.ref = p.ref(norm, line)
	params := map[string]any{"type": typ, "period": period, "dev_up": devUp, "dev_down": devDown}
	if source != "close" {
		params["source"] = source
	}
	n := &bbandsNode{typ: typ, params: params, band: band, price: fieldOp{source}, path: path}
	if n.sideKey() != "" {
		p.siders = append(p.siders, n)
	}
	return n
}
