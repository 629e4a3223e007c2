package action

import (
	"context"
	"strconv"

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
