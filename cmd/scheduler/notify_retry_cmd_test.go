package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
)

// `scheduler notify retry` requeues one dead notification (--id) or all of
// them (--dead); bad flags exit 2, an unknown or not-dead row exits 1.
func TestNotifyRetryCommand(t *testing.T) {
	eachCLIDB(t, func(t *testing.T, c *cliDB) {
		ctx := context.Background()
		ob := c.db.Outbox()
		var ns []notify.Notification
		for i := 1; i <= 4; i++ {
			n := notify.Notification{IdempotencyKey: fmt.Sprintf("k%d", i), Channel: "telegram", Recipient: fmt.Sprint(40 + i),
				Type: notify.TypeAlert, Title: "t", Body: "b", Priority: notify.PriorityNormal, CreatedAt: time.Now().Add(-time.Hour)}
			if i <= 3 {
				n.Status, n.LastError = notify.StatusDead, "gave up after 4 attempts: HTTP 503"
			}
			ns = append(ns, n)
		}
		if err := ob.Insert(ctx, ns); err != nil {
			t.Fatal(err)
		}
		ids := map[string]int64{}
		for i := int64(1); i < 100 && len(ids) < 4; i++ {
			if n, err := ob.Get(ctx, i); err == nil {
				ids[n.IdempotencyKey] = i
			}
		}
		for _, bad := range [][]string{{"notify", "retry"}, {"notify", "retry", "--id", "0"}, {"notify", "retry", "--id", "-3"},
			{"notify", "retry", "--id", "x"}, {"notify", "retry", "--dead", "--id", "1"}} {
			if out, code := c.run(t, bad...); code != 2 {
				t.Errorf("%v: exit %d, want 2; output %s", bad, code, out)
			}
		}
		if out, code := c.run(t, "notify", "retry", "--id", "999999"); code != 1 || !strings.Contains(out, "not found") {
			t.Errorf("unknown id: exit %d, output %s; want 1 and not found", code, out)
		}
		if out, code := c.run(t, "notify", "retry", "--id", fmt.Sprint(ids["k4"])); code != 1 || !strings.Contains(out, "not dead") {
			t.Errorf("pending row: exit %d, output %s; want 1 and not dead", code, out)
		}
		if out := c.must(t, "notify", "retry", "--id", fmt.Sprint(ids["k1"])); !strings.Contains(out, "requeued 1 ") {
			t.Errorf("--id output %q", out)
		}
		if n, _ := ob.Get(ctx, ids["k1"]); n.Status != notify.StatusPending || n.Attempts != 0 {
			t.Errorf("k1 after retry: status %q attempts %d", n.Status, n.Attempts)
		}
		if out := c.must(t, "notify", "retry", "--dead"); !strings.Contains(out, "requeued 2 ") {
			t.Errorf("--dead output %q", out)
		}
		if out := c.must(t, "notify", "retry", "--dead", "--json"); !strings.HasSuffix(out, "\n{\n  \"requeued\": 0\n}\n") {
			t.Errorf("--dead --json output %q; want {\"requeued\": 0}", out)
		}
		st, err := ob.Stats(ctx, time.Now())
		if err != nil || st.Dead != 0 || st.Pending != 4 {
			t.Errorf("after retries: dead %d pending %d (%v), want 0 and 4", st.Dead, st.Pending, err)
		}
	})
}
