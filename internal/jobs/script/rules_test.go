package script

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

func TestParseRulesErrors(t *testing.T) {
	tests := []struct {
		raw  string
		want string
	}{
		{`[]`, `notification_rules: want an object`},
		{`{"conditions": {}}`, `notification_rules.conditions: want a list`},
		{`{"conditions": [5]}`, `conditions[0]: want an object, got 5`},
		{`{"conditions": [{"channel": "email"}]}`, `conditions[0]: needs "on" or "check_field"`},
		{`{"conditions": [{"on": "success", "check_field": "x", "channel": "email"}]}`, `has both "on" and "check_field"`},
		{`{"conditions": [{"on": "success", "operator": ">", "channel": "email"}]}`, `belong to a "check_field" condition`},
		{`{"conditions": [{"on": "success"}]}`, `conditions[0]: no "channels" or "channel"`},
		{`{"conditions": [{"on": "success", "channels": []}]}`, `no "channels" or "channel"`},
		{`{"conditions": [{"on": "success", "channel": "sms"}]}`, `conditions[0].channels: "sms" is not one of telegram, email, webhook, log`},
		{`{"conditions": [{"on": "success", "channels": "email"}]}`, `conditions[0].channels: want a list of channel names, got "email"`},
		{`{"conditions": [{"on": "success", "channel": ["email"]}]}`, `conditions[0].channel: want a channel name`},
		{`{"conditions": [{"on": "always", "channel": "log"}, {"check_field": "x", "operator": "=>", "threshold": 1, "channel": "log"}]}`,
			`conditions[1].operator: "=>" is not one of >=, >, <=, <, ==, !=`},
		{`{"conditions": [{"check_field": "x", "threshold": 1, "channel": "log"}]}`, `conditions[0].operator: missing`},
		{`{"conditions": [{"check_field": "", "operator": ">", "threshold": 1, "channel": "log"}]}`, `conditions[0].check_field: empty`},
		{`{"conditions": [{"check_field": "x", "operator": ">", "channel": "log"}]}`, `conditions[0].threshold: missing`},
		{`{"conditions": [{"check_field": "x", "operator": ">", "threshold": "high", "channel": "log"}]}`, `threshold: "high" must be a number for operator >`},
		{`{"conditions": [{"check_field": "x", "operator": "==", "threshold": [1], "channel": "log"}]}`, `threshold: [1] must be a number, a string or a bool`},
	}
	for _, tt := range tests {
		_, err := ParseRules([]byte(tt.raw))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRules(%s)\n  error = %v\n  want it to contain %q", tt.raw, err, tt.want)
		}
	}
}

func TestParseRulesChannelsMerged(t *testing.T) {
	r, err := ParseRules([]byte(`{"conditions": [{"on": "always", "channels": ["email", "log", "email"], "channel": "log"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Conditions[0].Channels; !slices.Equal(got, []string{"email", "log"}) {
		t.Errorf("channels = %q", got)
	}
	if r, err := ParseRules([]byte(`{}`)); err != nil || len(r.Conditions) != 0 {
		t.Errorf("empty rules: %+v, %v", r, err)
	}
}

func TestRulesChannels(t *testing.T) {
	rules, err := ParseRules([]byte(`{"conditions": [
		{"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["email"]},
		{"on": "failure", "channel": "telegram"},
		{"on": "success", "channel": "log"},
		{"check_field": "state", "operator": "==", "threshold": "panic", "channels": ["webhook", "email"]},
		{"check_field": "stale", "operator": "!=", "threshold": false, "channel": "telegram"},
		{"check_field": "stats.max", "operator": "<", "threshold": 0.5, "channel": "webhook"}
	]}`))
	if err != nil {
		t.Fatal(err)
	}
	num := func(s string) json.Number { return json.Number(s) }
	tests := []struct {
		name string
		res  Result
		want []string
	}{
		{"success without result", Result{Success: true}, []string{"log"}},
		{"failure without result", Result{}, []string{"telegram"}},
		{"threshold met (json.Number)", Result{Success: true, ScriptResult: map[string]any{"vix_current": num("20")}}, []string{"email", "log"}},
		{"threshold met (float64)", Result{Success: true, ScriptResult: map[string]any{"vix_current": 25.5}}, []string{"email", "log"}},
		{"threshold missed", Result{Success: true, ScriptResult: map[string]any{"vix_current": num("19.99")}}, []string{"log"}},
		{"wrong type never matches", Result{Success: true, ScriptResult: map[string]any{"vix_current": "25", "stale": "yes"}}, []string{"log"}},
		{"string equality, deduplicated", Result{ScriptResult: map[string]any{"state": "panic", "vix_current": num("30")}}, []string{"email", "telegram", "webhook"}},
		{"string inequality is no match", Result{Success: true, ScriptResult: map[string]any{"state": "calm"}}, []string{"log"}},
		{"bool !=", Result{Success: true, ScriptResult: map[string]any{"stale": true}}, []string{"log", "telegram"}},
		{"bool == threshold is no match for !=", Result{Success: true, ScriptResult: map[string]any{"stale": false}}, []string{"log"}},
		{"dotted path", Result{Success: true, ScriptResult: map[string]any{"stats": map[string]any{"max": num("0.1")}}}, []string{"log", "webhook"}},
		{"dotted path through a non-object", Result{Success: true, ScriptResult: map[string]any{"stats": num("1")}}, []string{"log"}},
	}
	for _, tt := range tests {
		if got := rules.Channels(tt.res); !slices.Equal(got, tt.want) {
			t.Errorf("%s: Channels = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestConditionOperators(t *testing.T) {
	tests := []struct {
		op    string
		value float64
		want  bool
	}{
		{">=", 10, true}, {">=", 9, false},
		{">", 11, true}, {">", 10, false},
		{"<=", 10, true}, {"<=", 11, false},
		{"<", 9, true}, {"<", 10, false},
		{"==", 10, true}, {"==", 10.5, false},
		{"!=", 10.5, true}, {"!=", 10, false},
	}
	for _, tt := range tests {
		c := Condition{CheckField: "v", Operator: tt.op, Threshold: 10.0, Channels: []string{"log"}}
		if got := c.Matches(Result{ScriptResult: map[string]any{"v": tt.value}}); got != tt.want {
			t.Errorf("%v %s 10 = %v, want %v", tt.value, tt.op, got, tt.want)
		}
	}
	if (Condition{}).Matches(Result{Success: true}) {
		t.Error("zero Condition matched")
	}
}
