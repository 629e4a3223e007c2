package alerts

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestStateRoundTrip(t *testing.T) {
	ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	st := State{Status: StatusCooldown, Sides: map[string]string{"rule.crosses_above": "above"}, LastBarTS: ts,
		LastEvaluation: ts.Add(time.Minute), LastTriggered: ts.Add(-time.Hour), LastRearmed: ts.Add(-2 * time.Hour),
		TriggerCount: 7, ConsecutiveTriggerBars: 1, ConsecutiveRearmBars: 2, Error: "boom", Version: StateVersion,
		LastTriggerBarTS: ts.Add(-2 * time.Hour), RecentTriggers: []time.Time{ts.Add(-time.Hour)},
		Extra: map[string]json.RawMessage{"legacy": json.RawMessage(`{"x":1}`)}}
	raw, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, warn := DecodeState(raw)
	if warn != nil {
		t.Fatalf("warning on own state: %v", warn)
	}
	if !reflect.DeepEqual(got, st) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, st)
	}
	for _, key := range []string{`"status":"COOLDOWN"`, `"sides":{"rule.crosses_above":"above"}`, `"last_bar_ts":"2024-03-01T12:00:00Z"`,
		`"trigger_count":7`, `"consecutive_trigger_bars":1`, `"consecutive_rearm_bars":2`, `"error":"boom"`, `"version":2`, `"legacy":{"x":1}`} {
		if !strings.Contains(string(raw), key) {
			t.Errorf("encoded state lacks %s: %s", key, raw)
		}
	}
}

func TestDecodeOriginalState(t *testing.T) {
	// The original service's forms: lower-case status, naive timestamps,
	// milliseconds, numbers as strings, error null, no version.
	raw := `{"status":"triggered","sides":{"rule.crosses_below":"below"},"last_bar_ts":"2024-01-01 10:00:00",
		"last_evaluation":"2024-01-01T10:05:00.123456+00:00","last_triggered":1704103200000,"last_rearmed":1704000000,
		"trigger_count":"3","consecutive_trigger_bars":0,"consecutive_rearm_bars":1.0,"error":null}`
	st, warn := DecodeState([]byte(raw))
	if warn != nil {
		t.Fatalf("warning: %v", warn)
	}
	want := State{Status: StatusTriggered, Sides: map[string]string{"rule.crosses_below": "below"},
		LastBarTS:      time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
		LastEvaluation: time.Date(2024, 1, 1, 10, 5, 0, 123456000, time.UTC),
		LastTriggered:  time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC),
		LastRearmed:    time.Unix(1704000000, 0).UTC(),
		TriggerCount:   3, ConsecutiveRearmBars: 1, Version: 1}
	if !reflect.DeepEqual(st, want) {
		t.Errorf("decoded\n %+v\nwant\n %+v", st, want)
	}
}

func TestDecodeStateProblems(t *testing.T) {
	tests := []struct {
		name, raw  string
		sentinel   error
		wantStatus string
		wantInWarn []string
	}{
		{"empty", ``, ErrNoState, StatusArmed, nil},
		{"null", `null`, ErrNoState, StatusArmed, nil},
		{"empty object", `{}`, ErrNoState, StatusArmed, nil},
		{"not json", `{"status": ARMED`, ErrCorruptState, StatusArmed, nil},
		{"array", `[1,2]`, ErrCorruptState, StatusArmed, nil},
		{"bad keys", `{"status":"WEIRD","trigger_count":-1,"last_bar_ts":"yesterday","sides":{"a":"up"}}`, ErrCorruptState, StatusArmed,
			[]string{"status", "trigger_count", "last_bar_ts", "sides.a"}},
		{"bad status keeps the rest", `{"status":42,"trigger_count":5}`, ErrCorruptState, StatusArmed, []string{"status"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, warn := DecodeState([]byte(tc.raw))
			if !errors.Is(warn, tc.sentinel) {
				t.Fatalf("warning %v, want %v", warn, tc.sentinel)
			}
			if st.Status != tc.wantStatus {
				t.Errorf("status %q, want %q", st.Status, tc.wantStatus)
			}
			for _, w := range tc.wantInWarn {
				if !strings.Contains(warn.Error(), w) {
					t.Errorf("warning %q does not name %q", warn, w)
				}
			}
		})
	}
	st, _ := DecodeState([]byte(`{"status":42,"trigger_count":5}`))
	if st.TriggerCount != 5 {
		t.Errorf("readable keys must survive a bad one: %+v", st)
	}
	st, warn := DecodeState([]byte(`{"status":"ERROR","error":"provider down"}`))
	if warn != nil || st.Status != StatusArmed || st.Error != "provider down" {
		t.Errorf("old ERROR status should resume ARMED: %+v %v", st, warn)
	}
}

func TestStateSizeCap(t *testing.T) {
	st := NewState()
	st.Error = strings.Repeat("x", 20000)
	st.Sides = map[string]string{}
	for i := 0; i < 500; i++ {
		st.Sides["rule.or["+strings.Repeat("9", 3)+"].crosses_above."+string(rune('a'+i%26))+strings.Repeat("k", i%40)] = "above"
	}
	for i := 0; i < maxRecentTriggers; i++ {
		st.RecentTriggers = append(st.RecentTriggers, t0.Add(time.Duration(i)*time.Second))
	}
	st.Extra = map[string]json.RawMessage{"big": json.RawMessage(`"` + strings.Repeat("y", 5000) + `"`)}
	raw, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) > MaxStateBytes {
		t.Fatalf("encoded %d bytes, cap %d", len(raw), MaxStateBytes)
	}
	got, warn := DecodeState(raw)
	if warn != nil || got.Status != StatusArmed || !strings.HasPrefix(got.Error, "xxx") || got.Extra != nil {
		t.Errorf("capped state: %v %+v", warn, got.Status)
	}
}
