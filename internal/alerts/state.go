package alerts

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Alert statuses kept in state_json.status.
const (
	StatusArmed     = "ARMED"
	StatusTriggered = "TRIGGERED"
	StatusCooldown  = "COOLDOWN"
	StatusInactive  = "INACTIVE"
	StatusPaused    = "PAUSED"
	StatusError     = "ERROR"
)

// StateVersion is the state_json version written by Encode. Version 1 (or
// no version) is the original service's state.
const StateVersion = 2

// MaxStateBytes caps the encoded state_json.
const MaxStateBytes = 10 * 1024

// maxRecentTriggers bounds the flood-guard history kept in the state.
const maxRecentTriggers = 64

var (
	// ErrNoState marks the warning of DecodeState for an empty state_json.
	ErrNoState = errors.New("no alert state")
	// ErrCorruptState marks the warning of DecodeState for a state_json
	// that could not be read (entirely or in part).
	ErrCorruptState = errors.New("corrupt alert state")
)

// State is an alert's memory between evaluations, stored in
// job_schedules.state_json with the original service's keys.
type State struct {
	// Status is ARMED, TRIGGERED, COOLDOWN, INACTIVE, PAUSED or ERROR.
	Status string
	// Sides maps each crossing (by its rule path, e.g.
	// "rule.and[0].crosses_above") to the side of lhs against rhs on the
	// last evaluated bar: above, below or equal.
	Sides map[string]string
	// LastBarTS is the open time of the last closed bar evaluated.
	LastBarTS time.Time
	// LastEvaluation is when the alert was last evaluated.
	LastEvaluation time.Time
	// LastTriggered is when the alert last fired (the bar's close time for
	// closed bars).
	LastTriggered time.Time
	// LastRearmed is when the alert last re-armed.
	LastRearmed time.Time
	// TriggerCount counts every trigger since the state was created.
	TriggerCount int
	// ConsecutiveTriggerBars counts consecutive closed bars on which the
	// rule held (for persistence_bars).
	ConsecutiveTriggerBars int
	// ConsecutiveRearmBars counts consecutive closed bars on which the
	// rearm condition held.
	ConsecutiveRearmBars int
	// Error is the last evaluation error or the reason for PAUSED.
	Error string
	// Version is the state format version (StateVersion after Encode).
	Version int
	// LastTriggerBarTS is the open time of the bar that last fired (to fire
	// at most once per bar with the forming bar).
	LastTriggerBarTS time.Time
	// RecentTriggers are the times of the latest notifications (flood
	// guard).
	RecentTriggers []time.Time
	// Extra keeps keys this version does not know, written back unchanged.
	Extra map[string]json.RawMessage
}

// NewState returns the default state: ARMED, current version.
func NewState() State { return State{Status: StatusArmed, Version: StateVersion} }

// wireState is the JSON form of State.
type wireState struct {
	Version                int               `json:"version"`
	Status                 string            `json:"status"`
	Sides                  map[string]string `json:"sides,omitempty"`
	LastBarTS              time.Time         `json:"last_bar_ts,omitzero"`
	LastEvaluation         time.Time         `json:"last_evaluation,omitzero"`
	LastTriggered          time.Time         `json:"last_triggered,omitzero"`
	LastRearmed            time.Time         `json:"last_rearmed,omitzero"`
	TriggerCount           int               `json:"trigger_count"`
	ConsecutiveTriggerBars int               `json:"consecutive_trigger_bars"`
	ConsecutiveRearmBars   int               `json:"consecutive_rearm_bars"`
	Error                  *string           `json:"error"`
	LastTriggerBarTS       time.Time         `json:"last_trigger_bar_ts,omitzero"`
	RecentTriggers         []time.Time       `json:"recent_triggers,omitempty"`
}

var knownStateKeys = map[string]bool{"version": true, "status": true, "sides": true, "last_bar_ts": true,
	"last_evaluation": true, "last_triggered": true, "last_rearmed": true, "trigger_count": true,
	"consecutive_trigger_bars": true, "consecutive_rearm_bars": true, "error": true,
	"last_trigger_bar_ts": true, "recent_triggers": true}

