package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// Examples are the task_params the form offers for each job type when the
// JSON editor is empty (the parameters of internal/jobs/README-jobs.md).
var Examples = map[string]string{
	"alert": `{
  "ticker": "BTCUSDT",
  "timeframe": "1h",
  "rule": {"crosses_below": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 30}}},
  "rearm": {"enabled": true, "cooldown_minutes": 60},
  "notify": {"channels": ["log"]}
}`,
	"screener": `{
  "tickers": ["BTCUSDT", "ETHUSDT"],
  "timeframe": "1h",
  "rule": {"lt": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 30}}},
  "notify": {"channels": ["log"]}
}`,
	"data_processing": `{"script_path": "src/data/vix.py", "timeout_seconds": 600}`,
	"script":          `{"script_path": "src/data/vix.py", "timeout_seconds": 600}`,
	"report":          `{"report_type": "daily", "period_hours": 24, "notify": {"channels": ["log"]}}`,
	"notification":    `{"title": "Reminder", "message": "Review open positions", "channels": ["log"], "priority": "normal"}`,
	"schedule":        `{"action": "cleanup", "parameters": {"cleanup_older_than": 30}}`,
	"backup":          `{}`,
}

// formData is the create / edit page.
type formData struct {
	// ID is 0 for a new schedule.
	ID       int64
	F        formValues
	Errors   map[string][]string
	General  string
	JobTypes []string
	Examples map[string]string
	Fields   map[string][]TypeField
}

// formValues are the form's fields as typed.
type formValues struct {
	UserID, Name, JobType, Target, Cron, Timezone, TaskParams string
	Enabled                                                   bool
}

func (s *Server) newSchedule(w http.ResponseWriter, r *http.Request) {
	f := formValues{UserID: "1", JobType: "alert", Cron: "*/5 * * * *", Enabled: true, TaskParams: Examples["alert"]}
	s.render(w, r, "form", "New schedule", formData{F: f, JobTypes: store.JobTypes, Examples: Examples, Fields: TypeFields})
}

func (s *Server) editSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Store.GetSchedule(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	red := action.Redacted(*sc)
	f := formValues{UserID: strconv.FormatInt(red.UserID, 10), Name: red.Name, JobType: red.JobType, Target: red.Target,
		Cron: red.Cron, Timezone: red.Timezone, TaskParams: prettyJSON(red.TaskParams), Enabled: red.Enabled}
	s.render(w, r, "form", "Edit "+sc.Name, formData{ID: id, F: f, JobTypes: store.JobTypes, Examples: Examples, Fields: TypeFields})
}

// readForm reads the posted form into its values and the action's spec;
// a user id that is not a number is a problem of the user_id field.
func readForm(r *http.Request) (formValues, action.Spec, map[string][]string) {
	f := formValues{UserID: strings.TrimSpace(r.PostFormValue("user_id")), Name: r.PostFormValue("name"),
		JobType: r.PostFormValue("job_type"), Target: r.PostFormValue("target"), Cron: r.PostFormValue("cron"),
		Timezone: strings.TrimSpace(r.PostFormValue("timezone")), TaskParams: r.PostFormValue("task_params"),
		Enabled: r.PostFormValue("enabled") != ""}
	enabled := f.Enabled
	sp := action.Spec{Name: f.Name, JobType: f.JobType, Target: f.Target, Cron: f.Cron, Timezone: f.Timezone,
		TaskParams: json.RawMessage(f.TaskParams), Enabled: &enabled}
	if f.UserID != "" {
		n, err := strconv.ParseInt(f.UserID, 10, 64)
		if err != nil {
			return f, sp, map[string][]string{"user_id": {fmt.Sprintf("user_id: %q is not a whole number", f.UserID)}}
		}
		sp.UserID = &n
	}
	return f, sp, nil
}

func (s *Server) createSchedule(w http.ResponseWriter, r *http.Request) {
	f, sp, bad := readForm(r)
	if bad != nil {
		s.formError(w, r, 0, f, bad, "")
		return
	}
	sc, err := s.d.Actions.Create(r.Context(), sp)
	if err != nil {
		if m, ok := errorsByField(err); ok {
			s.formError(w, r, 0, f, m, "")
			return
		}
		s.fail(w, r, err)
		return
	}
	done(w, r, fmt.Sprintf("/schedules/%d", sc.ID), "created")
}

func (s *Server) updateSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, sp, bad := readForm(r)
	if bad != nil {
		s.formError(w, r, id, f, bad, "")
		return
	}
	if _, err := s.d.Actions.Update(r.Context(), id, sp); err != nil {
		if m, ok := errorsByField(err); ok {
			s.formError(w, r, id, f, m, "")
			return
		}
		s.fail(w, r, err)
		return
	}
	done(w, r, fmt.Sprintf("/schedules/%d", id), "updated")
}

// formError shows the form again as typed, with the problems by field.
func (s *Server) formError(w http.ResponseWriter, r *http.Request, id int64, f formValues, errs map[string][]string, general string) {
	w.WriteHeader(http.StatusBadRequest)
	title := "New schedule"
	if id != 0 {
		title = "Edit schedule"
	}
	s.render(w, r, "form", title, formData{ID: id, F: f, Errors: errs, General: general, JobTypes: store.JobTypes, Examples: Examples, Fields: TypeFields})
}

// ValidateAnswer is the answer of the dashboard's POST /ui/validate: the
// status and JSON body POST /api/v1/validate gave for the same body. It is
// sent with status 200 so that a schedule being typed, invalid most of the
// time, is not a failed request in the browser.
type ValidateAnswer struct {
	Status int             `json:"status"`
	Answer json.RawMessage `json:"answer"`
}

// validate serves the form's check as the user types: the JSON body goes
// to the API's POST /api/v1/validate unchanged (inside this process, as
// this service's own client) and its answer comes back whole — the form
// shows exactly what the API and the CLI would say.
func (s *Server) validate(w http.ResponseWriter, r *http.Request) {
	if s.d.API == nil {
		http.Error(w, "validation is not available", http.StatusNotImplemented)
		return
	}
	body, err := readAll(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
		return
	}
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost, "/api/v1/validate", bytes.NewReader(body))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	req.Host = "localhost"
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Content-Type", "application/json")
	if s.d.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.d.Token)
	}
	rec := &captured{header: http.Header{}}
	s.d.API.ServeHTTP(rec, req)
	out, err := json.Marshal(ValidateAnswer{Status: rec.code, Answer: json.RawMessage(rec.body.Bytes())})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// captured keeps a response written by the API handler.
type captured struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (c *captured) Header() http.Header { return c.header }

func (c *captured) WriteHeader(code int) {
	if c.code == 0 {
		c.code = code
	}
}

func (c *captured) Write(b []byte) (int, error) {
	if c.code == 0 {
		c.code = http.StatusOK
	}
	return c.body.Write(b)
}

func readAll(r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(r.Body)
	return b.Bytes(), err
}
