package store

// Where a run's script processes live (fencing of scripts).

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/atf/scheduler/internal/jobs/script"
)

// RecordScriptProcess stores where run runID's script runs (host, boot id,
// process group), replacing what an earlier attempt recorded; a recovering
// instance on the same machine kills what is left of it before the run
// starts again.
func (s *DB) RecordScriptProcess(ctx context.Context, runID int64, p script.Process) error {
	b, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("record process of run %d: %w", runID, err)
	}
	if _, err := s.exec(ctx, s.db, `UPDATE job_schedule_runs SET exec_process = $1 WHERE id = $2`, string(b), runID); err != nil {
		return fmt.Errorf("record process of run %d: %w", runID, err)
	}
	return nil
}

// ScriptProcess returns what RecordScriptProcess stored for run runID, or
// nil when nothing was.
func (s *DB) ScriptProcess(ctx context.Context, runID int64) (*script.Process, error) {
	var raw sql.NullString
	err := s.queryRow(ctx, s.db, `SELECT exec_process FROM job_schedule_runs WHERE id = $1`, runID).Scan(&raw)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("process of run %d: %w", runID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("process of run %d: %w", runID, err)
	}
	if !raw.Valid || raw.String == "" {
		return nil, nil
	}
	var p script.Process
	if err := json.Unmarshal([]byte(raw.String), &p); err != nil {
		return nil, fmt.Errorf("process of run %d: %w", runID, err)
	}
	return &p, nil
}
