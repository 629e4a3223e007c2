package api

import (
	"context"
	_ "embed"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

//go:embed openapi.json
var openapiDoc []byte

// OpenAPI returns the OpenAPI 3 document of the API (served at
// /api/v1/openapi.json).
func OpenAPI() []byte { return append([]byte(nil), openapiDoc...) }

func (s *server) openapi(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openapiDoc)
}

func (s *server) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

// Readiness is the response of GET /readyz.
type Readiness struct {
	Ready  bool   `json:"ready"`
	Reason string `json:"reason,omitempty"`
}

// notReady returns why the service cannot serve, or "".
func (s *server) notReady(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if err := s.d.Store.Ping(ctx); err != nil {
		s.log.Warn("readiness: database ping failed", "err", err)
		return "database unreachable: " + store.Describe(err)
	}
	if _, err := s.d.Store.CountSchedules(ctx); err != nil {
		s.log.Warn("readiness: job_schedules unreadable", "err", err)
		return "database not migrated (job_schedules unreadable): " + store.Describe(err)
	}
	running, err := s.d.Engine.Running()
	if !running {
		return "engine loop is not running"
	}
	if err != nil {
		return "engine loop is failing: " + store.Describe(err)
	}
	return ""
}

func (s *server) readyz(w http.ResponseWriter, r *http.Request) {
	if reason := s.notReady(r.Context()); reason != "" {
		writeJSON(w, http.StatusServiceUnavailable, Readiness{Ready: false, Reason: reason})
		return
	}
	writeJSON(w, http.StatusOK, Readiness{Ready: true})
}

type scheduleRef struct {
	ID        int64      `json:"id"`
	Name      string     `json:"name"`
	JobType   string     `json:"job_type"`
	NextRunAt *time.Time `json:"next_run_at,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// runRef is a run in /status. schedule_id is a number, as everywhere in
// the API (job_id is text in the framework's ORM model; a value that is
// not a number is shown as 0).
type runRef struct {
	RunID        int64      `json:"run_id"`
	ScheduleID   int64      `json:"schedule_id"`
	JobType      string     `json:"job_type"`
	Kind         string     `json:"kind"`
	ScheduledFor time.Time  `json:"scheduled_for"`
	StartedAt    *time.Time `json:"started_at,omitempty"`
	FinishedAt   *time.Time `json:"finished_at,omitempty"`
	Owner        string     `json:"owner,omitempty"`
	Error        string     `json:"error,omitempty"`
}

func runRefs(runs []store.Run) []runRef {
	out := make([]runRef, 0, len(runs))
	for _, r := range runs {
		sid, _ := strconv.ParseInt(r.JobID, 10, 64)
		out = append(out, runRef{RunID: r.ID, ScheduleID: sid, JobType: r.JobType, Kind: r.Kind,
			ScheduledFor: r.ScheduledFor, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt, Owner: r.LeaseOwner, Error: r.Error})
	}
	return out
}

func scheduleRefs(list []store.Schedule, withNext bool) []scheduleRef {
	out := make([]scheduleRef, 0, len(list))
	for _, sc := range list {
		ref := scheduleRef{ID: sc.ID, Name: sc.Name, JobType: sc.JobType, Error: sc.LastError}
		if withNext {
			ref.NextRunAt, ref.Error = sc.NextRunAt, ""
		}
		out = append(out, ref)
	}
	return out
}

// status answers GET /status: the service, the engine, and schedules, runs
// and outbox from action.Status (what `scheduler status` shows), and the
// Deps.Status sections. When the store
// cannot be read the answer is 503 with the sections that could be made.
func (s *server) status(w http.ResponseWriter, r *http.Request) {
	now := s.d.Now()
	running, loopErr := s.d.Engine.Running()
	eng := map[string]any{"running": running, "active_runs": s.d.Engine.Active()}
	if loopErr != nil {
		eng["error"] = store.Describe(loopErr) // the whole error is in the log
	}
	out := map[string]any{
		"version":        s.d.Version,
		"environment":    s.d.Environment,
		"node_id":        s.d.Engine.NodeID(),
		"started_at":     s.d.Started.UTC(),
		"uptime_seconds": int64(now.Sub(s.d.Started).Seconds()),
		"time":           now.UTC(),
		"engine":         eng,
	}
	code := http.StatusOK
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	full, err := s.d.Actions.Status(ctx)
	if err != nil {
		s.log.Error("status: reading store stats failed", "err", err)
		out["store_error"] = store.Describe(err)
		code = http.StatusServiceUnavailable
	} else {
		maps.Copy(out, StatusSections(full))
	}
	if s.d.Status != nil {
		for k, v := range s.d.Status(ctx) {
			cur, exists := out[k]
			if !exists {
				out[k] = v
				continue
			}
			// Both sides are sections: merge, keeping the built-in values.
			cm, ok1 := cur.(map[string]any)
			vm, ok2 := v.(map[string]any)
			if !ok1 || !ok2 {
				s.log.Warn("status: extra section clashes with a built-in one; dropped", "section", k)
				continue
			}
			merged := maps.Clone(vm)
			maps.Copy(merged, cm)
			out[k] = merged
		}
	}
	writeJSON(w, code, out)
}

// StatusSections returns the sections of GET /status read from the
// database (schedules, runs, next_fires, recent_failures, missed_fires,
// outbox), as `scheduler status --json` also prints them when no service
// runs.
func StatusSections(full *action.Status) map[string]any {
	st := full.Stats
	return map[string]any{
		"schedules":       map[string]any{"total": st.Schedules, "enabled": st.Enabled, "invalid": scheduleRefs(st.Invalid, false)},
		"runs":            map[string]any{"in_progress": len(st.Running), "running": runRefs(st.Running), "by_status": st.RunsByStatus},
		"next_fires":      scheduleRefs(st.NextDue, true),
		"recent_failures": runRefs(st.RecentFailures),
		"missed_fires":    st.MissedRecords,
		"outbox":          map[string]any{"by_status": st.OutboxByStatus, "oldest_pending_seconds": st.OldestPendingAge},
	}
}

// ReloadResult is the response of POST /api/v1/reload: the enabled
// schedules checked, valid and invalid, the invalid ones with why, and how
// many next_run_at were set.
type ReloadResult = action.ReloadResult

// ScheduleReport names an invalid schedule and why.
type ScheduleReport = action.ScheduleReport

// reload answers POST /api/v1/reload with action.Reload, the function
// `scheduler reload` calls.
func (s *server) reload(w http.ResponseWriter, r *http.Request) {
	res, err := s.d.Actions.Reload(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, res)
}
