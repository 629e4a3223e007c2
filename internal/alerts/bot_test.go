package alerts

import (
	"encoding/json"
	"strings"
	"testing"
)

// botParams wraps a config the way telegram_service.add_json_alert stores
// it: config_json as JSON text.
func botParams(t *testing.T, config string, extra string) []byte {
	t.Helper()
	b, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	s := `{"config_json": ` + string(b) + `, "email": null, "status": "ARMED", "telegram_user_id": "42"`
	if extra != "" {
		s += ", " + extra
	}
	return []byte(s + "}")
}

func TestBotShapesTranslate(t *testing.T) {
	cases := []struct {
		name, config, extra string
		shape, rule         string // rule: the canonical rule JSON
		timeframe           string
	}{
		{"price above", `{"ticker": "BTCUSDT", "price": 65000.0, "condition": "above", "email": false}`, "",
			BotShapePrice, `{"crosses_above":{"lhs":{"field":"close"},"rhs":{"value":65000}}}`, "15m"},
		{"price below", `{"ticker": "BTCUSDT", "price": 60000, "condition": "below", "email": false}`, "",
			BotShapePrice, `{"crosses_below":{"lhs":{"field":"close"},"rhs":{"value":60000}}}`, "15m"},
		{"indicator by name", `{"ticker": "AAPL", "indicator": "RSI", "condition": "<", "value": 30, "timeframe": "1h", "alert_action": "BUY", "email": false}`, "",
			BotShapeIndicator, `{"lt":{"lhs":{"indicator":{"line":"value","type":"RSI"}},"rhs":{"value":30}}}`, "1h"},
		{"custom indicator JSON", `{"ticker": "AAPL", "indicator": "custom", "condition": "{\"type\":\"indicator\",\"indicator\":\"MACD\",\"parameters\":{\"fast_period\":8,\"slow_period\":21,\"signal_period\":5},\"condition\":{\"operator\":\"crossover\"},\"timeframe\":\"4h\"}", "value": 0.0, "timeframe": "15m", "alert_action": "notify", "email": false}`, "",
			BotShapeIndicator, `{"crosses_above":{"lhs":{"indicator":{"line":"macd","params":{"fast":8,"signal":5,"slow":21},"type":"MACD"}},"rhs":{"indicator":{"line":"signal","params":{"fast":8,"signal":5,"slow":21},"type":"MACD"}}}}`, "4h"},
		{"bollinger", `{"ticker": "AAPL", "indicator": "custom", "condition": "{\"indicator\":\"BollingerBands\",\"parameters\":{\"period\":20,\"deviation\":2.5},\"condition\":{\"operator\":\"below_lower_band\"}}", "value": 0.0, "timeframe": "1h"}`, "",
			BotShapeIndicator, `{"lt":{"lhs":{"field":"close"},"rhs":{"indicator":{"line":"lower","params":{"dev_down":2.5,"dev_up":2.5,"period":20},"type":"BBANDS"}}}}`, "1h"},
		{"AND of conditions", `{"ticker": "AAPL", "indicator": "custom", "condition": "{\"type\":\"indicator\",\"logic\":\"OR\",\"conditions\":[{\"indicator\":\"Stochastic\",\"parameters\":{\"k_period\":14,\"d_period\":3},\"condition\":{\"operator\":\"crossover\"}},{\"indicator\":\"EMA\",\"parameters\":{\"period\":50},\"condition\":{\"operator\":\"above_ma\"}}]}", "value": 0.0, "timeframe": "1d"}`, "",
			BotShapeIndicator, `{"or":[{"crosses_above":{"lhs":{"indicator":{"line":"k","params":{"fastk_period":14,"slowd_period":3},"type":"STOCH"}},"rhs":{"indicator":{"line":"d","params":{"fastk_period":14,"slowd_period":3},"type":"STOCH"}}}},{"gt":{"lhs":{"field":"close"},"rhs":{"indicator":{"line":"value","params":{"period":50},"type":"EMA"}}}}]}`, "1d"},
		{"JSON generator single", `{"type": "indicator", "ticker": "AAPL", "timeframe": "5m", "email": true, "indicator": {"type": "WilliamsR", "operator": ">", "value": -20, "parameters": {"period": 14}}}`, "",
			BotShapeIndicator, `{"gt":{"lhs":{"indicator":{"line":"value","params":{"period":14},"type":"WILLR"}},"rhs":{"value":-20}}}`, "5m"},
		{"web UI price", `{"ticker": "ETHUSDT", "condition": "custom", "alert_type": "price", "threshold": 3000, "direction": "below", "timeframe": "1h"}`, "",
			BotShapePrice, `{"crosses_below":{"lhs":{"field":"close"},"rhs":{"value":3000}}}`, "1h"},
		{"web UI full rule", `{"ticker": "ETHUSDT", "condition": "custom", "alert_type": "custom", "timeframe": "4h", "rule": {"gt": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 70}}}}`, "",
			BotShapeRule, `{"gt":{"lhs":{"indicator":{"line":"value","params":{"period":14},"type":"RSI"}},"rhs":{"value":70}}}`, "4h"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := Parse(botParams(t, c.config, c.extra))
			if err != nil {
				t.Fatal(err)
			}
			if a.Bot == nil || a.Bot.Shape != c.shape || !a.Bot.Armed() || a.Bot.TelegramUserID != "42" {
				t.Fatalf("bot origin %+v", a.Bot)
			}
			if string(a.Timeframe) != c.timeframe || a.Notify.RecipientID != "42" {
				t.Fatalf("timeframe %s recipient %q", a.Timeframe, a.Notify.RecipientID)
			}
			got, err := json.Marshal(a.rule.toJSON())
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != c.rule {
				t.Fatalf("rule\n got %s\nwant %s", got, c.rule)
			}
			if c.shape != BotShapeRule && a.Options.Trigger != TriggerOncePerBarClose {
				t.Fatalf("trigger %s", a.Options.Trigger)
			}
		})
	}
}