// Encode returns the state_json bytes (at most MaxStateBytes). When the
// state is too large, unknown keys, the flood-guard history, the sides and
// finally the error text are trimmed, in that order.
func (s State) Encode() ([]byte, error) {
	w := wireState{
		Version: StateVersion, Status: s.Status, Sides: s.Sides,
		LastBarTS: s.LastBarTS.UTC(), LastEvaluation: s.LastEvaluation.UTC(),
		LastTriggered: s.LastTriggered.UTC(), LastRearmed: s.LastRearmed.UTC(),
		TriggerCount: s.TriggerCount, ConsecutiveTriggerBars: s.ConsecutiveTriggerBars,
		ConsecutiveRearmBars: s.ConsecutiveRearmBars, LastTriggerBarTS: s.LastTriggerBarTS.UTC(),
		RecentTriggers: s.RecentTriggers,
	}
	if w.Status == "" {
		w.Status = StatusArmed
	}
	if s.Error != "" {
		e := s.Error
		w.Error = &e
	}
	extra := s.Extra
	for attempt := 0; ; attempt++ {
		out, err := encodeWire(w, extra)
		if err != nil {
			return nil, fmt.Errorf("encode alert state: %w", err)
		}
		if len(out) <= MaxStateBytes {
			return out, nil
		}
		switch attempt {
		case 0:
			extra = nil
		case 1:
			if n := len(w.RecentTriggers); n > 16 {
				w.RecentTriggers = w.RecentTriggers[n-16:]
			}
		case 2:
			w.Sides = nil
		case 3:
			if w.Error != nil && len(*w.Error) > 1024 {
				e := (*w.Error)[:1024] + "…"
				w.Error = &e
			}
		default:
			return nil, fmt.Errorf("encode alert state: %d bytes exceed the %d-byte cap", len(out), MaxStateBytes)
		}
	}
}

