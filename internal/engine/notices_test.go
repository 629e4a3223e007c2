package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/notify"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// invalidNotices returns the titles of the invalid-schedule notices of
// schedule id in the outbox.
func invalidNotices(t *testing.T, db *store.DB, id int64) []string {
	t.Helper()
	rows, err := db.SQL().Query(`SELECT title FROM notifications WHERE schedule_id = $1 AND idempotency_key LIKE '%:invalid-%' ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// An invalid schedule is told to its owner once: not at every recheck,
// not after a restart, not after a reload; again when it breaks anew
// after a fix.
func TestInvalidScheduleToldOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		sc := addSchedule(t, db, "broken", "61 * * * *", `{}`)
		now := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
		newEngine := func() *Engine {
			o := testOptions()
			o.Now = func() time.Time { return now }
			o.Notices = &notify.Planner{Options: notify.DefaultOptions()}
			return New(db, map[string]Handler{"script": noop()}, o)
		}
		claim := func(e *Engine) {
			t.Helper()
			if _, _, err := db.ClaimDue(ctx, "", now, now, 100, 0, e.planner(now, now)); err != nil {
				t.Fatal(err)
			}
			e.tellInvalid(ctx)
		}
		e := newEngine()
		claim(e)
		got := invalidNotices(t, db, sc.ID)
		if len(got) != 1 || got[0] != "⚠️ broken is invalid" {
			t.Fatalf("first sight: %q", got)
		}
		now = now.Add(2 * time.Minute) // rechecked every minute
		claim(e)
		now = now.Add(2 * time.Minute)
		claim(newEngine())                                                             // a restart
		if err := db.SetScheduleError(ctx, sc.ID, "cron: reloaded", now); err != nil { // a reload records it
			t.Fatal(err)
		}
		now = now.Add(2 * time.Minute)
		claim(newEngine())
		if got := invalidNotices(t, db, sc.ID); len(got) != 1 {
			t.Fatalf("told again: %q", got)
		}
		// Fixed, then broken in another way: told again.
		sc.Cron = "0 * * * *"
		if err := db.UpdateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		e = newEngine()
		now = now.Add(2 * time.Minute)
		claim(e)
		sc.Cron = "0 25 * * *"
		if err := db.UpdateSchedule(ctx, sc); err != nil {
			t.Fatal(err)
		}
		now = now.Add(2 * time.Hour)
		claim(e)
		if got := invalidNotices(t, db, sc.ID); len(got) != 2 {
			t.Fatalf("after a fix and a new breakage: %q", got)
		}
		// Fixed, then broken again the first way: told again too.
		for _, cron := range []string{"0 * * * *", "61 * * * *"} {
			sc.Cron = cron
			if err := db.UpdateSchedule(ctx, sc); err != nil {
				t.Fatal(err)
			}
			now = now.Add(2 * time.Hour)
			claim(e)
		}
		if got := invalidNotices(t, db, sc.ID); len(got) != 3 {
			t.Fatalf("after a second fix and the first breakage again: %q", got)
		}
	})
}

func TestStripNoticeOption(t *testing.T) {
	on, rest, err := StripNoticeOption([]byte(`{"script_path": "a.py", "options": {"notify_on_failure": false}}`))
	if err != nil || on == nil || *on || strings.Contains(string(rest), "options") {
		t.Fatalf("%v %s %v", on, rest, err)
	}
	on, rest, err = StripNoticeOption([]byte(`{"options": {"notify_on_failure": true, "retry_count": 2}}`))
	if err != nil || on == nil || !*on || string(rest) != `{"options":{"retry_count":2}}` {
		t.Fatalf("%v %s %v", on, rest, err)
	}
	_, _, err = StripNoticeOption([]byte(`{"options": {"notify_on_failure": "off"}}`))
	if err == nil || err.Error() != `options.notify_on_failure = "off": want true or false` {
		t.Fatalf("%v", err)
	}
	raw := []byte(`{"script_path": "a.py"}`)
	if on, rest, err := StripNoticeOption(raw); on != nil || string(rest) != string(raw) || err != nil {
		t.Fatalf("absent: %v %s %v", on, rest, err)
	}
}
