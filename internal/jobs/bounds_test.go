package jobs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// padded returns task_params of n bytes or more: params with a
// "description" string making up the size (every job type accepts
// description, or rejects the key after the size check).
func padded(params string, n int) json.RawMessage {
	pad := strings.Repeat("x", max(0, n-len(params)))
	return json.RawMessage(strings.TrimSuffix(params, "}") + `, "description": "` + pad + `"}`)
}

// TestTaskParamsSizeBound: task_params over engine.MaxTaskParamsBytes are
// refused for every job type, before the handler parses them, with the
// limit named; the same parameters under the bound are not refused for
// their size.
func TestTaskParamsSizeBound(t *testing.T) {
	h := Handlers(Deps{})
	for typ, params := range map[string]string{
		"script":          `{"script_path": "src/data/vix.py"}`,
		"data_processing": `{"script_path": "src/data/vix.py"}`,
		"alert":           `{"ticker": "BTCUSDT", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`,
		"screener":        `{"tickers": ["BTCUSDT"], "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`,
		"notification":    `{"title": "t", "message": "m"}`,
		"report":          `{"report_type": "daily"}`,
		"schedule":        `{"action": "cleanup"}`,
	} {
		t.Run(typ, func(t *testing.T) {
			big := padded(params, engine.MaxTaskParamsBytes+1)
			start := time.Now()
			err := engine.ValidateParams(h[typ], "", big)
			if err == nil || !strings.Contains(err.Error(), "65536 bytes (64 KiB") {
				t.Fatalf("%d bytes: got %v, want the 64 KiB limit named", len(big), err)
			}
			if d := time.Since(start); d > 50*time.Millisecond {
				t.Errorf("refused after %s", d)
			}
			s := &store.Schedule{JobType: typ, Cron: "* * * * *", TaskParams: big}
			if _, _, err := engine.Compile(s, time.UTC, h); err == nil || !strings.HasPrefix(err.Error(), "task_params: ") || !strings.Contains(err.Error(), "MaxTaskParamsBytes") {
				t.Errorf("Compile: %v", err)
			}
			small := padded(params, engine.MaxTaskParamsBytes-100)
			if err := engine.ValidateParams(h[typ], "", small); err != nil && strings.Contains(err.Error(), "MaxTaskParamsBytes") {
				t.Errorf("%d bytes refused for size: %v", len(small), err)
			}
		})
	}
}

func TestAlertTickerPathRefused(t *testing.T) {
	h := Handlers(Deps{})
	for _, typ := range []string{"alert", "screener"} {
		var params string
		if typ == "alert" {
			params = `{"ticker": "../../etc/passwd", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`
		} else {
			params = `{"tickers": ["BTCUSDT", "../../etc/passwd"], "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`
		}
		err := h[typ].Validate(json.RawMessage(params))
		if err == nil || !strings.Contains(err.Error(), `"../../etc/passwd"`) || !strings.Contains(err.Error(), "must not contain /") {
			t.Errorf("%s: got %v", typ, err)
		}
	}
}

// TestWebhookTargetsAtValidation: webhook URLs in task_params pointing at
// the service's own network are refused when the schedule is validated,
// unless the planner's options allow private targets.
func TestWebhookTargetsAtValidation(t *testing.T) {
	rule := `"rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}`
	cases := map[string]string{
		"alert":        `{"ticker": "BTCUSDT", "timeframe": "1h", ` + rule + `, "notify": {"channels": ["webhook"], "webhook_url": "%s"}}`,
		"screener":     `{"tickers": ["BTCUSDT"], "timeframe": "1h", ` + rule + `, "notify": {"channels": ["webhook"], "webhook_url": "%s"}}`,
		"notification": `{"title": "t", "message": "m", "channel": "webhook", "webhook_url": "%s"}`,
		"report":       `{"report_type": "daily", "notify": {"channels": ["webhook"], "url": "%s"}}`,
		"schedule":     `{"action": "cleanup", "notify": {"on_success": true, "channels": ["webhook"], "webhook_url": "%s"}}`,
	}
	strict := Handlers(Deps{})
	opts := notify.DefaultOptions()
	opts.WebhookAllowPrivate = true
	lax := Handlers(Deps{Planner: &notify.Planner{Options: opts}})
	for typ, tmpl := range cases {
		for _, u := range []string{"http://169.254.169.254/latest/meta-data/", "http://127.0.0.1:8090/x", "http://10.0.0.5/h", "http://[::1]/h", "http://localhost/h"} {
			params := json.RawMessage(strings.Replace(tmpl, "%s", u, 1))
			err := strict[typ].Validate(params)
			if !errors.Is(err, notify.ErrPrivateTarget) || !strings.Contains(err.Error(), "WEBHOOK_ALLOW_PRIVATE") {
				t.Errorf("%s %s: got %v, want a refusal naming WEBHOOK_ALLOW_PRIVATE", typ, u, err)
			}
			if err := lax[typ].Validate(params); err != nil {
				t.Errorf("%s %s with WEBHOOK_ALLOW_PRIVATE=true: %v", typ, u, err)
			}
		}
		if err := strict[typ].Validate(json.RawMessage(strings.Replace(tmpl, "%s", "https://hooks.example.com/h", 1))); err != nil {
			t.Errorf("%s public: %v", typ, err)
		}
	}
}
