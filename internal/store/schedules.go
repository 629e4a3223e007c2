package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

const scheduleCols = `id, user_id, name, job_type, COALESCE(target, ''), task_params, cron, COALESCE(timezone, ''),
	enabled, next_run_at, created_at, updated_at, state_json, COALESCE(last_error, '')`

// claimCols are scheduleCols without state_json, which the claim does not
// need and which can be the largest column (alert state).
var claimCols = strings.Replace(scheduleCols, "state_json", "NULL", 1)

func scanSchedule(sc interface{ Scan(...any) error }) (*Schedule, error) {
	var s Schedule
	var next, created, updated NullTime
	var params, state rawJSON
	if err := sc.Scan(&s.ID, &s.UserID, &s.Name, &s.JobType, &s.Target, &params, &s.Cron, &s.Timezone,
		&s.Enabled, &next, &created, &updated, &state, &s.LastError); err != nil {
		return nil, err
	}
	s.TaskParams, s.StateJSON = params.B, state.B
	s.NextRunAt, s.CreatedAt, s.UpdatedAt = next.ptr(), created.T, updated.T
	return &s, nil
}

// stateArg is a state_json value to store: never NULL, which the
// framework's schedule reader rejects.
func stateArg(b []byte) any {
	if len(b) == 0 || string(b) == "null" {
		return "{}"
	}
	return string(b)
}

