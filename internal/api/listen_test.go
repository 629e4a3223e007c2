package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8090", "", true},
		{"localhost:8090", "", true},
		{"[::1]:8090", "", true},
		{":8090", "", false},
		{"0.0.0.0:8090", "", false},
		{"192.168.1.5:8090", "", false},
		{"0.0.0.0:8090", "tok", true},
		{"nonsense", "", false},
	} {
		err := api.CheckListen(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckListen(%q, %q) = %v, want ok=%v", c.addr, c.token, err, c.ok)
		}
		if err != nil && !strings.Contains(err.Error(), c.addr) {
			t.Errorf("error %q does not name the address", err)
		}
	}
}

func TestNewServerHasTimeouts(t *testing.T) {
	s := api.NewServer("127.0.0.1:0", nil)
	if s.ReadHeaderTimeout <= 0 || s.WriteTimeout <= 0 || s.Addr != "127.0.0.1:0" {
		t.Fatalf("server %+v", s)
	}
}

// Concurrent run-now requests each create exactly one run of their own.
func TestRunNowConcurrent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db, options{noEngine: true})
		var s store.Schedule
		f.expect("POST", "/api/v1/schedules", scheduleJSON("parallel", yearly, `{}`), 201, &s)
		const n = 8
		ids := make([]int64, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				var r api.RunStarted
				code, body := f.do("POST", fmt.Sprintf("/api/v1/schedules/%d/run", s.ID), "")
				if err := json.Unmarshal(body, &r); code != 202 || err != nil {
					t.Errorf("run-now %d: %d %s", i, code, body)
				}
				ids[i] = r.RunID
			})
		}
		wg.Wait()
		seen := map[int64]bool{}
		for _, id := range ids {
			if id == 0 || seen[id] {
				t.Fatalf("run ids %v are not %d distinct runs", ids, n)
			}
			seen[id] = true
		}
		runs, err := db.ListRuns(context.Background(), store.RunFilter{ScheduleID: s.ID, Limit: 100})
		if err != nil || len(runs) != n {
			t.Fatalf("%d runs stored (%v), want %d", len(runs), err, n)
		}
	})
}
