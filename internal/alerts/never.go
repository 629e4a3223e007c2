package alerts

import (
	"encoding/json"
	"math"
)

// This file finds rule/option combinations that can never be true (and the
// degenerate range that is always true), so that validation refuses them
// with the path and the reason instead of an alert that silently never
// fires.

// valueRange is the closed interval an operand's values lie in.
type valueRange struct{ lo, hi float64 }

// indicatorRanges holds the bounded lines, by canonical type and line.
var indicatorRanges = map[string]valueRange{
	"RSI.value": {0, 100}, "MFI.value": {0, 100},
	"STOCH.k": {0, 100}, "STOCH.d": {0, 100}, "STOCHRSI.k": {0, 100}, "STOCHRSI.d": {0, 100},
	"ADX.adx": {0, 100}, "ADX.plus_di": {0, 100}, "ADX.minus_di": {0, 100},
	"PLUS_DI.value": {0, 100}, "MINUS_DI.value": {0, 100},
	"WILLR.value": {-100, 0},
	"ATR.value":   {0, math.Inf(1)}, "NATR.value": {0, math.Inf(1)},
	"SUPERTREND.direction": {-1, 1},
}

// rangeOf returns the range of o's values when it is bounded: a bounded
// indicator line, volume, or either of them k bars earlier.
func rangeOf(o operand) (valueRange, bool) {
	switch x := o.(type) {
	case shiftOp:
		return rangeOf(x.op)
	case *indicatorOp:
		r, ok := indicatorRanges[x.spec.Type+"."+x.line]
		return r, ok
	case fieldOp:
		if x.f == "volume" {
			return valueRange{0, math.Inf(1)}, true
		}
	}
	return valueRange{}, false
}

func (r valueRange) String() string {
	if math.IsInf(r.hi, 1) {
		return "never below " + fmtConst(r.lo)
	}
	return "between " + fmtConst(r.lo) + " and " + fmtConst(r.hi)
}

// sameOperand reports whether a and b are the same series.
func sameOperand(a, b operand) bool {
	ja, errA := json.Marshal(a.toJSON())
	jb, errB := json.Marshal(b.toJSON())
	return errA == nil && errB == nil && string(ja) == string(jb)
}

// checkCompare reports a comparison or crossing at path that can never be
// true: an operand against itself (strict comparisons and crossings), or a
// bounded value against a constant outside what it can reach.
func (p *parser) checkCompare(path, op string, lhs, rhs operand) bool {
	strict := op == "gt" || op == "lt" || op == "crosses_above" || op == "crosses_below"
	if strict && sameOperand(lhs, rhs) {
		p.addf(path, "compares %s with itself, which can never be true", lhs.label())
		return false
	}
	// Put the bounded operand on the left: c < x is x > c.
	x, c, flipped := lhs, rhs, false
	k, isConst := c.constant()
	if !isConst {
		x, c, flipped = rhs, lhs, true
		if k, isConst = c.constant(); !isConst {
			return true
		}
	}
	r, bounded := rangeOf(x)
	if !bounded {
		return true
	}
	if flipped {
		op = map[string]string{"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne",
			"crosses_above": "crosses_below", "crosses_below": "crosses_above"}[op]
	}
	never := false
	switch op {
	case "gt":
		never = k >= r.hi
	case "gte":
		never = k > r.hi
	case "lt":
		never = k <= r.lo
	case "lte":
		never = k < r.lo
	case "eq":
		never = k < r.lo || k > r.hi
	case "crosses_above": // x[t-1] <= k < x[t]
		never = k >= r.hi || k < r.lo
	case "crosses_below": // x[t-1] >= k > x[t]
		never = k <= r.lo || k > r.hi
	}
	if never {
		p.addf(path, "%s is %s, so comparing it with %s this way can never be true", x.label(), r, fmtConst(k))
		return false
	}
	return true
}

// checkRange reports a between/outside node at path whose constant bounds
// make it never true (between: lower above upper or a range the value cannot
// reach; outside: a range covering everything the value can be) or always
// true (outside with lower above upper).
func (p *parser) checkRange(path, op string, val, lo, hi operand) bool {
	l, lc := lo.constant()
	h, hc := hi.constant()
	inside := op == "between" || op == "inside_band"
	if lc && hc && l > h {
		if inside {
			p.addf(path, "lower %s is above upper %s, so no value is between them and the rule can never be true; swap them", fmtConst(l), fmtConst(h))
		} else {
			p.addf(path, "lower %s is above upper %s, so every value is outside and the rule is always true; swap them", fmtConst(l), fmtConst(h))
		}
		return false
	}
	r, bounded := rangeOf(val)
	if !bounded {
		return true
	}
	switch {
	case inside && ((hc && h < r.lo) || (lc && l > r.hi)):
		p.addf(path, "%s is %s, so it can never be between %s and %s", val.label(), r, lo.label(), hi.label())
		return false
	case !inside && lc && hc && l <= r.lo && h >= r.hi:
		p.addf(path, "%s is %s, so it can never be outside %s and %s", val.label(), r, lo.label(), hi.label())
		return false
	}
	return true
}

