package web

import (
	"encoding/json"
	"html/template"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/cronexpr"
	"github.com/atf/scheduler/internal/redact"
	"github.com/atf/scheduler/internal/store"
)

// healthRow is one line of the overview's health table; Full, when set,
// is the whole section (indented JSON), shown on demand.
type healthRow struct {
	Name, State, Detail, Full string
}

// overviewData is the overview page.
type overviewData struct {
	O        *store.Overview
	Health   []healthRow
	Runs     []kv
	Outbox   []kv
	Timeline template.HTML
	Lag      lagFigures
}

type kv struct {
	K string
	V int
}

type lagFigures struct {
	P50, P95, Max time.Duration
	PerMinute     float64
}

func sortedKV(m map[string]int) []kv {
	out := make([]kv, 0, len(m))
	for k, v := range m {
		out = append(out, kv{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].K < out[j].K })
	return out
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) {
	now := s.d.Now()
	o, err := s.d.Store.Overview(r.Context(), now)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	for i := range o.InvalidList {
		o.InvalidList[i] = action.Redacted(o.InvalidList[i])
	}
	for i := range o.Failing {
		o.Failing[i].LastError = redact.Text(o.Failing[i].LastError)
	}
	d := overviewData{O: o, Runs: sortedKV(o.RunsByStatus), Outbox: sortedKV(o.OutboxByStatus)}
	d.Health = s.health(r)
	d.Timeline = timeline(now, o.NextFires, s.d.Location)
	d.Lag = lags(o.LastHour)
	s.render(w, r, "overview", "Overview", d)
}

// health lists the database, the engine and the service's status sections.
func (s *Server) health(r *http.Request) []healthRow {
	var out []healthRow
	if err := s.d.Store.Ping(r.Context()); err != nil {
		out = append(out, healthRow{Name: "database", State: "error", Detail: redact.Text(err.Error())})
	} else {
		out = append(out, healthRow{Name: "database", State: "ok", Detail: s.d.Store.Dialect()})
	}
	if s.d.Engine != nil {
		ok, err := s.d.Engine.Running()
		switch {
		case err != nil:
			out = append(out, healthRow{Name: "engine", State: "error", Detail: redact.Text(err.Error())})
		case ok:
			out = append(out, healthRow{Name: "engine", State: "ok", Detail: "running"})
		default:
			out = append(out, healthRow{Name: "engine", State: "error", Detail: "not running"})
		}
	}
	if s.d.Status != nil {
		sec := s.d.Status(r.Context())
		names := make([]string, 0, len(sec))
		for k := range sec {
			if k != "database" {
				names = append(names, k)
			}
		}
		slices.Sort(names)
		for _, k := range names {
			b, err := json.MarshalIndent(sec[k], "", "  ")
			full := string(b)
			if err != nil {
				full = err.Error()
			}
			full = redact.Text(truncate(8000, full))
			out = append(out, healthRow{Name: k, State: "info", Detail: truncate(60, strings.Join(strings.Fields(full), " ")), Full: full})
		}
	}
	return out
}

func lags(h store.HourFigures) lagFigures {
	f := lagFigures{PerMinute: float64(h.Started) / 60}
	if len(h.Lags) == 0 {
		return f
	}
	l := slices.Clone(h.Lags)
	slices.Sort(l)
	at := func(p float64) time.Duration { return l[min(len(l)-1, int(p*float64(len(l))))] }
	f.P50, f.P95, f.Max = at(0.5), at(0.95), l[len(l)-1]
	return f
}

// nextFires returns up to n fires of sc after from and before until
// (none when its cron does not parse).
func nextFires(sc *store.Schedule, def *time.Location, from, until time.Time, n int) []time.Time {
	loc := def
	if sc.Timezone != "" {
		if l, err := time.LoadLocation(sc.Timezone); err == nil {
			loc = l
		}
	}
	c, err := cronexpr.Parse(sc.Cron, loc)
	if err != nil {
		return nil
	}
	var out []time.Time
	t := from
	for len(out) < n {
		t = c.Next(t)
		if t.IsZero() || (!until.IsZero() && t.After(until)) {
			break
		}
		out = append(out, t)
	}
	return out
}
