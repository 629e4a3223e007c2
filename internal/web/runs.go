package web

import (
	"encoding/json"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// runsData is the runs page.
type runsData struct {
	Runs     []store.Run
	More     bool
	Q        url.Values
	Offset   int
	Limit    int
	Statuses []string
	JobTypes []string
}

// queryTime reads a time filter: RFC 3339, or the "2006-01-02T15:04" of a
// datetime-local input (UTC).
func queryTime(q url.Values, name string) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, badInput("%s: %q is not a time (want 2006-01-02T15:04 UTC or RFC 3339)", name, v)
}

func (s *Server) runs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	rq := store.RunPageQuery{Limit: PageSize}
	off, err := queryInt(q, "offset", 0, 0, math.MaxInt32)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rq.Offset = int(off)
	if v := q.Get("status"); v != "" {
		if !slices.Contains(store.RunStatuses, v) {
			s.fail(w, r, badInput("status: unknown run status %q (known: %s)", v, strings.Join(store.RunStatuses, ", ")))
			return
		}
		rq.Status = v
	}
	if v := q.Get("type"); v != "" {
		if !slices.Contains(store.JobTypes, v) {
			s.fail(w, r, badInput("type: unknown job type %q (known: %s)", v, strings.Join(store.JobTypes, ", ")))
			return
		}
		rq.JobType = v
	}
	if rq.ScheduleID, err = queryInt(q, "schedule", 0, 1, math.MaxInt64); err != nil {
		s.fail(w, r, err)
		return
	}
	if rq.From, err = queryTime(q, "from"); err == nil {
		rq.To, err = queryTime(q, "to")
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	page, err := s.d.Store.RunPage(r.Context(), rq)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, "runs", "Runs", runsData{Runs: action.RedactedRuns(page.Runs), More: page.More, Q: q,
		Offset: rq.Offset, Limit: rq.Limit, Statuses: store.RunStatuses, JobTypes: store.JobTypes})
}

// runDetailData is a run's page.
type runDetailData struct {
	R        store.Run
	Attempts []store.Attempt
	Stdout   string
	Stderr   string
	Schedule int64
}

// runLag is how late a run started.
func runLag(r store.Run) string {
	if r.StartedAt == nil {
		return "—"
	}
	return fmtDur(r.StartedAt.Sub(r.ScheduledFor))
}

// runTook is how long a run ran.
func runTook(r store.Run) string {
	if r.StartedAt == nil || r.FinishedAt == nil {
		return "—"
	}
	return fmtDur(r.FinishedAt.Sub(*r.StartedAt))
}

func (s *Server) runDetail(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	var run *store.Run
	if err == nil {
		run, err = s.d.Store.GetRun(r.Context(), id)
	}
	var att []store.Attempt
	if err == nil {
		att, err = s.d.Store.ListAttempts(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	red := action.RedactedRun(*run)
	d := runDetailData{R: red, Attempts: action.RedactedAttempts(att)}
	var res struct {
		Stdout string `json:"stdout_preview"`
		Stderr string `json:"stderr_preview"`
	}
	if len(red.Result) > 0 && json.Unmarshal(red.Result, &res) == nil {
		d.Stdout, d.Stderr = res.Stdout, res.Stderr
	}
	var snap struct {
		ScheduleID int64 `json:"schedule_id"`
	}
	if len(red.Snapshot) > 0 && json.Unmarshal(red.Snapshot, &snap) == nil {
		d.Schedule = snap.ScheduleID
	}
	s.render(w, r, "run", "Run "+r.PathValue("id"), d)
}
