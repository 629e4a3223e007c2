package web

import (
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/alerts"
)

// Chart geometry (SVG user units; the SVG scales to the page width).
const (
	chartW      = 1000.0
	chartAxisW  = 70.0 // price labels on the right
	chartPriceH = 320.0
	chartOscH   = 130.0
	chartGap    = 18.0
	chartTop    = 10.0
)

// svgWriter appends SVG with numbers formatted compactly.
type svgWriter struct{ b strings.Builder }

func (w *svgWriter) s(parts ...string) {
	for _, p := range parts {
		w.b.WriteString(p)
	}
}

// f formats a coordinate with one decimal.
func f(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// num formats a value for people (up to 6 significant digits).
func num(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// scale maps [lo, hi] onto [bottom, top] of a panel.
type scale struct{ lo, hi, top, bottom float64 }

func (s scale) y(v float64) float64 {
	if s.hi == s.lo {
		return (s.top + s.bottom) / 2
	}
	return s.bottom - (v-s.lo)/(s.hi-s.lo)*(s.bottom-s.top)
}

func padded(lo, hi float64) (float64, float64) {
	if math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return 0, 1
	}
	p := (hi - lo) * 0.05
	if p == 0 {
		p = math.Max(math.Abs(hi)*0.01, 1)
	}
	return lo - p, hi + p
}

// DrawChart draws c as SVG: candlesticks with the overlay lines and the
// price levels, an oscillator panel for the other lines and their levels,
// ▲ markers under the bars that triggered and ● over those that re-armed.
// Each candle carries its values for the hover read-out (data-v) and as a
// tooltip (title).
func DrawChart(c *Chart) template.HTML {
	n := len(c.Bars)
	if n == 0 {
		return ""
	}
	var osc []ChartLine
	var over []ChartLine
	for _, l := range c.Lines {
		if l.Overlay {
			over = append(over, l)
		} else {
			osc = append(osc, l)
		}
	}
	lo, hi := priceRange(c.Bars)
	for _, l := range over {
		for _, v := range l.Values {
			if !math.IsNaN(v) {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	plo, phi := lo, hi // unpadded price range: which levels belong here
	lo, hi = padded(lo, hi)
	price := scale{lo, hi, chartTop, chartTop + chartPriceH}
	height := chartTop + chartPriceH + 8
	var oscS scale
	if len(osc) > 0 {
		olo, ohi := math.Inf(1), math.Inf(-1)
		for _, l := range osc {
			for _, v := range l.Values {
				if !math.IsNaN(v) {
					olo, ohi = math.Min(olo, v), math.Max(ohi, v)
				}
			}
		}
		for _, lv := range c.Levels {
			if !inRange(lv.Value, plo, phi) {
				olo, ohi = math.Min(olo, lv.Value), math.Max(ohi, lv.Value)
			}
		}
		olo, ohi = padded(olo, ohi)
		top := height + chartGap
		oscS = scale{olo, ohi, top, top + chartOscH}
		height = top + chartOscH + 8
	}
	plotW := chartW - chartAxisW
	step := plotW / float64(n)
	x := func(i int) float64 { return step*float64(i) + step/2 }
	bodyW := math.Max(1, step*0.6)

	var w svgWriter
	w.s(`<svg class="chart" tabindex="0" viewBox="0 0 `, f(chartW), " ", f(height), `" role="img" aria-label="`,
		html.EscapeString(c.Ticker+" "+string(c.Timeframe)), ` candlesticks with the alert's indicators, levels, triggers and re-arms">`)
	axis := func(sc scale) {
		for i := 0; i <= 4; i++ {
			v := sc.lo + (sc.hi-sc.lo)*float64(i)/4
			y := sc.y(v)
			w.s(`<line class="grid" x1="0" y1="`, f(y), `" x2="`, f(plotW), `" y2="`, f(y), `"/>`)
			w.s(`<text class="axis" x="`, f(plotW+4), `" y="`, f(y+4), `">`, num(v), `</text>`)
		}
	}
	axis(price)
	if len(osc) > 0 {
		axis(oscS)
	}
	// Time labels: about six across.
	every := max(1, n/6)
	for i := 0; i < n; i += every {
		if x(i) > plotW-45 {
			break // would run into the price labels
		}
		w.s(`<text class="axis" x="`, f(x(i)), `" y="`, f(height-1), `" text-anchor="middle">`,
			c.Bars[i].Time.UTC().Format("01-02 15:04"), `</text>`)
	}
	level := func(sc scale, lv ChartLevel) {
		y := sc.y(lv.Value)
		w.s(`<line class="level" x1="0" y1="`, f(y), `" x2="`, f(plotW), `" y2="`, f(y), `"><title>`,
			html.EscapeString(lv.Label), " ", num(lv.Value), `</title></line>`)
		w.s(`<text class="level-label" x="4" y="`, f(y-3), `">`, html.EscapeString(lv.Label), " ", num(lv.Value), `</text>`)
	}
	for _, lv := range c.Levels {
		switch {
		case inRange(lv.Value, plo, phi):
			level(price, lv)
		case len(osc) > 0:
			level(oscS, lv)
		}
	}
	// Candles.
	w.s(`<g class="candles">`)
	var vals strings.Builder
	for i, b := range c.Bars {
		cls := "up"
		if b.Close < b.Open {
			cls = "dn"
		}
		vals.Reset()
		vals.WriteString(b.Time.UTC().Format("2006-01-02 15:04Z"))
		vals.WriteString("  O " + num(b.Open) + "  H " + num(b.High) + "  L " + num(b.Low) + "  C " + num(b.Close) + "  V " + num(b.Volume))
		for _, l := range c.Lines {
			vals.WriteString("  " + l.Label + " " + num(l.Values[i]))
		}
		v := html.EscapeString(vals.String())
		top, bot := price.y(math.Max(b.Open, b.Close)), price.y(math.Min(b.Open, b.Close))
		w.s(`<g class="c `, cls, `" data-v="`, v, `"><title>`, v, `</title>`)
		w.s(`<rect class="hit" x="`, f(x(i)-step/2), `" y="`, f(chartTop), `" width="`, f(step), `" height="`, f(chartPriceH), `"/>`)
		w.s(`<line x1="`, f(x(i)), `" y1="`, f(price.y(b.High)), `" x2="`, f(x(i)), `" y2="`, f(price.y(b.Low)), `"/>`)
		w.s(`<rect x="`, f(x(i)-bodyW/2), `" y="`, f(top), `" width="`, f(bodyW), `" height="`, f(math.Max(1, bot-top)), `"/></g>`)
	}
	w.s(`</g>`)
	line := func(sc scale, l ChartLine, k int) {
		w.s(`<path class="ind ind`, strconv.Itoa(k%4), `" d="`)
		pen := false
		for i, v := range l.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				pen = false
				continue
			}
			if pen {
				w.s("L", f(x(i)), ",", f(sc.y(v)))
			} else {
				w.s("M", f(x(i)), ",", f(sc.y(v)))
				pen = true
			}
		}
		w.s(`"><title>`, html.EscapeString(l.Label), `</title></path>`)
	}
	k := 0
	for _, l := range over {
		line(price, l, k)
		k++
	}
	for _, l := range osc {
		line(oscS, l, k)
		k++
	}
	// Legend.
	lx := 4.0
	k = 0
	for _, l := range append(over, osc...) {
		w.s(`<text class="legend ind`, strconv.Itoa(k%4), `" x="`, f(lx), `" y="`, f(chartTop+12), `">`, html.EscapeString(l.Label), `</text>`)
		lx += 9*float64(len(l.Label)) + 16
		k++
	}
	// Events.
	index := make(map[int64]int, n)
	for i, b := range c.Bars {
		index[b.Time.Unix()] = i
	}
	for _, ev := range c.Events {
		i, ok := index[ev.BarTime.Unix()]
		if !ok {
			continue
		}
		b := c.Bars[i]
		title := html.EscapeString(ev.Kind + " " + ev.BarTime.UTC().Format("2006-01-02 15:04Z") + ": " + ev.Description)
		if ev.Kind == alerts.EventTrigger {
			y := price.y(b.Low) + 6
			w.s(`<path class="mk-trig" d="M`, f(x(i)), ",", f(y), "l6,10h-12z", `"><title>`, title, `</title></path>`)
		} else {
			w.s(`<circle class="mk-rearm" cx="`, f(x(i)), `" cy="`, f(price.y(b.High)-8), `" r="5"><title>`, title, `</title></circle>`)
		}
	}
	w.s(`</svg>`)
	return template.HTML(w.b.String()) //nolint:gosec // every text is escaped above
}
