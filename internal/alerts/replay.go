package alerts

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// ReplayOptions select the bars a replay evaluates and its flood-guard
// limits.
type ReplayOptions struct {
	// From and To bound the open times of the bars evaluated (inclusive);
	// zero means unbounded. Earlier bars still serve as history.
	From, To time.Time
	// Limits are the flood-guard limits (zero: defaults).
	Limits Limits
}

// ReplaySummary counts what a replay did.
type ReplaySummary struct {
	// Bars is the number of bars in the selected range.
	Bars int
	// WarmUp is the number of selected bars skipped because fewer than
	// MinBars bars were available up to them.
	WarmUp int
	// Evaluated is the number of bars evaluated.
	Evaluated int
	// Triggers and Rearms count trigger and rearm events.
	Triggers, Rearms int
	// Status is the final alert status.
	Status string
	// State is the final state.
	State State
}

// ReplayEvent is one event of a replay with the status before it.
type ReplayEvent struct {
	Event
	// PrevStatus is the status before the event.
	PrevStatus string
}

// Replay feeds bars (oldest first) to the alert one closed bar at a time,
// through exactly the live path: Evaluate with the last Lookback bars up to
// the bar, Now at the bar's close, then State.Encode and DecodeState. emit
// is called for every event; an emit error stops the replay.
func Replay(a *Alert, bars []marketdata.Bar, opt ReplayOptions, emit func(ReplayEvent) error) (ReplaySummary, error) {
	sum := ReplaySummary{}
	st := NewState()
	lb := a.Lookback()
	for t := range bars {
		bt := bars[t].Time
		if (!opt.From.IsZero() && bt.Before(opt.From)) || (!opt.To.IsZero() && bt.After(opt.To)) {
			continue
		}
		sum.Bars++
		if t+1 < a.MinBars() {
			sum.WarmUp++
			continue
		}
		window := bars[max(0, t+1-lb) : t+1]
		prev := st.Status
		res, err := a.Evaluate(Input{Bars: window, Now: a.Timeframe.Next(bt), Limits: opt.Limits}, st)
		if err != nil {
			return sum, fmt.Errorf("bar %s: %w", bt.UTC().Format(time.RFC3339), err)
		}
		sum.Evaluated += res.Evaluated
		raw, err := res.State.Encode()
		if err != nil {
			return sum, fmt.Errorf("bar %s: %w", bt.UTC().Format(time.RFC3339), err)
		}
		if st, err = DecodeState(raw); err != nil {
			return sum, fmt.Errorf("bar %s: state does not round-trip: %w", bt.UTC().Format(time.RFC3339), err)
		}
		for _, ev := range res.Events {
			switch ev.Kind {
			case EventTrigger:
				sum.Triggers += ev.Count
			case EventRearm:
				sum.Rearms += ev.Count
			}
			if emit != nil {
				if err := emit(ReplayEvent{Event: ev, PrevStatus: prev}); err != nil {
					return sum, err
				}
			}
			prev = ev.Status
		}
	}
	sum.Status, sum.State = st.Status, st
	return sum, nil
}

// ReadBarsCSV reads bars from CSV with the columns
// time,open,high,low,close,volume. A header row naming the columns (in any
// order; "timestamp" or "date" for time) is optional; without one the order
// above is assumed. Time is RFC 3339, a date, or Unix seconds. Bars must be
// in strictly increasing time order; errors name the line.
func ReadBarsCSV(r io.Reader) ([]marketdata.Bar, error) {
	cr := csv.NewReader(marketdata.SkipBOM(r))
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.Comment = '#'
	cols := map[string]int{"time": 0, "open": 1, "high": 2, "low": 3, "close": 4, "volume": 5}
	var bars []marketdata.Bar
	first := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("csv: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue
		}
		if first {
			first = false
			if _, err := ParseTime(rec[0]); err != nil {
				hdr, err := csvHeader(rec)
				if err != nil {
					return nil, fmt.Errorf("csv line %d: %w", line, err)
				}
				cols = hdr
				continue
			}
		}
		b, err := csvBar(rec, cols)
		if err != nil {
			return nil, fmt.Errorf("csv line %d: %w", line, err)
		}
		if n := len(bars); n > 0 && !b.Time.After(bars[n-1].Time) {
			return nil, fmt.Errorf("csv line %d: time %s is not after the previous bar's %s", line,
				b.Time.Format(time.RFC3339), bars[n-1].Time.Format(time.RFC3339))
		}
		bars = append(bars, b)
	}
	if len(bars) == 0 {
		return nil, errors.New("csv: no bars")
	}
	return bars, nil
}

func csvHeader(rec []string) (map[string]int, error) {
	cols := map[string]int{}
	for i, h := range rec {
		h = strings.ToLower(strings.TrimSpace(h))
		switch h {
		case "timestamp", "date", "datetime", "open_time":
			h = "time"
		}
		cols[h] = i
	}
	for _, need := range []string{"time", "open", "high", "low", "close", "volume"} {
		if _, ok := cols[need]; !ok {
			return nil, fmt.Errorf("header %s lacks column %q (need time,open,high,low,close,volume)", marketdata.QuoteField(strings.Join(rec, ",")), need)
		}
	}
	return cols, nil
}

func csvBar(rec []string, cols map[string]int) (marketdata.Bar, error) {
	get := func(name string) (string, error) {
		i := cols[name]
		if i >= len(rec) {
			return "", fmt.Errorf("missing column %q (%d fields)", name, len(rec))
		}
		return strings.TrimSpace(rec[i]), nil
	}
	var b marketdata.Bar
	ts, err := get("time")
	if err != nil {
		return b, err
	}
	if b.Time, err = ParseTime(ts); err != nil {
		return b, fmt.Errorf("time: invalid time %s (want RFC 3339 such as 2024-01-02T15:04:05Z, a date 2024-01-02 or Unix seconds)", marketdata.QuoteField(ts))
	}
	for _, f := range []struct {
		name string
		dst  *float64
	}{{"open", &b.Open}, {"high", &b.High}, {"low", &b.Low}, {"close", &b.Close}, {"volume", &b.Volume}} {
		s, err := get(f.name)
		if err != nil {
			return b, err
		}
		v, err := strconv.ParseFloat(s, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return b, fmt.Errorf("%s: %s is not a finite number", f.name, marketdata.QuoteField(s))
		}
		*f.dst = v
	}
	if b.High < b.Low {
		return b, fmt.Errorf("high %s is below low %s", fmtConst(b.High), fmtConst(b.Low))
	}
	if b.Volume < 0 {
		return b, fmt.Errorf("volume %s is negative", fmtConst(b.Volume))
	}
	return b, nil
}

// ParseTime reads a time as accepted in configs, CSV and the CLI: RFC 3339,
// "2006-01-02T15:04:05" or "2006-01-02 15:04:05" (UTC), a date (midnight
// UTC) or Unix seconds.
func ParseTime(s string) (time.Time, error) { return parseTime(s) }