func encodeWire(w wireState, extra map[string]json.RawMessage) ([]byte, error) {
	out, err := json.Marshal(w)
	if err != nil || len(extra) == 0 {
		return out, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(out, &m); err != nil {
		return nil, err
	}
	for k, v := range extra {
		if !knownStateKeys[k] {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// DecodeState reads state_json. Missing state gives NewState and a warning
// wrapping ErrNoState; unreadable state (or unreadable keys) gives the
// defaults for what could not be read and a warning wrapping ErrCorruptState
// that names every problem. The caller logs the warning and goes on.
// Timestamps may be RFC 3339 strings (the original service's form), other
// common layouts, or Unix seconds or milliseconds.
func DecodeState(raw []byte) (State, error) {
	st := NewState()
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return st, fmt.Errorf("%w: starting ARMED", ErrNoState)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &m); err != nil {
		return st, fmt.Errorf("%w: %v; starting ARMED", ErrCorruptState, err)
	}
	if len(m) == 0 {
		return st, fmt.Errorf("%w: empty object; starting ARMED", ErrNoState)
	}
	var probs []string
	bad := func(key string, v json.RawMessage, why string) {
		probs = append(probs, fmt.Sprintf("%s=%s: %s", key, truncate(string(v), 60), why))
	}
	st.Version = 1
	for _, k := range sortedRawKeys(m) {
		v := m[k]
		if bytes.Equal(v, []byte("null")) {
			continue
		}
		switch k {
		case "version":
			n, err := decodeInt(v)
			if err != nil || n < 1 {
				bad(k, v, "not a positive whole number")
				continue
			}
			st.Version = n
		case "status":
			var s string
			if json.Unmarshal(v, &s) != nil {
				bad(k, v, "not a string")
				continue
			}
			s = strings.ToUpper(strings.TrimSpace(s))
			switch s {
			case StatusArmed, StatusTriggered, StatusCooldown, StatusInactive, StatusPaused:
				st.Status = s
			case StatusError:
				// ERROR was the old service's "last run failed"; evaluation
				// resumes armed.
				st.Status = StatusArmed
			default:
				bad(k, v, "unknown status, using ARMED")
			}
		case "sides":
			var sm map[string]any
			if json.Unmarshal(v, &sm) != nil {
				bad(k, v, "not an object")
				continue
			}
			st.Sides = make(map[string]string, len(sm))
			for sk, sv := range sm {
				s, _ := sv.(string)
				s = strings.ToLower(s)
				if s != "above" && s != "below" && s != "equal" {
					bad("sides."+sk, json.RawMessage(fmt.Sprintf("%q", fmt.Sprint(sv))), "not above, below or equal")
					continue
				}
				st.Sides[sk] = s
			}
		case "last_bar_ts", "last_evaluation", "last_triggered", "last_rearmed", "last_trigger_bar_ts":
			t, err := decodeTime(v)
			if err != nil {
				bad(k, v, err.Error())
				continue
			}
			*map[string]*time.Time{"last_bar_ts": &st.LastBarTS, "last_evaluation": &st.LastEvaluation,
				"last_triggered": &st.LastTriggered, "last_rearmed": &st.LastRearmed,
				"last_trigger_bar_ts": &st.LastTriggerBarTS}[k] = t
		case "trigger_count", "consecutive_trigger_bars", "consecutive_rearm_bars":
			n, err := decodeInt(v)
			if err != nil || n < 0 {
				bad(k, v, "not a whole number >= 0")
				continue
			}
			*map[string]*int{"trigger_count": &st.TriggerCount, "consecutive_trigger_bars": &st.ConsecutiveTriggerBars,
				"consecutive_rearm_bars": &st.ConsecutiveRearmBars}[k] = n
		case "error":
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v) // keep an object or number as text
			}
			st.Error = s
		case "recent_triggers":
			var arr []json.RawMessage
			if json.Unmarshal(v, &arr) != nil {
				bad(k, v, "not an array")
				continue
			}
			for _, e := range arr {
				if t, err := decodeTime(e); err == nil {
					st.RecentTriggers = append(st.RecentTriggers, t)
				}
			}
			if n := len(st.RecentTriggers); n > maxRecentTriggers {
				st.RecentTriggers = st.RecentTriggers[n-maxRecentTriggers:]
			}
		default:
			if st.Extra == nil {
				st.Extra = map[string]json.RawMessage{}
			}
			st.Extra[k] = v
		}
	}
	if len(probs) > 0 {
		return st, fmt.Errorf("%w: %s", ErrCorruptState, strings.Join(probs, "; "))
	}
	return st, nil
}

// clone copies the reference fields so that Evaluate never changes its
// input state.
func (s State) clone() State {
	s.Sides = maps.Clone(s.Sides)
	s.RecentTriggers = append([]time.Time(nil), s.RecentTriggers...)
	return s
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func decodeInt(v json.RawMessage) (int, error) {
	var f float64
	if err := json.Unmarshal(v, &f); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, err
		}
		if f, err = strconv.ParseFloat(strings.TrimSpace(s), 64); err != nil {
			return 0, err
		}
	}
	if f != math.Trunc(f) || math.Abs(f) > 1e12 {
		return 0, fmt.Errorf("not a whole number")
	}
	return int(f), nil
}

// decodeTime reads a timestamp: a string in RFC 3339 or a common layout
// (naive times are UTC), or a number of Unix seconds (milliseconds when
// above 1e11).
func decodeTime(v json.RawMessage) (time.Time, error) {
	var f float64
	if json.Unmarshal(v, &f) == nil {
		return unixTime(f)
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return time.Time{}, fmt.Errorf("not a time")
	}
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999Z07:00",
		"2006-01-02 15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return unixTime(f)
	}
	return time.Time{}, fmt.Errorf("not a time")
}

func unixTime(f float64) (time.Time, error) {
	if f <= 0 || math.IsNaN(f) || f > 1e14 {
		return time.Time{}, fmt.Errorf("not a Unix time")
	}
	if f > 1e11 {
		f /= 1000
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).UTC(), nil
}
