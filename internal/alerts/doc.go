// Package alerts parses, validates and evaluates trading alert rules
// (task_params of job_type "alert") on bar series, with the rearm state
// machine, the versioned state_json codec and bar-by-bar replay.
//
// The rule language is described in README-rules.md next to this file. The
// package does no I/O during evaluation: the caller fetches closed bars
// (Alert.Lookback of them), calls Alert.Evaluate with the state decoded from
// state_json, and writes the returned state and events in one transaction.
package alerts
