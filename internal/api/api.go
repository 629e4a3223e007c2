// Package api serves the scheduler's HTTP API: health, status, metrics and the /api/v1 schedules and runs resources.
package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/store"
)

// MaxBodyBytes is the largest request body accepted (larger ones get 413).
const MaxBodyBytes = 1 << 20

// Engine is what /status and /readyz need from the scheduling engine
// (*engine.Engine implements it).
type Engine interface {
	// Running reports whether the engine loop is up, and its last error.
	Running() (bool, error)
	// NodeID names this instance.
	NodeID() string
	// Active is the number of runs executing in this instance.
	Active() int
}

// Deps are the API's collaborators and settings.
type Deps struct {
	// Store holds schedules and runs.
	Store store.Store
	// Actions performs every schedule action (create, update, validate,
	// enable, disable, delete, run now, reload, status); the handlers only
	// translate requests and results. Required for those routes.
	Actions *action.Actions
	// Engine reports the engine loop's state in /status and /readyz.
	Engine Engine
	// Token (API_TOKEN), when set, is required as "Authorization: Bearer
	// <token>" on every request but /healthz and /readyz: reads carry
	// secrets (scripts' output, recipients). Without it (a loopback
	// listener) requests must name this service in Host and, when they
	// carry one, in Origin, and writes must be application/json: a web
	// page the user visits can neither write (CSRF) nor read (DNS
	// rebinding).
	Token string
	// MetricsToken (METRICS_TOKEN), when set, is accepted on /metrics
	// besides Token; MetricsOpen (METRICS_OPEN) leaves /metrics open.
	MetricsToken string
	MetricsOpen  bool
	// AuthLimiter counts wrong tokens by client address (shared with the
	// dashboard's login); nil makes one for this handler.
	AuthLimiter *AuthLimiter
	// Addr is the listen address (HTTP_ADDR); its host is accepted in the
	// Host header besides the loopback names.
	Addr string
	// Version and Environment are reported by /status.
	Version, Environment string
	// Started is when the process started (uptime in /status).
	Started time.Time
	// Status returns extra /status sections (outbox dispatcher, providers'
	// breakers, health checks); may be nil.
	Status func(ctx context.Context) map[string]any
	// Gatherer is served at /metrics (prometheus.DefaultGatherer when nil).
	Gatherer prometheus.Gatherer
	// Logger receives request and error logs (slog.Default() when nil).
	Logger *slog.Logger
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// route is one registered endpoint; the OpenAPI test walks this table.
type route struct {
	method, path string
	h            http.HandlerFunc
}

type server struct {
	d   Deps
	log *slog.Logger
}

// New returns the API's handler. Routes use Go 1.22 ServeMux patterns.
func New(d Deps) http.Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Started.IsZero() {
		d.Started = d.Now()
	}
	if d.Gatherer == nil {
		d.Gatherer = prometheus.DefaultGatherer
	}
	if d.AuthLimiter == nil {
		d.AuthLimiter = NewAuthLimiter(d.Now)
	}
	s := &server{d: d, log: d.Logger}
	mux := http.NewServeMux()
	for _, r := range s.routes() {
		mux.HandleFunc(r.method+" "+r.path, r.h)
	}
	return s.middleware(mux)
}

func (s *server) routes() []route {
	metricsHandler := promhttp.HandlerFor(s.d.Gatherer, promhttp.HandlerOpts{ErrorLog: slogPrinter{s.log}})
	return []route{
		{"GET", "/healthz", s.healthz},
		{"GET", "/readyz", s.readyz},
		{"GET", "/status", s.status},
		{"GET", "/metrics", metricsHandler.ServeHTTP},
		{"GET", "/api/v1/openapi.json", s.openapi},
		{"GET", "/api/v1/schedules", s.listSchedules},
		{"POST", "/api/v1/schedules", s.createSchedule},
		{"GET", "/api/v1/schedules/{id}", s.getSchedule},
		{"PUT", "/api/v1/schedules/{id}", s.updateSchedule},
		{"DELETE", "/api/v1/schedules/{id}", s.deleteSchedule},
		{"POST", "/api/v1/schedules/{id}/enable", s.setEnabled(true)},
		{"POST", "/api/v1/schedules/{id}/disable", s.setEnabled(false)},
		{"POST", "/api/v1/schedules/{id}/run", s.runNow},
		{"GET", "/api/v1/runs", s.listRuns},
		{"GET", "/api/v1/runs/{id}", s.getRun},
		{"POST", "/api/v1/notifications/{id}/retry", s.retryNotification},
		{"POST", "/api/v1/reload", s.reload},
		{"POST", "/api/v1/validate", s.validate},
	}
}

// slogPrinter adapts slog to promhttp's error logger.
type slogPrinter struct{ l *slog.Logger }

func (p slogPrinter) Println(v ...any) { p.l.Error("metrics: " + fmt.Sprint(v...)) }

