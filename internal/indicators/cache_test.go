package indicators

import (
	"math"
	"reflect"
	"strconv"
	"sync"
	"testing"
)

func TestCacheHitsAndKeys(t *testing.T) {
	c := NewCache(10)
	bars := walkBars(300, 1)
	first, err := c.Compute("binance:BTCUSDT:1h", bars, Spec{Type: "RSI"})
	if err != nil {
		t.Fatal(err)
	}
	direct, _ := Compute(Spec{Type: "RSI"}, bars)
	if !reflect.DeepEqual(nanToZero(first["value"]), nanToZero(direct["value"])) {
		t.Fatal("cached result differs from Compute")
	}
	// Equivalent spec, same series and bars: a hit returning the same map.
	again, err := c.Compute("binance:BTCUSDT:1h", bars, Spec{Type: "rsi", Params: map[string]float64{"period": 14}, Source: "close"})
	if err != nil {
		t.Fatal(err)
	}
	if reflect.ValueOf(again).Pointer() != reflect.ValueOf(first).Pointer() {
		t.Error("equivalent spec was computed again")
	}
	if st := c.Stats(); st.Misses != 1 || st.Hits != 1 || st.Entries != 1 {
		t.Errorf("stats = %+v, want 1 miss, 1 hit, 1 entry", st)
	}
	// Each of these is a different key: other series, one more bar, an
	// updated last bar, another spec.
	changed := append(bars[:len(bars)-1:len(bars)-1], bars[len(bars)-1])
	changed[len(changed)-1].Close *= 1.01
	for i, call := range []func() (map[string][]float64, error){
		func() (map[string][]float64, error) { return c.Compute("binance:ETHUSDT:1h", bars, Spec{Type: "RSI"}) },
		func() (map[string][]float64, error) {
			return c.Compute("binance:BTCUSDT:1h", walkBars(301, 1), Spec{Type: "RSI"})
		},
		func() (map[string][]float64, error) {
			return c.Compute("binance:BTCUSDT:1h", changed, Spec{Type: "RSI"})
		},
		func() (map[string][]float64, error) {
			return c.Compute("binance:BTCUSDT:1h", bars, Spec{Type: "RSI", Params: map[string]float64{"period": 7}})
		},
	} {
		if _, err := call(); err != nil {
			t.Fatal(err)
		}
		if st := c.Stats(); st.Misses != uint64(2+i) {
			t.Errorf("call %d: misses = %d, want %d (a new key)", i, st.Misses, 2+i)
		}
	}
}

func TestCacheErrorsAreNotCached(t *testing.T) {
	c := NewCache(10)
	bars := walkBars(50, 1)
	if _, err := c.Compute("s", bars, Spec{Type: "RSI", Params: map[string]float64{"period": 0}}); err == nil {
		t.Fatal("invalid spec: want error")
	}
	bad := walkBars(50, 1)
	bad[10].High = math.NaN()
	if _, err := c.Compute("s", bad, Spec{Type: "RSI"}); err == nil {
		t.Fatal("NaN bar: want error")
	}
	if st := c.Stats(); st.Entries != 0 || st.Misses != 0 || st.Hits != 0 {
		t.Errorf("stats after errors = %+v, want all zero", st)
	}
}

func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := NewCache(3)
	bars := walkBars(60, 2)
	spec := func(n int) Spec { return Spec{Type: "SMA", Params: map[string]float64{"period": float64(n)}} }
	for n := 1; n <= 3; n++ {
		if _, err := c.Compute("s", bars, spec(n)); err != nil {
			t.Fatal(err)
		}
	}
	c.Compute("s", bars, spec(1)) // touch 1: 2 is now the least recently used
	c.Compute("s", bars, spec(4)) // evicts 2
	if st := c.Stats(); st.Entries != 3 || st.Evictions != 1 || st.Misses != 4 {
		t.Fatalf("stats = %+v, want 3 entries, 1 eviction, 4 misses", st)
	}
	c.Compute("s", bars, spec(1))
	c.Compute("s", bars, spec(3))
	if st := c.Stats(); st.Misses != 4 {
		t.Errorf("periods 1 and 3 were recomputed: misses = %d", st.Misses)
	}
	c.Compute("s", bars, spec(2))
	if st := c.Stats(); st.Misses != 5 {
		t.Errorf("period 2 was not evicted: misses = %d, want 5", st.Misses)
	}
	for i := 0; i < 50; i++ {
		c.Compute("s"+strconv.Itoa(i), bars, spec(5))
	}
	if st := c.Stats(); st.Entries != 3 {
		t.Errorf("entries = %d, want the bound 3", st.Entries)
	}
}

// TestCacheConcurrentCallersComputeOnce starts many goroutines on one key
// and a few others; each key must be computed exactly once.
func TestCacheConcurrentCallersComputeOnce(t *testing.T) {
	c := NewCache(100)
	bars := walkBars(500, 3)
	specs := []Spec{{Type: "MACD"}, {Type: "BBANDS"}, {Type: "RSI"}, {Type: "ADX"}}
	const callers = 32
	var wg sync.WaitGroup
	results := make([][]map[string][]float64, len(specs))
	for i := range results {
		results[i] = make([]map[string][]float64, callers)
	}
	start := make(chan struct{})
	for si, s := range specs {
		for g := 0; g < callers; g++ {
			wg.Add(1)
			go func(si, g int, s Spec) {
				defer wg.Done()
				<-start
				out, err := c.Compute("binance:BTCUSDT:1h", bars, s)
				if err != nil {
					t.Error(err)
					return
				}
				results[si][g] = out
			}(si, g, s)
		}
	}
	close(start)
	wg.Wait()
	st := c.Stats()
	if st.Misses != uint64(len(specs)) || st.Hits != uint64(len(specs)*(callers-1)) {
		t.Errorf("stats = %+v, want %d misses and %d hits", st, len(specs), len(specs)*(callers-1))
	}
	for si := range specs {
		for g := 1; g < callers; g++ {
			if reflect.ValueOf(results[si][g]).Pointer() != reflect.ValueOf(results[si][0]).Pointer() {
				t.Errorf("spec %d caller %d got a different result map", si, g)
			}
		}
	}
}

func TestCacheWithoutStorageStillCoalesces(t *testing.T) {
	c := NewCache(0)
	bars := walkBars(100, 4)
	for i := 0; i < 3; i++ {
		if _, err := c.Compute("s", bars, Spec{Type: "EMA"}); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Entries != 0 || st.Misses != 3 {
		t.Errorf("stats = %+v, want no entries and 3 computations", st)
	}
}

func nanToZero(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		if !math.IsNaN(x) {
			out[i] = x
		}
	}
	return out
}
