package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// benchDBs runs fn on SQLite and (when configured) PostgreSQL.
func benchDBs(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, storetest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, storetest.Postgres(b)) })
}

// benchBars returns n hourly bars ending before end.
func benchBars(end time.Time, n int) []marketdata.Bar {
	xs := make([]marketdata.Bar, n)
	for i := range xs {
		at := end.Add(time.Duration(i-n) * time.Hour)
		p := priceAt(at)
		xs[i] = marketdata.Bar{Time: at, Open: p, High: p + 2, Low: p - 1, Close: p + 1, Volume: 12.5}
	}
	return xs
}

var benchEnd = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

// BenchmarkBarStoreLookup500 reads 500 stored bars of one series (the
// spans, then the bars), as a restarted process does for each series.
func BenchmarkBarStoreLookup500(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		bars := db.Bars(0)
		bars.Now = func() time.Time { return benchEnd }
		key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
		from := benchEnd.Add(-500 * time.Hour)
		if err := bars.SaveBars(ctx, key, benchBars(benchEnd, 500), marketdata.Span{From: from, To: benchEnd}); err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			got, spans, err := bars.LoadBars(ctx, key, from, benchEnd)
			if err != nil || len(got) != 500 || len(spans) != 1 {
				b.Fatalf("%d bars, %d spans, %v", len(got), len(spans), err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
}

// BenchmarkBarStoreClientLookup500 asks a market data client without a
// memory cache for 500 closed bars that the store holds: the whole path of
// a history request, with no provider request (a provider request would
// fail: the base URL points nowhere).
func BenchmarkBarStoreClientLookup500(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		bars := db.Bars(0)
		now := func() time.Time { return benchEnd.Add(48 * time.Hour) }
		bars.Now = now
		key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
		if err := bars.SaveBars(ctx, key, benchBars(benchEnd, 501), marketdata.Span{From: benchEnd.Add(-501 * time.Hour), To: benchEnd}); err != nil {
			b.Fatal(err)
		}
		o := marketdata.DefaultOptions()
		o.Providers, o.BinanceBaseURL, o.BarStore, o.CacheEnabled, o.Now, o.MaxRetries = []string{"binance"}, "http://127.0.0.1:1", bars, false, now, 0
		c, err := marketdata.New(o)
		if err != nil {
			b.Fatal(err)
		}
		req := marketdata.Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 500, Now: benchEnd.Add(-time.Millisecond)}
		b.ReportAllocs()
		b.ResetTimer()
		for b.Loop() {
			s, err := c.Series(ctx, req)
			if err != nil || len(s.Closed) != 500 {
				b.Fatalf("%d bars, %v", len(s.Closed), err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
	})
}

// BenchmarkBarStoreSize stores 1,000 series of 500 hourly bars and reports
// the space the bar store's tables and indexes take.
func BenchmarkBarStoreSize(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		for b.Loop() {
			bars := db.Bars(0)
			bars.Now = func() time.Time { return benchEnd }
			xs := benchBars(benchEnd, 500)
			for i := range 1000 {
				key := marketdata.SeriesKey{Provider: "binance", Symbol: fmt.Sprintf("S%04dUSDT", i), Timeframe: "1h"}
				if err := bars.SaveBars(ctx, key, xs, marketdata.Span{From: xs[0].Time, To: benchEnd}); err != nil {
					b.Fatal(err)
				}
			}
			if db.Dialect() == "postgres" {
				if _, err := db.SQL().ExecContext(ctx, `VACUUM ANALYZE market_bars`); err != nil {
					b.Fatal(err)
				}
			}
			st, err := bars.Stats(ctx)
			if err != nil || st.Bars != 500_000 {
				b.Fatalf("%+v %v", st, err)
			}
			b.ReportMetric(float64(st.Bytes)/(1<<20), "MiB/1000series")
			b.ReportMetric(float64(st.Bytes)/float64(st.Bars), "B/bar")
		}
	})
}

// BenchmarkBarStoreSave500 stores 500 new bars of one series per operation
// (a data_sync of 500 bars of a new series).
func BenchmarkBarStoreSave500(b *testing.B) {
	benchDBs(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		bars := db.Bars(0)
		bars.Now = func() time.Time { return benchEnd }
		xs := benchBars(benchEnd, 500)
		i := 0
		for b.Loop() {
			key := marketdata.SeriesKey{Provider: "binance", Symbol: fmt.Sprintf("S%dUSDT", i), Timeframe: "1h"}
			i++
			if err := bars.SaveBars(ctx, key, xs, marketdata.Span{From: xs[0].Time, To: benchEnd}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)*500/b.Elapsed().Seconds(), "bars/s")
	})
}
