package alerts

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// Alerts created by the framework's Telegram bot and web UI
// (ORIGINAL-SYSTEM.md §3b) store their configuration as JSON text in
// task_params.config_json, next to email, status, re_arm_config and
// telegram_user_id. TranslateBot turns such task_params into the alert
// configuration of §3; Parse does it on its own when task_params has a
// config_json key.

// Shapes of bot configurations (BotOrigin.Shape).
const (
	// BotShapePrice is a price alert: {"ticker", "price", "condition": above|below}.
	BotShapePrice = "price"
	// BotShapeIndicator is an indicator alert, one condition or several
	// combined with AND / OR.
	BotShapeIndicator = "indicator"
	// BotShapeRule is a web UI alert whose config is a full rule config.
	BotShapeRule = "rule"
)

// BotDefaultTimeframe is the timeframe of bot alerts that name none (the
// bot's own default).
const BotDefaultTimeframe = "15m"

// botDefaultRearm is the re-arming of bot price and indicator alerts without
// re_arm_config, as the bot documents it: 0.25 % hysteresis around the
// level and a 15-minute cooldown (re-arm when the condition no longer holds
// when there is no level).
var botDefaultRearm = map[string]any{"cooldown_minutes": 15}

// BotOrigin describes an alert whose task_params came from the bot or the
// web UI.
type BotOrigin struct {
	// Shape is BotShapePrice, BotShapeIndicator or BotShapeRule.
	Shape string
	// Status is task_params.status upper-cased; "ARMED" when absent.
	Status string
	// TelegramUserID is task_params.telegram_user_id, the chat notified.
	TelegramUserID string
	// Action is the alert_action (BUY, SELL, HOLD, notify), or "".
	Action string
	// Email reports whether the email channel was asked for.
	Email bool
	// Params is the translated task_params (§3 form).
	Params json.RawMessage
}

// Armed reports whether the bot's status lets the alert be evaluated: only
// ARMED alerts are.
func (b *BotOrigin) Armed() bool { return b.Status == StatusArmed }

// IsBotConfig reports whether task_params are in the bot's form (an object
// with a config_json key).
func IsBotConfig(taskParams []byte) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(taskParams, &m) != nil {
		return false
	}
	_, ok := m["config_json"]
	return ok
}

// botError is a translation problem; it renders as "path: message".
func botError(path, format string, args ...any) *ConfigError {
	return &ConfigError{[]Problem{{Path: path, Msg: fmt.Sprintf(format, args...)}}}
}

// botMeta collects the keys around the rule: outer levels first, inner
// levels override (the JSON a user typed is more specific than the bot's
// flag defaults).
type botMeta struct {
	ticker, timeframe, action string
	email                     bool
	rearm                     any // re_arm_config found inside config_json
	notifyCfg                 map[string]any
	vars                      map[string]string // template placeholders the config fixes (threshold, direction)
}

func (m *botMeta) take(cfg map[string]any) {
	if s, ok := cfg["ticker"].(string); ok && strings.TrimSpace(s) != "" {
		m.ticker = strings.TrimSpace(s)
	}
	if s, ok := cfg["timeframe"].(string); ok && strings.TrimSpace(s) != "" {
		m.timeframe = strings.TrimSpace(s)
	}
	if s, ok := cfg["alert_action"].(string); ok && strings.TrimSpace(s) != "" {
		m.action = strings.TrimSpace(s)
	}
	if b, ok := cfg["email"].(bool); ok && b {
		m.email = true
	}
	if v, ok := cfg["re_arm_config"]; ok && v != nil {
		m.rearm = v
	}
	if n, ok := cfg["notification_config"].(map[string]any); ok {
		m.notifyCfg = n
	}
}

