package alerts

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/marketdata"
)

// refBands computes Bollinger bands at index i independently: SMA and
// population standard deviation of the last period closes.
func refBands(bars []marketdata.Bar, i, period int, up, down float64) (upper, lower float64) {
	sum := 0.0
	for j := i - period + 1; j <= i; j++ {
		sum += bars[j].Close
	}
	mean := sum / float64(period)
	v := 0.0
	for j := i - period + 1; j <= i; j++ {
		v += (bars[j].Close - mean) * (bars[j].Close - mean)
	}
	sd := math.Sqrt(v / float64(period))
	return mean + up*sd, mean - down*sd
}

func refSignal(bars []marketdata.Bar, typ string, period int, up, down float64) bool {
	n := len(bars) - 1
	u1, l1 := refBands(bars, n, period, up, down)
	u0, l0 := refBands(bars, n-1, period, up, down)
	p0, p1 := bars[n-1].Close, bars[n].Close
	switch typ {
	case "cross_upper_up":
		return p0 <= u0 && p1 > u1
	case "cross_upper_down":
		return p0 >= u0 && p1 < u1
	case "cross_lower_up":
		return p0 <= l0 && p1 > l1
	case "cross_lower_down":
		return p0 >= l0 && p1 < l1
	case "touch_upper":
		return bars[n].High >= u1
	case "touch_lower":
		return bars[n].Low <= l1
	}
	panic(typ)
}

func TestBBandsSignalPlugin(t *testing.T) {
	const period = 5
	rng := rand.New(rand.NewPCG(1, 2))
	trueCount := map[string]int{}
	for k := 0; k < 150; k++ {
		closes := make([]float64, 8)
		c := 100.0
		for i := range closes {
			c += rng.NormFloat64() * 2
			closes[i] = c
		}
		bars := barsFromCloses(closes...)
		for _, typ := range bbandsTypes {
			a := mustParse(t, alertJSON(fmt.Sprintf(`{"plugin":"bbands_signal","params":{"type":%q,"period":%d,"dev_up":1.5,"dev_down":1}}`, typ, period)))
			got := countKind(evalLast(t, a, bars).Events, EventTrigger) == 1
			if want := refSignal(bars, typ, period, 1.5, 1); got != want {
				t.Fatalf("series %d %s: fired %v, reference %v (closes %v)", k, typ, got, want, closes)
			}
			if got {
				trueCount[typ]++
			}
		}
	}
	for _, typ := range bbandsTypes {
		if trueCount[typ] == 0 || trueCount[typ] == 150 {
			t.Errorf("%s fired on %d of 150 series; the test needs both outcomes", typ, trueCount[typ])
		}
	}
}

func TestBBandsSignalDefaults(t *testing.T) {
	a := mustParse(t, alertJSON(`{"plugin":"bbands_signal","params":{"type":"touch_lower"}}`))
	out, _ := a.MarshalJSON()
	// period 14 and deviations 2.0 are the plugin's documented defaults.
	if want := `"params":{"dev_down":2,"dev_up":2,"period":14,"type":"touch_lower"}`; !strings.Contains(string(out), want) {
		t.Errorf("canonical %s lacks %s", out, want)
	}
}
