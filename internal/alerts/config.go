package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// DefaultLookback is the number of bars fetched when options.lookback is
// not given (ALERT_DEFAULT_LOOKBACK of the original service).
const DefaultLookback = 200

// Trigger modes of options.trigger.
const (
	// TriggerOncePerBarClose fires at most once per closed bar (default).
	TriggerOncePerBarClose = "once_per_bar_close"
	// TriggerOncePerBar also evaluates the forming bar and fires at most once
	// per bar.
	TriggerOncePerBar = "once_per_bar"
	// TriggerEveryTime fires on every evaluation on which the rule holds,
	// including repeated evaluations of the same bar.
	TriggerEveryTime = "every_time"
	// TriggerOnce fires once, then the alert becomes INACTIVE.
	TriggerOnce = "once"
)

// Notification channels accepted in notify.channels.
var Channels = []string{"telegram", "email", "webhook", "log"}

// Priorities accepted in notify.priority (case-insensitive).
var Priorities = []string{"LOW", "NORMAL", "HIGH", "CRITICAL"}

// Alert is a parsed, validated alert job configuration (task_params of
// job_type "alert"). It is immutable and safe for concurrent use.
type Alert struct {
	// Name is task_params.name, or empty (the caller usually sets the
	// schedule name).
	Name string
	// Description is task_params.description, free text.
	Description string
	// Ticker is the instrument symbol, e.g. BTCUSDT.
	Ticker string
	// Timeframe is the bar length the rule is evaluated on.
	Timeframe marketdata.Timeframe
	// Options holds the parsed options object.
	Options Options
	// Notify holds the parsed notify object.
	Notify Notify
	// Rearm is the parsed rearm object, nil when absent.
	Rearm *Rearm
	// Bot describes task_params written by the framework's Telegram bot or
	// web UI (§3b), translated before parsing; nil for other configs.
	Bot *BotOrigin

	rule     node
	rearm    node // nil: no rearm state machine
	refs     []indRef
	groups   []refGroup
	siders   []sider
	minBars  int
	persist  int
	rearmPer int
	cooldown time.Duration
}

// refGroup is one indicator computation and the refs that read its lines.
type refGroup struct {
	spec  indicators.Spec
	key   string
	lines []lineRef
}

type lineRef struct {
	ref  int
	line string
}

// Options is task_params.options.
type Options struct {
	// Lookback is options.lookback, 0 when not given.
	Lookback int
	// Trigger is the effective trigger mode (one of the Trigger constants).
	Trigger string
	// EvaluateOncePerBar is options.evaluate_once_per_bar, nil when absent.
	EvaluateOncePerBar *bool
	// ExpiresAt is options.expires_at; zero means never.
	ExpiresAt time.Time
}

// Notify is task_params.notify.
type Notify struct {
	// Channels lists the delivery channels (telegram, email, webhook, log);
	// empty means the service default.
	Channels []string
	// Priority is LOW, NORMAL (default), HIGH or CRITICAL.
	Priority string
	// RecipientID is notify.recipient_id (a Telegram chat id or user key).
	RecipientID string
	// UserID is notify.user_id.
	UserID string
	// Template is notify.template, a free-form message template.
	Template string
	// Extra holds every other key of the notify object, unchanged.
	Extra map[string]any
}

// Rearm is task_params.rearm.
type Rearm struct {
	// Enabled is false when the rearm object says "enabled": false; the
	// alert then notifies on every bar where the rule holds, as without a
	// rearm object.
	Enabled bool
	// CooldownMinutes is the minimum time between a trigger and re-arming.
	CooldownMinutes float64
	// PersistenceBars is how many consecutive closed bars the rule (and
	// the rearm condition) must hold; at least 1.
	PersistenceBars int
	// Mode is "rule" (a rearm rule tree), "hysteresis" or "rule_false"
	// (re-arm when the rule no longer holds).
	Mode string
	// Threshold, Hysteresis, HysteresisType and Direction describe
	// hysteresis re-arming (Mode "hysteresis"). Direction is the side the
	// alert fires on: "above" re-arms at or below Threshold − h, "below" at or
	// above Threshold + h.
	Threshold      float64
	Hysteresis     float64
	HysteresisType string
	Direction      string
	// Ignored lists the keys of the original schema that were given and
	// have no effect (type, value, bars, side: the original evaluator
	// never read them), sorted.
	Ignored []string
}

// Problem is one validation problem: the JSON path and what is wrong.
type Problem struct {
	Path string
	Msg  string
}

