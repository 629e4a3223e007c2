//go:build !linux

package script

import (
	"context"
	"errors"
	"fmt"
)

// KillLeftover kills what is left of a run's process group after a crash.
// It needs Linux's /proc to check that the group still belongs to the run
// (process ids are reused); elsewhere it returns an error wrapping
// errors.ErrUnsupported and kills nothing.
func KillLeftover(ctx context.Context, p Process, runID int64) (Leftover, error) {
	return Leftover{}, fmt.Errorf("kill leftover of run %d, process group %d: %w", runID, p.PGID, errors.ErrUnsupported)
}
