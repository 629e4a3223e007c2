package api

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// runStatuses are the values accepted by the status filter.
var runStatuses = store.RunStatuses

// RunList is the response of GET /api/v1/runs (newest first).
type RunList struct {
	// Runs are redacted (action.RedactedRun).
	Runs   []store.Run `json:"runs"`
	Limit  int         `json:"limit"`
	Offset int         `json:"offset"`
	// MaxLimit is the largest limit accepted.
	MaxLimit int `json:"max_limit"`
}

// RunDetail is the response of GET /api/v1/runs/{id}: the run, its lag
// and duration, and its failed attempts that were retried.
type RunDetail = action.RunDetail

func (s *server) listRuns(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := paging(r, 50)
	if err == nil {
		err = knownParams(r, "schedule_id", "status", "limit", "offset")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f := store.RunFilter{Limit: limit, Offset: offset}
	q := r.URL.Query()
	if v := q.Get("schedule_id"); v != "" {
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id < 1 {
			s.fail(w, r, badRequest("schedule_id: %q is not a positive whole number", v))
			return
		}
		f.ScheduleID = id
	}
	if v := q.Get("status"); v != "" {
		if !slices.Contains(runStatuses, v) {
			s.fail(w, r, badRequest("status: unknown run status %q (known: %s)", v, strings.Join(runStatuses, ", ")))
			return
		}
		f.Status = v
	}
	runs, err := s.d.Store.ListRuns(r.Context(), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, RunList{Runs: action.RedactedRuns(runs), Limit: limit, Offset: offset, MaxLimit: MaxLimit})
}

func (s *server) getRun(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d, err := s.d.Actions.RunDetail(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}
