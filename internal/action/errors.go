package action

import (
	"fmt"
	"strings"

	"github.com/atf/scheduler/internal/store"
)

// Problem is one thing wrong with a schedule.
type Problem struct {
	// Field is the schedule field at fault: user_id, name, job_type, cron,
	// timezone or task_params.
	Field string `json:"field"`
	// Value is the offending value as given (task_params: the JSON text).
	Value string `json:"value"`
	// Message is the problem as one "path: reason" line naming the field
	// and, where it helps, the value, e.g.
	// `cron "0 0 * * 8": day-of-week: 8 out of range 0-7`.
	Message string `json:"message"`
}

// String returns the problem's message.
func (p Problem) String() string { return p.Message }

// InvalidError is returned when a schedule (a new one, an update, or a
// stored one asked to run) fails validation. It lists every problem found.
type InvalidError struct {
	// ScheduleID is the stored schedule concerned; 0 for a new schedule.
	ScheduleID int64
	// Problems are in field order: user_id, name, job_type, timezone, cron,
	// task_params.
	Problems []Problem
}

// Error joins the problems on one line.
func (e *InvalidError) Error() string {
	if e.ScheduleID != 0 {
		return fmt.Sprintf("schedule %d is invalid: %s", e.ScheduleID, strings.Join(e.Lines(), "; "))
	}
	return "invalid schedule: " + strings.Join(e.Lines(), "; ")
}

// Lines returns the problems' messages, one per problem.
func (e *InvalidError) Lines() []string {
	out := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		out[i] = p.Message
	}
	return out
}

// DuplicateError is returned when a user already has a schedule with the
// name. errors.Is(err, store.ErrDuplicate) holds for it.
type DuplicateError struct {
	// UserID and Name are the clashing pair.
	UserID int64
	Name   string
	// ExistingID is the schedule that holds the name (0 when the database
	// refused the row and the holder is unknown).
	ExistingID int64
}

// Error names the field, the user and the name.
func (e *DuplicateError) Error() string {
	if e.ExistingID != 0 {
		return fmt.Sprintf("name: user %d already has a schedule named %q (id %d)", e.UserID, e.Name, e.ExistingID)
	}
	return fmt.Sprintf("name: user %d already has a schedule named %q", e.UserID, e.Name)
}

// Is reports whether target is store.ErrDuplicate.
func (e *DuplicateError) Is(target error) bool { return target == store.ErrDuplicate }
