package indicators

import (
	"math"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

func bar(t time.Time, h, l, c, v float64) marketdata.Bar {
	return marketdata.Bar{Time: t, Open: (h + l) / 2, High: h, Low: l, Close: c, Volume: v}
}

// TestVWAPHandComputed checks the session-anchored VWAP on hourly bars.
//
//	bar  time (UTC)        high  low  close  vol   tp    cum tp*v  cum v  VWAP
//	0    03-01 22:00       1     1    1      10    1     -         -      NaN (day started before the series)
//	1    03-01 23:00       2     2    2      10    2     -         -      NaN
//	2    03-02 00:00       10    8    9      100   9     900       100    9
//	3    03-02 01:00       12    9    12     300   11    4200      400    10.5
//	4    03-02 02:00       12    10   11     0     11    4200      400    10.5
//	5    03-03 00:00       20    16   18     0     18    0         0      NaN (no volume yet)
//	6    03-03 01:00       21    18   21     50    20    1000      50     20
//	7    03-03 02:00       22    20   24     150   22    4300      200    21.5
func TestVWAPHandComputed(t *testing.T) {
	d := func(day, hour int) time.Time { return time.Date(2024, 3, day, hour, 0, 0, 0, time.UTC) }
	bars := []marketdata.Bar{
		bar(d(1, 22), 1, 1, 1, 10),
		bar(d(1, 23), 2, 2, 2, 10),
		bar(d(2, 0), 10, 8, 9, 100),
		bar(d(2, 1), 12, 9, 12, 300),
		bar(d(2, 2), 12, 10, 11, 0),
		bar(d(3, 0), 20, 16, 18, 0),
		bar(d(3, 1), 21, 18, 21, 50),
		bar(d(3, 2), 22, 20, 24, 150),
	}
	want := []float64{math.NaN(), math.NaN(), 9, 10.5, 10.5, math.NaN(), 20, 21.5}
	out, err := Compute(Spec{Type: "vwap"}, bars)
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "VWAP", out["value"], want, 1e-12)

	// A series that starts exactly at 00:00 UTC has a complete first day.
	out, err = Compute(Spec{Type: "VWAP"}, bars[2:])
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "VWAP from midnight", out["value"], want[2:], 1e-12)

	// Bars given in local time zones are assigned to UTC days.
	local := append([]marketdata.Bar(nil), bars...)
	zone := time.FixedZone("UTC+5", 5*3600)
	for i := range local {
		local[i].Time = local[i].Time.In(zone)
	}
	out, err = Compute(Spec{Type: "VWAP"}, local)
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "VWAP with zoned times", out["value"], want, 1e-12)
}

// TestVWAPMissingMidnightBar: a day whose 00:00 bar is missing (a gap over
// midnight, an exchange outage) is anchored at its first bar, as
// TradingView's session VWAP is; only the series' first day, which may have
// begun before the series, waits for a midnight.
//
//	bar  time (UTC)        high  low  close  vol   tp    cum tp*v  cum v  VWAP
//	0    03-01 21:00       4     2    3      10    3     -         -      NaN (series starts mid-day)
//	1    03-01 22:00       5     3    4      10    4     -         -      NaN
//	     (no bars 23:00 .. 02:00: outage over midnight)
//	2    03-02 03:00       11    9    10     100   10    1000      100    10
//	3    03-02 04:00       14    11   14     300   13    4900      400    12.25
//	     (no bars 03-02 05:00 .. 03-03 05:00)
//	4    03-03 06:00       20    18   19     40    19    760       40     19
//	5    03-03 07:00       23    20   20     60    21    2020      100    20.2
//	6    03-04 00:00       30    30   30     10    30    300       10     30
func TestVWAPMissingMidnightBar(t *testing.T) {
	d := func(day, hour int) time.Time { return time.Date(2024, 3, day, hour, 0, 0, 0, time.UTC) }
	bars := []marketdata.Bar{
		bar(d(1, 21), 4, 2, 3, 10),
		bar(d(1, 22), 5, 3, 4, 10),
		bar(d(2, 3), 11, 9, 10, 100),
		bar(d(2, 4), 14, 11, 14, 300),
		bar(d(3, 6), 20, 18, 19, 40),
		bar(d(3, 7), 23, 20, 20, 60),
		bar(d(4, 0), 30, 30, 30, 10),
	}
	nan := math.NaN()
	want := []float64{nan, nan, 10, 12.25, 19, 20.2, 30}
	out, err := Compute(Spec{Type: "VWAP"}, bars)
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "VWAP over gaps", out["value"], want, 1e-12)
}

