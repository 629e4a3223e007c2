package alerts

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// benchConfigs are the rule shapes of the benchmark, with %d for a period
// that varies per alert so that a series holds several distinct indicators.
var benchConfigs = []string{
	`{"ticker":"T","timeframe":"1h","rule":{"crosses_below":{"lhs":{"indicator":{"type":"RSI","params":{"period":%d}}},"rhs":{"value":30}}},"rearm":{"hysteresis":5,"hysteresis_type":"fixed"}}`,
	`{"ticker":"T","timeframe":"1h","rule":{"crosses_above":{"lhs":{"field":"close"},"rhs":{"indicator":{"type":"SMA","params":{"period":%d}}}}}}`,
	`{"ticker":"T","timeframe":"1h","rule":{"plugin":"bbands_signal","params":{"type":"cross_lower_up","period":%d}}}`,
	`{"ticker":"T","timeframe":"1h","rule":{"and":[{"gt":{"lhs":{"indicator":{"type":"MACD","params":{"fast":12,"slow":26,"signal":9},"line":"hist"}},"rhs":{"value":0}}},{"lt":{"lhs":{"indicator":{"type":"RSI","params":{"period":%d}}},"rhs":{"value":70}}}]}}`,
	`{"ticker":"T","timeframe":"1h","rule":{"gt":{"lhs":{"field":"close"},"rhs":{"value":%d}}},"rearm":{"cooldown_minutes":60}}`,
}

// BenchmarkEvaluate10kAlerts evaluates 10,000 alerts on 100 tickers for one
// new bar with a shared indicators.Cache (new per bar, so every distinct
// indicator is computed once per series within the measured time).
func BenchmarkEvaluate10kAlerts(b *testing.B) { benchmark10k(b, false) }

// BenchmarkEvaluate10kAlertsSeries is BenchmarkEvaluate10kAlerts with an
// alerts.Series per ticker on top of the shared cache.
func BenchmarkEvaluate10kAlertsSeries(b *testing.B) { benchmark10k(b, true) }

func benchmark10k(b *testing.B, useSeries bool) {
	const tickers, perTicker, nbars = 100, 100, 300
	type job struct {
		a   *Alert
		st  State
		key string
		bar []marketdata.Bar
	}
	series := make([][]marketdata.Bar, tickers)
	for t := range series {
		closes := make([]float64, nbars)
		for i := range closes {
			closes[i] = 100 + 10*math.Sin(float64(i+t)/7) + float64(t)
		}
		series[t] = barsFromCloses(closes...)
	}
	jobs := make([]job, 0, tickers*perTicker)
	for t := 0; t < tickers; t++ {
		for k := 0; k < perTicker; k++ {
			cfg := benchConfigs[k%len(benchConfigs)]
			period := 10 + k%4*5 // 4 distinct periods per rule shape
			if k%len(benchConfigs) == 4 {
				period = 150 + t // above every close: rarely fires
			}
			a := mustParse(b, fmt.Sprintf(cfg, period))
			bars := series[t]
			st := NewState()
			st.LastBarTS = bars[len(bars)-2].Time
			jobs = append(jobs, job{a: a, st: st, key: fmt.Sprintf("bench:T%d:1h", t), bar: bars})
		}
	}
	now := series[0][nbars-1].Time.Add(time.Hour)
	b.ReportAllocs()
	b.ResetTimer()
	fired := 0
	for n := 0; n < b.N; n++ {
		cache := indicators.NewCache(4096)
		ser := make([]*Series, tickers)
		for i := range jobs {
			j := &jobs[i]
			in := Input{Bars: j.bar, Now: now, SeriesKey: j.key, Cache: cache}
			if useSeries {
				t := i / perTicker
				if ser[t] == nil {
					ser[t] = NewSeries(j.key, j.bar, cache)
				}
				in.Series = ser[t]
			}
			res, err := j.a.Evaluate(in, j.st)
			if err != nil {
				b.Fatal(err)
			}
			fired += len(res.Events)
		}
	}
	b.StopTimer()
	evals := float64(b.N * len(jobs))
	b.ReportMetric(evals/b.Elapsed().Seconds(), "evals/s")
	b.ReportMetric(float64(fired)/float64(b.N), "events/bar")
}

// BenchmarkEvaluateOneAlertWarmCache measures one RSI-crossing alert whose
// indicator result is already in the cache (the common case: the first
// alert on a series paid for the computation).
func BenchmarkEvaluateOneAlertWarmCache(b *testing.B) {
	a := mustParse(b, fmt.Sprintf(benchConfigs[0], 14))
	bars := barsFromCloses(sine(300, 10, 50)...)
	st := NewState()
	st.LastBarTS = bars[len(bars)-2].Time
	cache := indicators.NewCache(16)
	in := Input{Bars: bars, Now: bars[len(bars)-1].Time.Add(time.Hour), SeriesKey: "bench", Cache: cache}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := a.Evaluate(in, st); err != nil {
			b.Fatal(err)
		}
	}
}
