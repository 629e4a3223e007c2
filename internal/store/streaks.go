package store

// Failure streaks: the failed runs in a row of each schedule, kept in
// schedule_failure_streaks and updated in the transaction that writes the
// run's final outcome, so that its owner is told once per streak (plus a
// daily reminder) and once when it recovers, however many instances run.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// StreakUpdate is what a run's final outcome (failed for good, or
// completed) does to its schedule's failure streak; see Completion.Streak.
type StreakUpdate struct {
	// Name and JobType of the schedule, for the message.
	Name, JobType string
	// Failed: the run failed for good (after its retries).
	Failed bool
	// Error is the run's error, secrets redacted.
	Error string
	// Notify is false when the schedule opted out
	// (options.notify_on_failure: false): the streak is kept, nothing is sent.
	Notify bool
	// Covered: the run's own notifications (schedule jobs' on_failure,
	// scripts' notification_rules) already tell of this event; no notice
	// is added, but the event counts as told.
	Covered bool
	// Planned are the rows a notice about the schedule goes to (channels
	// and recipients resolved by a notify.Planner), for a failure. A
	// recovery goes to those stored with the streak.
	Planned []notify.Notification
}

// streakRow is the part of a schedule_failure_streaks row a notice needs.
type streakRow struct {
	streak, failures, reminders int
	first, notified             NullTime
	lastError                   sql.NullString
	recipients                  sql.NullString
}

// failStreak counts c's failure (its run row was just finished as failed)
// in its schedule's streak, in tx, and returns the notice rows to insert
// with the completion: the streak's first failure, or a reminder.
func (s *DB) failStreak(ctx context.Context, tx querier, c *Completion) ([]notify.Notification, error) {
	u := c.Streak
	var planned any
	if u.Notify && len(u.Planned) > 0 {
		b, err := json.Marshal(u.Planned)
		if err != nil {
			return nil, fmt.Errorf("failure streak of schedule %d: recipients: %w", c.ScheduleID, err)
		}
		planned = string(b)
	}
	const t = "schedule_failure_streaks"
	var r streakRow
	err := s.queryRow(ctx, tx, `INSERT INTO `+t+` AS f (schedule_id, streak, failures, first_failure_at, last_failure_at, last_error, recipients)
		VALUES ($1, 1, 1, $2, $2, $3, $4)
		ON CONFLICT (schedule_id) DO UPDATE SET
			streak = CASE WHEN f.failures = 0 THEN f.streak + 1 ELSE f.streak END,
			first_failure_at = CASE WHEN f.failures = 0 THEN $2 ELSE f.first_failure_at END,
			notified_at = CASE WHEN f.failures = 0 THEN NULL ELSE f.notified_at END,
			reminders = CASE WHEN f.failures = 0 THEN 0 ELSE f.reminders END,
			failures = f.failures + 1, last_failure_at = $2, last_error = $3,
			recipients = COALESCE($4, f.recipients)
		RETURNING streak, failures, reminders, first_failure_at, notified_at`,
		c.ScheduleID, s.ts(c.At), nullStr(u.Error), planned).Scan(&r.streak, &r.failures, &r.reminders, &r.first, &r.notified)
	if err != nil {
		return nil, fmt.Errorf("failure streak of schedule %d: %w", c.ScheduleID, err)
	}
	n := notify.Notice{ScheduleID: c.ScheduleID, RunID: c.RunID, Name: u.Name, JobType: u.JobType, Streak: int64(r.streak),
		Failures: r.failures, FirstFailure: r.first.T, LastError: u.Error, At: c.At}
	switch {
	case !r.notified.Valid:
		n.Kind = notify.NoticeFailure
	case c.At.Sub(r.notified.T) >= notify.ReminderEvery:
		n.Kind, n.Reminder = notify.NoticeReminder, r.reminders+1
	default:
		return nil, nil // told already: one message per streak and day
	}
	if _, err := s.exec(ctx, tx, `UPDATE `+t+` SET notified_at = $1, reminders = $2 WHERE schedule_id = $3`,
		s.ts(c.At), n.Reminder, c.ScheduleID); err != nil {
		return nil, fmt.Errorf("failure streak of schedule %d: %w", c.ScheduleID, err)
	}
	if !u.Notify || u.Covered {
		return nil, nil
	}
	return n.Compose(u.Planned), nil
}

// recoverStreak ends the failure streak of c's schedule, if it has one,
// and returns the recovery notice's rows (to where the streak's messages
// went) when its owner was told of the streak.
func (s *DB) recoverStreak(ctx context.Context, tx querier, c *Completion) ([]notify.Notification, error) {
	var r streakRow
	err := s.queryRow(ctx, tx, `UPDATE schedule_failure_streaks SET recovered_failures = failures, failures = 0
		WHERE schedule_id = $1 AND failures > 0
		RETURNING streak, recovered_failures, first_failure_at, notified_at, last_error, recipients`, c.ScheduleID).
		Scan(&r.streak, &r.failures, &r.first, &r.notified, &r.lastError, &r.recipients)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil // not failing
	}
	if err != nil {
		return nil, fmt.Errorf("end failure streak of schedule %d: %w", c.ScheduleID, err)
	}
	u := c.Streak
	if !u.Notify || u.Covered || !r.notified.Valid || !r.recipients.Valid {
		return nil, nil
	}
	var planned []notify.Notification
	if err := json.Unmarshal([]byte(r.recipients.String), &planned); err != nil {
		return nil, fmt.Errorf("failure streak of schedule %d: stored recipients: %w", c.ScheduleID, err)
	}
	n := notify.Notice{Kind: notify.NoticeRecovery, ScheduleID: c.ScheduleID, RunID: c.RunID, Name: u.Name, JobType: u.JobType,
		Streak: int64(r.streak), Failures: r.failures, FirstFailure: r.first.T, LastError: r.lastError.String, At: c.At}
	return n.Compose(planned), nil
}