func TestVWAPRejectsUnorderedBars(t *testing.T) {
	t0 := time.Date(2024, 3, 2, 0, 0, 0, 0, time.UTC)
	bars := []marketdata.Bar{bar(t0, 2, 1, 1, 1), bar(t0.Add(time.Hour), 2, 1, 1, 1), bar(t0.Add(time.Hour), 2, 1, 1, 1)}
	if _, err := Compute(Spec{Type: "VWAP"}, bars); err == nil {
		t.Fatal("Compute(VWAP) with two bars at the same time: want error")
	}
}

// TestSupertrendHandComputed checks SUPERTREND(period 3, multiplier 1) on
// eleven bars, worked by hand from the definition in the package doc (ATR is
// TradingView's: bar 0's true range is high − low, and the average is seeded
// with the mean true range of bars 0..2, so the first value is on bar 2):
//
//	bar  high  low   close  TR    ATR          mid    basicU    basicL   upper     lower    dir  supertrend
//	0    11    9     10     2     -
//	1    12    10    11     2     -
//	2    13    11    12     2     2            12     14        10       14        10       -1   14 (first: down, upper band)
//	3    14    12    13     2     2            13     15        11       14 (held) 11       -1   14 (13 <= 14)
//	4    15    13    14     2     2            14     16        12       14 (held) 12       -1   14 (14 <= 14)
//	5    16    14    15.5   2     2            15     17        13       14 (held) 13       +1   13 (15.5 > 14: flip up)
//	6    15    11    11.5   4.5   17/6         13     15.8333   10.1667  15.8333   13 (held) -1  15.8333 (upper reset: close 15.5 > 14; 11.5 < 13: flip down)
//	7    12    8     8.5    4     29/9         10     13.2222   6.7778   13.2222   6.7778   -1   13.2222 (lower reset: close 11.5 < 13)
//	8    10    8     9.5    2     76/27        9      11.8148   6.1852   11.8148   6.7778   -1   11.8148 (lower held)
//	9    12    9.5   11.5   2.5   439/162      10.75  13.4599   8.0401   11.8148   8.0401   -1   11.8148 (upper held: 13.46 > 11.81)
//	10   13    11    12.5   2     601/243      12     14.4733   9.5267   11.8148   9.5267   +1   9.5267 (12.5 > 11.8148: flip up)
//
// ATR: (2·2+4.5)/3 = 17/6; (2·17/6+4)/3 = 29/9; (2·29/9+2)/3 = 76/27;
// (2·76/27+2.5)/3 = 439/162; (2·439/162+2)/3 = 601/243.
func TestSupertrendHandComputed(t *testing.T) {
	rows := [][3]float64{{11, 9, 10}, {12, 10, 11}, {13, 11, 12}, {14, 12, 13}, {15, 13, 14}, {16, 14, 15.5},
		{15, 11, 11.5}, {12, 8, 8.5}, {10, 8, 9.5}, {12, 9.5, 11.5}, {13, 11, 12.5}}
	bars := make([]marketdata.Bar, len(rows))
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, r := range rows {
		bars[i] = bar(t0.AddDate(0, 0, i), r[0], r[1], r[2], 1)
	}
	nan := math.NaN()
	wantST := []float64{nan, nan, 14, 14, 14, 13, 13 + 17.0/6, 10 + 29.0/9, 9 + 76.0/27, 9 + 76.0/27, 12 - 601.0/243}
	wantDir := []float64{nan, nan, -1, -1, -1, 1, -1, -1, -1, -1, 1}
	out, err := Compute(Spec{Type: "SuperTrend", Params: map[string]float64{"period": 3, "multiplier": 1}}, bars)
	if err != nil {
		t.Fatal(err)
	}
	assertSeries(t, "supertrend", out["supertrend"], wantST, 1e-9)
	assertSeries(t, "direction", out["direction"], wantDir, 0)
}

func assertSeries(t *testing.T, name string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len = %d, want %d", name, len(got), len(want))
	}
	for i := range want {
		if math.IsNaN(want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(want[i]) && math.Abs(got[i]-want[i]) > tol) {
			t.Errorf("%s[%d] = %v, want %v", name, i, got[i], want[i])
		}
	}
}
