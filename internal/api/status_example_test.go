package api_test

import (
	"encoding/json"
	"os"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/api"
	"github.com/atf/scheduler/internal/store"
)

// StatusSections turns action.Status into the database sections of GET
// /status, as `scheduler status --json` prints them with no service
// running: snake_case keys, ids as numbers (a run's job_id included), an
// invalid schedule only under schedules.invalid.
func ExampleStatusSections() {
	next := time.Date(2030, 1, 2, 12, 0, 0, 0, time.UTC)
	failed := time.Date(2030, 1, 2, 11, 0, 0, 0, time.UTC)
	st := &action.Status{Stats: &store.Stats{
		Schedules: 2, Enabled: 2,
		Invalid:        []store.Schedule{{ID: 2, Name: "broken", JobType: "script", LastError: `cron "0 0 * * 8": day-of-week: 8 out of range 0-7`}},
		NextDue:        []store.Schedule{{ID: 1, Name: "hello", JobType: "script", NextRunAt: &next}},
		RecentFailures: []store.Run{{ID: 7, JobID: "1", JobType: "script", Kind: "manual", ScheduledFor: failed, Error: "Script exited with code 3"}},
		RunsByStatus:   map[string]int{"failed": 1}, OutboxByStatus: map[string]int{},
	}}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(api.StatusSections(st))
	// Output:
	// {
	//  "missed_fires": 0,
	//  "next_fires": [
	//   {
	//    "id": 1,
	//    "name": "hello",
	//    "job_type": "script",
	//    "next_run_at": "2030-01-02T12:00:00Z"
	//   }
	//  ],
	//  "outbox": {
	//   "by_status": {},
	//   "oldest_pending_seconds": 0
	//  },
	//  "recent_failures": [
	//   {
	//    "run_id": 7,
	//    "schedule_id": 1,
	//    "job_type": "script",
	//    "kind": "manual",
	//    "scheduled_for": "2030-01-02T11:00:00Z",
	//    "error": "Script exited with code 3"
	//   }
	//  ],
	//  "runs": {
	//   "by_status": {
	//    "failed": 1
	//   },
	//   "in_progress": 0,
	//   "running": []
	//  },
	//  "schedules": {
	//   "enabled": 2,
	//   "invalid": [
	//    {
	//     "id": 2,
	//     "name": "broken",
	//     "job_type": "script",
	//     "error": "cron \"0 0 * * 8\": day-of-week: 8 out of range 0-7"
	//    }
	//   ],
	//   "total": 2
	//  }
	// }
}
