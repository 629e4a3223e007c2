package store_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
)

// The bar store keeps closed bars and the spans known complete; saving the
// same bars twice changes nothing. A market data client uses it through
// Options.BarStore.
func ExampleDB_Bars() {
	dir, _ := os.MkdirTemp("", "bars-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	db, err := store.Open(ctx, store.Options{Driver: "sqlite", DSN: filepath.Join(dir, "s.db")})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		panic(err)
	}
	bars := db.Bars(30 * 24 * time.Hour)
	bars.Now = func() time.Time { return time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC) }
	key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
	t0 := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	xs := []marketdata.Bar{
		{Time: t0, Open: 100, High: 102, Low: 99, Close: 101, Volume: 5},
		{Time: t0.Add(time.Hour), Open: 101, High: 103, Low: 100, Close: 102, Volume: 7},
	}
	for range 2 {
		if err := bars.SaveBars(ctx, key, xs, marketdata.Span{From: t0, To: t0.Add(2 * time.Hour)}); err != nil {
			panic(err)
		}
	}
	got, spans, _ := bars.LoadBars(ctx, key, t0, t0.Add(4*time.Hour))
	fmt.Println(len(got), "bars, last close", got[1].Close)
	fmt.Println("complete", spans[0].From.Format("15:04"), "to", spans[0].To.Format("15:04"))

	o := marketdata.DefaultOptions()
	o.BarStore = bars
	_, err = marketdata.New(o)
	fmt.Println("client with bar store:", err == nil)
	// Output:
	// 2 bars, last close 102
	// complete 08:00 to 10:00
	// client with bar store: true
}