// StatusRecorder remembers the response status for a request log (the
// API's and the dashboard's).
type StatusRecorder struct {
	http.ResponseWriter
	// Status is the status written, 0 before anything is.
	Status int
}

// WriteHeader implements http.ResponseWriter.
func (r *StatusRecorder) WriteHeader(code int) {
	if r.Status == 0 {
		r.Status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write implements http.ResponseWriter.
func (r *StatusRecorder) Write(b []byte) (int, error) {
	if r.Status == 0 {
		r.Status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func isWrite(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// middleware adds the token check on writes, the body limit, panic
// recovery and a request log.
func (s *server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &StatusRecorder{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if rec.Status == 0 {
					writeError(rec, http.StatusInternalServerError, "internal error")
				}
			}
			level := slog.LevelDebug
			if isWrite(r.Method) || rec.Status >= 500 {
				level = slog.LevelInfo
			}
			s.log.Log(r.Context(), level, "api request", "method", r.Method, "path", r.URL.Path,
				"status", rec.Status, "duration", time.Since(start), "remote", r.RemoteAddr)
		}()
		if s.d.Token != "" && r.URL.Path != "/healthz" && r.URL.Path != "/readyz" {
			if blocked, wait := s.d.AuthLimiter.Blocked(r.RemoteAddr); blocked {
				rec.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds())+1))
				writeError(rec, http.StatusTooManyRequests, "too many wrong tokens from this address; try again later")
				return
			}
		}
		if status, msg := s.refuse(r); status != 0 {
			if status == http.StatusUnauthorized && r.Header.Get("Authorization") != "" {
				s.d.AuthLimiter.Failed(r.RemoteAddr)
				s.log.Warn("request with a wrong token", "remote", r.RemoteAddr, "path", r.URL.Path)
			}
			if status == http.StatusUnauthorized {
				rec.Header().Set("WWW-Authenticate", `Bearer realm="scheduler"`)
			}
			writeError(rec, status, msg)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rec, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(rec, r)
	})
}

// refuse returns the status and message a request is refused with, or 0.
func (s *server) refuse(r *http.Request) (int, string) {
	path := r.URL.Path
	if path == "/healthz" || path == "/readyz" {
		return 0, ""
	}
	if s.d.Token != "" {
		switch {
		case path == "/metrics" && (s.d.MetricsOpen || s.authorized(r, s.d.MetricsToken)):
			return 0, ""
		case s.authorized(r, s.d.Token):
			return 0, ""
		}
		return http.StatusUnauthorized, "this service needs \"Authorization: Bearer <API_TOKEN>\""
	}
	// No token: only this machine's own clients, never a web page.
	if status, msg := LocalOnly(s.d.Addr, r); status != 0 {
		return status, msg
	}
	if isWrite(r.Method) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if mt != "application/json" {
			return http.StatusUnsupportedMediaType, "a request that changes state needs \"Content-Type: application/json\""
		}
	}
	return 0, ""
}

// LocalOnly applies the rules of a service without API_TOKEN to r (the
// API's and the dashboard's): the Host header must name this service (a
// loopback name or address, or the host of addr, the listen address) and
// an Origin header, when present, must be this service (SameOrigin), so
// that a web page the user visits can neither write (CSRF) nor read (DNS
// rebinding). It returns the status and message r is refused with, or 0.
func LocalOnly(addr string, r *http.Request) (int, string) {
	if !ownHost(addr, r.Host) {
		return http.StatusForbidden, fmt.Sprintf("Host %q is not this service's address; without API_TOKEN only localhost is served", r.Host)
	}
	return SameOrigin(r)
}

// SameOrigin refuses a request whose Origin header, when present, names
// another host than its Host header (a cross-site request). It returns the
// status and message r is refused with, or 0.
func SameOrigin(r *http.Request) (int, string) {
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || !strings.EqualFold(u.Host, r.Host) {
			return http.StatusForbidden, fmt.Sprintf("Origin %q is not this service; cross-site requests are refused", o)
		}
	}
	return 0, ""
}

// ownHost reports whether a Host header names this service: a loopback
// name or address, or the listen address's host.
func ownHost(addr, hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "" {
		return false
	}
	if isLoopback(host) {
		return true
	}
	if lh, _, err := net.SplitHostPort(addr); err == nil && lh != "" && lh != "0.0.0.0" && lh != "::" {
		return strings.EqualFold(strings.Trim(lh, "[]"), host)
	}
	return false
}

// authorized reports whether r carries "Authorization: Bearer <token>".
func (s *server) authorized(r *http.Request, token string) bool {
	if token == "" {
		return false
	}
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) < len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	got := strings.TrimSpace(h[len(prefix):])
	return subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// errorBody is the JSON of every error response.
type errorBody struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding response: " + err.Error()})
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, status int, msg string, problems ...string) {
	writeJSON(w, status, errorBody{Error: msg, Problems: problems})
}

// internal logs err and answers 500 without the database's text, which
// belongs in the service log, not in an answer.
func (s *server) internal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("api: request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error (the service log has the details)")
}
