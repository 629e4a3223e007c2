package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/bench"
	"github.com/atf/scheduler/internal/store/storetest"
)

func TestTmpProfile(t *testing.T) {
	db := storetest.Postgres(t)
	r, err := bench.Run(context.Background(), db, bench.Options{Schedules: 10000, Cron: "* * * * * *", For: 15 * time.Second, Workers: 10000})
	if err != nil {
		t.Fatal(err)
	}
	t.Log(r)
}
