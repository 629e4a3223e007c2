// Package web serves the scheduler's dashboard: server-rendered pages
// (html/template) for the overview, schedules, runs, alerts with their
// charts and the notification outbox, with static files embedded in the
// binary and charts drawn as SVG in Go. Every change goes through
// internal/action, like the CLI and the HTTP API; access follows the API's
// rules (see Deps.Token).
package web

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

//go:embed templates
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Store is what the dashboard reads (*store.DB implements it).
type Store interface {
	// Ping checks the database connection.
	Ping(ctx context.Context) error
	// Dialect returns "postgres" or "sqlite".
	Dialect() string
	GetSchedule(ctx context.Context, id int64) (*store.Schedule, error)
	GetRun(ctx context.Context, id int64) (*store.Run, error)
	ListAttempts(ctx context.Context, runID int64) ([]store.Attempt, error)
	SchedulePage(ctx context.Context, q store.SchedulePageQuery) (*store.SchedulePage, error)
	RunPage(ctx context.Context, q store.RunPageQuery) (*store.RunPage, error)
	NotificationPage(ctx context.Context, status string, limit, offset int) ([]notify.Notification, bool, error)
	Overview(ctx context.Context, now time.Time) (*store.Overview, error)
}

// Engine reports the scheduling engine's state (*engine.Engine implements
// it).
type Engine interface {
	// Running reports whether the engine loop is up, and its last error.
	Running() (bool, error)
}

// BarsFunc returns the latest n closed bars of symbol, oldest first (the
// alert chart's live data).
type BarsFunc func(ctx context.Context, symbol string, tf marketdata.Timeframe, n int) ([]marketdata.Bar, error)

