package script

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Notification channels a condition may name.
const (
	ChannelTelegram = "telegram"
	ChannelEmail    = "email"
	ChannelWebhook  = "webhook"
	ChannelLog      = "log"
)

// KnownChannels lists the channel names accepted in notification rules.
var KnownChannels = []string{ChannelTelegram, ChannelEmail, ChannelWebhook, ChannelLog}

// Values of Condition.On.
const (
	OnSuccess = "success"
	OnFailure = "failure"
	OnAlways  = "always"
)

// operators accepted in Condition.Operator.
var operators = []string{">=", ">", "<=", "<", "==", "!="}

// Rules are the notification_rules of a script job:
//
//	{"conditions": [
//	   {"check_field": "vix_current", "operator": ">=", "threshold": 20, "channels": ["email"]},
//	   {"on": "failure", "channel": "telegram"}]}
//
// The zero Rules has no conditions and selects no channel.
type Rules struct {
	// Conditions are evaluated independently; every one that matches
	// contributes its channels.
	Conditions []Condition
}

// Condition is one entry of notification_rules.conditions. Exactly one of
// On and CheckField is set.
type Condition struct {
	// On is "success", "failure" or "always" (the run's outcome), or empty
	// for a field check.
	On string
	// CheckField names a key of the script result; a dotted name such as
	// "stats.max" reaches into nested objects when no key has that exact
	// name.
	CheckField string
	// Operator is one of >=, >, <=, <, ==, != (field checks only).
	Operator string
	// Threshold is a float64, or for == and != also a string or a bool.
	Threshold any
	// Channels are the channels to notify when the condition matches:
	// "channels" (a list) and "channel" (one name) of the JSON, merged,
	// without duplicates. There is at least one.
	Channels []string
}

// rawCondition mirrors the JSON of a condition.
type rawCondition struct {
	On         *string         `json:"on"`
	CheckField *string         `json:"check_field"`
	Operator   *string         `json:"operator"`
	Threshold  json.RawMessage `json:"threshold"`
	Channels   json.RawMessage `json:"channels"`
	Channel    json.RawMessage `json:"channel"`
}

// ParseRules decodes and validates notification_rules. An unknown `on`
// value, operator or channel, a field check without operator or threshold,
// a non-numeric threshold for an ordering operator, or a condition without
// a channel is an error naming the condition, e.g.
//
//	notification_rules.conditions[1].operator: "=>" is not one of >=, >, <=, <, ==, !=
//
// Unknown keys are ignored. JSON null means no rules.
func ParseRules(raw []byte) (Rules, error) {
	var top struct {
		Conditions json.RawMessage `json:"conditions"`
	}
	if isNull(raw) {
		return Rules{}, nil
	}
	if err := json.Unmarshal(raw, &top); err != nil {
		return Rules{}, fmt.Errorf("notification_rules: want an object with \"conditions\", got %s", abbrev(raw))
	}
	if len(top.Conditions) == 0 || isNull(top.Conditions) {
		return Rules{}, nil
	}
	var items []json.RawMessage
	if err := json.Unmarshal(top.Conditions, &items); err != nil {
		return Rules{}, fmt.Errorf("notification_rules.conditions: want a list, got %s", abbrev(top.Conditions))
	}
	var r Rules
	for i, it := range items {
		c, err := parseCondition(it)
		if err != nil {
			return Rules{}, fmt.Errorf("notification_rules.conditions[%d]%w", i, err)
		}
		r.Conditions = append(r.Conditions, c)
	}
	return r, nil
}

// parseCondition decodes one condition; its errors start with ".field: " or
// ": " so the caller can prefix the condition's position.
func parseCondition(raw json.RawMessage) (Condition, error) {
	var rc rawCondition
	if err := json.Unmarshal(raw, &rc); err != nil || isNull(raw) {
		return Condition{}, fmt.Errorf(": want an object, got %s", abbrev(raw))
	}
	var c Condition
	switch {
	case rc.On != nil && rc.CheckField != nil:
		return Condition{}, errors.New(`: has both "on" and "check_field"; use one condition for each`)
	case rc.On != nil:
		switch *rc.On {
		case OnSuccess, OnFailure, OnAlways:
			c.On = *rc.On
		default:
			return Condition{}, fmt.Errorf(".on: %q is not one of success, failure, always", *rc.On)
		}
		if rc.Operator != nil || len(rc.Threshold) > 0 {
			return Condition{}, errors.New(`: "operator" and "threshold" belong to a "check_field" condition, not to "on"`)
		}
	case rc.CheckField != nil:
		if strings.TrimSpace(*rc.CheckField) == "" {
			return Condition{}, errors.New(".check_field: empty")
		}
		c.CheckField = *rc.CheckField
		if rc.Operator == nil {
			return Condition{}, errors.New(".operator: missing")
		}
		if !slices.Contains(operators, *rc.Operator) {
			return Condition{}, fmt.Errorf(".operator: %q is not one of %s", *rc.Operator, strings.Join(operators, ", "))
		}
		c.Operator = *rc.Operator
		th, err := parseThreshold(rc.Threshold, c.Operator)
		if err != nil {
			return Condition{}, err
		}
		c.Threshold = th
	default:
		return Condition{}, errors.New(`: needs "on" or "check_field"`)
	}

	chans, err := parseChannels(rc.Channels, rc.Channel)
	if err != nil {
		return Condition{}, err
	}
	c.Channels = chans
	return c, nil
}

