package alerts

import (
	"fmt"
	"math"
)

// hystNode is the hysteresis rearm condition: the compared value is back on
// the non-firing side of the threshold by at least the hysteresis (a
// percentage of the threshold, a fixed amount, or a factor of ATR(14)).
type hystNode struct {
	val       operand
	threshold float64
	amount    float64
	typ       string // percentage, fixed, atr
	fireAbove bool
	atr       *indicatorOp
}

// band is the hysteresis distance at bar i.
func (n *hystNode) band(c *evalCtx, i int) float64 {
	switch n.typ {
	case "fixed":
		return n.amount
	case "atr":
		return n.amount * n.atr.at(c, i)
	}
	return math.Abs(n.threshold) * n.amount / 100
}

// level is the re-arm level at bar i.
func (n *hystNode) level(c *evalCtx, i int) float64 {
	if n.fireAbove {
		return n.threshold - n.band(c, i)
	}
	return n.threshold + n.band(c, i)
}

func (n *hystNode) eval(c *evalCtx, i int) bool {
	v, l := n.val.at(c, i), n.level(c, i)
	if math.IsNaN(v) || math.IsNaN(l) {
		return false
	}
	if n.fireAbove {
		return v <= l
	}
	return v >= l
}

func (n *hystNode) op() string {
	if n.fireAbove {
		return "<="
	}
	return ">="
}

func (n *hystNode) explain(c *evalCtx, i int, vals map[string]float64) string {
	v := record(c, i, n.val, vals)
	l := n.level(c, i)
	if !math.IsNaN(l) {
		vals["rearm_level"] = l
	}
	return fmt.Sprintf("%s %s %s (%s): %s", n.val.label(), n.op(), fmtNum(l), n.formula(), fmtNum(v))
}

// formula is "65000 − 0.25%", "65000 + 50" or "65000 − 0.5×ATR(14)".
func (n *hystNode) formula() string {
	sign := "−"
	if !n.fireAbove {
		sign = "+"
	}
	amt := fmtConst(n.amount)
	switch n.typ {
	case "percentage":
		amt += "%"
	case "atr":
		amt += "×ATR(14)"
	}
	return fmtConst(n.threshold) + " " + sign + " " + amt
}

func (n *hystNode) String() string {
	if n.typ == "atr" {
		return n.val.label() + " " + n.op() + " " + n.formula()
	}
	return fmt.Sprintf("%s %s %s (%s)", n.val.label(), n.op(), fmtNum(n.level(nil, 0)), n.formula())
}

func (n *hystNode) need() int {
	if n.atr != nil {
		return max(n.val.need(), n.atr.need())
	}
	return n.val.need()
}

func (n *hystNode) toJSON() any {
	return map[string]any{"threshold": n.threshold, "hysteresis": n.amount, "hysteresis_type": n.typ}
}
