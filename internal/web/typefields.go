package web

import (
	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/marketdata"
)

// TypeField is one input of a job type's part of the schedule form: a
// top-level key of task_params, kept in step with the JSON editor (which
// stays what is saved).
type TypeField struct {
	// Key is the task_params key.
	Key string
	// Label is shown to people.
	Label string
	// Kind is text, number, list (comma-separated strings) or select.
	Kind string
	// Options are the choices of a select.
	Options []string
}

// TypeFields are the inputs the form shows for each job type, over its
// main task_params keys (internal/jobs/README-jobs.md has them all).
var TypeFields = map[string][]TypeField{
	"alert": {
		{Key: "ticker", Label: "Ticker", Kind: "text"},
		{Key: "timeframe", Label: "Timeframe", Kind: "select", Options: timeframes()},
	},
	"screener": {
		{Key: "tickers", Label: "Tickers (comma-separated)", Kind: "list"},
		{Key: "timeframe", Label: "Timeframe", Kind: "select", Options: timeframes()},
	},
	"data_processing": scriptFields,
	"script":          scriptFields,
	"report": {
		{Key: "report_type", Label: "Report", Kind: "select", Options: jobs.ReportTypes},
		{Key: "period_hours", Label: "Period (hours)", Kind: "number"},
	},
	"notification": {
		{Key: "title", Label: "Title", Kind: "text"},
		{Key: "message", Label: "Message", Kind: "text"},
	},
	"schedule": {
		{Key: "action", Label: "Action", Kind: "select", Options: jobs.Actions},
	},
}

var scriptFields = []TypeField{
	{Key: "script_path", Label: "Script (relative to SCRIPT_ROOT)", Kind: "text"},
	{Key: "timeout_seconds", Label: "Timeout (seconds)", Kind: "number"},
}

func timeframes() []string {
	out := make([]string, len(marketdata.KnownTimeframes))
	for i, tf := range marketdata.KnownTimeframes {
		out[i] = string(tf)
	}
	return out
}
