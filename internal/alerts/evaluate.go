package alerts

import (
	"fmt"
	"runtime/debug"
	"sort"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// Default flood-guard limits (ALERT_MAX_TRIGGERS, ALERT_FLOOD_WINDOW).
const (
	DefaultMaxTriggers = 15
	DefaultFloodWindow = 3 * time.Minute
)

// Event kinds.
const (
	EventTrigger  = "trigger"
	EventRearm    = "rearm"
	EventPaused   = "paused"
	EventInactive = "inactive"
	EventError    = "error"
)

// maxEventTimes bounds Event.Times of a collapsed catch-up.
const maxEventTimes = 100

// Limits are the flood-guard limits: more than MaxTriggers notifications
// within FloodWindow pause the alert. Zero values mean the defaults (15, 3
// minutes); a negative MaxTriggers disables the guard.
type Limits struct {
	MaxTriggers int
	FloodWindow time.Duration
}

// Input is what one evaluation reads. Evaluate does no I/O.
type Input struct {
	// Bars are closed bars, oldest first, at least Alert.MinBars of them
	// (Alert.Lookback is what to fetch). Trailing bars that have not closed
	// at Now are treated as the forming bar.
	Bars []marketdata.Bar
	// Forming is the bar still open at Now, or nil. Only the trigger modes
	// once_per_bar and every_time look at it.
	Forming *marketdata.Bar
	// Now is the evaluation time (wall time live, the bar's close in replay).
	Now time.Time
	// SeriesKey identifies the bar series for Cache, e.g.
	// "binance:BTCUSDT:1h".
	SeriesKey string
	// Cache shares indicator results between alerts on the same series; nil
	// computes directly.
	Cache *indicators.Cache
	// Limits are the flood-guard limits.
	Limits Limits
	// Series optionally shares indicator lines between the alerts evaluated
	// on the same bars (see NewSeries); when Bars is empty the Series' bars
	// are used.
	Series *Series
}

// Series is one bar series snapshot (an instrument and timeframe after a new
// bar) shared by every alert evaluated on it. It memoizes the indicator lines
// the alerts ask for, so each distinct indicator is looked up in (or
// computed through) the Cache once per snapshot rather than once per alert.
// It is safe for concurrent use.
type Series struct {
	key   string
	bars  []marketdata.Bar
	cache *indicators.Cache
	mu    sync.RWMutex
	memo  map[string]map[string][]float64
}

// NewSeries returns a Series for closed bars (oldest first) identified by
// key (e.g. "binance:BTCUSDT:1h"); cache may be nil.
func NewSeries(key string, bars []marketdata.Bar, cache *indicators.Cache) *Series {
	return &Series{key: key, bars: bars, cache: cache, memo: map[string]map[string][]float64{}}
}

// Bars returns the bars of the series.
func (s *Series) Bars() []marketdata.Bar { return s.bars }

// same reports whether bars is exactly this series' slice.
func (s *Series) same(bars []marketdata.Bar) bool {
	return len(bars) == len(s.bars) && (len(bars) == 0 || &bars[0] == &s.bars[0])
}

func (s *Series) compute(g refGroup) (map[string][]float64, error) {
	s.mu.RLock()
	out, ok := s.memo[g.key]
	s.mu.RUnlock()
	if ok {
		return out, nil
	}
	var err error
	if s.cache != nil && s.key != "" {
		out, err = s.cache.Compute(s.key, s.bars, g.spec)
	} else {
		out, err = indicators.Compute(g.spec, s.bars)
	}
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.memo[g.key] = out
	s.mu.Unlock()
	return out, nil
}

// Result is the outcome of one evaluation: the state to store and the
// events to deliver, to be written in one transaction.
type Result struct {
	// State is the new state_json content.
	State State
	// Events are in time order; at most one trigger event (a catch-up over
	// several bars collapses into one, with Count and Times).
	Events []Event
	// Evaluated is the number of closed bars examined.
	Evaluated int
	// Warnings are non-fatal problems for the log, e.g. a gap in the data
	// larger than the fetched window.
	Warnings []string
}

// Event is something that happened to the alert.
type Event struct {
	// Kind is trigger, rearm, paused, inactive or error.
	Kind string
	// BarTime is the open time of the bar the event belongs to.
	BarTime time.Time
	// Time is when the event happened: the bar's close for closed bars,
	// Now for the forming bar and for events not tied to a bar.
	Time time.Time
	// Status is the alert status after the event.
	Status string
	// Values holds every value the rule (or rearm condition) compared,
	// by name, with name+"_prev" for the previous bar of crossings.
	Values map[string]float64
	// Bar is the bar the event belongs to.
	Bar marketdata.Bar
	// Forming is true when the bar had not closed.
	Forming bool
	// Count is the number of triggers (or rearms) collapsed into this event.
	Count int
	// Times are the open times of the collapsed bars (at most 100, latest).
	Times []time.Time
	// Description explains the event with its values, e.g.
	// "RSI(14) crossed below 30: 31.20 → 28.70".
	Description string
	// Rearm describes the next rearm condition, if any.
	Rearm string
	// Title and Body are phone-readable notification text.
	Title, Body string
	// Priority is the notify priority: LOW, NORMAL, HIGH or CRITICAL.
	Priority string
	// Notify says whether the event should be sent to the trader
	// (triggers and pauses are; rearm, inactive and error events are only
	// recorded).
	Notify bool
}

// NotEnoughBarsError is returned when fewer closed bars came than the rule
// needs.
type NotEnoughBarsError struct{ Need, Got int }

// Error says how many bars were needed and how many came.
func (e *NotEnoughBarsError) Error() string {
	return fmt.Sprintf("not enough bars: the rule needs %d closed bars, got %d", e.Need, e.Got)
}

// evaluation is the working set of one Evaluate call.
type evaluation struct {
	a      *Alert
	in     Input
	now    time.Time
	st     State
	events []Event
	warns  []string
}

// Evaluate runs the alert over every closed bar after st.LastBarTS (only the
// last bar when the state is new), and over the forming bar when the trigger
// mode allows, and returns the new state and events. It is pure and never
// panics; on error the Result still carries the state to store (with Error
// set) and an error event.
func (a *Alert) Evaluate(in Input, st State) (res Result, err error) {
	e := &evaluation{a: a, in: in, now: in.Now.UTC(), st: st.clone()}
	if e.st.Status == "" {
		e.st.Status = StatusArmed
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("alert %s %s: evaluation panicked: %v\n%s", a.Ticker, a.Timeframe, r, debug.Stack())
			res = e.fail(st, err)
		}
	}()
	if e.now.IsZero() {
		return e.fail(st, fmt.Errorf("alert %s %s: Input.Now is required", a.Ticker, a.Timeframe)), fmt.Errorf("alert %s %s: Input.Now is required", a.Ticker, a.Timeframe)
	}
	n, err := e.run()
	if err != nil {
		err = fmt.Errorf("alert %s %s: %w", a.Ticker, a.Timeframe, err)
		return e.fail(st, err), err
	}
	e.st.LastEvaluation = e.now
	e.st.Error = ""
	if e.st.Status == StatusPaused {
		e.st.Error = e.pausedReason()
	}
	e.st.Version = StateVersion
	return Result{State: e.st, Events: e.events, Evaluated: n, Warnings: e.warns}, nil
}

