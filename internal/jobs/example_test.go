package jobs_test

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/store"
)

// Validation errors name the path and the value of every problem.
func ExampleParseScheduleParams() {
	_, err := jobs.ParseScheduleParams([]byte(`{"action": "data_sync",
		"parameters": {"symbols": ["BTCUSDT", "eth-usd"], "timeframes": ["1h", "2h"], "days_back": 400},
		"options": {"timeout": 30}}`))
	fmt.Println(err)

	p, err := jobs.ParseScheduleParams([]byte(`{"action": "cleanup", "notify": {"on_success": true, "channels": ["log"]}}`))
	fmt.Println(p.Action, p.CleanupOlderThan, p.OnSuccess, p.OnFailure, p.Notify.Channels, err)
	// Output:
	// options.timeout: 30: out of range 60..3600
	// parameters.days_back: 400: out of range 1..365
	// parameters.symbols[1]: "eth-usd" does not match ^[A-Z0-9]+$
	// parameters.timeframes[1]: "2h": want one of 1m 5m 15m 30m 1h 4h 1d
	// cleanup 30 true true [log] <nil>
}

// Handlers validate task_params without any dependency; running jobs needs
// the market data client, the store and the notification planner in Deps.
func ExampleHandlers() {
	h := jobs.Handlers(jobs.Deps{})
	err := h["alert"].Validate([]byte(`{"ticker": "BTCUSDT", "timeframe": "1h",
		"rule": {"crosses_below": {"lhs": {"indicator": {"type": "RSX", "params": {"period": 14}}}, "rhs": {"value": 30}}}}`))
	fmt.Println(err != nil)
	err = h["screener"].Validate([]byte(`{"tickers": "crypto_majors", "timeframe": "4h",
		"rule": {"lt": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 30}}}}`))
	fmt.Println(err)
	err = h["notification"].Validate([]byte(`{"title": "Weekly check"}`))
	fmt.Println(err)
	// Output:
	// true
	// <nil>
	// message: required: the text to send
}

func ExampleFormatReport() {
	from := time.Date(2024, 3, 3, 0, 0, 0, 0, time.UTC)
	rep := &store.RunReport{From: from, To: from.Add(24 * time.Hour),
		Runs:      map[string]int{"completed": 40, "failed": 2},
		ByJobType: map[string]map[string]int{"alert": {"completed": 30}, "script": {"completed": 10, "failed": 2}},
		AlertRuns: 3, TopAlerts: []store.ReportCount{{ScheduleID: 7, Name: "btc-rsi", Count: 3}},
		Notifications: map[string]int{"sent": 5}}
	title, body := jobs.FormatReport("", "daily", rep)
	fmt.Println(title)
	fmt.Println(body)
	// Output:
	// 📊 daily report: 42 runs, 2 failed, 3 alert triggers
	// Period: 2024-03-03 00:00 → 2024-03-04 00:00 UTC
	// Runs: completed 40, failed 2
	//   alert: completed 30
	//   script: completed 10, failed 2
	// Alert runs that notified: 3
	//   btc-rsi (#7): 3
	// Notifications: sent 5
}