// TranslateBot translates bot / web UI task_params (§3b) into alert
// task_params (§3). Problems are a *ConfigError whose paths name the
// bot's keys (config_json, re_arm_config, telegram_user_id, ...) and whose
// messages say what to write instead.
func TranslateBot(taskParams []byte) (*BotOrigin, error) {
	top, err := decodeObject(taskParams)
	if err != nil {
		return nil, botError("", "invalid JSON: %v", err)
	}
	b := &BotOrigin{Status: StatusArmed}
	switch s := top["status"].(type) {
	case nil:
	case string:
		if strings.TrimSpace(s) != "" {
			b.Status = strings.ToUpper(strings.TrimSpace(s))
		}
	default:
		return nil, botError("status", "%s: want a string such as \"ARMED\"", jsonText(s))
	}
	switch id := top["telegram_user_id"].(type) {
	case nil:
	case string:
		b.TelegramUserID = strings.TrimSpace(id)
	case float64:
		if id != math.Trunc(id) || math.Abs(id) > 1<<53 {
			return nil, botError("telegram_user_id", "%s: want the Telegram chat id as a string", jsonText(id))
		}
		b.TelegramUserID = strconv.FormatInt(int64(id), 10)
	case json.Number:
		b.TelegramUserID = id.String()
	default:
		return nil, botError("telegram_user_id", "%s: want the Telegram chat id as a string", jsonText(id))
	}
	if b.TelegramUserID != "" && !validChatID(b.TelegramUserID) {
		return nil, botError("telegram_user_id", "%q: want a numeric Telegram chat id (or @channel)", b.TelegramUserID)
	}
	switch e := top["email"].(type) {
	case nil:
	case bool:
		b.Email = e
	default:
		return nil, botError("email", "%s: want true, false or null", jsonText(e))
	}
	cfg, err := jsonValue("config_json", top["config_json"])
	if err != nil {
		return nil, err
	}
	cm, ok := cfg.(map[string]any)
	if !ok {
		return nil, botError("config_json", "%s: want a JSON object (or JSON text holding one)", jsonText(cfg))
	}
	var meta botMeta
	meta.take(cm)

	var out map[string]any
	if _, full := cm["rule"]; full {
		b.Shape = BotShapeRule
		out = fullRuleConfig(cm)
	} else {
		rule, shape, err := botRule("config_json", cm, &meta)
		if err != nil {
			return nil, err
		}
		b.Shape = shape
		out = map[string]any{"rule": rule, "options": map[string]any{"trigger": TriggerOncePerBarClose}}
		if desc := botDescription(cm, &meta); desc != "" {
			out["description"] = desc
		}
	}
	b.Email = b.Email || meta.email
	b.Action = meta.action
	if _, ok := out["ticker"]; !ok {
		if meta.ticker == "" {
			return nil, botError("config_json.ticker", "missing: name the instrument, e.g. \"ticker\": \"BTCUSDT\"")
		}
		out["ticker"] = meta.ticker
	}
	if _, ok := out["timeframe"]; !ok {
		tf := meta.timeframe
		if tf == "" {
			tf = BotDefaultTimeframe
		}
		if _, err := marketdata.ParseTimeframe(tf); err != nil {
			return nil, botError("config_json.timeframe", "%v", err)
		}
		out["timeframe"] = tf
	}

	// Re-arming: task_params.re_arm_config, else the one inside
	// config_json, else (price and indicator alerts) the bot's default.
	rearmSrc, rearmPath := top["re_arm_config"], "re_arm_config"
	if rearmSrc == nil || rearmSrc == "" {
		rearmSrc, rearmPath = meta.rearm, "config_json.re_arm_config"
	}
	if rearmSrc != nil && rearmSrc != "" {
		rm, err := botRearm(rearmPath, rearmSrc)
		if err != nil {
			return nil, err
		}
		if rule, ok := out["rule"].(map[string]any); ok && b.Shape != BotShapeRule && !ruleHasLevel(rule) {
			// The bot and the web UI write hysteresis keys for every
			// alert; without a level to re-arm around (MACD crossover,
			// Bollinger bands) the alert re-arms when its condition no
			// longer holds.
			if _, has := rm["threshold"]; !has {
				for _, k := range []string{"hysteresis", "hysteresis_type", "type", "direction", "side"} {
					delete(rm, k)
				}
			}
		}
		if rm != nil {
			out["rearm"] = rm
			if b.Shape != BotShapeRule {
				out["rule"] = crossingHeld(out["rule"], rm["persistence_bars"])
			}
		}
	}
	if _, ok := out["rearm"]; !ok && b.Shape != BotShapeRule {
		out["rearm"] = maps.Clone(botDefaultRearm)
	}

	out["notify"] = botNotify(out["notify"], b, &meta)
	enc, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("config_json: %w", err)
	}
	b.Params = enc
	return b, nil
}

