package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// benchClaimPath measures the three steps every fire goes through, in
// batches of 1000, as the engine does them: claim due schedules (insert runs
// leased to the claimer, advance next_run_at), claim those runs by id when
// they are due, complete them in one batch.
func benchClaimPath(b *testing.B, db *store.DB) {
	ctx := context.Background()
	const n = 1000
	for i := range n {
		sc := &store.Schedule{UserID: 1, Name: fmt.Sprintf("b%d", i), JobType: "script", Cron: "* * * * * *", Enabled: true}
		if err := db.CreateSchedule(ctx, sc); err != nil {
			b.Fatal(err)
		}
	}
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var claimT, runsT, doneT time.Duration
	for i := 0; b.Loop(); i++ {
		t := at.Add(time.Duration(i) * time.Second)
		next := t.Add(time.Second)
		t0 := time.Now()
		_, ins, err := db.ClaimDue(ctx, "bench", t, t, n, time.Minute, func(s *store.Schedule) store.Fire {
			if s.NextRunAt == nil {
				return store.Fire{Runs: []store.NewRun{{Status: "pending", Kind: "cron", ScheduledFor: t, Exclusive: true}}, Next: &next}
			}
			return store.Fire{Runs: []store.NewRun{{Status: "pending", Kind: "cron", ScheduledFor: *s.NextRunAt, Exclusive: true}}, Next: &next}
		})
		if err != nil || len(ins) != n {
			b.Fatalf("claim: %d %v", len(ins), err)
		}
		t1 := time.Now()
		ids := make([]int64, len(ins))
		for j, q := range ins {
			ids[j] = q.ID
		}
		runs, _, err := db.ClaimRunIDs(ctx, store.ClaimByID{Owner: "bench", Now: t, IDs: ids, Lease: time.Minute})
		if err != nil || len(runs) != n {
			b.Fatalf("claim runs: %d %v", len(runs), err)
		}
		t2 := time.Now()
		cs := make([]store.Completion, len(runs))
		for j, r := range runs {
			cs[j] = store.Completion{RunID: r.ID, Owner: "bench", Status: "completed", At: t}
		}
		if err := db.CompleteRuns(ctx, cs); err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		claimT, runsT, doneT = claimT+t1.Sub(t0), runsT+t2.Sub(t1), doneT+t3.Sub(t2)
	}
	k := float64(b.N)
	b.ReportMetric(float64(n)*k/(claimT+runsT+doneT).Seconds(), "fires/s")
	b.ReportMetric(claimT.Seconds()*1000/k, "claim-ms/1000")
	b.ReportMetric(runsT.Seconds()*1000/k, "claimbyid-ms/1000")
	b.ReportMetric(doneT.Seconds()*1000/k, "complete-ms/1000")
}

func BenchmarkClaimPathSQLite(b *testing.B)   { benchClaimPath(b, storetest.SQLite(b)) }
func BenchmarkClaimPathPostgres(b *testing.B) { benchClaimPath(b, storetest.Postgres(b)) }
