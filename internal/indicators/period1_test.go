package indicators

import (
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// talibOutput is one TA-Lib output series: values[j] belongs to bar begin+j.
type talibOutput struct {
	Begin  int       `json:"begin"`
	Values []float64 `json:"values"`
}

type talibSeries struct {
	Inputs  map[string][]float64   `json:"inputs"`
	Outputs map[string]talibOutput `json:"outputs"`
}

// loadTALibPeriod1 reads testdata/talib_period1.json: outputs of the real
// TA-Lib C library (see the note in the file for how they were produced).
func loadTALibPeriod1(t *testing.T) map[string]talibSeries {
	t.Helper()
	raw, err := os.ReadFile("testdata/talib_period1.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[string]talibSeries{}
	for name, msg := range doc {
		if name == "note" {
			continue
		}
		var s talibSeries
		if err := json.Unmarshal(msg, &s); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = s
	}
	return out
}

// parseOutputKey turns "STOCH(fastk_period=1,slowk_period=1).k" into a spec
// and the output name ("value" when none is given).
func parseOutputKey(t *testing.T, key string) (Spec, string) {
	t.Helper()
	open, close := strings.IndexByte(key, '('), strings.IndexByte(key, ')')
	s := Spec{Type: key[:open], Params: map[string]float64{}}
	for _, kv := range strings.Split(key[open+1:close], ",") {
		k, v, _ := strings.Cut(kv, "=")
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		s.Params[k] = f
	}
	line := "value"
	if rest := key[close+1:]; rest != "" {
		line = strings.TrimPrefix(rest, ".")
	}
	return s, line
}

func barsFromColumns(cols map[string][]float64) []marketdata.Bar {
	bars := make([]marketdata.Bar, len(cols["close"]))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range bars {
		bars[i] = marketdata.Bar{Time: t0.Add(time.Duration(i) * time.Hour), Open: cols["open"][i], High: cols["high"][i],
			Low: cols["low"][i], Close: cols["close"][i], Volume: cols["volume"][i]}
	}
	return bars
}

// TestTALibPeriodOne compares every period-1 case that TA-Lib accepts for
// our indicators (ATR, NATR, PLUS_DI, MINUS_DI, ROC, MOM, STOCH with periods
// of 1, STOCHRSI with fast periods of 1), and ATR/NATR(14)
// beside them, with the real TA-Lib's output on two series: the same first
// valid bar, NaN before it, and bit-identical values.
// NATR(1) is TA-Lib's raw true range, not divided by the close (ta_NATR.c
// returns TA_TRANGE for a period of 1).
func TestTALibPeriodOne(t *testing.T) {
	for name, s := range loadTALibPeriod1(t) {
		bars := talibRefBars()
		if s.Inputs != nil {
			bars = barsFromColumns(s.Inputs)
		}
		if len(s.Outputs) < 18 {
			t.Fatalf("%s: only %d outputs in the reference file", name, len(s.Outputs))
		}
		for key, want := range s.Outputs {
			spec, line := parseOutputKey(t, key)
			got, err := Compute(spec, bars)
			if err != nil {
				t.Fatalf("%s %s: %v", name, key, err)
			}
			g := got[line]
			if len(want.Values)+want.Begin != len(bars) {
				t.Fatalf("%s %s: reference has %d values from %d for %d bars", name, key, len(want.Values), want.Begin, len(bars))
			}
			for i := 0; i < want.Begin; i++ {
				if !math.IsNaN(g[i]) {
					t.Errorf("%s %s: bar %d = %v, want NaN (TA-Lib's first value is bar %d)", name, key, i, g[i], want.Begin)
					break
				}
			}
			for j, w := range want.Values {
				i := want.Begin + j
				if g[i] != w {
					t.Errorf("%s %s: bar %d = %.17g, TA-Lib %.17g", name, key, i, g[i], w)
					break
				}
			}
		}
	}
}

// TestPeriodOneWhereTALibRefuses: SMA, EMA, WMA, DEMA, TEMA of period 1 are
// the source itself, and MACD with signal 1 has its signal on the MACD line
// (TA-Lib refuses the first and returns unusable values for the second).
func TestPeriodOneWhereTALibRefuses(t *testing.T) {
	bars := talibRefBars()
	for _, typ := range []string{"SMA", "EMA", "WMA", "DEMA", "TEMA"} {
		out, err := Compute(Spec{Type: typ, Params: map[string]float64{"period": 1}}, bars)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range out["value"] {
			if math.Abs(v-bars[i].Close) > 1e-9 {
				t.Fatalf("%s(1)[%d] = %v, want the close %v", typ, i, v, bars[i].Close)
			}
		}
	}
	out, err := Compute(Spec{Type: "MACD", Params: map[string]float64{"signal": 1}}, bars)
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(out["macd"][24]) || math.IsNaN(out["macd"][25]) {
		t.Fatalf("MACD(12,26,1): first value at bar %v, want 25", out["macd"][24:26])
	}
	for i := 25; i < len(bars); i++ {
		if math.Abs(out["signal"][i]-out["macd"][i]) > 1e-12 || math.Abs(out["hist"][i]) > 1e-12 {
			t.Fatalf("MACD(12,26,1)[%d]: macd %v signal %v hist %v", i, out["macd"][i], out["signal"][i], out["hist"][i])
		}
	}
}