// recoverStreaks ends the failure streaks of the schedules of successful
// runs written in one batch (cs, whose run rows were updated): one query
// finds which of their schedules are failing, and only those are updated.
func (s *DB) recoverStreaks(ctx context.Context, tx querier, cs []*Completion) error {
	var ok []*Completion
	for _, c := range cs {
		if c.Streak != nil && !c.Streak.Failed && c.Status == StatusCompleted && c.ScheduleID != 0 {
			ok = append(ok, c)
		}
	}
	if len(ok) == 0 {
		return nil
	}
	ids := make([]int64, len(ok))
	for i, c := range ok {
		ids[i] = c.ScheduleID
	}
	// Only this batch's schedules: the table keeps a row for every
	// schedule that ever failed.
	cond, args := s.idList("schedule_id", ids, 1)
	ids, err := collectIDs(s.query(ctx, tx, `SELECT schedule_id FROM schedule_failure_streaks WHERE failures > 0 AND `+cond, args...))
	if err != nil {
		return fmt.Errorf("failing schedules: %w", err)
	}
	failing := map[int64]bool{}
	for _, id := range ids {
		failing[id] = true
	}
	for _, c := range ok {
		if !failing[c.ScheduleID] {
			continue
		}
		delete(failing, c.ScheduleID) // a second success in the batch finds it recovered
		ns, err := s.recoverStreak(ctx, tx, c)
		if err != nil {
			return err
		}
		if err := s.insertNotifications(ctx, tx, ns); err != nil {
			return err
		}
	}
	return nil
}

// InvalidNotice asks NoteInvalid to tell a schedule's owner that the
// schedule is invalid.
type InvalidNotice struct {
	ScheduleID    int64
	Name, JobType string
	// Error is the validation error, secrets redacted.
	Error string
	At    time.Time
	// Planned are the rows the notice goes to (see StreakUpdate.Planned).
	Planned []notify.Notification
}

// NoteInvalid records that schedule n.ScheduleID is invalid with n.Error
// and, in the same transaction, queues the notice to its owner, unless
// that error was noted before (by any instance, before a restart, at an
// earlier reload). It reports whether the notice was queued.
func (s *DB) NoteInvalid(ctx context.Context, n InvalidNotice) (bool, error) {
	queued := false
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := s.exec(ctx, tx, `INSERT INTO schedule_failure_streaks AS f (schedule_id, invalid_error) VALUES ($1, $2)
			ON CONFLICT (schedule_id) DO UPDATE SET invalid_error = $2
			WHERE f.invalid_error IS NULL OR f.invalid_error <> $2`, n.ScheduleID, n.Error)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil
		}
		queued = true
		notice := notify.Notice{Kind: notify.NoticeInvalid, ScheduleID: n.ScheduleID, Name: n.Name, JobType: n.JobType,
			LastError: n.Error, At: n.At}
		return s.insertNotifications(ctx, tx, notice.Compose(n.Planned))
	})
	if err != nil {
		return false, fmt.Errorf("note invalid schedule %d: %w", n.ScheduleID, err)
	}
	return queued, nil
}

// ClearInvalid forgets the invalid-schedule error noted for a schedule
// that is valid again, so that a later breakage is told again.
func (s *DB) ClearInvalid(ctx context.Context, scheduleID int64) error {
	if _, err := s.exec(ctx, s.db, `UPDATE schedule_failure_streaks SET invalid_error = NULL
		WHERE schedule_id = $1 AND invalid_error IS NOT NULL`, scheduleID); err != nil {
		return fmt.Errorf("clear invalid mark of schedule %d: %w", scheduleID, err)
	}
	return nil
}

// FailureStreak is the failure streak state of a schedule, for status
// pages and tests.
type FailureStreak struct {
	ScheduleID   int64
	Streak       int
	Failures     int
	FirstFailure *time.Time
	NotifiedAt   *time.Time
	Reminders    int
	LastError    string
}

// GetFailureStreak returns the failure streak state of a schedule;
// ErrNotFound when it never failed.
func (s *DB) GetFailureStreak(ctx context.Context, scheduleID int64) (*FailureStreak, error) {
	var r streakRow
	err := s.queryRow(ctx, s.db, `SELECT streak, failures, reminders, first_failure_at, notified_at, last_error
		FROM schedule_failure_streaks WHERE schedule_id = $1`, scheduleID).
		Scan(&r.streak, &r.failures, &r.reminders, &r.first, &r.notified, &r.lastError)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("failure streak of schedule %d: %w", scheduleID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("failure streak of schedule %d: %w", scheduleID, err)
	}
	return &FailureStreak{ScheduleID: scheduleID, Streak: r.streak, Failures: r.failures, FirstFailure: r.first.ptr(),
		NotifiedAt: r.notified.ptr(), Reminders: r.reminders, LastError: r.lastError.String}, nil
}
