package marketdata_test

import (
	"fmt"
	"log/slog"

	"github.com/atf/scheduler/internal/marketdata"
)

func ExampleParseRateLimits() {
	limits, err := marketdata.ParseRateLimits(`{"polygon":{"requests_per_minute":100}}`, []string{"polygon", "fmp"})
	fmt.Println(limits["polygon"], err)
	_, err = marketdata.ParseRateLimits(`{"polygon":{"requests_per_minute":0}}`, []string{"polygon"})
	fmt.Println(err)
	// Output:
	// 100/min <nil>
	// polygon: requests_per_minute 0: must be a number above 0 and at most 1e+06
}

func ExampleClient_ProviderStates() {
	env := map[string]string{"FMP_API_KEY": "k-123", "DATA_PROVIDERS": "fmp,yahoo"}
	opts, err := marketdata.OptionsFromEnv(func(k string) string { return env[k] })
	if err != nil {
		fmt.Println(err)
		return
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	c, err := marketdata.New(opts)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(opts.Keys) // values are never shown
	for _, st := range c.ProviderStates() {
		if st.Name == "fmp" || st.Name == "alpaca" || st.Name == "coingecko" {
			fmt.Println(st.Name, st.Configured, st.Missing, st.RateLimit)
		}
	}
	// Output:
	// {FMP_API_KEY=…redacted…}
	// alpaca false [ALPACA_API_KEY ALPACA_SECRET_KEY] 200/min
	// coingecko true [] 50/min
	// fmp true [] 3000/min
}