// fullRuleConfig is a web UI config that holds a rule tree (§3): the keys
// the web UI merges in (condition, alert_type, ...) are dropped, the rest is
// used as is.
func fullRuleConfig(cm map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range cm {
		switch k {
		case "condition", "alert_type", "type", "email", "alert_action", "status", "re_arm_config",
			"notification_config", "telegram_user_id":
			continue
		}
		out[k] = v
	}
	return out
}

// botNotify fills the notify object: the bot user's chat as recipient, the
// telegram channel, and email when asked for.
func botNotify(v any, b *BotOrigin, meta *botMeta) map[string]any {
	n, _ := v.(map[string]any)
	if n == nil {
		n = map[string]any{}
	}
	if _, ok := n["recipient_id"]; !ok && b.TelegramUserID != "" {
		n["recipient_id"] = b.TelegramUserID
	}
	_, hasChannels := n["channels"]
	_, hasChannel := n["channel"]
	if !hasChannels && !hasChannel {
		chans := []any{"telegram"}
		if nc := meta.notifyCfg; nc != nil {
			if list, ok := nc["channels"].([]any); ok && len(list) > 0 {
				chans = list
			}
		}
		if b.Email && !slices.ContainsFunc(chans, func(c any) bool { s, _ := c.(string); return strings.EqualFold(s, "email") }) {
			chans = append(chans, "email")
		}
		n["channels"] = chans
	} else if b.Email {
		if list, ok := n["channels"].([]any); ok && !slices.Contains(list, any("email")) {
			n["channels"] = append(list, "email")
		}
	}
	if nc := meta.notifyCfg; nc != nil {
		if t, ok := nc["template"].(string); ok && t != "" {
			if _, has := n["template"]; !has {
				n["template"] = botTemplate(t, meta.vars)
			}
		}
	}
	return n
}

// botPlaceholders maps the web UI's Python-format placeholders to the Go
// template fields of notify templates.
var botPlaceholders = map[string]string{
	"ticker": "{{.Ticker}}", "current_price": "{{.Price}}", "price": "{{.Price}}", "close": "{{.Close}}",
	"timeframe": "{{.Timeframe}}", "name": "{{.Name}}", "status": "{{.Status}}", "time": "{{.Time}}",
}

var placeholderRE = regexp.MustCompile(`\{([a-z_]+)\}`)

// botTemplate rewrites "{ticker} crossed {direction} {threshold}" into a Go
// template; vars are placeholders whose values the config fixes
// (threshold, direction). Placeholders it does not know stay as they are.
func botTemplate(t string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(t, func(s string) string {
		name := s[1 : len(s)-1]
		if r, ok := botPlaceholders[name]; ok {
			return r
		}
		if v, ok := vars[name]; ok {
			return v
		}
		return s
	})
}

// botDescription is a one-line summary of what the bot user asked for.
func botDescription(cm map[string]any, meta *botMeta) string {
	var parts []string
	if meta.action != "" && !strings.EqualFold(meta.action, "notify") {
		parts = append(parts, "action: "+meta.action)
	}
	if t, ok := cm["alert_type"].(string); ok && t != "" {
		parts = append(parts, "created by the web UI ("+t+")")
	} else {
		parts = append(parts, "created by the Telegram bot")
	}
	return strings.Join(parts, "; ")
}

