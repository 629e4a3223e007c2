package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// barClock is a settable clock shared by the fake exchange, the client and
// the store.
type barClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *barClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *barClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// klineReq is one request the fake exchange answered.
type klineReq struct {
	Symbol     string
	Start, End time.Time
}

// fakeExchange speaks Binance's GET /api/v3/klines for 1h bars: a bar opens
// every hour up to the clock (the last one forming) when trading(t) says
// the market is open. It records every request.
type fakeExchange struct {
	clock   *barClock
	trading func(symbol string, t time.Time) bool

	mu   sync.Mutex
	reqs []klineReq
}

func priceAt(t time.Time) float64 { return 100 + float64(t.Unix()/3600%89) }

func (f *fakeExchange) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	start, err1 := strconv.ParseInt(q.Get("startTime"), 10, 64)
	end, err2 := strconv.ParseInt(q.Get("endTime"), 10, 64)
	limit, err3 := strconv.Atoi(q.Get("limit"))
	if r.URL.Path != "/api/v3/klines" || q.Get("interval") != "1h" || err1 != nil || err2 != nil || err3 != nil {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"code":-1100,"msg":"Illegal characters found in a parameter."}`)
		return
	}
	sym := q.Get("symbol")
	f.mu.Lock()
	f.reqs = append(f.reqs, klineReq{Symbol: sym, Start: time.UnixMilli(start).UTC(), End: time.UnixMilli(end).UTC()})
	f.mu.Unlock()
	now := f.clock.Now()
	rows := [][]any{}
	t := time.UnixMilli(start).UTC().Truncate(time.Hour)
	if t.UnixMilli() < start {
		t = t.Add(time.Hour)
	}
	for ; t.UnixMilli() <= end && !t.After(now) && len(rows) < limit; t = t.Add(time.Hour) {
		if f.trading != nil && !f.trading(sym, t) {
			continue
		}
		p := priceAt(t)
		ms := t.UnixMilli()
		rows = append(rows, []any{ms, ff(p), ff(p + 2), ff(p - 1), ff(p + 1), "12.5", ms + 3_599_999, "1000", 10, "6", "600", "0"})
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(rows)
}

func ff(v float64) string { return strconv.FormatFloat(v, 'f', 8, 64) }

// take returns and forgets the recorded requests.
func (f *fakeExchange) take() []klineReq {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// barWorld is one test's exchange and clock.
type barWorld struct {
	t     *testing.T
	clock *barClock
	ex    *fakeExchange
	url   string
}

func newBarWorld(t *testing.T, now time.Time) *barWorld {
	clock := &barClock{t: now}
	ex := &fakeExchange{clock: clock}
	srv := httptest.NewServer(ex)
	t.Cleanup(srv.Close)
	return &barWorld{t: t, clock: clock, ex: ex, url: srv.URL}
}

// client is a fresh market data client (an empty memory cache, as after a
// restart) over bars.
func (w *barWorld) client(bars *store.Bars) *marketdata.Client {
	w.t.Helper()
	o := marketdata.DefaultOptions()
	o.Providers = []string{"binance"}
	o.BinanceBaseURL = w.url
	o.Now = w.clock.Now
	o.MaxRetries = 0
	o.BarStore = bars
	c, err := marketdata.New(o)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

func (w *barWorld) bars(db *store.DB, retention time.Duration) *store.Bars {
	b := db.Bars(retention)
	b.Now = w.clock.Now
	return b
}

func (w *barWorld) series(c *marketdata.Client, symbol string, n int, now time.Time) marketdata.Series {
	w.t.Helper()
	s, err := c.Series(context.Background(), marketdata.Request{Symbol: symbol, Timeframe: "1h", Bars: n, Now: now})
	if err != nil {
		w.t.Fatalf("series %s %d bars at %s: %v", symbol, n, now, err)
	}
	return s
}

func hour(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// A restarted process (new client, new memory cache, same database) asks
// the provider only for the forming bar: every closed bar it had is read
// from the store, and equals what the first process fetched.
func TestBarStoreRestartRefetchesNothingStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newBarWorld(t, hour("2026-11-30T10:20:00Z"))
		first := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 100, time.Time{})
		if n := len(w.ex.take()); n != 1 || len(first.Closed) != 100 {
			t.Fatalf("first fetch: %d requests, %d bars; want 1 request, 100 bars", n, len(first.Closed))
		}
		w.clock.Add(5 * time.Minute) // still within the 10:00 bar
		again := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 100, time.Time{})
		reqs := w.ex.take()
		if len(reqs) != 1 || !reqs[0].Start.Equal(hour("2026-11-30T10:00:00Z")) {
			t.Fatalf("after restart: requests %+v, want one for the forming 10:00 bar only", reqs)
		}
		if len(again.Closed) != 100 || again.Forming == nil || !again.Forming.Time.Equal(hour("2026-11-30T10:00:00Z")) {
			t.Fatalf("after restart: %d closed bars, forming %v", len(again.Closed), again.Forming)
		}
		for i := range first.Closed {
			if first.Closed[i] != again.Closed[i] {
				t.Fatalf("bar %d: stored %+v, fetched %+v", i, again.Closed[i], first.Closed[i])
			}
		}
		// Two hours later the restart fetches the tail from the bar that
		// was forming: 10:00 (now closed), 11:00, and the forming 12:00.
		w.clock.Add(2 * time.Hour)
		late := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 100, time.Time{})
		reqs = w.ex.take()
		if len(reqs) != 1 || !reqs[0].Start.Equal(hour("2026-11-30T10:00:00Z")) || !late.Closed[99].Time.Equal(hour("2026-11-30T11:00:00Z")) {
			t.Fatalf("two hours later: requests %+v, last closed %s", reqs, late.Closed[99].Time)
		}
		// History that lies wholly in the store needs no request at all.
		old := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 50, hour("2026-11-30T08:59:59.999Z"))
		if reqs := w.ex.take(); len(reqs) != 0 || len(old.Closed) != 50 || !old.Closed[49].Time.Equal(hour("2026-11-30T07:00:00Z")) {
			t.Fatalf("stored history: requests %+v, %d bars", reqs, len(old.Closed))
		}
	})
}

// Stretches missing between stored ones are fetched with one request each,
// exactly the missing open times.
func TestBarStoreFillsGapsOneRequestEach(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newBarWorld(t, hour("2026-11-30T10:20:00Z"))
		c := w.client(w.bars(db, 0))
		// History requests (no memory cache) for 20 bars closed at T
		// leave three stored stretches [T-21h, T) (the bar opening at T-1h
		// is still forming at T) for T = 06:00 on the 26th, 27th and 28th.
		t1, t2, t3 := hour("2026-11-26T06:00:00Z"), hour("2026-11-27T06:00:00Z"), hour("2026-11-28T06:00:00Z")
		for _, at := range []time.Time{t1, t2, t3} {
			w.series(c, "ETHUSDT", 20, at.Add(-time.Millisecond))
		}
		if n := len(w.ex.take()); n != 3 {
			t.Fatalf("seeding made %d requests, want 3", n)
		}
		s := w.series(w.client(w.bars(db, 0)), "ETHUSDT", 90, t3.Add(-time.Millisecond))
		reqs := w.ex.take()
		want := []klineReq{
			{"ETHUSDT", t3.Add(-91 * time.Hour), t1.Add(-21*time.Hour - time.Millisecond)}, // before the first stretch
			{"ETHUSDT", t1, t2.Add(-21*time.Hour - time.Millisecond)},                      // between the first two
			{"ETHUSDT", t2, t3.Add(-21*time.Hour - time.Millisecond)},                      // between the last two
		}
		if len(reqs) != len(want) {
			t.Fatalf("requests %+v, want %+v", reqs, want)
		}
		for i := range want {
			if reqs[i] != want[i] {
				t.Errorf("request %d = %+v, want %+v", i, reqs[i], want[i])
			}
		}
		if len(s.Closed) != 90 || len(s.Gaps) != 0 {
			t.Fatalf("%d bars with gaps %v, want 90 contiguous", len(s.Closed), s.Gaps)
		}
		for i, b := range s.Closed {
			if want := t3.Add(time.Duration(i-91) * time.Hour); !b.Time.Equal(want) || b.Close != priceAt(want)+1 {
				t.Fatalf("bar %d = %+v, want the bar of %s", i, b, want)
			}
		}
		// Now it is all stored: the same request needs nothing.
		w.series(w.client(w.bars(db, 0)), "ETHUSDT", 90, t3.Add(-time.Millisecond))
		if reqs := w.ex.take(); len(reqs) != 0 {
			t.Fatalf("filled history refetched: %+v", reqs)
		}
	})
}

// A market that closes: its nights are remembered as complete, so a restart
// asks only for the stretch after the last settled hour, never again for
// the nights.
func TestBarStoreRemembersClosedMarketHours(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newBarWorld(t, hour("2026-11-30T23:20:00Z")) // a Monday night
		w.ex.trading = func(_ string, t time.Time) bool {
			wd := t.Weekday()
			return wd != time.Saturday && wd != time.Sunday && t.Hour() >= 14 && t.Hour() <= 20
		}
		first := w.series(w.client(w.bars(db, 0)), "AAPL", 30, time.Time{})
		if len(first.Closed) != 30 || !first.Closed[29].Time.Equal(hour("2026-11-30T20:00:00Z")) {
			t.Fatalf("first fetch: %d bars, last %v", len(first.Closed), first.Closed)
		}
		// Widening asks each time only for the hours before the last window.
		reqs := w.ex.take()
		if len(reqs) != 3 || !reqs[1].End.Before(reqs[0].Start) || !reqs[2].End.Before(reqs[1].Start) {
			t.Fatalf("first fetch: requests %+v, want three that do not overlap", reqs)
		}
		w.clock.Add(30 * time.Minute)
		again := w.series(w.client(w.bars(db, 0)), "AAPL", 30, time.Time{})
		reqs = w.ex.take()
		// Settled: everything that closed an hour ago (up to 22:00). The
		// one request starts there, not at a night or the weekend, although
		// 30 bars of a market open 7 hours a day need the client to widen
		// its window twice (30, 120, then 480 hours).
		if len(reqs) != 1 || !reqs[0].Start.Equal(hour("2026-11-30T22:00:00Z")) {
			t.Fatalf("after restart: requests %+v, want one from 22:00", reqs)
		}
		if len(again.Closed) != 30 || again.Closed[0] != first.Closed[0] {
			t.Fatalf("after restart: %d bars", len(again.Closed))
		}
	})
}

// The forming bar is never stored, nor is the span of open times it lies in.
func TestBarStoreNeverStoresTheFormingBar(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newBarWorld(t, hour("2026-11-30T10:20:00Z"))
		bars := w.bars(db, 0)
		s := w.series(w.client(bars), "BTCUSDT", 10, time.Time{})
		if s.Forming == nil {
			t.Fatal("no forming bar served")
		}
		key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
		got, spans, err := bars.LoadBars(context.Background(), key, hour("2026-11-01T00:00:00Z"), hour("2027-01-01T00:00:00Z"))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 10 || !got[9].Time.Equal(hour("2026-11-30T09:00:00Z")) {
			t.Fatalf("stored %d bars, last %v; want 10 closed bars up to 09:00", len(got), got)
		}
		if len(spans) != 1 || !spans[0].To.Equal(hour("2026-11-30T10:00:00Z")) {
			t.Fatalf("spans %+v, want one ending at the forming bar's open", spans)
		}
	})
}

// Retention: bars older than it are not stored, and Prune deletes those that
// aged past it, clipping the spans so they are fetched (not assumed empty)
// if asked for again.
func TestBarStoreRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		w := newBarWorld(t, hour("2026-11-30T10:20:00Z"))
		bars := w.bars(db, 48*time.Hour)
		w.series(w.client(bars), "BTCUSDT", 100, time.Time{})
		key := marketdata.SeriesKey{Provider: "binance", Symbol: "BTCUSDT", Timeframe: "1h"}
		count := func() (int, []marketdata.Span) {
			got, spans, err := bars.LoadBars(ctx, key, hour("2026-01-01T00:00:00Z"), hour("2027-01-01T00:00:00Z"))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) > 0 && got[0].Time.Before(w.clock.Now().Add(-48*time.Hour)) {
				t.Fatalf("stored bar %s older than the retention", got[0].Time)
			}
			return len(got), spans
		}
		if n, spans := count(); n != 47 || !spans[0].From.Equal(hour("2026-11-28T11:00:00Z")) {
			t.Fatalf("stored %d bars, spans %+v; want the 47 closed bars inside 48 h", n, spans)
		}
		w.clock.Add(24 * time.Hour)
		res, err := bars.Prune(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n, spans := count()
		if res.Bars != 24 || n != 23 || res.Series != 1 || !spans[0].From.Equal(hour("2026-11-29T11:00:00Z")) {
			t.Fatalf("prune %+v left %d bars, spans %+v; want 24 deleted, 23 left from 11:00 on the 29th", res, n, spans)
		}
		st, err := bars.Stats(ctx)
		if err != nil || st.Bars != 23 || st.Series != 1 {
			t.Fatalf("stats %+v, %v", st, err)
		}
		if st.Bytes <= 0 {
			t.Fatalf("stats bytes %d", st.Bytes)
		}
	})
}

// Concurrent writers of the same bars (several instances filling one
// series) neither fail nor duplicate anything.
func TestBarStoreConcurrentUpsert(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key := marketdata.SeriesKey{Provider: "binance", Symbol: "SOLUSDT", Timeframe: "1h"}
		t0 := hour("2026-11-30T00:00:00Z")
		var errs [8]error
		var wg sync.WaitGroup
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := db.Bars(0) // one per instance: its own series id cache
				from := t0.Add(time.Duration(i) * time.Hour)
				var xs []marketdata.Bar
				for h := range 10 {
					at := from.Add(time.Duration(h) * time.Hour)
					p := priceAt(at)
					xs = append(xs, marketdata.Bar{Time: at, Open: p, High: p + 2, Low: p - 1, Close: p + 1, Volume: 1})
				}
				errs[i] = b.SaveBars(ctx, key, xs, marketdata.Span{From: from, To: from.Add(10 * time.Hour)})
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("writer %d: %v", i, err)
			}
		}
		got, spans, err := db.Bars(0).LoadBars(ctx, key, t0, t0.Add(48*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 17 || len(spans) != 1 || !spans[0].From.Equal(t0) || !spans[0].To.Equal(t0.Add(17*time.Hour)) {
			t.Fatalf("%d bars, spans %+v; want 17 bars in one span", len(got), spans)
		}
	})
}

// A feed that publishes late leaves no hole: a stretch without bars is
// taken as complete only an hour after it closed (or when a later bar came
// with it), so the bar published late is fetched when it appears.
func TestBarStoreLateFeedLeavesNoHole(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		w := newBarWorld(t, hour("2026-11-30T10:20:00Z"))
		var delay atomic.Int64
		delay.Store(int64(90 * time.Minute))
		w.ex.trading = func(_ string, at time.Time) bool { return !at.After(w.clock.Now().Add(-time.Duration(delay.Load()))) }
		late := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 20, time.Time{})
		if last := late.Closed[len(late.Closed)-1].Time; !last.Equal(hour("2026-11-30T08:00:00Z")) {
			t.Fatalf("delayed feed: last bar %s, want 08:00", last)
		}
		w.ex.take()
		delay.Store(0) // the feed catches up
		w.clock.Add(5 * time.Minute)
		s := w.series(w.client(w.bars(db, 0)), "BTCUSDT", 20, time.Time{})
		reqs := w.ex.take()
		if len(reqs) != 1 || !reqs[0].Start.Equal(hour("2026-11-30T09:00:00Z")) {
			t.Fatalf("after the feed caught up: requests %+v, want one from 09:00", reqs)
		}
		if last := s.Closed[len(s.Closed)-1].Time; !last.Equal(hour("2026-11-30T09:00:00Z")) || len(s.Gaps) != 0 {
			t.Fatalf("after the feed caught up: last bar %s, gaps %v; want 09:00 and none", last, s.Gaps)
		}
	})
}
