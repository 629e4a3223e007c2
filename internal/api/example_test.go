package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/engine"
	"github.com/atf/scheduler/internal/metrics"
	"github.com/atf/scheduler/internal/store"
)

// Serving the API over a SQLite store and an engine: a write without the
// token is refused, a bad cron comes back as a 400 with the CLI's
// path-and-reason message, a good schedule is created.
func Example() {
	dir, _ := os.MkdirTemp("", "api-example")
	defer os.RemoveAll(dir)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db"), Logger: log})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		fmt.Println(err)
		return
	}
	m := metrics.New(metrics.Options{NoRuntime: true})
	handlers := map[string]engine.Handler{"script": scriptHandler{}}
	eng := engine.New(db, handlers, engine.Options{Observer: m, Logger: log})
	acts := action.New(action.Config{Store: db, Handlers: handlers, Engine: eng, Logger: log})
	srv := httptest.NewServer(api.New(api.Deps{Store: db, Actions: acts, Engine: eng, Token: "t0ken",
		Gatherer: m.Registry(), Logger: log, Version: "example"}))
	defer srv.Close()

	post := func(body, token string) {
		req, _ := http.NewRequest("POST", srv.URL+"/api/v1/schedules", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		var out struct {
			ID       int64    `json:"id"`
			Name     string   `json:"name"`
			Error    string   `json:"error"`
			Problems []string `json:"problems"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		switch {
		case resp.StatusCode == http.StatusCreated:
			fmt.Println(resp.StatusCode, "created", out.Name)
		case len(out.Problems) > 0:
			fmt.Println(resp.StatusCode, out.Problems)
		default:
			fmt.Println(resp.StatusCode, out.Error)
		}
	}
	post(`{"user_id": 1, "name": "nightly", "job_type": "script", "cron": "0 3 * * *"}`, "")
	post(`{"user_id": 1, "name": "nightly", "job_type": "script", "cron": "0 3 * * 8"}`, "t0ken")
	post(`{"user_id": 1, "name": "nightly", "job_type": "script", "cron": "0 3 * * *"}`, "t0ken")
	// Output:
	// 401 this service needs "Authorization: Bearer <API_TOKEN>"
	// 400 [cron "0 3 * * 8": day-of-week: 8 out of range 0-7]
	// 201 created nightly
}

// The rules of a service without API_TOKEN, which the dashboard applies
// too: a request must name this machine, and a cross-site Origin is
// refused.
func ExampleLocalOnly() {
	for _, c := range []struct{ host, origin string }{
		{"127.0.0.1:8090", ""},
		{"evil.example", ""},
		{"localhost:8090", "http://evil.example"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Host = c.host
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		status, _ := api.LocalOnly("127.0.0.1:8090", r)
		fmt.Println(c.host, c.origin, status)
	}
	// Output:
	// 127.0.0.1:8090  0
	// evil.example  403
	// localhost:8090 http://evil.example 403
}