// String renders the problem as "path: message".
func (p Problem) String() string {
	if p.Path == "" {
		return p.Msg
	}
	return p.Path + ": " + p.Msg
}

// ConfigError lists every problem found in an alert configuration.
type ConfigError struct{ Problems []Problem }

// Error lists the problems, one per line.
func (e *ConfigError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse validates task_params against the embedded JSON Schema and the rule
// language and returns the alert. Errors are a *ConfigError naming the path
// of each problem, e.g.
// `rule.and[1].crosses_above.lhs.indicator.type: unknown indicator "RSX" (known: ...)`.
func Parse(taskParams []byte) (*Alert, error) { return ParseWithSchemaDir(taskParams, "") }

// ParseWithSchemaDir is Parse with the outer-shape schema read from
// dir/alert.schema.json (ALERT_SCHEMA_DIR) instead of the embedded copy;
// an empty dir means the embedded schema.
//
// Task_params in the form of the framework's Telegram bot and web UI (an
// object with config_json, ORIGINAL-SYSTEM.md §3b) are translated first
// (TranslateBot); the alert's Bot field then describes them, and problems
// name the bot's keys (config_json, re_arm_config, ...).
//
// Before anything is decoded the text is checked against the input bounds
// (CheckBounds: MaxRuleDepth, MaxRuleNodes); a configuration beyond them is
// a *LimitError naming the key and the limit, found in time proportional to
// its size.
func ParseWithSchemaDir(taskParams []byte, dir string) (*Alert, error) {
	if err := CheckBounds(taskParams, ""); err != nil {
		return nil, err
	}
	if !IsBotConfig(taskParams) {
		return parse(taskParams, dir)
	}
	bot, err := TranslateBot(taskParams)
	if err != nil {
		return nil, err
	}
	if err := CheckBounds(bot.Params, ""); err != nil {
		return nil, err
	}
	a, err := parse(bot.Params, dir)
	if ce, ok := err.(*ConfigError); ok {
		probs := make([]Problem, len(ce.Problems))
		for i, p := range ce.Problems {
			probs[i] = botProblem(p, bot.Shape)
		}
		return nil, &ConfigError{probs}
	}
	if err != nil {
		return nil, err
	}
	a.Bot = bot
	return a, nil
}

// parse is ParseWithSchemaDir for task_params in the form of §3.
func parse(taskParams []byte, dir string) (*Alert, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(taskParams))
	if err != nil {
		return nil, &ConfigError{[]Problem{{Msg: "invalid JSON: " + err.Error()}}}
	}
	sch, err := loadSchema(dir)
	if err != nil {
		return nil, err
	}
	if err := sch.Validate(doc); err != nil {
		return nil, &ConfigError{schemaProblems(err)}
	}
	m := doc.(map[string]any) // the schema requires an object
	p := &parser{}
	a := &Alert{}
	a.Name, _ = m["name"].(string)
	a.Description, _ = m["description"].(string)
	a.Ticker = strings.TrimSpace(m["ticker"].(string))
	if err := marketdata.CheckSymbol(a.Ticker); err != nil {
		p.addf("ticker", "%v", err)
	}
	tf, err := marketdata.ParseTimeframe(m["timeframe"].(string))
	if err != nil {
		p.addf("timeframe", "%v", err)
	}
	a.Timeframe, p.tf = tf, tf
	a.Options = p.options(m["options"])
	a.Notify = p.notify(m["notify"])
	a.rule = p.node("rule", m["rule"])
	if rm, ok := m["rearm"].(map[string]any); ok && a.rule != nil {
		a.Rearm = p.rearmConfig(rm)
		if a.Rearm != nil {
			a.rearm = p.rearmNode(a.Rearm, rm, a.rule)
			p.checkPersistence(a.Rearm, a.rule, a.rearm)
		}
	}
	if len(p.problems) > 0 {
		return nil, &ConfigError{p.problems}
	}
	a.refs, a.siders = p.refs, p.siders
	for i, r := range a.refs {
		j := slices.IndexFunc(a.groups, func(g refGroup) bool { return g.key == r.key })
		if j < 0 {
			a.groups = append(a.groups, refGroup{spec: r.spec, key: r.key})
			j = len(a.groups) - 1
		}
		a.groups[j].lines = append(a.groups[j].lines, lineRef{ref: i, line: r.line})
	}
	a.minBars = max(1, a.rule.need())
	a.persist, a.rearmPer = 1, 1
	if a.Rearm != nil {
		a.persist = a.Rearm.PersistenceBars
		if a.rearm != nil {
			a.minBars = max(a.minBars, a.rearm.need())
			a.rearmPer = a.Rearm.PersistenceBars
		}
		a.cooldown = time.Duration(a.Rearm.CooldownMinutes * float64(time.Minute))
	}
	return a, nil
}

