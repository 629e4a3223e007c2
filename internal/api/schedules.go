package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/store"
)

// MaxNameLength is the longest schedule name accepted (job_schedules.name).
const MaxNameLength = 255

// ScheduleInput is the body of create, update and validate. Read-only
// fields of a Schedule (id, next_run_at, created_at, updated_at,
// state_json, last_error) are accepted and ignored so that a fetched
// schedule can be sent back; any other unknown field is an error.
type ScheduleInput struct {
	UserID     *int64          `json:"user_id"`
	Name       string          `json:"name"`
	JobType    string          `json:"job_type"`
	Target     string          `json:"target"`
	TaskParams json.RawMessage `json:"task_params"`
	Cron       string          `json:"cron"`
	Timezone   string          `json:"timezone"`
	// Enabled defaults to true on create and to the current value on update.
	Enabled *bool `json:"enabled"`

	ID        *int64          `json:"id"`
	NextRunAt json.RawMessage `json:"next_run_at"`
	CreatedAt json.RawMessage `json:"created_at"`
	UpdatedAt json.RawMessage `json:"updated_at"`
	StateJSON json.RawMessage `json:"state_json"`
	LastError json.RawMessage `json:"last_error"`
}

// httpError is an error with its status and problem list.
type httpError struct {
	status   int
	msg      string
	problems []string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, a ...any) *httpError {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, a...)}
}

func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, he.msg, he.problems...)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case isDuplicate(err):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.internal(w, r, err)
	}
}

// isDuplicate recognises the store's unique (user_id, name) violation.
func isDuplicate(err error) bool {
	return errors.Is(err, store.ErrDuplicate)
}

// decodeJSON reads one JSON value from the (size-limited) body into v,
// rejecting unknown fields and trailing data; errors say where.
func decodeJSON(r *http.Request, what string, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &httpError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)}
		}
		return badRequest("reading request body: %v", err)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return badRequest("request body is empty; want a JSON %s", what)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, what, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		return badRequest("malformed JSON at %s: unexpected data after the %s", position(body, off), what)
	}
	return nil
}