// botRule translates one bot condition object into a rule node and names
// its shape.
func botRule(path string, m map[string]any, meta *botMeta) (map[string]any, string, error) {
	kind := strings.ToLower(firstString(m, "type", "alert_type"))
	// The bot's /alerts add_indicator stores the user's JSON as text in
	// "condition" with "indicator": "custom".
	if ind, ok := m["indicator"].(string); ok && strings.EqualFold(strings.TrimSpace(ind), "custom") {
		inner, err := jsonValue(path+".condition", m["condition"])
		if err != nil {
			return nil, "", err
		}
		im, ok := inner.(map[string]any)
		if !ok {
			return nil, "", botError(path+".condition", "%s: with \"indicator\": \"custom\" the condition must be the indicator config as JSON, e.g. {\"indicator\": \"RSI\", \"parameters\": {\"period\": 14}, \"condition\": {\"operator\": \"<\", \"value\": 30}}", jsonText(inner))
		}
		meta.take(im)
		if _, full := im["rule"]; full {
			return nil, "", botError(path+".condition", "a full rule config belongs in config_json itself, not in an indicator alert's condition")
		}
		return botRule(path+".condition", im, meta)
	}
	if list, key := firstList(m, "conditions", "indicators"); key != "" {
		logic := strings.ToUpper(strings.TrimSpace(firstString(m, "logic")))
		op := "and"
		switch logic {
		case "", "AND", "ALL":
		case "OR", "ANY":
			op = "or"
		case "SINGLE":
			if len(list) != 1 {
				return nil, "", botError(path+".logic", "\"single\" with %d %s: use \"AND\" or \"OR\" to combine several", len(list), key)
			}
		default:
			return nil, "", botError(path+".logic", "%q is not supported; use AND or OR", logic)
		}
		if len(list) == 0 {
			return nil, "", botError(path+"."+key, "empty: give at least one indicator condition")
		}
		var kids []any
		for i, e := range list {
			em, ok := e.(map[string]any)
			p := fmt.Sprintf("%s.%s[%d]", path, key, i)
			if !ok {
				return nil, "", botError(p, "%s: want an object such as {\"indicator\": \"RSI\", \"condition\": {\"operator\": \"<\", \"value\": 30}}", jsonText(e))
			}
			n, err := botLeaf(p, em)
			if err != nil {
				return nil, "", err
			}
			kids = append(kids, n)
		}
		if len(kids) == 1 {
			return kids[0].(map[string]any), BotShapeIndicator, nil
		}
		return map[string]any{op: kids}, BotShapeIndicator, nil
	}
	_, hasInd := m["indicator"]
	_, hasPrice := m["price"]
	_, hasThreshold := m["threshold"]
	if !hasInd && (kind == "price" || hasPrice || hasThreshold) {
		n, err := botPrice(path, m, meta)
		return n, BotShapePrice, err
	}
	if hasInd {
		if im, ok := m["indicator"].(map[string]any); ok {
			// The JSON generator's single form: "indicator": {type, operator, value, parameters}.
			n, err := botLeaf(path+".indicator", im)
			return n, BotShapeIndicator, err
		}
		n, err := botLeaf(path, m)
		return n, BotShapeIndicator, err
	}
	return nil, "", botError(path, "cannot tell what to alert on (condition %s, alert_type %s): give \"price\" and \"condition\" (above or below), "+
		"an \"indicator\" with a \"condition\" and a \"value\", or a rule tree under \"rule\" (see the alert rules reference)",
		jsonText(m["condition"]), jsonText(m["alert_type"]))
}

// botPrice translates a price alert: close crosses above / below the price.
func botPrice(path string, m map[string]any, meta *botMeta) (map[string]any, error) {
	key := "price"
	raw, ok := m["price"]
	if !ok {
		key, raw = "threshold", m["threshold"]
	}
	level, err := botNumber(path+"."+key, raw)
	if err != nil {
		return nil, err
	}
	if level <= 0 {
		return nil, botError(path+"."+key, "%s: the price must be above 0", fmtConst(level))
	}
	dirKey := "condition"
	dir, _ := m["condition"].(string)
	if d, ok := m["direction"].(string); ok && (dir == "" || strings.EqualFold(dir, "custom")) {
		dirKey, dir = "direction", d
	}
	var op string
	switch strings.ToLower(strings.TrimSpace(dir)) {
	case "above", ">", ">=", "crosses_above", "crossover", "cross_above":
		op = "crosses_above"
	case "below", "<", "<=", "crosses_below", "crossunder", "cross_below":
		op = "crosses_below"
	default:
		return nil, botError(path+"."+dirKey, "%s is not supported for a price alert; use \"above\" or \"below\"", jsonText(m[dirKey]))
	}
	meta.vars = map[string]string{"threshold": fmtConst(level), "direction": strings.TrimPrefix(op, "crosses_")}
	return map[string]any{op: map[string]any{"lhs": map[string]any{"field": "close"}, "rhs": map[string]any{"value": level}}}, nil
}