func TestBotRearmAndRecipients(t *testing.T) {
	// Without re_arm_config: the bot's default, 0.25 % and 15 minutes.
	a, err := Parse(botParams(t, `{"ticker": "BTCUSDT", "price": 100, "condition": "above", "email": true}`, `"email": true`))
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Rearm; r == nil || r.Mode != "hysteresis" || r.Hysteresis != 0.25 || r.HysteresisType != "percentage" || r.CooldownMinutes != 15 || r.Threshold != 100 {
		t.Fatalf("default rearm %+v", a.Rearm)
	}
	if strings.Join(a.Notify.Channels, ",") != "email,telegram" || !a.Bot.Email {
		t.Fatalf("channels %v", a.Notify.Channels)
	}

	// re_arm_config as JSON text: applied; close_only dropped.
	a, err = Parse(botParams(t, `{"ticker": "BTCUSDT", "price": 100, "condition": "above"}`,
		`"re_arm_config": "{\"enabled\": true, \"hysteresis\": 2, \"hysteresis_type\": \"fixed\", \"cooldown_minutes\": 30, \"persistence_bars\": 3, \"close_only\": true}"`))
	if err != nil {
		t.Fatal(err)
	}
	if r := a.Rearm; r.Hysteresis != 2 || r.HysteresisType != "fixed" || r.CooldownMinutes != 30 || r.PersistenceBars != 3 {
		t.Fatalf("rearm %+v", r)
	}

	// Disabled: no rearm state machine (a crossing notifies once anyway).
	a, err = Parse(botParams(t, `{"ticker": "BTCUSDT", "price": 100, "condition": "above"}`,
		`"re_arm_config": "{\"enabled\": false, \"hysteresis\": 0, \"hysteresis_type\": \"percentage\", \"cooldown_minutes\": 0, \"persistence_bars\": 1, \"close_only\": false}"`))
	if err != nil || a.Rearm == nil || a.Rearm.Enabled || a.RearmString() != "" {
		t.Fatalf("disabled rearm: %v %+v", err, a)
	}

	// Hysteresis keys on a rule without a level: re-arm when the rule no
	// longer holds.
	a, err = Parse(botParams(t, `{"ticker": "AAPL", "indicator": "MACD", "condition": "crossover", "value": 0}`,
		`"re_arm_config": "{\"enabled\": true, \"hysteresis\": 0.25, \"hysteresis_type\": \"percentage\", \"cooldown_minutes\": 15}"`))
	if err != nil || a.Rearm.Mode != "rule_false" {
		t.Fatalf("MACD rearm: %v %+v", err, a)
	}

	// config_json as an object, status not ARMED.
	a, err = Parse([]byte(`{"config_json": {"ticker": "BTCUSDT", "price": 100, "condition": "above"}, "status": "disarmed", "telegram_user_id": 42}`))
	if err != nil || a.Bot.Armed() || a.Bot.Status != "DISARMED" || a.Notify.RecipientID != "42" {
		t.Fatalf("object config: %v %+v", err, a)
	}
}

