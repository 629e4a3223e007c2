package action_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/atf/scheduler/internal/action"
	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
)

// Lookup resolves what people type for a schedule: an id, or a name that
// only one schedule has (the CLI's `schedules run hello`).
func ExampleActions_Lookup() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet()})
	ctx := context.Background()
	for _, u := range []int64{1, 2} {
		_, _ = a.Create(ctx, action.Spec{UserID: ptr(u), Name: "nightly", JobType: "script", Cron: "0 3 * * *"})
	}
	_, _ = a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "hello", JobType: "script", Cron: "0 */4 * * *"})

	id, err := a.Lookup(ctx, "hello")
	fmt.Println(id, err)
	id, err = a.Lookup(ctx, "42") // an id is taken as it is
	fmt.Println(id, err)
	_, err = a.Lookup(ctx, "nightly")
	var amb *action.AmbiguousNameError
	fmt.Println(errors.As(err, &amb), err)
	_, err = a.Lookup(ctx, "nosuch")
	fmt.Println(errors.Is(err, store.ErrNotFound), err)
	// Output:
	// 3 <nil>
	// 42 <nil>
	// true schedule name "nightly" is used by schedules 1, 2 (of different users); give the id
	// true schedule "nosuch": not found
}

// RunDetail is what `scheduler runs show` and GET /api/v1/runs/{id} show:
// the run, its lag and duration once known, and its retried attempts.
func ExampleActions_RunDetail() {
	db, done := exampleDB()
	defer done()
	a := action.New(action.Config{Store: db, Handlers: handlers, Logger: quiet(),
		Now: func() time.Time { return exampleNow }})
	ctx := context.Background()
	s, _ := a.Create(ctx, action.Spec{UserID: ptr(int64(1)), Name: "hello", JobType: "script", Cron: "0 */4 * * *"})
	st, _ := a.RunNow(ctx, s.ID, action.RunOptions{})

	d, err := a.RunDetail(ctx, st.Run.ID)
	fmt.Println(d.ID, d.Status, d.Kind, d.LagSeconds == nil, len(d.Attempts), err)
	_, err = a.RunDetail(ctx, 99)
	fmt.Println(errors.Is(err, store.ErrNotFound))
	// Output:
	// 1 pending manual true 0 <nil>
	// true
}

// SummarizeOutbox gives the outbox counts the snake_case keys of /status.
func ExampleSummarizeOutbox() {
	at := time.Date(2030, 1, 2, 10, 0, 0, 0, time.UTC)
	sum := action.SummarizeOutbox(notify.OutboxStats{Pending: 2, Dead: 1, OldestPendingAge: 90 * time.Second,
		LastErrorByChannel: map[string]notify.ChannelError{"telegram": {ID: 7, Error: "429 Too Many Requests", At: at}}})
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", " ")
	_ = enc.Encode(sum)
	// Output:
	// {
	//  "pending": 2,
	//  "failed": 0,
	//  "sending": 0,
	//  "sent": 0,
	//  "dead": 1,
	//  "suppressed": 0,
	//  "oldest_pending_seconds": 90,
	//  "last_error_by_channel": {
	//   "telegram": {
	//    "notification_id": 7,
	//    "error": "429 Too Many Requests",
	//    "at": "2030-01-02T10:00:00Z"
	//   }
	//  }
	// }
}
