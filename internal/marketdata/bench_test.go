package marketdata

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// synthProvider serves synthBar series in memory (no HTTP), so benchmarks
// measure the client's own machinery.
type synthProvider struct {
	clock *fakeClock
	calls atomic.Int64
}

func (p *synthProvider) Name() string { return "synth" }

func (p *synthProvider) Bars(ctx context.Context, symbol string, tf Timeframe, from, to time.Time) ([]Bar, error) {
	p.calls.Add(1)
	now := p.clock.Now()
	var bars []Bar
	for t := tf.Open(from); !t.After(to) && !t.After(now); t = tf.Next(t) {
		if !t.Before(from) {
			bars = append(bars, synthBar(t))
		}
	}
	return bars, nil
}

func benchClient(b *testing.B, maxSeries int) (*Client, *synthProvider, *fakeClock) {
	clock := newClock(mustTime(b, hourNow))
	p := &synthProvider{clock: clock}
	o := DefaultOptions()
	o.Providers = []string{"synth"}
	o.Extra = []Provider{p}
	o.Now = clock.Now
	o.CacheTTL = time.Hour
	o.CacheMaxSeries = maxSeries
	o.Logger = slog.New(slog.DiscardHandler)
	return newTestClient(b, o), p, clock
}

// BenchmarkCachedLookup measures Series calls answered from the cache
// (200 closed bars copied out per call), from parallel goroutines.
func BenchmarkCachedLookup(b *testing.B) {
	c, _, _ := benchClient(b, 1000)
	req := Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 200}
	if _, err := c.Series(context.Background(), req); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Series(context.Background(), req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

// BenchmarkCoalescedFetch measures cache misses where 100 concurrent callers
// ask for the same new series: each iteration is one provider fetch of 200
// bars shared by 100 callers.
func BenchmarkCoalescedFetch(b *testing.B) {
	c, p, _ := benchClient(b, 1_000_000)
	const callers = 100
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := Request{Symbol: fmt.Sprintf("S%dUSDT", i), Timeframe: "1h", Bars: 200}
		var wg sync.WaitGroup
		for range callers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if _, err := c.Series(context.Background(), req); err != nil {
					b.Error(err)
				}
			}()
		}
		wg.Wait()
	}
	b.ReportMetric(float64(p.calls.Load())/b.Elapsed().Seconds(), "fetches/s")
	b.ReportMetric(float64(b.N*callers)/b.Elapsed().Seconds(), "callers/s")
	b.ReportMetric(float64(p.calls.Load())/float64(b.N), "fetches/op")
}

// BenchmarkCacheMemory reports the heap held by 1,000 cached series of 500
// bars each.
func BenchmarkCacheMemory(b *testing.B) {
	for b.Loop() {
		c, _, _ := benchClient(b, 1000)
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for i := range 1000 {
			if _, err := c.Series(context.Background(), Request{Symbol: fmt.Sprintf("S%dUSDT", i), Timeframe: "1h", Bars: 500}); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		series, bars := c.CacheStats()
		if series != 1000 || bars < 500_000 {
			b.Fatalf("cache holds %d series, %d bars", series, bars)
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB/1000series")
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(bars), "B/bar")
		runtime.KeepAlive(c)
	}
}
