package marketdata

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUncovered(t *testing.T) {
	at := func(h int) time.Time { return time.Date(2026, 11, 30, h, 0, 0, 0, time.UTC) }
	sp := func(a, b int) Span { return Span{From: at(a), To: at(b)} }
	for _, c := range []struct {
		name  string
		spans []Span
		want  []Span
	}{
		{"nothing stored", nil, []Span{sp(2, 10)}},
		{"all stored", []Span{sp(0, 12)}, nil},
		{"tail missing", []Span{sp(0, 7)}, []Span{sp(7, 10)}},
		{"head missing", []Span{sp(5, 11)}, []Span{sp(2, 5)}},
		{"two gaps", []Span{sp(1, 3), sp(4, 6), sp(8, 10)}, []Span{sp(3, 4), sp(6, 8)}},
		{"spans outside", []Span{sp(0, 1), sp(11, 12)}, []Span{sp(2, 10)}},
	} {
		got := uncovered(at(2), at(10), c.spans)
		if len(got) != len(c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("%s: %v, want %v", c.name, got, c.want)
			}
		}
	}
}

// brokenStore fails every read and write, as a database that is down.
type brokenStore struct{ loads, saves int }

var errDown = errors.New("database is down")

func (b *brokenStore) LoadBars(context.Context, SeriesKey, time.Time, time.Time) ([]Bar, []Span, error) {
	b.loads++
	return nil, nil, errDown
}

func (b *brokenStore) SaveBars(context.Context, SeriesKey, []Bar, Span) error {
	b.saves++
	return errDown
}

// A bar store that fails leaves lookups to the provider, as without one.
func TestBrokenBarStoreFallsBackToTheProvider(t *testing.T) {
	clock := newClock(mustTime(t, "2026-11-30T10:20:00Z"))
	bin := newFakeBinance(t, clock)
	o := testOptions(clock, bin, nil)
	o.Providers = []string{"binance"}
	st := &brokenStore{}
	o.BarStore = st
	c := newTestClient(t, o)
	s, err := c.Series(context.Background(), Request{Symbol: "BTCUSDT", Timeframe: "1h", Bars: 50})
	if err != nil || len(s.Closed) != 50 || s.Provider != "binance" {
		t.Fatalf("series %d bars from %q: %v", len(s.Closed), s.Provider, err)
	}
	if st.loads != 1 || st.saves != 0 || len(bin.requests()) != 1 {
		t.Fatalf("store loads %d, saves %d, provider requests %d; want 1, 0, 1", st.loads, st.saves, len(bin.requests()))
	}
}