// crossingHeld turns the crossing of a bot price or indicator alert into a
// comparison when the bot's persistence_bars asks for 2 or more bars: "close
// above the price (MACD above its signal, ...) on N closed bars in a row" (a
// crossing holds on one bar only and could never persist).
func crossingHeld(rule, persistence any) any {
	n, ok := persistence.(float64)
	m, isMap := rule.(map[string]any)
	if !ok || n < 2 || !isMap {
		return rule
	}
	for cross, cmp := range map[string]string{"crosses_above": "gt", "crosses_below": "lt"} {
		if arg, has := m[cross]; has {
			return map[string]any{cmp: arg}
		}
	}
	return rule
}

// botIndicator describes one indicator the bot offers.
type botIndicator struct {
	name   string            // the bot's spelling
	typ    string            // our type
	params map[string]string // bot parameter → ours
	kind   string            // "ma", "macd", "bb", "stoch" or "" (a single line)
}

var periodOnly = map[string]string{"period": "period", "source": "source"}

// botIndicators are the indicators of the bot's alert help and JSON
// generator, in its order.
var botIndicators = []botIndicator{
	{"RSI", "RSI", periodOnly, ""},
	{"MACD", "MACD", map[string]string{"fast_period": "fast", "slow_period": "slow", "signal_period": "signal",
		"fast": "fast", "slow": "slow", "signal": "signal", "source": "source"}, "macd"},
	{"BollingerBands", "BBANDS", map[string]string{"period": "period", "deviation": "std_dev", "std_dev": "std_dev",
		"std": "std_dev", "dev_up": "dev_up", "dev_down": "dev_down", "source": "source"}, "bb"},
	{"SMA", "SMA", periodOnly, "ma"},
	{"EMA", "EMA", periodOnly, "ma"},
	{"ADX", "ADX", map[string]string{"period": "period"}, ""},
	{"ATR", "ATR", map[string]string{"period": "period"}, ""},
	{"Stochastic", "STOCH", map[string]string{"k_period": "fastk_period", "d_period": "slowd_period", "smooth_k": "slowk_period",
		"fastk_period": "fastk_period", "slowk_period": "slowk_period", "slowd_period": "slowd_period"}, "stoch"},
	{"WilliamsR", "WILLR", map[string]string{"period": "period"}, ""},
	{"CCI", "CCI", map[string]string{"period": "period"}, ""},
	{"ROC", "ROC", periodOnly, ""},
	{"MFI", "MFI", map[string]string{"period": "period"}, ""},
}

// botIndicatorAliases are other spellings of the bot's indicators.
var botIndicatorAliases = map[string]string{
	"BOLLINGER": "BollingerBands", "BBANDS": "BollingerBands", "BB": "BollingerBands", "BOLLINGER_BANDS": "BollingerBands",
	"STOCH": "Stochastic", "WILLR": "WilliamsR", "WILLIAMS_R": "WilliamsR", "WILLIAMS%R": "WilliamsR",
}

func botIndicatorNames() string {
	names := make([]string, len(botIndicators))
	for i, d := range botIndicators {
		names[i] = d.name
	}
	return strings.Join(names, ", ")
}

func findBotIndicator(name string) (botIndicator, bool) {
	n := strings.ToUpper(strings.TrimSpace(name))
	if a, ok := botIndicatorAliases[n]; ok {
		n = strings.ToUpper(a)
	}
	for _, d := range botIndicators {
		if strings.ToUpper(d.name) == n {
			return d, true
		}
	}
	return botIndicator{}, false
}

// botOperators lists the condition operators of the bot.
const botOperators = "<, <=, >, >=, ==, !=, above, below, crossover, crossunder, above_signal, below_signal (MACD), " +
	"above_upper_band, below_lower_band, between_bands (BollingerBands), above_ma, below_ma, ma_crossover, ma_crossunder (SMA, EMA)"

