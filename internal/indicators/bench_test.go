package indicators

import (
	"strconv"
	"testing"
)

func benchmarkCompute(b *testing.B, s Spec) {
	bars := walkBars(500, 1)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compute(s, bars); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkComputeRSI500(b *testing.B)    { benchmarkCompute(b, Spec{Type: "RSI"}) }
func BenchmarkComputeMACD500(b *testing.B)   { benchmarkCompute(b, Spec{Type: "MACD"}) }
func BenchmarkComputeBBANDS500(b *testing.B) { benchmarkCompute(b, Spec{Type: "BBANDS"}) }
func BenchmarkComputeADX500(b *testing.B)    { benchmarkCompute(b, Spec{Type: "ADX"}) }

func BenchmarkSpecKey(b *testing.B) {
	s := Spec{Type: "macd", Params: map[string]float64{"fast": 12}}
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Key()
	}
}

// BenchmarkCacheHit measures a cache hit: normalizing the spec and building
// the key dominate.
func BenchmarkCacheHit(b *testing.B) {
	c := NewCache(100)
	bars := walkBars(500, 1)
	s := Spec{Type: "RSI"}
	if _, err := c.Compute("binance:BTCUSDT:1h", bars, s); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Compute("binance:BTCUSDT:1h", bars, s); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCacheHitParallel measures hits from many goroutines on a few keys.
func BenchmarkCacheHitParallel(b *testing.B) {
	c := NewCache(100)
	bars := walkBars(500, 1)
	specs := []Spec{{Type: "RSI"}, {Type: "MACD"}, {Type: "BBANDS"}, {Type: "EMA", Params: map[string]float64{"period": 50}}}
	for i, s := range specs {
		if _, err := c.Compute("s"+strconv.Itoa(i), bars, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if _, err := c.Compute("s"+strconv.Itoa(i%len(specs)), bars, specs[i%len(specs)]); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
}