// parseThreshold decodes a threshold: a number for every operator, a
// string or bool for == and !=.
func parseThreshold(raw json.RawMessage, op string) (any, error) {
	if len(raw) == 0 || isNull(raw) {
		return nil, errors.New(".threshold: missing")
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf(".threshold: %s is not JSON", abbrev(raw))
	}
	switch v.(type) {
	case float64:
		return v, nil
	case string, bool:
		if op == "==" || op == "!=" {
			return v, nil
		}
		return nil, fmt.Errorf(".threshold: %s must be a number for operator %s", abbrev(raw), op)
	default:
		return nil, fmt.Errorf(".threshold: %s must be a number, a string or a bool", abbrev(raw))
	}
}

// parseChannels merges "channels" (a list) and "channel" (one name).
func parseChannels(list, one json.RawMessage) ([]string, error) {
	var names []string
	if len(list) > 0 && !isNull(list) {
		if err := json.Unmarshal(list, &names); err != nil {
			return nil, fmt.Errorf(".channels: want a list of channel names, got %s", abbrev(list))
		}
	}
	if len(one) > 0 && !isNull(one) {
		var n string
		if err := json.Unmarshal(one, &n); err != nil {
			return nil, fmt.Errorf(".channel: want a channel name, got %s", abbrev(one))
		}
		names = append(names, n)
	}
	if len(names) == 0 {
		return nil, errors.New(`: no "channels" or "channel"`)
	}
	var out []string
	for _, n := range names {
		if !slices.Contains(KnownChannels, n) {
			return nil, fmt.Errorf(".channels: %q is not one of %s", n, strings.Join(KnownChannels, ", "))
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Channels returns the channels of every condition that matches res, in
// the order of first mention, without duplicates.
func (r Rules) Channels(res Result) []string {
	var out []string
	for _, c := range r.Conditions {
		if !c.Matches(res) {
			continue
		}
		for _, ch := range c.Channels {
			if !slices.Contains(out, ch) {
				out = append(out, ch)
			}
		}
	}
	return out
}

// Matches reports whether the condition holds for res. A field check
// matches only when the script result has the field and its value has the
// threshold's type (a number for a number, and so on); a missing field or a
// value of another type never matches, not even for !=.
func (c Condition) Matches(res Result) bool {
	switch c.On {
	case OnSuccess:
		return res.Success
	case OnFailure:
		return !res.Success
	case OnAlways:
		return true
	}
	if c.CheckField == "" {
		return false
	}
	v, ok := lookupField(res.ScriptResult, c.CheckField)
	if !ok {
		return false
	}
	switch th := c.Threshold.(type) {
	case float64:
		f, ok := toFloat(v)
		if !ok {
			return false
		}
		return compareNumbers(f, c.Operator, th)
	case string:
		s, ok := v.(string)
		return ok && equalityHolds(s == th, c.Operator)
	case bool:
		b, ok := v.(bool)
		return ok && equalityHolds(b == th, c.Operator)
	}
	return false
}

// lookupField finds name in m, first as a key, then as a dotted path into
// nested objects.
func lookupField(m map[string]any, name string) (any, bool) {
	if v, ok := m[name]; ok {
		return v, true
	}
	parts := strings.Split(name, ".")
	if len(parts) < 2 {
		return nil, false
	}
	var cur any = m
	for _, p := range parts {
		obj, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = obj[p]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// toFloat converts a JSON number (json.Number, float64 or a Go integer)
// to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

// compareNumbers applies op to a and b.
func compareNumbers(a float64, op string, b float64) bool {
	switch op {
	case ">=":
		return a >= b
	case ">":
		return a > b
	case "<=":
		return a <= b
	case "<":
		return a < b
	case "==":
		return a == b
	case "!=":
		return a != b
	}
	return false
}

// equalityHolds turns an equality outcome into the result of == or !=.
func equalityHolds(equal bool, op string) bool {
	switch op {
	case "==":
		return equal
	case "!=":
		return !equal
	}
	return false
}