// fail is the result of a failed evaluation: the input state with the error
// recorded.
func (e *evaluation) fail(st State, err error) Result {
	s := st.clone()
	if s.Status == "" {
		s.Status = StatusArmed
	}
	s.LastEvaluation, s.Error, s.Version = e.now, err.Error(), StateVersion
	ev := Event{Kind: EventError, Time: e.now, Status: s.Status, Description: err.Error(), Priority: e.a.Notify.Priority}
	func() {
		defer func() { _ = recover() }() // the error event must not fail in turn
		e.a.format(&ev)
	}()
	return Result{State: s, Events: []Event{ev}}
}

func (e *evaluation) pausedReason() string {
	if e.st.Error != "" {
		return e.st.Error
	}
	return "paused by the flood guard"
}

func (e *evaluation) run() (int, error) {
	a, st := e.a, &e.st
	tf := a.Timeframe
	if st.Status == StatusInactive || st.Status == StatusPaused {
		return 0, nil
	}
	bars, forming := e.in.Bars, e.in.Forming
	if e.in.Series != nil && len(bars) == 0 {
		bars = e.in.Series.bars
	}
	for len(bars) > 0 && !tf.Closed(bars[len(bars)-1].Time, e.now) {
		if forming == nil {
			f := bars[len(bars)-1]
			forming = &f
		}
		bars = bars[:len(bars)-1]
	}
	start := len(bars) - 1
	if !st.LastBarTS.IsZero() {
		start = sort.Search(len(bars), func(i int) bool { return bars[i].Time.After(st.LastBarTS) })
	}
	// The order of the examined bars (and the one before them) is checked;
	// the data source guarantees the rest.
	for i := max(1, min(start, len(bars)-1)); i < len(bars); i++ {
		if !bars[i].Time.After(bars[i-1].Time) {
			return 0, fmt.Errorf("bars not in increasing time order at index %d (%s after %s)", i,
				bars[i].Time.UTC().Format(time.RFC3339), bars[i-1].Time.UTC().Format(time.RFC3339))
		}
	}
	if len(bars) < a.minBars {
		return 0, &NotEnoughBarsError{Need: a.minBars, Got: len(bars)}
	}
	c, err := e.context(bars, e.in.SeriesKey, e.in.Series)
	if err != nil {
		return 0, err
	}
	if !st.LastBarTS.IsZero() {
		if start == 0 && tf.Next(st.LastBarTS).Before(bars[0].Time) {
			e.warns = append(e.warns, fmt.Sprintf("data gap: last evaluated bar %s, first fetched bar %s; bars in between were not examined",
				st.LastBarTS.UTC().Format(time.RFC3339), bars[0].Time.UTC().Format(time.RFC3339)))
		}
	}
	start = max(start, a.minBars-1)
	evaluated := 0
	expires := a.Options.ExpiresAt
	for i := start; i < len(bars); i++ {
		closeT := tf.Next(bars[i].Time)
		if !expires.IsZero() && closeT.After(expires) {
			break
		}
		if closeT.After(e.now) {
			closeT = e.now
		}
		e.step(c, i, closeT)
		st.LastBarTS = bars[i].Time
		evaluated++
		if st.Status == StatusInactive {
			break
		}
	}
	if evaluated > 0 && len(a.siders) > 0 && st.Status != StatusInactive {
		if st.Sides == nil {
			st.Sides = make(map[string]string, len(a.siders))
		}
		last := len(bars) - 1
		for _, s := range a.siders {
			if side := s.side(c, last); side != "" {
				st.Sides[s.sideKey()] = side
			}
		}
	}
	if st.Status != StatusInactive {
		if !expires.IsZero() && !e.now.Before(expires) {
			st.Status = StatusInactive
			e.add(Event{Kind: EventInactive, Time: e.now, BarTime: bars[len(bars)-1].Time, Bar: bars[len(bars)-1],
				Description: "expired at " + expires.Format(time.RFC3339)})
		} else {
			e.cooldownOver(c, len(bars)-1, e.now)
			e.live(c, bars, forming, evaluated)
		}
	}
	e.collapse()
	e.floodGuard()
	return evaluated, nil
}

