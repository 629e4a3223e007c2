// Package jobs holds one engine.Handler per job_type and the registry that
// wires them to their dependencies.
package jobs

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/jobs/script"
)

// Deps are what the handlers need from the rest of the service.
type Deps struct {
	// Script configures script and data_processing jobs.
	Script script.Config
}

// Handlers returns the handler of every job type this build supports.
func Handlers(d Deps) map[string]engine.Handler {
	sh := &scriptHandler{cfg: d.Script}
	return map[string]engine.Handler{
		"script":          sh,
		"data_processing": sh,
	}
}

// scriptHandler runs pipeline scripts (ORIGINAL-SYSTEM.md §5).
type scriptHandler struct{ cfg script.Config }

// Validate implements engine.Handler.
func (h *scriptHandler) Validate(raw json.RawMessage) error {
	_, err := script.ParseParams(raw, h.cfg)
	return err
}

// Handle implements engine.Handler. The run result is the script.Result; a
// non-zero exit or timeout fails the run with the stderr tail.
func (h *scriptHandler) Handle(ctx context.Context, job *engine.Job) (*engine.Outcome, error) {
	p, err := script.ParseParams(job.Schedule.TaskParams, h.cfg)
	if err != nil {
		return nil, engine.Permanent(fmt.Errorf("task_params: %w", err))
	}
	res, runErr := script.Run(ctx, h.cfg, p)
	return &engine.Outcome{Result: res}, runErr
}