func taskParamsArg(b []byte) any {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

// CreateSchedule implements Store. It fills s.ID and the timestamps.
func (s *DB) CreateSchedule(ctx context.Context, sc *Schedule) error {
	if err := s.checkSchedule(sc, false); err != nil {
		return fmt.Errorf("create schedule: %w", err)
	}
	now := time.Now().UTC()
	err := s.queryRow(ctx, s.db, `INSERT INTO job_schedules
		(user_id, name, job_type, target, task_params, cron, timezone, enabled, next_run_at, created_at, updated_at, state_json)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $11) RETURNING id`,
		sc.UserID, sc.Name, sc.JobType, sc.Target, taskParamsArg(sc.TaskParams), sc.Cron, nullStr(sc.Timezone),
		sc.Enabled, s.tsp(sc.NextRunAt), s.ts(now), stateArg(sc.StateJSON)).Scan(&sc.ID)
	if err != nil {
		if isUnique(err) {
			return fmt.Errorf("create schedule %q: user %d already has a schedule named %q: %w", sc.Name, sc.UserID, sc.Name, ErrDuplicate)
		}
		return asInput(err, "", "create schedule", fmt.Errorf("create schedule %q: %w", sc.Name, err))
	}
	sc.CreatedAt, sc.UpdatedAt = now, now
	return nil
}

// UpdateSchedule implements Store: it writes the user-editable fields and
// clears next_run_at so the next claim recomputes it from the new cron.
func (s *DB) UpdateSchedule(ctx context.Context, sc *Schedule) error {
	if err := s.checkSchedule(sc, true); err != nil {
		return fmt.Errorf("update schedule: %w", err)
	}
	now := time.Now().UTC()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.dropFutureFires(ctx, tx, sc.ID, now); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `UPDATE job_schedules SET user_id = $1, name = $2, job_type = $3, target = $4,
			task_params = $5, cron = $6, timezone = $7, enabled = $8, next_run_at = NULL, last_error = NULL,
			updated_at = $9 WHERE id = $10`,
			sc.UserID, sc.Name, sc.JobType, sc.Target, taskParamsArg(sc.TaskParams), sc.Cron, nullStr(sc.Timezone),
			sc.Enabled, s.ts(now), sc.ID)
		if err != nil {
			if isUnique(err) {
				return fmt.Errorf("user %d already has a schedule named %q: %w", sc.UserID, sc.Name, ErrDuplicate)
			}
			return asInput(err, "", "write", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update schedule %d: %w", sc.ID, err)
	}
	sc.UpdatedAt, sc.NextRunAt, sc.LastError = now, nil, ""
	return nil
}

// GetSchedule implements Store.
func (s *DB) GetSchedule(ctx context.Context, id int64) (*Schedule, error) {
	if err := s.checkID(colScheduleID, "id", id); err != nil {
		return nil, fmt.Errorf("load schedule: %w", err)
	}
	sc, err := scanSchedule(s.queryRow(ctx, s.db, `SELECT `+scheduleCols+` FROM job_schedules WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("schedule %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load schedule %d: %w", id, err)
	}
	return sc, nil
}

// ListSchedules implements Store (ordered by id).
func (s *DB) ListSchedules(ctx context.Context, f ScheduleFilter) ([]Schedule, error) {
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.JobType != "" {
		add("job_type = $%d", f.JobType)
	}
	if f.Name != "" {
		add("name = $%d", f.Name)
	}
	if f.Enabled != nil {
		add("enabled = $%d", *f.Enabled)
	}
	if f.UserID != nil {
		if err := s.checkID(colUserID, "user_id", *f.UserID); err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		add("user_id = $%d", *f.UserID)
	}
	q := `SELECT ` + scheduleCols + ` FROM job_schedules`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d OFFSET %d", f.Limit, f.Offset)
	}
	rows, err := s.query(ctx, s.db, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	defer rows.Close()
	var out []Schedule
	for rows.Next() {
		sc, err := scanSchedule(rows)
		if err != nil {
			return nil, fmt.Errorf("list schedules: %w", err)
		}
		out = append(out, *sc)
	}
	return out, rows.Err()
}

// DeleteSchedule implements Store. Its run history is kept; fires claimed
// ahead that are not due yet are deleted.
func (s *DB) DeleteSchedule(ctx context.Context, id int64) error {
	if err := s.checkID(colScheduleID, "id", id); err != nil {
		return fmt.Errorf("delete schedule: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.dropFutureFires(ctx, tx, id, time.Now()); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `DELETE FROM job_schedules WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete schedule %d: %w", id, err)
	}
	return nil
}

// SetEnabled implements Store.
func (s *DB) SetEnabled(ctx context.Context, id int64, enabled bool) error {
	if err := s.checkID(colScheduleID, "id", id); err != nil {
		return fmt.Errorf("set schedule enabled: %w", err)
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		if err := s.dropFutureFires(ctx, tx, id, now); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, `UPDATE job_schedules SET enabled = $1, next_run_at = NULL, updated_at = $2 WHERE id = $3`,
			enabled, s.ts(now), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set schedule %d enabled=%v: %w", id, enabled, err)
	}
	return nil
}

// dropFutureFires deletes the cron fires of schedule id that an instance
// claimed ahead and that are not due yet: after a change of the schedule
// they are planned again from its new definition (an instance holding one
// in memory finds it gone when it comes due).
func (s *DB) dropFutureFires(ctx context.Context, tx *sql.Tx, id int64, now time.Time) error {
	// The schedule row first, as claims and releases lock it: a claim in
	// progress commits its fires before they are looked for here, and the
	// lock order is the same everywhere.
	var jobType string
	lock := ""
	if s.d.name == "postgres" {
		lock = " FOR UPDATE"
	}
	err := s.queryRow(ctx, tx, `SELECT job_type FROM job_schedules WHERE id = $1`+lock, id).Scan(&jobType)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("lock schedule: %w", err)
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM job_schedule_runs
		WHERE job_type = $1 AND job_id = $2
		AND status = 'pending' AND kind IN ('cron', 'coalesced') AND attempt = 1 AND scheduled_for > $3`,
		jobType, s.jobIDArg(id), s.ts(now)); err != nil {
		return fmt.Errorf("drop fires claimed ahead: %w", err)
	}
	return nil
}

// SetScheduleError implements Store.
func (s *DB) SetScheduleError(ctx context.Context, id int64, msg string, at time.Time) error {
	if err := s.checkID(colScheduleID, "id", id); err != nil {
		return fmt.Errorf("set schedule error: %w", err)
	}
	msg = strings.ToValidUTF8(strings.ReplaceAll(msg, "\x00", `\x00`), "\uFFFD")
	var err error
	if msg == "" {
		_, err = s.exec(ctx, s.db, `UPDATE job_schedules SET last_error = NULL, last_error_at = NULL WHERE id = $1`, id)
	} else {
		_, err = s.exec(ctx, s.db, `UPDATE job_schedules SET last_error = $1, last_error_at = $2 WHERE id = $3`, msg, s.ts(at), id)
	}
	if err != nil {
		return fmt.Errorf("set schedule %d error: %w", id, err)
	}
	return nil
}

// SetNextRun implements Store.
func (s *DB) SetNextRun(ctx context.Context, id int64, next *time.Time) error {
	if err := s.checkID(colScheduleID, "id", id); err != nil {
		return fmt.Errorf("set schedule next_run_at: %w", err)
	}
	if _, err := s.exec(ctx, s.db, `UPDATE job_schedules SET next_run_at = $1 WHERE id = $2`, s.tsp(next), id); err != nil {
		return fmt.Errorf("set schedule %d next_run_at: %w", id, err)
	}
	return nil
}

// CountSchedules implements Store.
func (s *DB) CountSchedules(ctx context.Context) (int, error) {
	var n int
	if err := s.queryRow(ctx, s.db, `SELECT COUNT(*) FROM job_schedules`).Scan(&n); err != nil {
		return 0, fmt.Errorf("count schedules: %w", err)
	}
	return n, nil
}