// jsonError turns a decoding error into a 400 that says where.
func jsonError(body []byte, what string, err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return badRequest("malformed JSON at %s: %v", position(body, syn.Offset), syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			return badRequest("%s: want a JSON object, got a JSON %s (%s)", what, typ.Value, position(body, typ.Offset))
		}
		return badRequest("field %q: want %s, got a JSON %s (%s)", field, jsonKind(typ.Type.String()), typ.Value, position(body, typ.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("malformed JSON at %s: unexpected end of input", position(body, int64(len(body))))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return badRequest("unknown field %s in the %s body", name, what)
	}
	return badRequest("malformed JSON: %v", err)
}

// jsonKind names a Go type the way a JSON user thinks of it.
func jsonKind(goType string) string {
	switch {
	case strings.Contains(goType, "int"), strings.Contains(goType, "float"):
		return "a number"
	case goType == "string":
		return "a string"
	case strings.Contains(goType, "bool"):
		return "true or false"
	}
	return goType
}

// position formats a decoder offset (bytes read when the error was
// found) with the line and column of the last byte read.
func position(body []byte, off int64) string {
	off = min(max(off, 0), int64(len(body)))
	at := max(off-1, 0) // index of the byte the decoder stopped at
	line := 1 + bytes.Count(body[:at], []byte{'\n'})
	col := at - int64(bytes.LastIndexByte(body[:at], '\n'))
	return fmt.Sprintf("byte offset %d (line %d, column %d)", off, line, col)
}

// toSchedule applies the input to base (a copy of the stored schedule for
// an update, zero for a create) and returns the candidate schedule.
func (in *ScheduleInput) toSchedule(base store.Schedule) store.Schedule {
	s := base
	if in.UserID != nil {
		s.UserID = *in.UserID
	} else {
		s.UserID = 0
	}
	s.Name, s.JobType, s.Target, s.Cron = in.Name, in.JobType, in.Target, in.Cron
	s.Timezone = in.Timezone
	s.TaskParams = in.TaskParams
	if len(bytes.TrimSpace(s.TaskParams)) == 0 || string(bytes.TrimSpace(s.TaskParams)) == "null" {
		s.TaskParams = json.RawMessage(`{}`)
	}
	switch {
	case in.Enabled != nil:
		s.Enabled = *in.Enabled
	case base.ID == 0:
		s.Enabled = true
	}
	return s
}

// problems returns every problem of a candidate schedule, each a
// "path: reason" line the way the CLI prints them. The field checks come
// first, then the engine's checks of cron, time zone, job type and
// task_params (after a bad time zone or cron, the rest is still checked).
func (s *server) problems(sc store.Schedule, userIDGiven bool) []string {
	var out []string
	switch {
	case !userIDGiven:
		out = append(out, "user_id: required, a whole number >= 1")
	case sc.UserID < 1:
		out = append(out, fmt.Sprintf("user_id: must be >= 1, got %d", sc.UserID))
	}
	switch n := utf8.RuneCountInString(sc.Name); {
	case strings.TrimSpace(sc.Name) == "":
		out = append(out, "name: must not be empty")
	case n > MaxNameLength:
		out = append(out, fmt.Sprintf("name: %d characters, at most %d allowed", n, MaxNameLength))
	}
	jobTypeBad := false
	switch {
	case sc.JobType == "":
		out = append(out, "job_type: required, one of "+strings.Join(store.JobTypes, ", "))
		jobTypeBad = true
	case !slices.Contains(store.JobTypes, sc.JobType):
		out = append(out, fmt.Sprintf("job_type: unknown job type %q (known: %s)", sc.JobType, strings.Join(store.JobTypes, ", ")))
		jobTypeBad = true
	}
	if strings.TrimSpace(sc.Cron) == "" {
		out = append(out, `cron: required, e.g. "*/5 * * * *"`)
		sc.Cron = "* * * * *"
	}
	// The engine stops at the first problem; fix each reported field with
	// a harmless value and ask again to report the later ones too.
	c := sc
	c.ID = 0 // a candidate must not replace the engine's cache entry of the stored schedule
	for range 4 {
		err := s.d.Engine.Validate(&c)
		if err == nil {
			break
		}
		msg := cleanProblem(err.Error())
		if !(jobTypeBad && strings.HasPrefix(msg, "job_type:")) {
			out = append(out, strings.Split(msg, "\n")...)
		}
		switch {
		case strings.HasPrefix(msg, "timezone:"):
			c.Timezone = ""
		case strings.HasPrefix(msg, "cron "):
			c.Cron = "* * * * *"
		default:
			return out
		}
	}
	return out
}

// cleanProblem removes the doubled prefix of handler errors that already
// name their task_params path ("task_params: task_params.x: ..." → "task_params.x: ...").
func cleanProblem(msg string) string {
	if rest, ok := strings.CutPrefix(msg, "task_params: "); ok && strings.HasPrefix(rest, "task_params") {
		return rest
	}
	return msg
}

func invalid(problems []string) *httpError {
	return &httpError{status: http.StatusBadRequest,
		msg: "invalid schedule: " + strings.Join(problems, "; "), problems: problems}
}

// readSchedule decodes and validates a schedule body applied over base.
func (s *server) readSchedule(r *http.Request, base store.Schedule) (*store.Schedule, error) {
	var in ScheduleInput
	if err := decodeJSON(r, "schedule", &in); err != nil {
		return nil, err
	}
	if in.ID != nil && base.ID != 0 && *in.ID != base.ID {
		return nil, badRequest("id: body has id %d but the path names schedule %d", *in.ID, base.ID)
	}
	sc := in.toSchedule(base)
	if p := s.problems(sc, in.UserID != nil); len(p) > 0 {
		return nil, invalid(p)
	}
	return &sc, nil
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badRequest("id: %q is not a positive whole number", raw)
	}
	return id, nil
}

// paging reads limit (default def, 1..1000) and offset (>= 0).
func paging(r *http.Request, def int) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = def, 0
	if v := q.Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > 1000 {
			return 0, 0, badRequest("limit: %q is not a whole number from 1 to 1000", v)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return 0, 0, badRequest("offset: %q is not a whole number >= 0", v)
		}
		offset = n
	}
	return limit, offset, nil
}

// ScheduleList is the response of GET /api/v1/schedules.
type ScheduleList struct {
	Schedules []store.Schedule `json:"schedules"`
	Limit     int              `json:"limit"`
	Offset    int              `json:"offset"`
}

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := paging(r, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := store.ScheduleFilter{Limit: limit, Offset: offset}
	q := r.URL.Query()
	if v := q.Get("job_type"); v != "" {
		if !slices.Contains(store.JobTypes, v) {
			s.fail(w, r, badRequest("job_type: unknown job type %q (known: %s)", v, strings.Join(store.JobTypes, ", ")))
			return
		}
		f.JobType = v
	}
	if v := q.Get("enabled"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			s.fail(w, r, badRequest("enabled: %q is not true or false", v))
			return
		}
		f.Enabled = &b
	}
	if v := q.Get("user_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			s.fail(w, r, badRequest("user_id: %q is not a whole number", v))
			return
		}
		f.UserID = &n
	}
	list, err := s.d.Store.ListSchedules(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if list == nil {
		list = []store.Schedule{}
	}
	writeJSON(w, http.StatusOK, ScheduleList{Schedules: list, Limit: limit, Offset: offset})
}

