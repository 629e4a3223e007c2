package jobs

import (
	"encoding/json"
	"fmt"

	"github.com/atf/scheduler/internal/notify"
)

// checkWebhookTargets refuses the webhook URLs of task_params that
// notify.CheckWebhookURL refuses under WEBHOOK_ALLOW_PRIVATE (the
// planner's options): notify.webhook_url and notify.url, and for
// notification jobs (top) webhook_url and url at the top level. Handlers
// call it after their own parsing, so a malformed document was reported
// already.
func (e *env) checkWebhookTargets(raw json.RawMessage, top bool) error {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	allow := e.planner.Options.WebhookAllowPrivate
	check := func(prefix string, obj map[string]json.RawMessage) error {
		for _, k := range []string{"webhook_url", "url"} {
			var u string
			if json.Unmarshal(obj[k], &u) != nil || u == "" {
				continue
			}
			if err := notify.CheckWebhookURL(u, allow); err != nil {
				return fmt.Errorf("%s%s = %q: %w", prefix, k, u, err)
			}
		}
		return nil
	}
	if top {
		if err := check("", m); err != nil {
			return err
		}
	}
	var n map[string]json.RawMessage
	if json.Unmarshal(m["notify"], &n) != nil {
		return nil
	}
	return check("notify.", n)
}