// Lookback is the number of closed bars to fetch: enough for every
// indicator of the rule and the rearm condition including their unstable
// periods, crossings and offsets, and at least options.lookback (200 when
// not given).
func (a *Alert) Lookback() int {
	lb := a.Options.Lookback
	if lb == 0 {
		lb = DefaultLookback
	}
	return max(lb, a.minBars)
}

// MinBars is the smallest number of closed bars Evaluate accepts: what the
// rule needs for one converged value at the last bar.
func (a *Alert) MinBars() int { return a.minBars }

// RuleString describes the rule, e.g. "RSI(14) crosses below 30".
func (a *Alert) RuleString() string { return a.rule.String() }

// RearmString describes the rearm condition, or "" without rearm.
func (a *Alert) RearmString() string {
	if a.rearm == nil {
		return ""
	}
	return a.rearm.String()
}

// MarshalJSON returns the canonical task_params: aliases resolved (BOLLINGER
// band → line), defaults of the rule made explicit, rearm keys without
// effect left out.
// Parsing the output gives an equivalent alert.
func (a *Alert) MarshalJSON() ([]byte, error) {
	m := map[string]any{"ticker": a.Ticker, "timeframe": string(a.Timeframe), "rule": a.rule.toJSON()}
	if a.Name != "" {
		m["name"] = a.Name
	}
	if a.Description != "" {
		m["description"] = a.Description
	}
	opts := map[string]any{"trigger": a.Options.Trigger}
	if a.Options.Lookback > 0 {
		opts["lookback"] = a.Options.Lookback
	}
	if a.Options.EvaluateOncePerBar != nil {
		opts["evaluate_once_per_bar"] = *a.Options.EvaluateOncePerBar
	}
	if !a.Options.ExpiresAt.IsZero() {
		opts["expires_at"] = a.Options.ExpiresAt.Format(time.RFC3339)
	}
	m["options"] = opts
	n := map[string]any{}
	for k, v := range a.Notify.Extra {
		n[k] = v
	}
	if len(a.Notify.Channels) > 0 {
		n["channels"] = a.Notify.Channels
	}
	n["priority"] = strings.ToLower(a.Notify.Priority)
	if a.Notify.RecipientID != "" {
		n["recipient_id"] = a.Notify.RecipientID
	}
	if a.Notify.UserID != "" {
		n["user_id"] = a.Notify.UserID
	}
	if a.Notify.Template != "" {
		n["template"] = a.Notify.Template
	}
	m["notify"] = n
	if r := a.Rearm; r != nil {
		rm := map[string]any{"enabled": r.Enabled, "persistence_bars": r.PersistenceBars}
		if r.CooldownMinutes > 0 {
			rm["cooldown_minutes"] = r.CooldownMinutes
		}
		switch r.Mode {
		case "rule":
			rm["rule"] = a.rearm.toJSON()
		case "hysteresis":
			rm["threshold"], rm["hysteresis"], rm["hysteresis_type"], rm["direction"] = r.Threshold, r.Hysteresis, r.HysteresisType, r.Direction
		}
		m["rearm"] = rm
	}
	return json.Marshal(m)
}

func (p *parser) options(v any) Options {
	o := Options{Trigger: TriggerOncePerBarClose}
	m, _ := v.(map[string]any)
	if m == nil {
		return o
	}
	if lb, ok := m["lookback"]; ok {
		o.Lookback, _ = p.integer("options.lookback", lb, 1, 100000)
	}
	trig, hasTrig := m["trigger"].(string)
	if hasTrig {
		o.Trigger = trig
	}
	if e, ok := m["evaluate_once_per_bar"].(bool); ok {
		o.EvaluateOncePerBar = &e
		switch {
		case !hasTrig && !e:
			o.Trigger = TriggerEveryTime
		case hasTrig && e && trig == TriggerEveryTime:
			p.addf("options.trigger", "every_time contradicts evaluate_once_per_bar: true; remove one of them")
		case hasTrig && !e && (trig == TriggerOncePerBarClose || trig == TriggerOnce):
			p.addf("options.trigger", "%s contradicts evaluate_once_per_bar: false; remove one of them", trig)
		}
	}
	if s, ok := m["expires_at"].(string); ok {
		t, err := parseTime(s)
		if err != nil {
			p.addf("options.expires_at", "%v", err)
		}
		o.ExpiresAt = t
	}
	return o
}

