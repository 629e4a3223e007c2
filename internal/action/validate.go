package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// MaxNameLength is the longest schedule name accepted, in characters
// (job_schedules.name).
const MaxNameLength = 255

// Spec is a schedule as a person describes it: the body of an API create,
// update or validate, or the flags of `scheduler schedules add`.
type Spec struct {
	// UserID is required; nil means it was not given.
	UserID *int64
	// Name is unique per user, 1 to MaxNameLength characters.
	Name string
	// JobType is one of store.JobTypes with a handler in this build.
	JobType string
	// Target is free text.
	Target string
	// TaskParams is the job's JSON parameters; empty or null means {}.
	TaskParams json.RawMessage
	// Cron is a 5- or 6-field expression or a descriptor (@hourly, @every 90s).
	Cron string
	// Timezone is the IANA zone of Cron; empty means Config.Location.
	Timezone string
	// Enabled defaults to true on create and to the current value on update.
	Enabled *bool
}

// apply returns the candidate schedule: spec over base (the stored
// schedule for an update, zero for a create).
func (sp *Spec) apply(base store.Schedule) store.Schedule {
	s := base
	s.UserID = 0
	if sp.UserID != nil {
		s.UserID = *sp.UserID
	}
	s.Name, s.JobType, s.Target, s.Cron, s.Timezone = sp.Name, sp.JobType, sp.Target, sp.Cron, sp.Timezone
	s.TaskParams = sp.TaskParams
	if p := bytes.TrimSpace(s.TaskParams); len(p) == 0 || string(p) == "null" {
		s.TaskParams = json.RawMessage(`{}`)
	}
	switch {
	case sp.Enabled != nil:
		s.Enabled = *sp.Enabled
	case base.ID == 0:
		s.Enabled = true
	}
	return s
}

// Validate checks a schedule description without saving anything and
// returns the schedule it describes. Problems come back as an
// *InvalidError listing all of them.
func (a *Actions) Validate(_ context.Context, sp Spec) (*store.Schedule, error) {
	s := sp.apply(store.Schedule{})
	p := a.problems(&s, sp.UserID != nil)
	if err := redact.Check("task_params", s.TaskParams); err != nil {
		// A new schedule has no stored secret to keep.
		p = append(p, Problem{Field: "task_params", Value: abbrev(redact.JSON(s.TaskParams)), Message: err.Error()})
	}
	if len(p) > 0 {
		return nil, &InvalidError{Problems: p}
	}
	return &s, nil
}

// problems returns every problem of a candidate schedule: the fields the
// database constrains first, then time zone, cron, handler and task_params
// each checked on its own (so that a bad time zone does not hide a bad
// cron), then engine.Compile as the engine will see it.
func (a *Actions) problems(s *store.Schedule, userIDGiven bool) []Problem {
	var out []Problem
	add := func(field, value, format string, args ...any) {
		out = append(out, Problem{Field: field, Value: value, Message: fmt.Sprintf(format, args...)})
	}
	uid := strconv.FormatInt(s.UserID, 10)
	switch {
	case !userIDGiven:
		add("user_id", "", "user_id: required, a whole number >= 1")
	case s.UserID < 1:
		add("user_id", uid, "user_id: must be >= 1, got %d", s.UserID)
	case s.UserID > MaxUserID:
		add("user_id", uid, "user_id: %d out of range 1-%d", s.UserID, MaxUserID)
	}
	if msg := NameProblem(s.Name); msg != "" {
		add("name", s.Name, "name: %s", msg)
	}
	if msg := textProblem(s.Target); msg != "" {
		add("target", s.Target, "target: %q %s", s.Target, msg)
	}
	handler, hasHandler := a.c.Handlers[s.JobType]
	switch {
	case s.JobType == "":
		add("job_type", "", "job_type: required, one of %s", strings.Join(store.JobTypes, ", "))
	case !slices.Contains(store.JobTypes, s.JobType):
		add("job_type", s.JobType, "job_type: unknown job type %q (known: %s)", s.JobType, strings.Join(store.JobTypes, ", "))
	case !hasHandler:
		add("job_type", s.JobType, "job_type: unknown job type %q", s.JobType)
	}
	loc := a.c.Location
	if s.Timezone != "" {
		l, err := time.LoadLocation(s.Timezone)
		if err != nil {
			add("timezone", s.Timezone, "timezone: unknown time zone %q", s.Timezone)
		} else {
			loc = l
		}
	}
	if strings.TrimSpace(s.Cron) == "" {
		add("cron", s.Cron, `cron: required, e.g. "*/5 * * * *"`)
	} else if _, err := cronexpr.Parse(s.Cron, loc); errors.Is(err, cronexpr.ErrNeverFires) {
		add("cron", s.Cron, "%v", err) // names the expression: cron "0 0 30 2 *" never fires: …
	} else if err != nil {
		add("cron", s.Cron, "cron %q: %v", s.Cron, err)
	}
	if !hasHandler {
		return out
	}
	params := abbrev(redact.JSON(s.TaskParams))
	if err := store.CheckJSONText("task_params", s.TaskParams); err != nil {
		add("task_params", params, "%v", err)
		return out
	}
	if !json.Valid(s.TaskParams) {
		add("task_params", params, "task_params: not valid JSON")
		return out
	}
	if err := engine.ValidateParams(handler, s.Target, s.TaskParams); err != nil {
		for _, line := range taskParamsLines(err) {
			add("task_params", params, "%s", line)
		}
		return out
	}
	if len(out) == 0 {
		// The pieces passed; the whole must pass the engine's check too.
		if _, _, err := engine.Compile(s, a.c.Location, a.c.Handlers); err != nil {
			add("schedule", "", "%s", cleanProblem(err.Error()))
		}
	}
	return out
}