// botLeaf translates one indicator condition: {"indicator" or "type": NAME,
// "parameters" or "params": {...}, "condition": OPERATOR or {"operator",
// "value"}, "operator", "value"}.
func botLeaf(path string, m map[string]any) (map[string]any, error) {
	name, nameKey := "", ""
	if s, ok := m["indicator"].(string); ok {
		name, nameKey = s, "indicator"
	} else if s, ok := m["type"].(string); ok && !strings.EqualFold(s, "indicator") && !strings.EqualFold(s, "price") {
		name, nameKey = s, "type"
	}
	if strings.TrimSpace(name) == "" {
		return nil, botError(path, "no indicator named: give \"indicator\": one of %s", botIndicatorNames())
	}
	d, ok := findBotIndicator(name)
	if !ok {
		return nil, botError(path+"."+nameKey, "indicator %q is not supported; use one of %s", name, botIndicatorNames())
	}
	params := map[string]any{}
	pkey := "parameters"
	praw, has := m["parameters"]
	if !has {
		pkey, praw, has = "params", m["params"], m["params"] != nil
	}
	if has && praw != nil {
		pm, ok := praw.(map[string]any)
		if !ok {
			return nil, botError(path+"."+pkey, "%s: want an object such as {\"period\": 14}", jsonText(praw))
		}
		for k, v := range pm {
			ours, known := d.params[k]
			if !known {
				return nil, botError(path+"."+pkey+"."+k, "not a parameter of %s; use %s", d.name, strings.Join(slices.Sorted(maps.Keys(d.params)), ", "))
			}
			if ours == "source" {
				params[ours] = v
				continue
			}
			f, err := botNumber(path+"."+pkey+"."+k, v)
			if err != nil {
				return nil, err
			}
			params[ours] = f
		}
	}
	if d.kind == "bb" {
		if sd, ok := params["std_dev"]; ok {
			// Our BBANDS has dev_up / dev_down; std_dev sets both.
			delete(params, "std_dev")
			if _, ok := params["dev_up"]; !ok {
				params["dev_up"] = sd
			}
			if _, ok := params["dev_down"]; !ok {
				params["dev_down"] = sd
			}
		}
	}
	spec := map[string]any{"type": d.typ}
	if len(params) > 0 {
		spec["params"] = params
	}
	if _, err := indicators.Normalize(specOf(d.typ, params)); err != nil {
		return nil, botError(path+"."+pkey, "%v", err)
	}
	ind := func(line string) map[string]any {
		s := maps.Clone(spec)
		if line != "" {
			s["line"] = line
		}
		return map[string]any{"indicator": s}
	}

	opKey, op := "condition", ""
	var valRaw any
	valKey := "value"
	switch c := m["condition"].(type) {
	case string:
		op = c
	case map[string]any:
		opKey = "condition.operator"
		op, _ = c["operator"].(string)
		if v, ok := c["value"]; ok {
			valRaw, valKey = v, "condition.value"
		}
	case nil:
	default:
		return nil, botError(path+".condition", "%s: want an operator such as \"<\" or {\"operator\": \"<\", \"value\": 30}", jsonText(c))
	}
	if op == "" {
		if s, ok := m["operator"].(string); ok {
			op, opKey = s, "operator"
		}
	}
	if valRaw == nil {
		valRaw = m["value"]
	}
	if strings.TrimSpace(op) == "" {
		return nil, botError(path+".condition", "missing: give an operator (%s)", botOperators)
	}
	value := func() (map[string]any, error) {
		if valRaw == nil {
			return nil, botError(path+"."+valKey, "missing: %s %s needs a number to compare with", d.name, op)
		}
		f, err := botNumber(path+"."+valKey, valRaw)
		if err != nil {
			return nil, err
		}
		return map[string]any{"value": f}, nil
	}
	cmp := func(o string, lhs, rhs any) map[string]any {
		return map[string]any{o: map[string]any{"lhs": lhs, "rhs": rhs}}
	}
	closeOp := map[string]any{"field": "close"}
	wrongFor := func(only string) error {
		return botError(path+"."+opKey, "%q applies to %s only, not to %s; use one of %s", op, only, d.name, botOperators)
	}

	switch o := strings.ToLower(strings.TrimSpace(op)); o {
	case "<", "lt", "below", "less_than", "<=", "lte", ">", "gt", "above", "greater_than", ">=", "gte", "==", "=", "eq", "equals", "!=", "<>", "ne", "not_equal":
		v, err := value()
		if err != nil {
			return nil, err
		}
		ours := map[string]string{"<": "lt", "lt": "lt", "below": "lt", "less_than": "lt", "<=": "lte", "lte": "lte",
			">": "gt", "gt": "gt", "above": "gt", "greater_than": "gt", ">=": "gte", "gte": "gte",
			"==": "eq", "=": "eq", "eq": "eq", "equals": "eq", "!=": "ne", "<>": "ne", "ne": "ne", "not_equal": "ne"}[o]
		main := "" // the indicator's main line: its first output
		if d.kind == "bb" {
			main = "upper" // not the middle band that a rule config defaults to
		}
		return cmp(ours, ind(main), v), nil
	case "crossover", "crosses_above", "cross_above", "crossunder", "crosses_below", "cross_below":
		dir := "crosses_above"
		if strings.Contains(o, "under") || strings.Contains(o, "below") {
			dir = "crosses_below"
		}
		switch d.kind {
		case "macd":
			return cmp(dir, ind("macd"), ind("signal")), nil
		case "stoch":
			return cmp(dir, ind("k"), ind("d")), nil
		case "ma":
			return cmp(dir, closeOp, ind("")), nil
		case "bb":
			return nil, botError(path+"."+opKey, "%q needs a line to cross on BollingerBands; use above_upper_band, below_lower_band or between_bands", op)
		}
		v, err := value()
		if err != nil {
			return nil, err
		}
		return cmp(dir, ind(""), v), nil
	case "above_signal", "below_signal":
		if d.kind != "macd" {
			return nil, wrongFor("MACD")
		}
		return cmp(map[bool]string{true: "gt", false: "lt"}[o == "above_signal"], ind("macd"), ind("signal")), nil
	case "above_upper_band", "below_lower_band", "between_bands":
		if d.kind != "bb" {
			return nil, wrongFor("BollingerBands")
		}
		switch o {
		case "above_upper_band":
			return cmp("gt", closeOp, ind("upper")), nil
		case "below_lower_band":
			return cmp("lt", closeOp, ind("lower")), nil
		}
		return map[string]any{"between": map[string]any{"value": closeOp, "lower": ind("lower"), "upper": ind("upper")}}, nil
	case "above_ma", "below_ma", "ma_crossover", "ma_crossunder":
		if d.kind != "ma" {
			return nil, wrongFor("SMA and EMA")
		}
		o2 := map[string]string{"above_ma": "gt", "below_ma": "lt", "ma_crossover": "crosses_above", "ma_crossunder": "crosses_below"}[o]
		return cmp(o2, closeOp, ind("")), nil
	}
	return nil, botError(path+"."+opKey, "operator %q is not supported; use one of %s", op, botOperators)
}