func (p *parser) notify(v any) Notify {
	n := Notify{Priority: "NORMAL"}
	m, _ := v.(map[string]any)
	if m == nil {
		return n
	}
	addCh := func(path string, s string) {
		c := strings.ToLower(strings.TrimSpace(s))
		if !slices.Contains(Channels, c) {
			p.addf(path, "unknown channel %q (known: %s)", s, strings.Join(Channels, ", "))
			return
		}
		if !slices.Contains(n.Channels, c) {
			n.Channels = append(n.Channels, c)
		}
	}
	for k, x := range m {
		switch k {
		case "channels":
			for i, c := range x.([]any) {
				addCh(fmt.Sprintf("notify.channels[%d]", i), c.(string))
			}
		case "channel":
			addCh("notify.channel", x.(string))
		case "priority":
			pr := strings.ToUpper(strings.TrimSpace(x.(string)))
			if !slices.Contains(Priorities, pr) {
				p.addf("notify.priority", "unknown priority %q (known: low, normal, high, critical)", x)
			}
			n.Priority = pr
		case "recipient_id":
			n.RecipientID = idString(x)
		case "user_id":
			n.UserID = idString(x)
		case "template":
			n.Template = x.(string)
		default:
			if n.Extra == nil {
				n.Extra = map[string]any{}
			}
			n.Extra[k] = x
		}
	}
	slices.Sort(n.Channels)
	return n
}

func idString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return fmt.Sprint(v)
}

// rearm keys that configure hysteresis.
var hysteresisKeys = []string{"threshold", "hysteresis", "hysteresis_type", "direction"}

// originalSchemaRearmKeys are the rearm keys that the original service's
// schema allowed but its evaluator never read: a rearm object holding only
// them never re-armed there, and the alert notified on every evaluation on
// which the rule held (for a crossing: once per crossing). They are accepted
// and, as there, have no effect: alone (or with "enabled": true) they mean
// no re-arming, beside other keys they are ignored.
var originalSchemaRearmKeys = []string{"bars", "side", "type", "value"}