// MaxUserID is the largest user id accepted: job_schedules.user_id is int4
// in the framework's schema and in ours.
const MaxUserID = math.MaxInt32

// NameProblem returns what is wrong with a schedule name, or "": it must
// be valid UTF-8, not blank, at most MaxNameLength characters, without
// control characters (C0, DEL, C1) and without bidirectional formatting
// characters (U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069), which
// make a name display as something else. The name is never altered.
func NameProblem(name string) string {
	if msg := textProblem(name); msg != "" {
		return fmt.Sprintf("%q %s", name, msg)
	}
	n := utf8.RuneCountInString(name)
	switch {
	case strings.TrimSpace(name) == "":
		return "must not be empty"
	case n > MaxNameLength:
		return fmt.Sprintf("%d characters, at most %d allowed", n, MaxNameLength)
	}
	for i, r := range name {
		switch {
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
			return fmt.Sprintf("%q holds the control character %U at byte %d", name, r, i)
		case r == 0x061c || r == 0x200e || r == 0x200f || (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069):
			return fmt.Sprintf("%q holds the bidirectional formatting character %U at byte %d", name, r, i)
		}
	}
	return ""
}

// textProblem returns why s cannot be stored as text (a NUL byte, invalid
// UTF-8), or "".
func textProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL byte (\\x00), which the database cannot store"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// taskParamsLines formats a handler's validation error as problem lines,
// each starting with its task_params path (handlers name it; a line that
// does not gets "task_params: ").
func taskParamsLines(err error) []string {
	leaves := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		leaves = j.Unwrap()
	}
	var out []string
	for _, leaf := range leaves {
		for _, line := range strings.Split(leaf.Error(), "\n") {
			if line = strings.TrimSpace(line); line == "" {
				continue
			}
			if !strings.HasPrefix(line, "task_params") {
				line = "task_params: " + line
			}
			out = append(out, line)
		}
	}
	return out
}

// cleanProblem removes the doubled prefix of engine.Compile errors whose
// handler already names the task_params path
// ("task_params: task_params.x: ..." → "task_params.x: ...").
func cleanProblem(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "task_params: "); ok && strings.HasPrefix(rest, "task_params") {
		return rest
	}
	return msg
}

// abbrev returns JSON text shortened for a problem's value.
func abbrev(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "…"
	}
	return string(b)
}

// ScheduleReport names an invalid stored schedule and why.
type ScheduleReport struct {
	ID    int64  `json:"id"`
	Name  string `json:"name"`
	Error string `json:"error"`
}

// String formats the report the way the CLI prints it.
func (r ScheduleReport) String() string {
	return fmt.Sprintf("schedule %d (%s): %s", r.ID, r.Name, r.Error)
}

// Report counts the stored schedules checked and lists the invalid ones.
type Report struct {
	// Schedules is the number of schedules checked.
	Schedules int `json:"schedules"`
	// Valid and Invalid count them.
	Valid   int `json:"valid"`
	Invalid int `json:"invalid"`
	// Problems lists the invalid schedules by id (never nil).
	Problems []ScheduleReport `json:"problems"`
}

// compile checks a stored schedule with engine.Compile, the check the
// engine makes before firing it.
func (a *Actions) compile(s *store.Schedule) (*cronexpr.Schedule, engine.JobOptions, error) {
	return engine.Compile(s, a.c.Location, a.c.Handlers)
}

// eachSchedule calls fn for every schedule matching f, a page at a time.
func (a *Actions) eachSchedule(ctx context.Context, f store.ScheduleFilter, fn func(s *store.Schedule) error) error {
	const page = 1000
	f.Limit = page
	for f.Offset = 0; ; f.Offset += page {
		list, err := a.c.Store.ListSchedules(ctx, f)
		if err != nil {
			return err
		}
		for i := range list {
			if err := fn(&list[i]); err != nil {
				return err
			}
		}
		if len(list) < page {
			return nil
		}
	}
}

// ValidateAll checks every stored schedule, enabled or not, the way the
// engine does before firing it, and changes nothing.
func (a *Actions) ValidateAll(ctx context.Context) (*Report, error) {
	r := &Report{Problems: []ScheduleReport{}}
	err := a.eachSchedule(ctx, store.ScheduleFilter{}, func(s *store.Schedule) error {
		r.Schedules++
		if _, _, err := a.compile(s); err != nil {
			r.Invalid++
			r.Problems = append(r.Problems, ScheduleReport{ID: s.ID, Name: s.Name, Error: redact.Text(cleanProblem(err.Error()))})
		} else {
			r.Valid++
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("validate: %w", err)
	}
	return r, nil
}

// errIsDuplicate reports a store unique violation as a *DuplicateError.
func duplicateOf(err error, s *store.Schedule) error {
	if errors.Is(err, store.ErrDuplicate) {
		return &DuplicateError{UserID: s.UserID, Name: s.Name}
	}
	return err
}

// SpecOf returns the description of an existing schedule value, for
// callers that build store.Schedule values (the demo).
func SpecOf(s *store.Schedule) Spec {
	uid, on := s.UserID, s.Enabled
	return Spec{UserID: &uid, Name: s.Name, JobType: s.JobType, Target: s.Target, TaskParams: s.TaskParams,
		Cron: s.Cron, Timezone: s.Timezone, Enabled: &on}
}
