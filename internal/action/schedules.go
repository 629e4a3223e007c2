package action

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// duplicate returns a *DuplicateError when another schedule of s's user
// has s's name.
func (a *Actions) duplicate(ctx context.Context, s *store.Schedule) error {
	uid := s.UserID
	list, err := a.c.Store.ListSchedules(ctx, store.ScheduleFilter{UserID: &uid})
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.Name == s.Name && o.ID != s.ID {
			return &DuplicateError{UserID: uid, Name: s.Name, ExistingID: o.ID}
		}
	}
	return nil
}

// Create validates sp, refuses a name its user already has, saves the
// schedule and tells running instances. It returns the stored schedule.
func (a *Actions) Create(ctx context.Context, sp Spec) (*store.Schedule, error) {
	s, err := a.Validate(ctx, sp)
	if err != nil {
		return nil, err
	}
	if err := a.duplicate(ctx, s); err != nil {
		return nil, err
	}
	if err := a.c.Store.CreateSchedule(ctx, s); err != nil {
		return nil, duplicateOf(err, s)
	}
	a.changed(ctx, store.ChannelUpdates, strconv.FormatInt(s.ID, 10))
	a.log.Info("schedule created", "schedule_id", s.ID, "name", s.Name, "job_type", s.JobType, "cron", s.Cron, "enabled", s.Enabled)
	return a.c.Store.GetSchedule(ctx, s.ID)
}

// Update replaces the user-editable fields of schedule id with sp (Enabled
// nil keeps the current value), validated like Create. The stored schedule
// is left alone when sp is invalid. A task_params string holding
// redact.Marker that is exactly the redacted form of the stored value at
// its JSON path keeps the stored value (a client sent back what it read);
// any other value replaces it; a marker that matches nothing is an
// *InvalidError. It returns the stored schedule (unredacted: callers that
// show it use Redacted).
func (a *Actions) Update(ctx context.Context, id int64, sp Spec) (*store.Schedule, error) {
	cur, err := a.c.Store.GetSchedule(ctx, id)
	if err != nil {
		return nil, err
	}
	// Secrets sent back in their redacted form keep their stored values.
	merged, err := redact.Restore("task_params", sp.TaskParams, cur.TaskParams)
	if err != nil {
		return nil, &InvalidError{ScheduleID: id, Problems: []Problem{{Field: "task_params",
			Value: abbrev(redact.JSON(sp.TaskParams)), Message: err.Error()}}}
	}
	sp.TaskParams = merged
	s := sp.apply(*cur)
	if p := a.problems(&s, sp.UserID != nil); len(p) > 0 {
		return nil, &InvalidError{ScheduleID: id, Problems: p}
	}
	if err := a.duplicate(ctx, &s); err != nil {
		return nil, err
	}
	if err := a.c.Store.UpdateSchedule(ctx, &s); err != nil {
		return nil, duplicateOf(err, &s)
	}
	a.changed(ctx, store.ChannelUpdates, strconv.FormatInt(id, 10))
	a.log.Info("schedule updated", "schedule_id", id, "name", s.Name, "cron", s.Cron, "enabled", s.Enabled)
	return a.c.Store.GetSchedule(ctx, id)
}

// Enable enables schedule id (its next fire is computed from now by the
// next claim) and returns it.
func (a *Actions) Enable(ctx context.Context, id int64) (*store.Schedule, error) {
	return a.setEnabled(ctx, id, true)
}

// Disable disables schedule id (its fires claimed ahead and not due yet
// are dropped) and returns it.
func (a *Actions) Disable(ctx context.Context, id int64) (*store.Schedule, error) {
	return a.setEnabled(ctx, id, false)
}

func (a *Actions) setEnabled(ctx context.Context, id int64, on bool) (*store.Schedule, error) {
	if err := a.c.Store.SetEnabled(ctx, id, on); err != nil {
		return nil, err
	}
	a.changed(ctx, store.ChannelUpdates, strconv.FormatInt(id, 10))
	a.log.Info("schedule enabled changed", "schedule_id", id, "enabled", on)
	return a.c.Store.GetSchedule(ctx, id)
}

// Delete deletes schedule id; its run history is kept.
func (a *Actions) Delete(ctx context.Context, id int64) error {
	if err := a.c.Store.DeleteSchedule(ctx, id); err != nil {
		return err
	}
	a.changed(ctx, store.ChannelUpdates, strconv.FormatInt(id, 10))
	a.log.Info("schedule deleted", "schedule_id", id)
	return nil
}

// AmbiguousNameError is returned by Lookup when several schedules (of
// different users) have the name asked for.
type AmbiguousNameError struct {
	// Name is the name asked for.
	Name string
	// IDs are the schedules that have it, in id order.
	IDs []int64
}

// Error names the schedules that share the name.
func (e *AmbiguousNameError) Error() string {
	ids := make([]string, len(e.IDs))
	for i, id := range e.IDs {
		ids[i] = strconv.FormatInt(id, 10)
	}
	return fmt.Sprintf("schedule name %q is used by schedules %s (of different users); give the id", e.Name, strings.Join(ids, ", "))
}

// Lookup resolves a schedule reference as people type it: a positive
// integer is the id; anything else is a name, which must belong to exactly
// one schedule (an *AmbiguousNameError when it does not, store.ErrNotFound
// when no schedule has it).
func (a *Actions) Lookup(ctx context.Context, ref string) (int64, error) {
	if id, err := strconv.ParseInt(ref, 10, 64); err == nil && id > 0 {
		return id, nil
	}
	list, err := a.c.Store.ListSchedules(ctx, store.ScheduleFilter{Name: ref, Limit: 10})
	if err != nil {
		return 0, err
	}
	switch len(list) {
	case 0:
		return 0, fmt.Errorf("schedule %q: %w", ref, store.ErrNotFound)
	case 1:
		return list[0].ID, nil
	}
	e := &AmbiguousNameError{Name: ref}
	for _, s := range list {
		e.IDs = append(e.IDs, s.ID)
	}
	return 0, e
}
