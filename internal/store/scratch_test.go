package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// Scratch schedules are counted apart from real ones, replaced as a whole,
// and get their crons and first fires in turn.
func TestLoadScratch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.SQL().Exec(rawInsert); err != nil { // a real schedule, "vix"
			t.Fatal(err)
		}
		if n, err := db.CountOtherSchedules(ctx, "b_x-"); err != nil || n != 1 {
			t.Fatalf("CountOtherSchedules = %d, %v; want 1", n, err)
		}
		first := []time.Time{t0, t0.Add(time.Second)}
		sc := store.Scratch{Prefix: "b_x-", JobType: "report", N: 5, Crons: []string{"0/2 * * * * *", "1/2 * * * * *"}, Firsts: first}
		for range 2 { // the second load replaces the first
			if err := db.LoadScratch(ctx, sc); err != nil {
				t.Fatal(err)
			}
		}
		list, err := db.ListSchedules(ctx, store.ScheduleFilter{JobType: "report"})
		if err != nil || len(list) != 5 {
			t.Fatalf("scratch schedules = %d, %v; want 5", len(list), err)
		}
		for i, s := range list {
			if s.Name != "b_x-"+string(rune('0'+i)) || s.Cron != sc.Crons[i%2] || s.NextRunAt == nil || !s.NextRunAt.Equal(first[i%2]) {
				t.Errorf("schedule %d = %s %s %v", i, s.Name, s.Cron, s.NextRunAt)
			}
		}
		// "_" in the prefix is literal: "bAx-…" would not be a scratch name.
		if n, _ := db.CountOtherSchedules(ctx, "b_x-"); n != 1 {
			t.Fatalf("real schedules counted %d, want 1", n)
		}
	})
}
