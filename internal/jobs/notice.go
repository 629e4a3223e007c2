package jobs

import (
	"encoding/json"

	"github.com/atf/scheduler/internal/notify"
)

// NoticeRecipients implements engine.NoticeTarget: a rule alert's failure
// notices go where its notifications go (its notify object, or the bot
// user's chat of the framework's alerts); a portfolio pipeline's to its
// task_params.notify.
func (r *alertRoute) NoticeRecipients(target string, raw json.RawMessage, req *notify.Request) {
	if !isPortfolioTarget(target) {
		if p, err := parseAlertParams(raw, r.alert.env.AlertSchemaDir); err == nil {
			alertRequest(p.alert.Notify, req)
			return
		}
	}
	notify.ApplyTaskParams(raw, req)
}
