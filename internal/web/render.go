package web

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
)

// page is what every template gets.
type page struct {
	Title string
	// Nav is the menu entry to highlight.
	Nav  string
	CSRF string
	// LoggedIn shows the log-out button (with a token).
	LoggedIn bool
	// Flash is a short message about the action just done.
	Flash string
	Data  any
	Now   time.Time
}

// flashes are the messages a redirect after an action may name (?done=).
var flashes = map[string]string{
	"created": "Schedule created.", "updated": "Schedule saved.", "enabled": "Schedule enabled.",
	"disabled": "Schedule disabled.", "deleted": "Schedule deleted.", "run": "Run requested; it appears below when it starts.",
	"retried": "Dead notifications requeued.",
}

var funcs = template.FuncMap{
	"when":    fmtTime,
	"whenp":   fmtTimePtr,
	"ago":     ago,
	"dur":     fmtDur,
	"pretty":  prettyJSON,
	"status":  statusClass,
	"query":   withQuery,
	"add":     func(a, b int) int { return a + b },
	"sub":     func(a, b int) int { return max(0, a-b) },
	"sortq":   sortQuery,
	"list":    func(v ...any) []any { return v },
	"trunc":   truncate,
	"runlag":  runLag,
	"runtook": runTook,
}

// parsePages parses every page with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := templateFS.ReadDir("templates")
	if err != nil {
		return nil, err
	}
	out := map[string]*template.Template{}
	for _, n := range names {
		name, ok := strings.CutSuffix(n.Name(), ".html")
		if !ok || name == "layout" {
			continue // partials (*.tmpl) are parsed with every page
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/*.tmpl", path.Join("templates", n.Name()))
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page; a template error is logged and answered with 500.
func (s *Server) render(w http.ResponseWriter, r *http.Request, name, title string, data any) {
	p := page{Title: title, Nav: name, Data: data, Now: s.d.Now(), LoggedIn: s.d.Token != ""}
	if sess := sessionOf(r); sess != nil {
		p.CSRF = sess.csrf
	}
	p.Flash = flashes[r.URL.Query().Get("done")]
	var buf bytes.Buffer
	t := s.pages[name]
	if t == nil {
		s.log.Error("web: no template", "name", name)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if err := t.Execute(&buf, p); err != nil {
		s.log.Error("web: render failed", "page", name, "err", err)
		http.Error(w, "internal error (the service log has the details)", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return fmtTime(*t)
}

// ago says how far t is from now, e.g. "in 5m" or "3h ago".
func ago(now time.Time, t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	d := t.Sub(now)
	if d >= 0 {
		return "in " + short(d)
	}
	return short(-d) + " ago"
}

func short(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return d.Round(10 * time.Millisecond).String()
}

func prettyJSON(b json.RawMessage) string {
	if len(b) == 0 {
		return ""
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return string(b)
	}
	return out.String()
}

// statusClass is the CSS class of a run, schedule or notification status.
func statusClass(s string) string {
	switch strings.ToLower(s) {
	case "completed", "sent", "armed", "enabled", "ok":
		return "st st-ok"
	case "failed", "dead", "error", "invalid", "paused":
		return "st st-bad"
	case "running", "pending", "sending", "triggered", "cooldown":
		return "st st-busy"
	}
	return "st"
}

// withQuery returns the request's query with key set to value (removed
// when value is ""), and offset reset unless the key is offset.
func withQuery(q url.Values, key, value string) string {
	c := url.Values{}
	for k, v := range q {
		if k == "done" || (k == "offset" && key != "offset") {
			continue
		}
		c[k] = v
	}
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	if len(c) == 0 {
		return "?"
	}
	return "?" + c.Encode()
}

func truncate(n int, s string) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}

// sortQuery is the link of a sortable column: sorted by col, descending
// when it is already sorted by col ascending.
func sortQuery(q url.Values, col, cur string, desc bool) string {
	c := url.Values{}
	for k, v := range q {
		if k != "done" && k != "offset" && k != "dir" && k != "sort" {
			c[k] = v
		}
	}
	c.Set("sort", col)
	if col == cur && !desc {
		c.Set("dir", "desc")
	}
	return "?" + c.Encode()
}
