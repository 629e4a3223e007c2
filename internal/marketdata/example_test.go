package marketdata_test

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// hourlyProvider is a stand-in provider serving a rising hourly series.
type hourlyProvider struct{}

func (hourlyProvider) Name() string { return "demo" }

func (hourlyProvider) Bars(ctx context.Context, symbol string, tf marketdata.Timeframe, from, to time.Time) ([]marketdata.Bar, error) {
	var bars []marketdata.Bar
	for t := tf.Open(from); !t.After(to); t = tf.Next(t) {
		if t.Before(from) {
			continue
		}
		p := float64(t.Hour())
		bars = append(bars, marketdata.Bar{Time: t, Open: p, High: p + 1, Low: p, Close: p + 0.5, Volume: 1})
	}
	return bars, nil
}

func ExampleClient_Series() {
	opts := marketdata.DefaultOptions()
	opts.Extra = []marketdata.Provider{hourlyProvider{}}
	opts.Providers = []string{"demo"}
	opts.Now = func() time.Time { return time.Date(2024, 3, 4, 10, 30, 0, 0, time.UTC) }
	c, err := marketdata.New(opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := c.Series(context.Background(), marketdata.Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 3})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("provider:", s.Provider)
	for _, b := range s.Closed {
		fmt.Println("closed:", b.Time.Format("15:04"), b.Close)
	}
	fmt.Println("forming:", s.Forming.Time.Format("15:04"))
	fmt.Println("breakers:", c.Breakers()["demo"])
	// Output:
	// provider: demo
	// closed: 07:00 7.5
	// closed: 08:00 8.5
	// closed: 09:00 9.5
	// forming: 10:00
	// breakers: closed
}

func ExampleReadCSV() {
	in := `time,open,high,low,close,volume
2024-01-01T00:00:00Z,42283.58,42554.57,42261.02,42475.23,1271.68
1704070800,42475.23,42775.00,42431.65,42613.56,1196.38
`
	bars, err := marketdata.ReadCSV(strings.NewReader(in))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range bars {
		fmt.Println(b.Time.Format(time.RFC3339), b.Close)
	}
	// Output:
	// 2024-01-01T00:00:00Z 42475.23
	// 2024-01-01T01:00:00Z 42613.56
}

func ExampleParseRoutes() {
	routes, err := marketdata.ParseRoutes("*USDT=binance,yahoo;^*=yahoo;*=yahoo,csv")
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, sym := range []string{"BTCUSDT", "^VIX", "AAPL"} {
		for _, r := range routes {
			if r.Match(sym) {
				fmt.Println(sym, "->", strings.Join(r.Providers, ","))
				break
			}
		}
	}
	// Output:
	// BTCUSDT -> binance,yahoo
	// ^VIX -> yahoo
	// AAPL -> yahoo,csv
}

func ExampleOptionsFromEnv() {
	env := map[string]string{"DATA_TIMEOUT": "abc"}
	_, err := marketdata.OptionsFromEnv(func(k string) string { return env[k] })
	fmt.Println(err)
	// Output: DATA_TIMEOUT: "abc" is not a number of seconds
}

func ExampleValidate() {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	bars := []marketdata.Bar{
		{Time: t0, Open: 1, High: 2, Low: 0.5, Close: 1.5, Volume: 10},
		{Time: t0.Add(3 * time.Hour), Open: 1.5, High: 2, Low: 1, Close: 1.8, Volume: 5},
	}
	gaps, err := marketdata.Validate(bars, "1h")
	fmt.Println(len(gaps), gaps[0].Missing, err)
	bars[1].Low = 1.9 // above the open
	_, err = marketdata.Validate(bars, "1h")
	fmt.Println(err)
	// Output:
	// 1 2 <nil>
	// invalid bar data: bar 1 at 2024-01-01T03:00:00Z: low 1.9 > open 1.5
}

func ExampleTimeframe_Split() {
	tf := marketdata.Timeframe("1d")
	var bars []marketdata.Bar
	for d := 1; d <= 3; d++ {
		bars = append(bars, marketdata.Bar{Time: time.Date(2024, 2, 27+d, 0, 0, 0, 0, time.UTC), Open: 1, High: 1, Low: 1, Close: 1})
	}
	closed, forming := tf.Split(bars, time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC))
	fmt.Println(len(closed), closed[len(closed)-1].Time.Format("Jan 2"), forming.Time.Format("Jan 2"))
	// Output: 2 Feb 29 Mar 1
}