// Deps are the dashboard's collaborators and settings.
type Deps struct {
	// Store is read for every page (required).
	Store Store
	// Actions performs every change (required).
	Actions *action.Actions
	// API is the HTTP API's handler: the schedule form's live validation
	// is sent to its POST /api/v1/validate, so that the form shows exactly
	// the API's answers.
	API http.Handler
	// Engine, when set, is shown on the overview.
	Engine Engine
	// Bars serves the alert chart's live bars; nil shows no chart.
	Bars BarsFunc
	// Status returns the service's extra status sections (providers,
	// dispatcher, health checks) for the overview; may be nil.
	Status func(ctx context.Context) map[string]any
	// Token (API_TOKEN), when set, is asked for by a login page, which
	// then sets an HttpOnly, SameSite=Strict session cookie. Without it
	// the dashboard serves only this machine (api.LocalOnly, with Addr).
	Token string
	// AuthLimiter counts wrong tokens by client address, shared with the
	// API; nil makes one for the dashboard.
	AuthLimiter *api.AuthLimiter
	// Addr is the listen address (HTTP_ADDR).
	Addr string
	// Location is the default time zone of cron expressions (next fires).
	Location *time.Location
	// AlertSchemaDir is ALERT_SCHEMA_DIR ("" for the embedded schema).
	AlertSchemaDir string
	// Logger receives request errors (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Server is the dashboard's handler.
type Server struct {
	d        Deps
	log      *slog.Logger
	pages    map[string]*template.Template
	sessions *sessions
	mux      *http.ServeMux
}

// New returns the dashboard. Mount it at "/" next to the API (the API keeps
// /api/v1, /healthz, /readyz, /status and /metrics).
func New(d Deps) (*Server, error) {
	if d.Store == nil || d.Actions == nil {
		return nil, errors.New("web: Store and Actions are required")
	}
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Location == nil {
		d.Location = time.UTC
	}
	if d.AuthLimiter == nil {
		d.AuthLimiter = api.NewAuthLimiter(d.Now)
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{d: d, log: d.Logger, pages: pages, sessions: newSessions(d.Now)}
	s.mux = http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", cacheStatic(http.FileServerFS(static))))
	for _, r := range s.routes() {
		s.mux.HandleFunc(r.pattern, r.h)
	}
	return s, nil
}

// APIPaths are the paths Mount sends to the API; every other path is the
// dashboard's.
var APIPaths = []string{"/api/", "/healthz", "/readyz", "/status", "/metrics"}

// Mount returns the handler of the HTTP listener: APIPaths served by
// apiHandler, everything else by dash.
func Mount(apiHandler, dash http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", dash)
	for _, p := range APIPaths {
		mux.Handle(p, apiHandler)
	}
	return mux
}

type route struct {
	pattern string
	h       http.HandlerFunc
}

func (s *Server) routes() []route {
	return []route{
		{"GET /login", s.loginPage},
		{"POST /login", s.login},
		{"POST /logout", s.logout},
		{"GET /{$}", s.overview},
		{"GET /schedules", s.schedules},
		{"GET /schedules/new", s.newSchedule},
		{"POST /schedules", s.createSchedule},
		{"GET /schedules/{id}", s.scheduleDetail},
		{"GET /schedules/{id}/edit", s.editSchedule},
		{"POST /schedules/{id}", s.updateSchedule},
		{"GET /schedules/{id}/chart", s.alertChart},
		{"GET /schedules/{id}/delete", s.confirmDelete},
		{"POST /schedules/{id}/delete", s.deleteSchedule},
		{"POST /schedules/{id}/enable", s.setEnabled(true)},
		{"POST /schedules/{id}/disable", s.setEnabled(false)},
		{"POST /schedules/{id}/run", s.runNow},
		{"POST /ui/validate", s.validate},
		{"GET /runs", s.runs},
		{"GET /runs/{id}", s.runDetail},
		{"GET /notifications", s.notifications},
		{"POST /notifications/retry", s.retryNotifications},
		{"/", s.notFound},
	}
}

// notFound answers a path that is no page with the error page.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.fail(w, r, fmt.Errorf("no page at %s: %w", r.URL.Path, store.ErrNotFound))
}

// cacheStatic lets browsers keep the embedded files for an hour.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP applies the access rules, security headers and panic recovery,
// then serves the page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("web: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
			http.Error(w, "internal error (the service log has the details)", http.StatusInternalServerError)
		}
	}()
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	rec := &api.StatusRecorder{ResponseWriter: w}
	start := time.Now()
	defer func() {
		level := slog.LevelDebug
		if r.Method != http.MethodGet || rec.Status >= 500 {
			level = slog.LevelInfo
		}
		s.log.Log(r.Context(), level, "dashboard request", "method", r.Method, "path", r.URL.Path,
			"status", rec.Status, "duration", time.Since(start), "remote", r.RemoteAddr)
	}()
	sess, ok := s.admit(rec, r)
	if !ok {
		return
	}
	s.mux.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), sessionKey{}, sess)))
}

// fail renders an error page: bad input 400, missing 404, a name taken 409,
// anything else 500 (logged; the page does not show the database's text).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var inv *action.InvalidError
	var ie *store.InputError
	status, msg := http.StatusInternalServerError, "internal error (the service log has the details)"
	switch {
	case errors.As(err, &inv):
		status, msg = http.StatusBadRequest, inv.Error()
	case errors.As(err, &ie):
		status, msg = http.StatusBadRequest, ie.Error()
	case errors.Is(err, errBadInput), errors.Is(err, store.ErrOutOfRange), errors.Is(err, store.ErrInvalidInput),
		errors.Is(err, action.ErrBadRetry):
		status, msg = http.StatusBadRequest, err.Error()
	case errors.Is(err, store.ErrNotFound):
		status, msg = http.StatusNotFound, err.Error()
	case errors.Is(err, store.ErrNotDead), errors.Is(err, store.ErrDuplicate):
		status, msg = http.StatusConflict, err.Error()
	default:
		s.log.Error("web: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.WriteHeader(status)
	s.render(w, r, "error", "Error", map[string]any{"Status": status, "Message": msg})
}

// errBadInput marks a query parameter or form value the dashboard refuses.
var errBadInput = errors.New("bad input")

func badInput(format string, a ...any) error {
	return fmt.Errorf("%w: %s", errBadInput, fmt.Sprintf(format, a...))
}
