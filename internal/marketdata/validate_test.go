package marketdata

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

func hourly(t *testing.T, start string, n int) []Bar {
	t0 := mustTime(t, start)
	bars := make([]Bar, n)
	for i := range bars {
		bars[i] = synthBar(t0.Add(time.Duration(i) * time.Hour))
	}
	return bars
}

func TestValidateRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		mod  func([]Bar) []Bar
		want string
	}{
		{"duplicate", func(b []Bar) []Bar { b[2].Time = b[1].Time; return b }, "bar 2 at 2024-01-01T01:00:00Z: duplicate of bar 1"},
		{"out of order", func(b []Bar) []Bar { b[1], b[2] = b[2], b[1]; return b }, "bar 2 at 2024-01-01T01:00:00Z: out of order"},
		{"misaligned", func(b []Bar) []Bar { b[3].Time = b[3].Time.Add(time.Minute); return b }, "bar 3 at 2024-01-01T03:01:00Z: not aligned to 1h"},
		{"low above open", func(b []Bar) []Bar { b[1].Low = b[1].Open + 0.5; return b }, "bar 1 at 2024-01-01T01:00:00Z: low"},
		{"close above high", func(b []Bar) []Bar { b[0].Close = b[0].High + 1; return b }, "bar 0 at 2024-01-01T00:00:00Z: close"},
		{"open below low", func(b []Bar) []Bar { b[4].Open = b[4].Low - 1; return b }, "bar 4 at 2024-01-01T04:00:00Z: low"},
		{"negative volume", func(b []Bar) []Bar { b[2].Volume = -1; return b }, "volume -1 is negative"},
		{"NaN", func(b []Bar) []Bar { b[2].Close = math.NaN(); return b }, "close is NaN"},
		{"zero time", func(b []Bar) []Bar { b[0].Time = time.Time{}; return b }, "zero time"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Validate(tc.mod(hourly(t, "2024-01-01T00:00:00Z", 5)), "1h")
			if !errors.Is(err, ErrInvalidData) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
	daily := []Bar{synthBar(mustTime(t, "2024-01-02T14:30:00Z"))}
	if _, err := Validate(daily, "1d"); err == nil || !strings.Contains(err.Error(), "not aligned to 1d") {
		t.Errorf("daily bar at 14:30 accepted: %v", err)
	}
	if _, err := Validate(nil, "7h"); err == nil {
		t.Error("unknown timeframe accepted")
	}
}

func TestValidateGapsAndPhase(t *testing.T) {
	bars := hourly(t, "2024-01-01T00:30:00Z", 6)
	bars = append(bars[:2], bars[5:]...) // drop 02:30, 03:30, 04:30
	gaps, err := Validate(bars, "1h")
	if err != nil {
		t.Fatal(err)
	}
	if len(gaps) != 1 || gaps[0].Missing != 3 || !gaps[0].From.Equal(mustTime(t, "2024-01-01T02:30:00Z")) || !gaps[0].To.Equal(mustTime(t, "2024-01-01T05:30:00Z")) {
		t.Errorf("gaps = %+v", gaps)
	}
	months := []Bar{synthBar(mustTime(t, "2024-01-01T00:00:00Z")), synthBar(mustTime(t, "2024-04-01T00:00:00Z"))}
	gaps, err = Validate(months, "1M")
	if err != nil || len(gaps) != 1 || gaps[0].Missing != 2 {
		t.Errorf("monthly gaps = %+v, %v", gaps, err)
	}
}

func TestTimeframeAddAndSplit(t *testing.T) {
	if got := Timeframe("1M").Add(mustTime(t, "2024-03-01T00:00:00Z"), -2); !got.Equal(mustTime(t, "2024-01-01T00:00:00Z")) {
		t.Errorf("1M Add = %s", got)
	}
	if got := Timeframe("1w").Add(mustTime(t, "2024-03-04T00:00:00Z"), -1); !got.Equal(mustTime(t, "2024-02-26T00:00:00Z")) {
		t.Errorf("1w Add = %s", got)
	}
	if got := Timeframe("4h").Add(mustTime(t, "2024-03-04T00:00:00Z"), 3); !got.Equal(mustTime(t, "2024-03-04T12:00:00Z")) {
		t.Errorf("4h Add = %s", got)
	}
	bars := hourly(t, "2024-01-01T00:00:00Z", 4) // 00:00 .. 03:00
	closed, forming := Timeframe("1h").Split(bars, mustTime(t, "2024-01-01T03:59:59Z"))
	if len(closed) != 3 || forming == nil || !forming.Time.Equal(bars[3].Time) {
		t.Errorf("03:59:59: %d closed, forming %v", len(closed), forming)
	}
	closed, forming = Timeframe("1h").Split(bars, mustTime(t, "2024-01-01T04:00:00Z"))
	if len(closed) != 4 || forming != nil {
		t.Errorf("04:00: %d closed, forming %v", len(closed), forming)
	}
	closed, forming = Timeframe("1h").Split(bars, mustTime(t, "2024-01-01T01:30:00Z"))
	if len(closed) != 1 || forming == nil || !forming.Time.Equal(bars[1].Time) {
		t.Errorf("01:30: %d closed, forming %v", len(closed), forming)
	}
}