// rearmConfig parses the non-rule keys of the rearm object. It returns nil
// when the object has problems.
func (p *parser) rearmConfig(m map[string]any) *Rearm {
	r := &Rearm{Enabled: true, PersistenceBars: 1, Hysteresis: 0.25, HysteresisType: "percentage"}
	n := len(p.problems)
	if e, ok := m["enabled"].(bool); ok {
		r.Enabled = e
	}
	if c, ok := m["cooldown_minutes"]; ok {
		r.CooldownMinutes, _ = p.number("rearm.cooldown_minutes", c)
	}
	for _, k := range originalSchemaRearmKeys {
		if _, ok := m[k]; ok {
			r.Ignored = append(r.Ignored, k)
		}
	}
	_, hasEnabled := m["enabled"]
	if len(r.Ignored) > 0 && len(r.Ignored) == len(m)-btoi(hasEnabled) {
		// Only keys the original evaluator never read (and "enabled"): it
		// kept such an alert TRIGGERED and notified whenever the rule
		// held, which is what no re-arming does here.
		r.Enabled = false
		return r
	}
	if pb, ok := m["persistence_bars"]; ok {
		r.PersistenceBars, _ = p.integer("rearm.persistence_bars", pb, 1, 10000)
	}
	if h, ok := m["hysteresis"]; ok {
		r.Hysteresis, _ = p.number("rearm.hysteresis", h)
	}
	if t, ok := m["hysteresis_type"].(string); ok {
		r.HysteresisType = t
	}
	r.Direction, _ = m["direction"].(string)
	if len(p.problems) > n {
		return nil
	}
	return r
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// rearmNode builds the rearm condition: a rule tree in the rearm object
// (directly or under "rule"), hysteresis around a threshold, or "the rule no
// longer holds".
func (p *parser) rearmNode(r *Rearm, m map[string]any, rule node) node {
	if !r.Enabled {
		return nil
	}
	var ruleKeys []string
	for _, k := range sortedKeys(m) {
		if k == "rule" || k == "plugin" || k == "params" || slices.Contains(nodeOps, k) {
			ruleKeys = append(ruleKeys, k)
		}
	}
	var hystKeys []string
	for _, k := range hysteresisKeys {
		if _, ok := m[k]; ok {
			hystKeys = append(hystKeys, k)
		}
	}
	if len(ruleKeys) > 0 {
		if len(hystKeys) > 0 {
			p.addf("rearm", "has both a rearm rule (%s) and hysteresis keys (%s); use one of them", strings.Join(ruleKeys, ", "), strings.Join(hystKeys, ", "))
			return nil
		}
		r.Mode = "rule"
		if v, ok := m["rule"]; ok {
			if len(ruleKeys) > 1 {
				p.addf("rearm", "has both \"rule\" and operator keys (%s); use one of them", strings.Join(ruleKeys, ", "))
				return nil
			}
			return p.node("rearm.rule", v)
		}
		sub := map[string]any{}
		for _, k := range ruleKeys {
			sub[k] = m[k]
		}
		return p.node("rearm", sub)
	}
	cmpOp, val, thr, fireAbove, derived := deriveThreshold(rule)
	if t, ok := m["threshold"]; ok {
		thr, _ = p.number("rearm.threshold", t)
	} else if !derived {
		if len(hystKeys) > 0 {
			p.addf("rearm.threshold", "required: the rule does not compare a field or indicator with a constant, so there is no threshold to re-arm around")
			return nil
		}
		r.Mode = "rule_false"
		return &notNode{rule}
	}
	if !derived {
		// A threshold for a rule with no comparison against a constant:
		// hysteresis on the close, direction required.
		if r.Direction == "" {
			p.addf("rearm.direction", "required (above or below): the rule does not show on which side of %s it fires", fmtConst(thr))
			return nil
		}
		val, fireAbove = fieldOp{"close"}, r.Direction == "above"
	} else if r.Direction == "" {
		r.Direction = map[bool]string{true: "above", false: "below"}[fireAbove]
	} else {
		// With a rule such as close > 65000 the re-arm level is always on
		// the non-firing side, whether direction names the firing side or
		// the re-arm side.
		r.Direction = map[bool]string{true: "above", false: "below"}[fireAbove]
	}
	_ = cmpOp
	if r.Hysteresis < 0 {
		p.addf("rearm.hysteresis", "must not be negative, got %s", fmtConst(r.Hysteresis))
		return nil
	}
	r.Mode, r.Threshold = "hysteresis", thr
	h := &hystNode{val: val, threshold: thr, amount: r.Hysteresis, typ: r.HysteresisType, fireAbove: fireAbove}
	if r.HysteresisType == "atr" {
		spec, err := indicators.Normalize(indicators.Spec{Type: "ATR", Params: map[string]float64{"period": 14}})
		if err != nil {
			p.addf("rearm.hysteresis_type", "ATR unavailable: %v", err)
			return nil
		}
		h.atr = &indicatorOp{spec: spec, line: "value", typ: "ATR", lbl: "ATR(14)", autoKey: "atr_14", lb: indicators.LookbackFor(spec, p.tf)}
		h.atr.raw = map[string]any{"type": "ATR", "params": map[string]any{"period": 14}}
		h.atr.ref = p.ref(spec, "value")
	}
	return h
}

// deriveThreshold finds the first comparison or crossing of a field or
// indicator with a constant (depth first) and returns the compared operand,
// the constant and whether the rule fires above it.
func deriveThreshold(n node) (op string, val operand, thr float64, fireAbove, ok bool) {
	switch x := n.(type) {
	case *cmpNode:
		op = x.op
		if op == "eq" || op == "ne" {
			return
		}
		above := op == "gt" || op == "gte"
		if c, isC := x.rhs.constant(); isC {
			return op, x.lhs, c, above, true
		}
		if c, isC := x.lhs.constant(); isC {
			return op, x.rhs, c, !above, true
		}
	case *crossNode:
		if c, isC := x.rhs.constant(); isC {
			return "cross", x.lhs, c, x.above, true
		}
		if c, isC := x.lhs.constant(); isC {
			return "cross", x.rhs, c, !x.above, true
		}
	case *logicNode:
		if !x.and {
			return
		}
		for _, k := range x.kids {
			if op, val, thr, fireAbove, ok = deriveThreshold(k); ok {
				return
			}
		}
	}
	return
}

// parseTime accepts RFC 3339, "2006-01-02T15:04:05" and "2006-01-02 15:04:05"
// (UTC), a date (midnight UTC) and Unix seconds.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 && f < 1e11 {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q (want RFC 3339 such as 2024-01-02T15:04:05Z, a date 2024-01-02 or Unix seconds)", s)
}
