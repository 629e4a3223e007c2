package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// Chart bar counts: the default, and the bounds of ?bars=.
const (
	ChartBars    = 150
	MinChartBars = 20
	MaxChartBars = 1000
)

// Chart is an alert's chart: its bars, the indicator lines and levels its
// rule uses, and the replay's trigger and re-arm events on those bars.
type Chart struct {
	Ticker    string
	Timeframe marketdata.Timeframe
	// Bars are the bars shown (oldest first).
	Bars []marketdata.Bar
	// Lines are the indicator lines, each as long as Bars.
	Lines []ChartLine
	// Levels are the rule's constant thresholds and the re-arm level.
	Levels []ChartLevel
	// Events are the replay's triggers and re-arms on the bars shown.
	Events []alerts.ReplayEvent
	// Summary is the replay's summary.
	Summary alerts.ReplaySummary
}

// ChartLine is one indicator line.
type ChartLine struct {
	Label  string
	Values []float64
	// Overlay is true for lines on the price scale (moving averages,
	// bands), false for oscillators drawn in the lower panel.
	Overlay bool
}

// ChartLevel is a horizontal level.
type ChartLevel struct {
	Label string
	Value float64
}

// BuildChart replays a over bars, the last n of which are shown (the
// earlier ones warm the indicators up), through alerts.Replay — the code of
// `scheduler alert test` — and computes the indicator lines its rule reads.
func BuildChart(a *alerts.Alert, bars []marketdata.Bar, n int) (*Chart, error) {
	if len(bars) == 0 {
		return nil, fmt.Errorf("no bars for %s %s", a.Ticker, a.Timeframe)
	}
	first := max(0, len(bars)-n)
	c := &Chart{Ticker: a.Ticker, Timeframe: a.Timeframe, Bars: bars[first:]}
	sum, err := alerts.Replay(a, bars, alerts.ReplayOptions{From: bars[first].Time}, func(ev alerts.ReplayEvent) error {
		if ev.Kind == alerts.EventTrigger || ev.Kind == alerts.EventRearm {
			c.Events = append(c.Events, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	c.Summary = sum
	canon, err := a.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := json.Unmarshal(canon, &cfg); err != nil {
		return nil, err
	}
	specs := map[string]lineSpec{}
	levels := map[float64]string{}
	walkRule(cfg["rule"], "rule", specs, levels)
	if rm, ok := cfg["rearm"].(map[string]any); ok {
		walkRule(rm["rule"], "re-arm", specs, levels)
	}
	if a.Rearm != nil && a.Rearm.Mode == "hysteresis" {
		levels[a.Rearm.Threshold] = "threshold"
	}
	lo, hi := priceRange(c.Bars)
	keys := make([]string, 0, len(specs))
	for k := range specs {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sp := specs[k]
		out, err := indicators.Compute(sp.spec, bars)
		if err != nil {
			return nil, fmt.Errorf("indicator %s: %w", k, err)
		}
		vals := out[sp.line]
		if len(vals) != len(bars) {
			continue
		}
		vals = vals[first:]
		c.Lines = append(c.Lines, ChartLine{Label: k, Values: vals, Overlay: inRange(median(vals), lo, hi)})
	}
	for v, label := range levels {
		c.Levels = append(c.Levels, ChartLevel{Label: label, Value: v})
	}
	sort.Slice(c.Levels, func(i, j int) bool { return c.Levels[i].Value < c.Levels[j].Value })
	return c, nil
}

// lineSpec is one indicator line a rule reads.
type lineSpec struct {
	spec indicators.Spec
	line string
}

// walkRule collects the indicator operands and constant values of a
// canonical rule tree (alerts.Alert.MarshalJSON).
func walkRule(v any, label string, specs map[string]lineSpec, levels map[float64]string) {
	switch t := v.(type) {
	case []any:
		for _, e := range t {
			walkRule(e, label, specs, levels)
		}
	case map[string]any:
		if ind, ok := t["indicator"].(map[string]any); ok {
			typ, _ := ind["type"].(string)
			line, _ := ind["line"].(string)
			sp := indicators.Spec{Type: typ, Params: map[string]float64{}}
			var parts []string
			if pm, ok := ind["params"].(map[string]any); ok {
				pk := make([]string, 0, len(pm))
				for k := range pm {
					pk = append(pk, k)
				}
				sort.Strings(pk)
				for _, k := range pk {
					switch pv := pm[k].(type) {
					case float64:
						sp.Params[k] = pv
						parts = append(parts, fmt.Sprintf("%g", pv))
					case string:
						if k == "source" {
							sp.Source = pv
							parts = append(parts, pv)
						}
					}
				}
			}
			name := typ + "(" + strings.Join(parts, ",") + ")"
			if outs, err := indicators.Outputs(typ); err == nil && len(outs) > 1 {
				name += "." + line
			}
			specs[name] = lineSpec{spec: sp, line: line}
			return
		}
		if val, ok := t["value"].(float64); ok && len(t) == 1 {
			if _, seen := levels[val]; !seen {
				levels[val] = label
			}
			return
		}
		for _, e := range t {
			walkRule(e, label, specs, levels)
		}
	}
}

func priceRange(bars []marketdata.Bar) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, b := range bars {
		lo, hi = math.Min(lo, b.Low), math.Max(hi, b.High)
	}
	return lo, hi
}

// inRange reports whether v lies on the price scale of [lo, hi] (within
// half the range around it).
func inRange(v, lo, hi float64) bool {
	pad := (hi - lo) / 2
	return !math.IsNaN(v) && v >= lo-pad && v <= hi+pad
}

func median(vals []float64) float64 {
	var ok []float64
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			ok = append(ok, v)
		}
	}
	if len(ok) == 0 {
		return math.NaN()
	}
	sort.Float64s(ok)
	return ok[len(ok)/2]
}

// chartData is the chart page.
type chartData struct {
	S     store.Schedule
	N     int
	Chart *Chart
	SVG   template.HTML
	Error string
	State *alertView
}

func (s *Server) alertChart(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Store.GetSchedule(r.Context(), id)
	}
	if err == nil && sc.JobType != "alert" {
		err = badInput("schedule %d is a %s schedule; only alerts have a chart", id, sc.JobType)
	}
	var n int64
	if err == nil {
		n, err = queryInt(r.URL.Query(), "bars", ChartBars, MinChartBars, MaxChartBars)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := chartData{S: *sc, N: int(n), State: alertState(sc, s.d.AlertSchemaDir)}
	d.S.TaskParams = redact.JSON(d.S.TaskParams)
	c, err := s.chartOf(r.Context(), sc, int(n))
	if err != nil {
		d.Error = redact.Text(err.Error())
	} else {
		d.Chart, d.SVG = c, DrawChart(c)
	}
	s.render(w, r, "chart", sc.Name+" chart", d)
}

// chartOf fetches the alert's live bars (n shown, plus its lookback) and
// builds its chart.
func (s *Server) chartOf(ctx context.Context, sc *store.Schedule, n int) (*Chart, error) {
	a, err := alerts.ParseWithSchemaDir(sc.TaskParams, s.d.AlertSchemaDir)
	if err != nil {
		return nil, err
	}
	if s.d.Bars == nil {
		return nil, fmt.Errorf("no market data configured")
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	bars, err := s.d.Bars(ctx, a.Ticker, a.Timeframe, n+a.Lookback())
	if err != nil {
		return nil, fmt.Errorf("market data for %s %s: %w", a.Ticker, a.Timeframe, err)
	}
	return BuildChart(a, bars, n)
}