// context computes every indicator line of the alert on bars, through the
// Series memo when given (and when bars are its bars), else the Cache.
func (e *evaluation) context(bars []marketdata.Bar, seriesKey string, series *Series) (*evalCtx, error) {
	c := &evalCtx{bars: bars}
	if len(e.a.refs) == 0 {
		return c, nil
	}
	c.lines = make([][]float64, len(e.a.refs))
	if series != nil && !series.same(bars) {
		series = nil
	}
	for _, g := range e.a.groups {
		var out map[string][]float64
		var err error
		switch {
		case series != nil:
			out, err = series.compute(g)
		case e.in.Cache != nil && seriesKey != "":
			out, err = e.in.Cache.Compute(seriesKey, bars, g.spec)
		default:
			out, err = indicators.Compute(g.spec, bars)
		}
		if err != nil {
			return nil, fmt.Errorf("indicator %s: %w", g.key, err)
		}
		for _, l := range g.lines {
			s, ok := out[l.line]
			if !ok || len(s) != len(bars) {
				return nil, fmt.Errorf("indicator %s: no output %q for %d bars", g.key, l.line, len(bars))
			}
			c.lines[l.ref] = s
		}
	}
	return c, nil
}

// hasRearm reports whether the rearm state machine is on.
func (a *Alert) hasRearm() bool { return a.rearm != nil }

