package api_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Without API_TOKEN (the loopback default) a web page the user visits can
// neither write (CSRF: text/plain or a form, a foreign Origin) nor read
// through DNS rebinding (a foreign Host); the service's own JSON clients
// are served.
func TestNoTokenRefusesCrossSiteRequests(t *testing.T) {
	f := newFixture(t, storetest.SQLite(t), options{noEngine: true})
	body := scheduleJSON("a", yearly, `{}`)
	send := func(method, path, body string, header map[string]string, host string) (int, string) {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, f.srv.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range header {
			req.Header.Set(k, v)
		}
		if host != "" {
			req.Host = host
		}
		resp, err := f.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	own := strings.TrimPrefix(f.srv.URL, "http://")
	cases := []struct {
		name, method, path string
		header             map[string]string
		host               string
		want               int
		says               string
	}{
		{"text/plain write", "POST", "/api/v1/schedules", map[string]string{"Content-Type": "text/plain"}, "", 415, "application/json"},
		{"form write", "POST", "/api/v1/schedules", map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, "", 415, "application/json"},
		{"no content type", "POST", "/api/v1/reload", nil, "", 415, "application/json"},
		{"foreign origin", "POST", "/api/v1/schedules", map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}, "", 403, "Origin"},
		{"foreign host write", "POST", "/api/v1/schedules", map[string]string{"Content-Type": "application/json"}, "evil.example:8090", 403, "Host"},
		{"foreign host read (DNS rebinding)", "GET", "/api/v1/schedules", nil, "evil.example:8090", 403, "Host"},
		{"foreign origin read", "GET", "/status", map[string]string{"Origin": "http://evil.example"}, "", 403, "Origin"},
	}
	for _, c := range cases {
		code, b := send(c.method, c.path, body, c.header, c.host)
		if code != c.want || !strings.Contains(b, c.says) {
			t.Errorf("%s: %d %s, want %d naming %s", c.name, code, b, c.want, c.says)
		}
	}
	if n := len(listNames(t, f)); n != 0 {
		t.Fatalf("a refused request created %d schedules", n)
	}
	// The service's own clients: JSON, same origin, localhost names.
	for _, hdr := range []map[string]string{
		{"Content-Type": "application/json"},
		{"Content-Type": "application/json; charset=utf-8", "Origin": "http://" + own},
	} {
		if code, b := send("POST", "/api/v1/reload", "", hdr, ""); code != 200 {
			t.Errorf("own JSON client %v: %d %s", hdr, code, b)
		}
	}
	port := own[strings.LastIndex(own, ":"):]
	for _, host := range []string{"localhost" + port, "127.0.0.1" + port, "[::1]" + port} {
		if code, b := send("GET", "/api/v1/schedules", "", nil, host); code != 200 {
			t.Errorf("Host %s: %d %s", host, code, b)
		}
	}
}

func listNames(t *testing.T, f *fixture) []string {
	t.Helper()
	var page struct {
		Schedules []struct {
			Name string `json:"name"`
		} `json:"schedules"`
	}
	f.expect("GET", "/api/v1/schedules", "", 200, &page)
	var out []string
	for _, s := range page.Schedules {
		out = append(out, s.Name)
	}
	return out
}

// With API_TOKEN, /metrics takes METRICS_TOKEN as well, or stays open with
// METRICS_OPEN.
func TestMetricsToken(t *testing.T) {
	db := storetest.SQLite(t)
	for _, c := range []struct {
		deps  api.Deps
		token string
		want  int
	}{
		{api.Deps{Token: "api"}, "", 401},
		{api.Deps{Token: "api"}, "api", 200},
		{api.Deps{Token: "api", MetricsToken: "m"}, "m", 200},
		{api.Deps{Token: "api", MetricsToken: "m"}, "x", 401},
		{api.Deps{Token: "api", MetricsOpen: true}, "", 200},
	} {
		c.deps.Store = db
		srv := httptest.NewServer(api.New(c.deps))
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != c.want {
			t.Errorf("metrics token %q, metrics token set %q, open %v: %d, want %d", c.token, c.deps.MetricsToken, c.deps.MetricsOpen, resp.StatusCode, c.want)
		}
	}
}
