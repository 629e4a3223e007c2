package engine

import (
	"encoding/json"
	"time"
)

// JobOptions are the engine-level options a schedule's task_params may set,
// in the original formats: "timeout_seconds" (script jobs) or
// options.timeout (schedule jobs), options.retry_count, options.retry_delay
// (seconds), options.parallel.
type JobOptions struct {
	Timeout    time.Duration
	RetryCount *int
	RetryDelay time.Duration
	Parallel   bool
}

// ParseJobOptions reads JobOptions from task_params; fields that are absent
// or of the wrong type are left at zero (handlers validate them).
func ParseJobOptions(raw json.RawMessage) JobOptions {
	var p struct {
		TimeoutSeconds *float64 `json:"timeout_seconds"`
		Options        *struct {
			Timeout       *float64 `json:"timeout"`
			RetryCount    *int     `json:"retry_count"`
			RetryDelay    *float64 `json:"retry_delay"`
			Parallel      *bool    `json:"parallel"`
			SkipIfRunning *bool    `json:"skip_if_running"`
		} `json:"options"`
	}
	var o JobOptions
	if json.Unmarshal(raw, &p) != nil {
		return o
	}
	if p.TimeoutSeconds != nil && *p.TimeoutSeconds > 0 {
		o.Timeout = time.Duration(*p.TimeoutSeconds * float64(time.Second))
	}
	if p.Options != nil {
		if p.Options.Timeout != nil && *p.Options.Timeout > 0 {
			o.Timeout = time.Duration(*p.Options.Timeout * float64(time.Second))
		}
		if p.Options.RetryCount != nil && *p.Options.RetryCount >= 0 {
			o.RetryCount = p.Options.RetryCount
		}
		if p.Options.RetryDelay != nil && *p.Options.RetryDelay > 0 {
			o.RetryDelay = time.Duration(*p.Options.RetryDelay * float64(time.Second))
		}
		if p.Options.Parallel != nil {
			o.Parallel = *p.Options.Parallel
		}
		if p.Options.SkipIfRunning != nil && !*p.Options.SkipIfRunning {
			o.Parallel = true
		}
	}
	return o
}
