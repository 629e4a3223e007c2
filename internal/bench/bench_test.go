package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/bench"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestRefusesRealSchedules(t *testing.T) {
	db := storetest.SQLite(t)
	if err := db.CreateSchedule(context.Background(), &store.Schedule{UserID: 1, Name: "real", JobType: "script", Cron: "* * * * *", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	_, err := bench.Run(context.Background(), db, bench.Options{Schedules: 10, Cron: "* * * * * *", For: time.Second})
	if err == nil {
		t.Fatal("bench ran on a database with real schedules")
	}
}

func TestSmallRunMeasuresFires(t *testing.T) {
	db := storetest.SQLite(t)
	r, err := bench.Run(context.Background(), db, bench.Options{Schedules: 50, Cron: "* * * * * *", For: 4 * time.Second, Lead: 2 * time.Second, Workers: 50})
	if err != nil {
		t.Fatal(err)
	}
	if r.Fires < 50 || r.Handled < int64(r.Fires) || r.LagP99 <= 0 {
		t.Fatalf("report %+v: expected at least one full second of fires", r)
	}
}

func benchEngine(b *testing.B, db *store.DB, n int, cron string, d time.Duration) {
	for b.Loop() {
		r, err := bench.Run(context.Background(), db, bench.Options{Schedules: n, Cron: cron, For: d})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(r.FiresPerSec, "fires/s")
		b.ReportMetric(r.LagP50, "lag-p50-ms")
		b.ReportMetric(r.LagP99, "lag-p99-ms")
		b.ReportMetric(r.PeakRSSMB, "peak-rss-MB")
		b.Log(r)
	}
}

// Sustained load: 10,000 schedules firing every second.
func BenchmarkSustained10kSQLite(b *testing.B) {
	benchEngine(b, storetest.SQLite(b), 10000, "* * * * * *", 10*time.Second)
}

func BenchmarkSustained10kPostgres(b *testing.B) {
	benchEngine(b, storetest.Postgres(b), 10000, "* * * * * *", 10*time.Second)
}

// 100,000 enabled schedules, each firing every 10 s (10,000 fires/s).
func BenchmarkSustained100kPostgres(b *testing.B) {
	benchEngine(b, storetest.Postgres(b), 100000, "*/10 * * * * *", 20*time.Second)
}

func BenchmarkSustained100kSQLite(b *testing.B) {
	benchEngine(b, storetest.SQLite(b), 100000, "*/10 * * * * *", 20*time.Second)
}

// Burst: 100,000 schedules due at the same instant (once a minute).
func BenchmarkBurst100kPostgres(b *testing.B) {
	benchEngine(b, storetest.Postgres(b), 100000, "0 * * * * *", 70*time.Second)
}