// oneBarPath returns the path of the part of n that never holds on two
// consecutive bars, so that neither can n: a crossing (crosses_above at t
// needs lhs > rhs at t, at t+1 it needs lhs <= rhs at t), a bbands_signal
// crossing, or an "and" with such a part. It returns "" for any other node.
func oneBarPath(n node) string {
	switch x := n.(type) {
	case *crossNode:
		return x.path
	case *bbandsNode:
		if x.sideKey() != "" {
			return x.path
		}
	case *logicNode:
		if x.and {
			for _, k := range x.kids {
				if path := oneBarPath(k); path != "" {
					return path
				}
			}
		}
	}
	return ""
}

// checkPersistence reports persistence_bars of 2 or more on a rule (or a
// rearm rule) that holds on single bars only: the alert would never fire
// (or never re-arm).
func (p *parser) checkPersistence(r *Rearm, rule, rearm node) {
	if r == nil || r.PersistenceBars < 2 {
		return
	}
	if path := oneBarPath(rule); path != "" {
		p.addf("rearm.persistence_bars", "%d can never be reached: %s holds on one bar at a time (a crossing is over on the next bar), so the rule never holds on %d bars in a row and the alert would never fire; remove persistence_bars or compare instead of crossing (e.g. gt for crosses_above)",
			r.PersistenceBars, path, r.PersistenceBars)
		return
	}
	if r.Mode == "rule" && rearm != nil {
		if path := oneBarPath(rearm); path != "" {
			p.addf("rearm.persistence_bars", "%d can never be reached by the rearm condition: %s holds on one bar at a time, so the alert would never re-arm; remove persistence_bars or compare instead of crossing",
				r.PersistenceBars, path)
		}
	}
}

// checkAnd reports an "and" at path whose comparisons of one operand with
// constants leave no value (close > 100 and close < 50).
func (p *parser) checkAnd(path string, n *logicNode) bool {
	type bound struct {
		v      float64
		strict bool
		at     int
	}
	type span struct {
		label  string
		lo, hi *bound
	}
	spans := map[string]*span{}
	add := func(x operand, lower bool, b bound) {
		j, err := json.Marshal(x.toJSON())
		if err != nil {
			return
		}
		s := spans[string(j)]
		if s == nil {
			s = &span{label: x.label()}
			spans[string(j)] = s
		}
		if lower && (s.lo == nil || b.v > s.lo.v || (b.v == s.lo.v && b.strict)) {
			s.lo = &b
		}
		if !lower && (s.hi == nil || b.v < s.hi.v || (b.v == s.hi.v && b.strict)) {
			s.hi = &b
		}
	}
	for i, k := range n.kids {
		switch c := k.(type) {
		case *cmpNode:
			x, konst, op := c.lhs, c.rhs, c.op
			v, ok := konst.constant()
			if !ok {
				x, konst = c.rhs, c.lhs
				if v, ok = konst.constant(); !ok {
					continue
				}
				op = map[string]string{"gt": "lt", "gte": "lte", "lt": "gt", "lte": "gte", "eq": "eq", "ne": "ne"}[op]
			}
			switch op {
			case "gt", "gte":
				add(x, true, bound{v, op == "gt", i})
			case "lt", "lte":
				add(x, false, bound{v, op == "lt", i})
			case "eq":
				add(x, true, bound{v, false, i})
				add(x, false, bound{v, false, i})
			}
		case *rangeNode:
			if c.op != "between" && c.op != "inside_band" {
				continue
			}
			if l, ok := c.low.constant(); ok {
				add(c.val, true, bound{l, false, i})
			}
			if h, ok := c.high.constant(); ok {
				add(c.val, false, bound{h, false, i})
			}
		}
	}
	for _, s := range spans {
		if s.lo == nil || s.hi == nil {
			continue
		}
		if s.lo.v > s.hi.v || (s.lo.v == s.hi.v && (s.lo.strict || s.hi.strict)) {
			p.addf(path, "%s %s (and[%d]) and %s %s (and[%d]) cannot both hold, so the rule can never be true",
				s.label, boundText(s.lo.v, s.lo.strict, ">"), s.lo.at, s.label, boundText(s.hi.v, s.hi.strict, "<"), s.hi.at)
			return false
		}
	}
	return true
}

// boundText renders a bound as "> 100" or ">= 100".
func boundText(v float64, strict bool, sign string) string {
	if !strict {
		sign += "="
	}
	return sign + " " + fmtConst(v)
}