func specOf(typ string, params map[string]any) indicators.Spec {
	s := indicators.Spec{Type: typ, Params: map[string]float64{}}
	for k, v := range params {
		if f, ok := v.(float64); ok {
			s.Params[k] = f
		} else if str, ok := v.(string); ok && k == "source" {
			s.Source = str
		}
	}
	return s
}

// ruleHasLevel reports whether a translated rule compares something with a
// constant (depth first through "and"), which hysteresis re-arms around.
func ruleHasLevel(n map[string]any) bool {
	for op, v := range n {
		switch op {
		case "gt", "gte", "lt", "lte", "crosses_above", "crosses_below":
			args, _ := v.(map[string]any)
			for _, side := range []string{"lhs", "rhs"} {
				if o, ok := args[side].(map[string]any); ok {
					if _, isConst := o["value"]; isConst {
						return true
					}
				}
			}
		case "and":
			kids, _ := v.([]any)
			for _, k := range kids {
				if km, ok := k.(map[string]any); ok && ruleHasLevel(km) {
					return true
				}
			}
		}
	}
	return false
}

// botRearmDropped lists the re_arm_config keys that have no counterpart in
// the rearm object (§3), with the reason; the other keys are the same.
var botRearmDropped = map[string]string{
	"close_only": "evaluations always use the close of closed bars",
}

