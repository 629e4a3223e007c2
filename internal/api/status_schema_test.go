package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// openAPISchema compiles one schema of the served OpenAPI document.
func openAPISchema(t *testing.T, name string) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(api.OpenAPI()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("openapi.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("openapi.json#/components/schemas/" + name)
	if err != nil {
		t.Fatalf("compile %s: %v", name, err)
	}
	return s
}

func validateJSON(t *testing.T, s *jsonschema.Schema, what string, body []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := s.Validate(inst); err != nil {
		t.Fatalf("%s does not match openapi.json: %v\n%s", what, err, body)
	}
}

// TestStatusMatchesOpenAPI checks real /status and /api/v1/runs/{id}
// answers — with an invalid schedule, a failed run with a retried attempt
// and a next fire — against the schemas of openapi.json, and that ids are
// numbers and invalid schedules are not listed as next fires.
func TestStatusMatchesOpenAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{})
		ctx := context.Background()
		var good, failing store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("good", "0 0 * * *", `{}`), 201, &good)
		f.expect("POST", "/api/v1/schedules", scheduleJSON("failing", "0 0 1 1 *", `{"fail": true}`), 201, &failing)
		bad := &store.Schedule{UserID: 1, Name: "broken", JobType: "script", Cron: "0 0 * * 8", TaskParams: json.RawMessage(`{}`), Enabled: true}
		if err := db.CreateSchedule(ctx, bad); err != nil {
			t.Fatal(err)
		}
		f.expect("POST", "/api/v1/reload", "", 200, nil)
		var started api.RunStarted
		f.expect("POST", fmt.Sprintf("/api/v1/schedules/%d/run", failing.ID), "", 202, &started)
		var detail []byte
		waitFor(t, 20*time.Second, "the manual run failed", func() bool {
			detail = f.expect("GET", fmt.Sprintf("/api/v1/runs/%d", started.RunID), "", 200, nil)
			return bytes.Contains(detail, []byte(`"status": "failed"`)) || bytes.Contains(detail, []byte(`"status":"failed"`))
		})
		validateJSON(t, openAPISchema(t, "RunDetail"), "GET /api/v1/runs/{id}", detail)
		var d api.RunDetail
		if err := json.Unmarshal(detail, &d); err != nil {
			t.Fatal(err)
		}
		if len(d.Attempts) != 1 || d.LagSeconds == nil || d.DurationSeconds == nil || d.Error == "" {
			t.Fatalf("run detail: %d attempts (want 1), lag %v, duration %v, error %q", len(d.Attempts), d.LagSeconds, d.DurationSeconds, d.Error)
		}

		body := f.expect("GET", "/status", "", 200, nil)
		validateJSON(t, openAPISchema(t, "StatusOK"), "GET /status", body)
		var st struct {
			Schedules struct {
				Invalid []struct {
					ID json.Number `json:"id"`
				} `json:"invalid"`
			} `json:"schedules"`
			NextFires []struct {
				ID int64 `json:"id"`
			} `json:"next_fires"`
			RecentFailures []struct {
				RunID      json.Number `json:"run_id"`
				ScheduleID json.Number `json:"schedule_id"`
			} `json:"recent_failures"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&st); err != nil {
			t.Fatal(err)
		}
		if len(st.RecentFailures) != 1 || st.RecentFailures[0].ScheduleID.String() != fmt.Sprint(failing.ID) ||
			st.RecentFailures[0].RunID.String() != fmt.Sprint(started.RunID) {
			t.Fatalf("recent_failures %+v; want run %d of schedule %d", st.RecentFailures, started.RunID, failing.ID)
		}
		if len(st.Schedules.Invalid) != 1 || st.Schedules.Invalid[0].ID.String() != fmt.Sprint(bad.ID) {
			t.Fatalf("invalid %+v; want schedule %d", st.Schedules.Invalid, bad.ID)
		}
		sawGood := false
		for _, n := range st.NextFires {
			if n.ID == bad.ID {
				t.Fatalf("invalid schedule %d listed under next_fires", bad.ID)
			}
			sawGood = sawGood || n.ID == good.ID
		}
		if !sawGood {
			t.Fatalf("next_fires %+v lack the valid schedule %d", st.NextFires, good.ID)
		}
	})
}