func TestBotErrorsAreActionable(t *testing.T) {
	cases := []struct{ name, params, want string }{
		{"unknown indicator", string(botParams(t, `{"ticker": "AAPL", "indicator": "FOO", "condition": ">", "value": 1}`, "")),
			`config_json.indicator: indicator "FOO" is not supported; use one of RSI, MACD, BollingerBands, SMA, EMA, ADX, ATR, Stochastic, WilliamsR, CCI, ROC, MFI`},
		{"unknown operator", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "condition": "~", "value": 1}`, "")),
			`config_json.condition: operator "~" is not supported; use one of <, <=, >, >=`},
		{"band operator on RSI", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "condition": "below_lower_band"}`, "")),
			`"below_lower_band" applies to BollingerBands only, not to RSI`},
		{"missing value", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "condition": "<"}`, "")),
			`config_json.value: missing: RSI < needs a number to compare with`},
		{"bad parameter", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "parameters": {"length": 14}, "condition": "<", "value": 30}`, "")),
			`config_json.parameters.length: not a parameter of RSI; use period, source`},
		{"bad period", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "parameters": {"period": 1}, "condition": "<", "value": 30}`, "")),
			`config_json.parameters: RSI: period: 1 must be >= 2`},
		{"price condition", string(botParams(t, `{"ticker": "AAPL", "price": 100, "condition": "sideways"}`, "")),
			`config_json.condition: "sideways" is not supported for a price alert; use "above" or "below"`},
		{"price not a number", string(botParams(t, `{"ticker": "AAPL", "price": "lots", "condition": "above"}`, "")),
			`config_json.price: "lots": want a number`},
		{"timeframe", string(botParams(t, `{"ticker": "AAPL", "indicator": "RSI", "condition": "<", "value": 30, "timeframe": "2x"}`, "")),
			`config_json.timeframe: unknown timeframe "2x"`},
		{"nothing to alert on", string(botParams(t, `{"ticker": "AAPL", "condition": "custom", "alert_type": "custom"}`, "")),
			`config_json: cannot tell what to alert on`},
		{"custom condition not JSON", string(botParams(t, `{"ticker": "AAPL", "indicator": "custom", "condition": "RSI<30", "value": 0}`, "")),
			`config_json.condition: not valid JSON`},
		{"config_json not JSON", `{"config_json": "{oops", "telegram_user_id": "42"}`, `config_json: not valid JSON`},
		{"chat id", `{"config_json": "{\"ticker\": \"A\", \"price\": 1, \"condition\": \"above\"}", "telegram_user_id": "bob"}`,
			`telegram_user_id: "bob": want a numeric Telegram chat id`},
		{"re_arm_config key", string(botParams(t, `{"ticker": "AAPL", "price": 100, "condition": "above"}`, `"re_arm_config": "{\"hysteresis\": -1}"`)),
			`re_arm_config.hysteresis`},
		{"full rule problem", string(botParams(t, `{"ticker": "AAPL", "condition": "custom", "alert_type": "custom", "timeframe": "1h", "rule": {"gt": {"lhs": {"indicator": {"type": "RSX"}}, "rhs": {"value": 1}}}}`, "")),
			`config_json.rule.gt.lhs.indicator.type: unknown indicator "RSX"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse([]byte(c.params))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant it to contain %q", err, c.want)
			}
		})
	}
}