// botRearm translates re_arm_config (JSON text or an object; null or ""
// means none) into a rearm object.
func botRearm(path string, v any) (map[string]any, error) {
	val, err := jsonValue(path, v)
	if err != nil {
		return nil, err
	}
	if val == nil {
		return nil, nil
	}
	m, ok := val.(map[string]any)
	if !ok {
		return nil, botError(path, "%s: want a JSON object such as {\"enabled\": true, \"hysteresis\": 0.25, \"hysteresis_type\": \"percentage\", \"cooldown_minutes\": 15}", jsonText(val))
	}
	out := map[string]any{}
	for k, x := range m {
		if _, drop := botRearmDropped[k]; drop {
			continue
		}
		out[k] = x
	}
	// A disabled re-arm with hysteresis keys (the web UI writes them all)
	// is just disabled.
	if e, ok := out["enabled"].(bool); ok && !e {
		return map[string]any{"enabled": false}, nil
	}
	return out, nil
}

// botProblem rewrites a problem of the translated config so that it
// names the bot's key.
func botProblem(p Problem, shape string) Problem {
	switch {
	case p.Path == "rearm" || strings.HasPrefix(p.Path, "rearm."):
		p.Path = "re_arm_config" + strings.TrimPrefix(p.Path, "rearm")
	case shape == BotShapeRule || p.Path == "ticker" || p.Path == "timeframe":
		if p.Path == "" {
			p.Path = "config_json"
		} else {
			p.Path = "config_json." + p.Path
		}
	case p.Path == "notify" || strings.HasPrefix(p.Path, "notify."):
		p.Path = "config_json.notification_config" + strings.TrimPrefix(p.Path, "notify")
	default:
		// A rule built from the bot's condition: name the condition.
		p.Msg = p.Path + ": " + p.Msg
		p.Path = "config_json"
	}
	return p
}

// decodeObject decodes a JSON object keeping numbers as json.Number.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, fmt.Errorf("want a JSON object, got null")
	}
	return normalizeNumbers(m).(map[string]any), nil
}

// normalizeNumbers turns json.Number into float64 (or keeps it when it
// does not fit), recursively, so that the translated config marshals
// numbers as numbers.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
		return x
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return f
		}
	}
	return v
}

// jsonValue unwraps a value that is JSON text (the bot stores its configs
// as strings) or already a JSON value; "" and null are nil.
func jsonValue(path string, v any) (any, error) {
	s, isStr := v.(string)
	if !isStr {
		return v, nil
	}
	if strings.TrimSpace(s) == "" || strings.TrimSpace(s) == "null" {
		return nil, nil
	}
	if err := CheckBounds([]byte(s), path); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, botError(path, "not valid JSON (%v): %s", err, truncate(s, 80))
	}
	if dec.More() {
		return nil, botError(path, "extra text after the JSON value: %s", truncate(s, 80))
	}
	return normalizeNumbers(out), nil
}

// botNumber reads a number, also from a numeric string (web forms send
// strings).
func botNumber(path string, v any) (float64, error) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return 0, botError(path, "%s: want a number", x)
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(strings.TrimSpace(x), 64); err != nil {
			return 0, botError(path, "%q: want a number", x)
		}
	case nil:
		return 0, botError(path, "missing: want a number")
	default:
		return 0, botError(path, "%s: want a number", jsonText(x))
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, botError(path, "%v: want a finite number", f)
	}
	return f, nil
}

func firstString(m map[string]any, keys ...string) string {
	for _, k := range keys {
		if s, ok := m[k].(string); ok && s != "" {
			return s
		}
	}
	return ""
}

func firstList(m map[string]any, keys ...string) ([]any, string) {
	for _, k := range keys {
		if l, ok := m[k].([]any); ok {
			return l, k
		}
	}
	return nil, ""
}

func validChatID(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	return len(s) > 1 && s[0] == '@' && !strings.ContainsAny(s, " \t\n")
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
