package web

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/store"
)

// PageSize is the number of rows of a list page.
const PageSize = 50

// schedulesData is the schedules page.
type schedulesData struct {
	Page     *store.SchedulePage
	Q        url.Values
	Sort     string
	Desc     bool
	Offset   int
	Limit    int
	JobTypes []string
	States   []string
}

// queryInt reads a whole-number query parameter in [lo, hi] (def when
// absent).
func queryInt(q url.Values, name string, def, lo, hi int64) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, badInput("%s: %q is not a whole number from %d to %d", name, v, lo, hi)
	}
	return n, nil
}

func (s *Server) schedules(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	pq := store.SchedulePageQuery{Limit: PageSize, Sort: q.Get("sort"), Desc: q.Get("dir") == "desc", Name: q.Get("name")}
	off, err := queryInt(q, "offset", 0, 0, math.MaxInt32)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	pq.Offset = int(off)
	if pq.Sort != "" && !slices.Contains(store.ScheduleSorts, pq.Sort) {
		s.fail(w, r, badInput("sort: unknown column %q (known: %s)", pq.Sort, strings.Join(store.ScheduleSorts, ", ")))
		return
	}
	if v := q.Get("type"); v != "" {
		if !slices.Contains(store.JobTypes, v) {
			s.fail(w, r, badInput("type: unknown job type %q (known: %s)", v, strings.Join(store.JobTypes, ", ")))
			return
		}
		pq.JobType = v
	}
	if v := q.Get("state"); v != "" {
		if !slices.Contains(store.ScheduleStates, v) {
			s.fail(w, r, badInput("state: unknown state %q (known: %s)", v, strings.Join(store.ScheduleStates, ", ")))
			return
		}
		pq.State = v
	}
	if q.Get("user") != "" {
		uid, err := queryInt(q, "user", 0, 1, action.MaxUserID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		pq.UserID = &uid
	}
	page, err := s.d.Store.SchedulePage(r.Context(), pq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page.Schedules = action.RedactedSchedules(page.Schedules)
	if pq.Sort == "" {
		pq.Sort = "id"
	}
	s.render(w, r, "schedules", "Schedules", schedulesData{Page: page, Q: q, Sort: pq.Sort, Desc: pq.Desc,
		Offset: pq.Offset, Limit: pq.Limit, JobTypes: store.JobTypes, States: store.ScheduleStates})
}

// pathID parses the {id} path value.
func pathID(r *http.Request) (int64, error) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, badInput("id: %q is not a positive whole number", raw)
	}
	return id, nil
}

// alertView is an alert's state machine as the detail page shows it.
type alertView struct {
	State     alerts.State
	StateErr  string
	Rule      string
	Rearm     string
	Ticker    string
	Timeframe string
	ParseErr  string
}

// detailData is the schedule detail page.
type detailData struct {
	S         store.Schedule
	NextFires []time.Time
	Runs      []store.Run
	MoreRuns  bool
	Alert     *alertView
}

func (s *Server) scheduleDetail(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Store.GetSchedule(r.Context(), id)
	}
	var runs *store.RunPage
	if err == nil {
		runs, err = s.d.Store.RunPage(r.Context(), store.RunPageQuery{ScheduleID: id, Limit: 20})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := detailData{S: action.Redacted(*sc), Runs: action.RedactedRuns(runs.Runs), MoreRuns: runs.More}
	if sc.Enabled {
		d.NextFires = nextFires(sc, s.d.Location, s.d.Now(), time.Time{}, 5)
	}
	if sc.JobType == "alert" {
		d.Alert = alertState(sc, s.d.AlertSchemaDir)
	}
	s.render(w, r, "detail", sc.Name, d)
}

// alertState reads an alert's configuration and state machine.
func alertState(sc *store.Schedule, schemaDir string) *alertView {
	v := &alertView{State: alerts.NewState()}
	if len(sc.StateJSON) > 0 && string(sc.StateJSON) != "{}" && string(sc.StateJSON) != "null" {
		st, err := alerts.DecodeState(sc.StateJSON)
		if err != nil {
			v.StateErr = err.Error()
		}
		v.State = st
	}
	a, err := alerts.ParseWithSchemaDir(sc.TaskParams, schemaDir)
	if err != nil {
		v.ParseErr = err.Error()
		return v
	}
	v.Rule, v.Rearm, v.Ticker, v.Timeframe = a.RuleString(), a.RearmString(), a.Ticker, string(a.Timeframe)
	return v
}

// done redirects after an action to target with ?done=code.
func done(w http.ResponseWriter, r *http.Request, target, code string) {
	sep := "?"
	if strings.Contains(target, "?") {
		sep = "&"
	}
	http.Redirect(w, r, target+sep+"done="+code, http.StatusSeeOther)
}

// back is where an action's form asks to return to ("back" field, a local
// path), else fallback.
func back(r *http.Request, fallback string) string {
	if b := r.PostFormValue("back"); b != "" {
		return safeNext(b)
	}
	return fallback
}

func (s *Server) setEnabled(on bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := pathID(r)
		if err == nil {
			if on {
				_, err = s.d.Actions.Enable(r.Context(), id)
			} else {
				_, err = s.d.Actions.Disable(r.Context(), id)
			}
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		code := "disabled"
		if on {
			code = "enabled"
		}
		done(w, r, back(r, fmt.Sprintf("/schedules/%d", id)), code)
	}
}

func (s *Server) runNow(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		_, err = s.d.Actions.RunNow(r.Context(), id, action.RunOptions{})
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done(w, r, back(r, fmt.Sprintf("/schedules/%d", id)), "run")
}

func (s *Server) confirmDelete(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var sc *store.Schedule
	if err == nil {
		sc, err = s.d.Store.GetSchedule(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "delete", "Delete "+sc.Name, action.Redacted(*sc))
}

func (s *Server) deleteSchedule(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err == nil {
		err = s.d.Actions.Delete(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	done(w, r, "/schedules", "deleted")
}

// errorsByField groups an action's problems by field for the form.
func errorsByField(err error) (map[string][]string, bool) {
	var inv *action.InvalidError
	var dup *action.DuplicateError
	switch {
	case errors.As(err, &inv):
		m := map[string][]string{}
		for _, p := range inv.Problems {
			m[p.Field] = append(m[p.Field], p.Message)
		}
		return m, true
	case errors.As(err, &dup):
		return map[string][]string{"name": {dup.Error()}}, true
	}
	return nil, false
}