// duplicate reports a conflict when another schedule of the user has the name.
func (s *server) duplicate(r *http.Request, sc *store.Schedule) error {
	uid := sc.UserID
	list, err := s.d.Store.ListSchedules(r.Context(), store.ScheduleFilter{UserID: &uid})
	if err != nil {
		return err
	}
	for _, o := range list {
		if o.Name == sc.Name && o.ID != sc.ID {
			return &httpError{status: http.StatusConflict,
				msg: fmt.Sprintf("name: user %d already has a schedule named %q (id %d)", uid, sc.Name, o.ID)}
		}
	}
	return nil
}

func (s *server) createSchedule(w http.ResponseWriter, r *http.Request) {
	sc, err := s.readSchedule(r, store.Schedule{})
	if err == nil {
		err = s.duplicate(r, sc)
	}
	if err == nil {
		err = s.d.Store.CreateSchedule(r.Context(), sc)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Engine.Wake()
	s.log.Info("schedule created", "schedule_id", sc.ID, "name", sc.Name, "job_type", sc.JobType, "cron", sc.Cron)
	s.respondSchedule(w, r, sc.ID, http.StatusCreated)
}

// respondSchedule answers with the stored schedule.
func (s *server) respondSchedule(w http.ResponseWriter, r *http.Request, id int64, status int) {
	sc, err := s.d.Store.GetSchedule(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if status == http.StatusCreated {
		w.Header().Set("Location", fmt.Sprintf("/api/v1/schedules/%d", id))
	}
	writeJSON(w, status, sc)
}

func (s *server) getSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.respondSchedule(w, r, id, http.StatusOK)
}

func (s *server) updateSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	cur, err := s.d.Store.GetSchedule(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc, err := s.readSchedule(r, *cur)
	if err == nil {
		err = s.duplicate(r, sc)
	}
	if err == nil {
		err = s.d.Store.UpdateSchedule(r.Context(), sc)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Engine.Wake()
	s.log.Info("schedule updated", "schedule_id", id, "name", sc.Name, "cron", sc.Cron, "enabled", sc.Enabled)
	s.respondSchedule(w, r, id, http.StatusOK)
}

func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.d.Store.DeleteSchedule(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Engine.Wake()
	s.log.Info("schedule deleted", "schedule_id", id)
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			err = s.d.Store.SetEnabled(r.Context(), id, enabled)
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.d.Engine.Wake()
		s.log.Info("schedule enabled changed", "schedule_id", id, "enabled", enabled)
		s.respondSchedule(w, r, id, http.StatusOK)
	}
}

// ValidateResult is the response of POST /api/v1/validate for a valid body.
type ValidateResult struct {
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"`
}

func (s *server) validate(w http.ResponseWriter, r *http.Request) {
	if _, err := s.readSchedule(r, store.Schedule{}); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, ValidateResult{Valid: true, Problems: []string{}})
}

// RunStarted is the response of POST /api/v1/schedules/{id}/run.
type RunStarted struct {
	RunID        int64     `json:"run_id"`
	ScheduleID   int64     `json:"schedule_id"`
	Status       string    `json:"status"`
	ScheduledFor time.Time `json:"scheduled_for"`
}

// manualInstant returns now truncated to the stores' microsecond precision,
// strictly after every instant handed out before, so that two requests
// never collide on (job_type, job_id, scheduled_for).
func (s *server) manualInstant() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.d.Now().UTC().Truncate(time.Microsecond)
	if !t.After(s.lastRun) {
		t = s.lastRun.Add(time.Microsecond)
	}
	s.lastRun = t
	return t
}

func (s *server) runNow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	sc, err := s.d.Store.GetSchedule(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.d.Engine.Validate(sc); err != nil {
		p := strings.Split(cleanProblem(err.Error()), "\n")
		s.fail(w, r, &httpError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("schedule %d is invalid and cannot run: %s", id, strings.Join(p, "; ")), problems: p})
		return
	}
	maxAttempts := 1 + s.d.RetryCount
	if rc := engine.ParseJobOptions(sc.TaskParams).RetryCount; rc != nil {
		maxAttempts = 1 + *rc
	}
	var run *store.Run
	// Another instance may have used the same microsecond; try the next one.
	for range 5 {
		run, err = s.d.Store.InsertRun(r.Context(), sc, s.manualInstant(), maxAttempts)
		if err == nil || !errors.Is(err, store.ErrDuplicate) {
			break
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.d.Engine.Wake()
	s.log.Info("manual run requested", "schedule_id", id, "run_id", run.ID)
	w.Header().Set("Location", fmt.Sprintf("/api/v1/runs/%d", run.ID))
	writeJSON(w, http.StatusAccepted, RunStarted{RunID: run.ID, ScheduleID: id, Status: run.Status, ScheduledFor: run.ScheduledFor})
}