// step runs the state machine on closed bar i, closing at t.
func (e *evaluation) step(c *evalCtx, i int, t time.Time) {
	a, st := e.a, &e.st
	e.cooldownOver(c, i, t)
	switch {
	case st.Status == StatusArmed || (!a.hasRearm() && st.Status == StatusTriggered):
		ok := a.rule.eval(c, i)
		if ok {
			st.ConsecutiveTriggerBars++
		} else {
			st.ConsecutiveTriggerBars = 0
			if !a.hasRearm() {
				st.Status = StatusArmed
			}
		}
		firedOnForming := a.Options.Trigger == TriggerOncePerBar && st.LastTriggerBarTS.Equal(c.bars[i].Time)
		if ok && st.ConsecutiveTriggerBars >= a.persist && !firedOnForming {
			e.fire(c, i, t, false)
		}
	case st.Status == StatusTriggered:
		if a.rearm.eval(c, i) {
			st.ConsecutiveRearmBars++
		} else {
			st.ConsecutiveRearmBars = 0
		}
		if st.ConsecutiveRearmBars >= a.rearmPer {
			st.ConsecutiveRearmBars = 0
			if a.cooldown > 0 && t.Before(st.LastTriggered.Add(a.cooldown)) {
				st.Status = StatusCooldown
				return
			}
			e.rearmed(c, i, t, "")
		}
	}
}

// cooldownOver re-arms a COOLDOWN alert whose cooldown has passed at t.
func (e *evaluation) cooldownOver(c *evalCtx, i int, t time.Time) {
	st := &e.st
	if st.Status == StatusCooldown && !t.Before(st.LastTriggered.Add(e.a.cooldown)) {
		e.rearmed(c, i, t, fmt.Sprintf("cooldown of %s minutes over", fmtConst(e.a.Rearm.CooldownMinutes)))
	}
}

func (e *evaluation) rearmed(c *evalCtx, i int, t time.Time, why string) {
	st := &e.st
	st.Status, st.LastRearmed = StatusArmed, t
	st.ConsecutiveTriggerBars, st.ConsecutiveRearmBars = 0, 0
	vals := map[string]float64{}
	desc := e.a.rearm.explain(c, i, vals)
	if why != "" {
		desc = why + "; " + desc
	}
	e.add(Event{Kind: EventRearm, BarTime: c.bars[i].Time, Time: t, Bar: c.bars[i], Values: vals, Description: "re-armed: " + desc})
}

// fire records a trigger on bar i of c at time t.
func (e *evaluation) fire(c *evalCtx, i int, t time.Time, forming bool) {
	a, st := e.a, &e.st
	vals := map[string]float64{}
	desc := a.rule.explain(c, i, vals)
	st.TriggerCount++
	st.LastTriggered, st.LastTriggerBarTS = t, c.bars[i].Time
	st.Status = StatusTriggered
	if a.hasRearm() {
		st.ConsecutiveTriggerBars, st.ConsecutiveRearmBars = 0, 0
	}
	ev := Event{Kind: EventTrigger, BarTime: c.bars[i].Time, Time: t, Bar: c.bars[i], Values: vals, Forming: forming,
		Description: desc, Notify: true}
	if a.hasRearm() {
		ev.Rearm = "re-arms when " + a.rearm.String()
		if a.cooldown > 0 {
			ev.Rearm += fmt.Sprintf(", %s minutes after the trigger at the earliest", fmtConst(a.Rearm.CooldownMinutes))
		}
	}
	if a.Options.Trigger == TriggerOnce {
		st.Status = StatusInactive
		ev.Rearm = ""
		e.add(ev)
		e.add(Event{Kind: EventInactive, BarTime: ev.BarTime, Time: t, Bar: ev.Bar, Description: "trigger mode once: fired, now inactive"})
		return
	}
	e.add(ev)
}

