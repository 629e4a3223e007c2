package action_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store/storetest"
)

// targetHandler validates by target (engine.TargetValidator), as the alert
// handler does for portfolio.* targets.
type targetHandler struct{ testHandler }

func (targetHandler) Validate(json.RawMessage) error {
	return errors.New("Validate called without the target")
}

func (targetHandler) ValidateTarget(target string, _ json.RawMessage) error {
	if target != "good" {
		return fmt.Errorf("target: %q is not good", target)
	}
	return nil
}

// Validation (scheduler validate, the API, schedules add) passes the
// target to a handler that validates by target.
func TestValidatePassesTarget(t *testing.T) {
	a := action.New(action.Config{Store: storetest.SQLite(t), Handlers: map[string]engine.Handler{"alert": targetHandler{}}, Logger: quiet()})
	sp := action.Spec{UserID: ptr(int64(1)), Name: "p", JobType: "alert", Target: "good", Cron: "0 * * * *", TaskParams: json.RawMessage(`{}`)}
	if _, err := a.Validate(context.Background(), sp); err != nil {
		t.Fatalf("target good: %v", err)
	}
	sp.Target = "bad"
	_, err := a.Validate(context.Background(), sp)
	var inv *action.InvalidError
	if want := []string{`task_params: target: "bad" is not good`}; !errors.As(err, &inv) || !slices.Equal(inv.Lines(), want) {
		t.Fatalf("target bad: %v, want %q", err, want)
	}
}
