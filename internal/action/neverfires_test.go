package action_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store/storetest"
)

// A cron that never fires is refused with the expression named once.
func TestValidateRejectsNeverFiringCron(t *testing.T) {
	a, _ := setup(t, storetest.SQLite(t), time.Now())
	_, err := a.Validate(context.Background(), spec("feb30", "0 0 30 2 *", `{}`))
	var inv *action.InvalidError
	want := []string{`cron "0 0 30 2 *" never fires: February has no day 30`}
	if !errors.As(err, &inv) || !slices.Equal(inv.Lines(), want) {
		t.Fatalf("validate: %v, want %q", err, want)
	}
	if _, err := a.Validate(context.Background(), spec("leap", "0 0 29 2 *", `{}`)); err != nil {
		t.Fatalf("validate of a leap-day cron: %v", err)
	}
}