// live evaluates the forming bar (once_per_bar, every_time) or re-evaluates
// the last closed bar (every_time without a forming bar).
func (e *evaluation) live(c *evalCtx, bars []marketdata.Bar, forming *marketdata.Bar, evaluated int) {
	a, st := e.a, &e.st
	mode := a.Options.Trigger
	if mode != TriggerOncePerBar && mode != TriggerEveryTime {
		return
	}
	armed := st.Status == StatusArmed || (!a.hasRearm() && st.Status == StatusTriggered)
	if !armed {
		return
	}
	if forming != nil && forming.Time.After(bars[len(bars)-1].Time) {
		fb := make([]marketdata.Bar, len(bars)+1)
		copy(fb, bars)
		fb[len(bars)] = *forming
		key := ""
		if e.in.SeriesKey != "" {
			key = e.in.SeriesKey + "#forming"
		}
		fc, err := e.context(fb, key, nil)
		if err != nil {
			e.warns = append(e.warns, "forming bar not evaluated: "+err.Error())
			return
		}
		i := len(fb) - 1
		if !a.rule.eval(fc, i) || st.ConsecutiveTriggerBars+1 < a.persist {
			return
		}
		if mode == TriggerOncePerBar && st.LastTriggerBarTS.Equal(forming.Time) {
			return
		}
		e.fire(fc, i, e.now, true)
		return
	}
	if mode == TriggerEveryTime && evaluated == 0 {
		i := len(bars) - 1
		if a.rule.eval(c, i) && st.ConsecutiveTriggerBars >= a.persist {
			e.fire(c, i, e.now, false)
		}
	}
}

func (e *evaluation) add(ev Event) {
	if ev.Status == "" {
		ev.Status = e.st.Status
	}
	if ev.Count == 0 {
		ev.Count = 1
		ev.Times = []time.Time{ev.BarTime}
	}
	e.events = append(e.events, ev)
}

// collapse merges all trigger events into the last one and all rearm events
// into the last one, keeping the count and the bar times.
func (e *evaluation) collapse() {
	for _, kind := range []string{EventTrigger, EventRearm} {
		n, last := 0, -1
		for i, ev := range e.events {
			if ev.Kind == kind {
				n, last = n+1, i
			}
		}
		if n < 2 {
			continue
		}
		var times []time.Time
		out := e.events[:0]
		for i, ev := range e.events {
			if ev.Kind != kind {
				out = append(out, ev)
				continue
			}
			times = append(times, ev.BarTime)
			if i == last {
				ev.Count = n
				if len(times) > maxEventTimes {
					times = times[len(times)-maxEventTimes:]
				}
				ev.Times = times
				out = append(out, ev)
			}
		}
		e.events = out
	}
	for i := range e.events {
		ev := &e.events[i]
		ev.Priority = e.a.Notify.Priority
		e.a.format(ev)
	}
}

// floodGuard counts the trigger notification of this evaluation and pauses
// the alert when there were more than MaxTriggers within FloodWindow.
func (e *evaluation) floodGuard() {
	max, window := e.in.Limits.MaxTriggers, e.in.Limits.FloodWindow
	if max == 0 {
		max = DefaultMaxTriggers
	}
	if window <= 0 {
		window = DefaultFloodWindow
	}
	if max < 0 {
		return
	}
	idx := -1
	for i, ev := range e.events {
		if ev.Kind == EventTrigger {
			idx = i
		}
	}
	if idx < 0 {
		return
	}
	st := &e.st
	keep := st.RecentTriggers[:0]
	for _, t := range st.RecentTriggers {
		if t.After(e.now.Add(-window)) {
			keep = append(keep, t)
		}
	}
	st.RecentTriggers = append(keep, e.now)
	if n := len(st.RecentTriggers); n > maxRecentTriggers {
		st.RecentTriggers = st.RecentTriggers[n-maxRecentTriggers:]
	}
	if len(st.RecentTriggers) <= max {
		return
	}
	st.Status = StatusPaused
	st.Error = fmt.Sprintf("paused by the flood guard: %d triggers within %s (limit %d); reset the alert state to resume",
		len(st.RecentTriggers), window, max)
	ev := e.events[idx]
	ev.Kind, ev.Status, ev.Rearm = EventPaused, StatusPaused, ""
	ev.Description = st.Error + ". Last trigger: " + ev.Description
	e.a.format(&ev)
	e.events = append(append(e.events[:idx:idx], e.events[idx+1:]...), ev)
}
