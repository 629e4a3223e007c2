package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/alerts"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/jobs"
	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/web"
)

// Mounting the dashboard next to the API, as `scheduler start` does:
// /api/v1 stays the API, every other path is a page. Without API_TOKEN
// only this machine is served.
func ExampleMount() {
	dir, _ := os.MkdirTemp("", "web-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
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
	acts := action.New(action.Config{Store: db, Handlers: jobs.Handlers(jobs.Deps{}), Logger: log})
	h := api.New(api.Deps{Store: db, Actions: acts, Addr: "127.0.0.1:8090", Logger: log})
	dash, err := web.New(web.Deps{Store: db, Actions: acts, API: h, Addr: "127.0.0.1:8090", Logger: log})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := httptest.NewServer(web.Mount(h, dash))
	defer srv.Close()
	for _, path := range []string{"/", "/api/v1/schedules"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			fmt.Println(err)
			return
		}
		resp.Body.Close()
		fmt.Println(path, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Host = "attacker.example"
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Println(err)
		return
	}
	resp.Body.Close()
	fmt.Println("Host attacker.example:", resp.StatusCode)
	// Output:
	// / 200 text/html; charset=utf-8
	// /api/v1/schedules 200 application/json
	// Host attacker.example: 403
}

// An alert's chart: the replay of `scheduler alert test` over the bars,
// the indicator lines and levels its rule reads, drawn as SVG.
func ExampleBuildChart() {
	a, err := alerts.Parse([]byte(`{"ticker": "WAVE", "timeframe": "1h",
		"rule": {"crosses_below": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 40}}},
		"rearm": {"enabled": true, "rule": {"gt": {"lhs": {"indicator": {"type": "RSI", "params": {"period": 14}}}, "rhs": {"value": 55}}}}}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bars := make([]marketdata.Bar, 300)
	for i := range bars {
		c := 100 + 10*math.Sin(float64(i)/9)
		bars[i] = marketdata.Bar{Time: start.Add(time.Duration(i) * time.Hour), Open: c - 0.2, High: c + 1, Low: c - 1, Close: c, Volume: 1}
	}
	c, err := web.BuildChart(a, bars, 200)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("bars:", len(c.Bars), "triggers:", c.Summary.Triggers, "re-arms:", c.Summary.Rearms)
	for _, l := range c.Lines {
		fmt.Println("line:", l.Label, "overlay:", l.Overlay)
	}
	for _, l := range c.Levels {
		fmt.Println("level:", l.Label, l.Value)
	}
	svg := string(web.DrawChart(c))
	fmt.Println("trigger markers:", strings.Count(svg, `class="mk-trig"`))
	// Output:
	// bars: 200 triggers: 2 re-arms: 2
	// line: RSI(14) overlay: false
	// level: rule 40
	// level: re-arm 55
	// trigger markers: 2
}
