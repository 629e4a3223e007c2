package indicators_test

import (
	"fmt"
	"time"

	"github.com/atf/scheduler/internal/indicators"
	"github.com/atf/scheduler/internal/marketdata"
)

// sampleBars returns n daily bars with a gently oscillating price.
func sampleBars(n int) []marketdata.Bar {
	bars := make([]marketdata.Bar, n)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range bars {
		c := 100 + float64(i%7) - float64(i%5)
		bars[i] = marketdata.Bar{Time: t0.AddDate(0, 0, i), Open: c - 0.5, High: c + 1, Low: c - 1, Close: c, Volume: 1000}
	}
	return bars
}

func ExampleCompute() {
	bars := sampleBars(40)
	out, err := indicators.Compute(indicators.Spec{Type: "RSI", Params: map[string]float64{"period": 14}}, bars)
	if err != nil {
		fmt.Println(err)
		return
	}
	rsi := out["value"]
	fmt.Printf("bars %d, rsi[13] %.2f, rsi[14] %.2f, last %.2f\n", len(rsi), rsi[13], rsi[14], rsi[len(rsi)-1])
	// Output: bars 40, rsi[13] NaN, rsi[14] 41.67, last 48.04
}

func ExampleCompute_multipleOutputs() {
	out, err := indicators.Compute(indicators.Spec{Type: "BOLLINGER", Params: map[string]float64{"period": 20, "std_dev": 2}}, sampleBars(40))
	if err != nil {
		fmt.Println(err)
		return
	}
	names, _ := indicators.Outputs("BOLLINGER")
	for _, name := range names {
		fmt.Printf("%s %.3f\n", name, out[name][39])
	}
	// Output:
	// upper 105.586
	// middle 100.900
	// lower 96.214
}

func ExampleNormalize() {
	s, err := indicators.Normalize(indicators.Spec{Type: "macd", Params: map[string]float64{"FAST": 8}})
	fmt.Println(s.Type, s.Params, s.Source, err)
	// Output: MACD map[fast:8 signal:9 slow:26] close <nil>
}

func ExampleSpec_Key() {
	a := indicators.Spec{Type: "rsi"}
	b := indicators.Spec{Type: "RSI", Params: map[string]float64{"period": 14}, Source: "close"}
	fmt.Println(a.Key())
	fmt.Println(a.Key() == b.Key())
	// Output:
	// RSI(period=14,source=close)
	// true
}

func ExampleValidate() {
	fmt.Println(indicators.Validate(indicators.Spec{Type: "SMA", Params: map[string]float64{"period": -3}}))
	fmt.Println(indicators.Validate(indicators.Spec{Type: "RSI", Params: map[string]float64{"lenght": 14}}))
	// Output:
	// SMA: period: -3 must be >= 1
	// RSI: unknown param "lenght" (known: period)
}

func ExampleKnown() {
	fmt.Println(indicators.Known()[:5])
	// Output: [ADX ATR BBANDS BOLLINGER CCI]
}

func ExampleOutputs() {
	outs, _ := indicators.Outputs("SUPERTREND")
	fmt.Println(outs)
	_, err := indicators.Outputs("RSX")
	fmt.Println(err != nil)
	// Output:
	// [supertrend direction]
	// true
}

func ExampleLookback() {
	fmt.Println(indicators.Lookback(indicators.Spec{Type: "SMA", Params: map[string]float64{"period": 20}}))
	fmt.Println(indicators.Lookback(indicators.Spec{Type: "RSI"}))
	fmt.Println(indicators.Lookback(indicators.Spec{Type: "MACD"}))
	// Output:
	// 19
	// 139
	// 195
}

func ExampleLookbackFor() {
	fmt.Println(indicators.LookbackFor(indicators.Spec{Type: "VWAP"}, "15m"))
	// Output: 96
}

func ExampleCache() {
	cache := indicators.NewCache(1000)
	bars := sampleBars(200)
	for i := 0; i < 3; i++ { // three alerts on the same series and bar
		out, err := cache.Compute("binance:BTCUSDT:1d", bars, indicators.Spec{Type: "EMA", Params: map[string]float64{"period": 20}})
		if err != nil {
			fmt.Println(err)
			return
		}
		_ = out["value"] // read-only: shared between callers
	}
	st := cache.Stats()
	fmt.Println(st.Misses, st.Hits, st.Entries)
	// Output: 1 2 1
}
