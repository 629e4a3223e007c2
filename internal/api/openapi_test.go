package api

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestOpenAPICoversRoutes keeps the OpenAPI document true: every
// registered route is documented, every documented operation is
// registered, and every route requiring the token on writes declares it.
func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(OpenAPI(), &doc); err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q, want 3.x", doc.OpenAPI)
	}
	s := &server{d: Deps{}}
	registered := map[string]bool{}
	for _, r := range s.routes() {
		key := strings.ToLower(r.method) + " " + r.path
		registered[key] = true
		raw, ok := doc.Paths[r.path][strings.ToLower(r.method)]
		if !ok {
			t.Errorf("route %s %s is not in openapi.json", r.method, r.path)
			continue
		}
		var op struct {
			Security  []map[string][]string      `json:"security"`
			Responses map[string]json.RawMessage `json:"responses"`
		}
		if err := json.Unmarshal(raw, &op); err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		if isWrite(r.method) && (len(op.Security) == 0 || op.Responses["401"] == nil) {
			t.Errorf("%s %s changes state but the document declares no bearer security or 401", r.method, r.path)
		}
		if len(op.Responses) == 0 {
			t.Errorf("%s %s documents no responses", r.method, r.path)
		}
	}
	methods := []string{"get", "put", "post", "delete", "patch", "head", "options"}
	for path, item := range doc.Paths {
		for m := range item {
			if m == "parameters" {
				continue
			}
			if !slices.Contains(methods, m) {
				t.Errorf("openapi.json %s: unknown key %q", path, m)
				continue
			}
			if !registered[m+" "+path] {
				t.Errorf("openapi.json documents %s %s, which is not a registered route", strings.ToUpper(m), path)
			}
		}
	}
}

// TestOpenAPIRefsResolve checks every $ref names a defined schema.
func TestOpenAPIRefsResolve(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]json.RawMessage `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openapiDoc, &doc); err != nil {
		t.Fatal(err)
	}
	refs := 0
	for _, part := range strings.Split(string(openapiDoc), `"$ref": "`)[1:] {
		ref := part[:strings.IndexByte(part, '"')]
		name, ok := strings.CutPrefix(ref, "#/components/schemas/")
		if !ok || doc.Components.Schemas[name] == nil {
			t.Errorf("unresolved $ref %q", ref)
		}
		refs++
	}
	if refs == 0 {
		t.Fatal("no $ref found: the document layout changed and this test no longer checks anything")
	}
}

// TestServedOpenAPI checks the served document is the embedded one.
func TestServedOpenAPI(t *testing.T) {
	rec := &recorder{header: http.Header{}}
	(&server{}).openapi(rec, nil)
	if rec.header.Get("Content-Type") != "application/json" || string(rec.body) != string(openapiDoc) {
		t.Fatalf("served %q (%d bytes)", rec.header.Get("Content-Type"), len(rec.body))
	}
}

type recorder struct {
	header http.Header
	body   []byte
}

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { r.body = append(r.body, b...); return len(b), nil }
func (r *recorder) WriteHeader(int)             {}
