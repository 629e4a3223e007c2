package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// MaxNameLength is the longest schedule name accepted (job_schedules.name).
const MaxNameLength = action.MaxNameLength

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

// spec translates the body into the action's schedule description.
func (in *ScheduleInput) spec() action.Spec {
	return action.Spec{UserID: in.UserID, Name: in.Name, JobType: in.JobType, Target: in.Target,
		TaskParams: in.TaskParams, Cron: in.Cron, Timezone: in.Timezone, Enabled: in.Enabled}
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

// fail translates an error into its HTTP status: bad input 400 with the
// problems (an invalid schedule, or a value the store refused: an id out of
// its column's range, a NUL byte — the field and the escaped value named),
// missing 404, name taken 409, anything else 500 (logged, without the
// database's text).
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var he *httpError
	var inv *action.InvalidError
	var ie *store.InputError
	switch {
	case errors.As(err, &he):
		writeError(w, he.status, he.msg, he.problems...)
	case errors.As(err, &inv):
		writeError(w, http.StatusBadRequest, inv.Error(), inv.Lines()...)
	case errors.As(err, &ie):
		writeError(w, http.StatusBadRequest, ie.Error(), ie.Error())
	case errors.Is(err, store.ErrOutOfRange), errors.Is(err, store.ErrInvalidInput):
		writeError(w, http.StatusBadRequest, "invalid input: "+err.Error())
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, err.Error())
	case errors.Is(err, store.ErrDuplicate):
		writeError(w, http.StatusConflict, err.Error())
	default:
		s.internal(w, r, err)
	}
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
	if !utf8.Valid(body) {
		// encoding/json would silently replace the bytes with U+FFFD.
		off := 0
		for off < len(body) {
			r, n := utf8.DecodeRune(body[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return badRequest("request body is not valid UTF-8 at %s", position(body, int64(off+1)))
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(v); err != nil {
		return jsonError(body, what, err)
	}
	if dec.More() {
		off := dec.InputOffset()
		return badRequest("malformed JSON at %s: unexpected data after the %s", position(body, off), what)
	}
	if name, ok := unknownField(body, v); ok {
		return badRequest("unknown field %q in the %s body", name, what)
	}
	return nil
}

// unknownField returns the first key of the JSON object body that no field
// of the struct v points to has as its JSON name (matched without regard to
// case, as encoding/json does).
func unknownField(body []byte, v any) (string, bool) {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return "", false
	}
	var known []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		known = append(known, name)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		key, _ := tok.(string)
		if !slices.ContainsFunc(known, func(k string) bool { return strings.EqualFold(k, key) }) {
			return key, true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", false
		}
	}
	return "", false
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

// readInput decodes a schedule body; pathID, when not 0, is the schedule the
// path names, which the body's id (if any) must match.
func readInput(r *http.Request, pathID int64) (*ScheduleInput, error) {
	var in ScheduleInput
	if err := decodeJSON(r, "schedule", &in); err != nil {
		return nil, err
	}
	if in.ID != nil && pathID != 0 && *in.ID != pathID {
		return nil, badRequest("id: body has id %d but the path names schedule %d", *in.ID, pathID)
	}
	return &in, nil
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, badRequest("id: %q out of range 1-%d", raw, int64(math.MaxInt64))
	}
	if err != nil || id < 1 {
		return 0, badRequest("id: %q is not a positive whole number", raw)
	}
	return id, nil
}

// MaxLimit is the largest page of a list endpoint (limit).
const MaxLimit = 1000

// knownParams refuses a query parameter that is not one of names, or one
// given more than once: a misspelt filter must not silently list
// everything.
func knownParams(r *http.Request, names ...string) error {
	for k, vs := range r.URL.Query() {
		if !slices.Contains(names, k) {
			return badRequest("unknown query parameter %q (known: %s)", k, strings.Join(names, ", "))
		}
		if len(vs) > 1 {
			return badRequest("%s: given %d times; give it once", k, len(vs))
		}
	}
	return nil
}

// paging reads limit (default def, 1..MaxLimit) and offset (>= 0).
func paging(r *http.Request, def int) (limit, offset int, err error) {
	q := r.URL.Query()
	limit, offset = def, 0
	if v := q.Get("limit"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 1 || n > MaxLimit {
			return 0, 0, badRequest("limit: %q is not a whole number from 1 to %d", v, MaxLimit)
		}
		limit = n
	}
	if v := q.Get("offset"); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || n > math.MaxInt32 {
			return 0, 0, badRequest("offset: %q is not a whole number from 0 to %d", v, math.MaxInt32)
		}
		offset = n
	}
	return limit, offset, nil
}

// ScheduleList is the response of GET /api/v1/schedules.
type ScheduleList struct {
	// Schedules are redacted (action.Redacted).
	Schedules []store.Schedule `json:"schedules"`
	Limit     int              `json:"limit"`
	Offset    int              `json:"offset"`
	// MaxLimit is the largest limit accepted.
	MaxLimit int `json:"max_limit"`
}

func (s *server) listSchedules(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := paging(r, 100)
	if err == nil {
		err = knownParams(r, "job_type", "enabled", "user_id", "limit", "offset")
	}
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
	writeJSON(w, http.StatusOK, ScheduleList{Schedules: action.RedactedSchedules(list), Limit: limit, Offset: offset, MaxLimit: MaxLimit})
}

func (s *server) createSchedule(w http.ResponseWriter, r *http.Request) {
	in, err := readInput(r, 0)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Actions.Create(r.Context(), in.spec())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/schedules/%d", sc.ID))
	writeJSON(w, http.StatusCreated, action.Redacted(*sc))
}

func (s *server) getSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Store.GetSchedule(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, action.Redacted(*sc))
}

func (s *server) updateSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var in *ScheduleInput
	if err == nil {
		in, err = readInput(r, id)
	}
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Actions.Update(r.Context(), id, in.spec())
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, action.Redacted(*sc))
}

func (s *server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.d.Actions.Delete(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *server) setEnabled(enabled bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		var sc *store.Schedule
		if err == nil {
			if enabled {
				sc, err = s.d.Actions.Enable(r.Context(), id)
			} else {
				sc, err = s.d.Actions.Disable(r.Context(), id)
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, action.Redacted(*sc))
	}
}

// ValidateResult is the response of POST /api/v1/validate for a valid body.
type ValidateResult struct {
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"`
}

func (s *server) validate(w http.ResponseWriter, r *http.Request) {
	in, err := readInput(r, 0)
	if err == nil {
		_, err = s.d.Actions.Validate(r.Context(), in.spec())
	}
	if err != nil {
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

func (s *server) runNow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var st *action.Started
	if err == nil {
		st, err = s.d.Actions.RunNow(r.Context(), id, action.RunOptions{})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/api/v1/runs/%d", st.Run.ID))
	writeJSON(w, http.StatusAccepted, RunStarted{RunID: st.Run.ID, ScheduleID: id, Status: st.Run.Status, ScheduledFor: st.Run.ScheduledFor})
}
