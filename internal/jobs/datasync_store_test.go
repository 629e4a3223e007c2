package jobs

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
	"github.com/atf/scheduler/internal/store"
	"github.com/atf/scheduler/internal/store/storetest"
)

// data_sync fills the database's bar store: after a restart (a new client
// and cache over the same database) an alert on a synced series asks the
// provider only for the forming bar.
func TestScheduleDataSyncFillsTheBarStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		upstream, requests := fakeBinance(t)
		// Record where each request starts, in front of the fake exchange.
		var mu sync.Mutex
		var starts []time.Time
		target, _ := url.Parse(upstream.URL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ms, _ := strconv.ParseInt(r.URL.Query().Get("startTime"), 10, 64)
			mu.Lock()
			starts = append(starts, time.UnixMilli(ms).UTC())
			mu.Unlock()
			proxy.ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		clk := newClock(t0)
		newClient := func() *marketdata.Client {
			bars := db.Bars(0)
			bars.Now = clk.now
			o := marketdata.DefaultOptions()
			o.Providers, o.BinanceBaseURL, o.Now, o.Logger, o.BarStore = []string{"binance"}, srv.URL, clk.now, quiet, bars
			c, err := marketdata.New(o)
			must(t, err)
			return c
		}
		f := newFixture(t, db, func(d *Deps) { d.Market = newClient(); d.Now = clk.now })
		sc := f.schedule("sync", "schedule", `{"action": "data_sync", "parameters": {"symbols": ["BTCUSDT"], "timeframes": ["1h", "4h"], "days_back": 30}}`)
		if r := f.run(sc, 1); r.Status != store.StatusCompleted {
			t.Fatalf("data_sync %s %q", r.Status, r.Error)
		}
		st, err := db.Bars(0).Stats(context.Background())
		if err != nil || st.Series != 2 || st.Bars != 30*24+30*6 {
			t.Fatalf("bar store after data_sync: %+v, %v; want 2 series, 900 closed bars", st, err)
		}

		clk.set(t0.Add(10 * time.Minute))
		f = newFixture(t, db, func(d *Deps) { d.Market = newClient(); d.Now = clk.now })
		before := requests.Load()
		a := f.schedule("warm-alert", "alert", `{"ticker": "BTCUSDT", "timeframe": "1h", "rule": {"gt": {"lhs": {"field": "close"}, "rhs": {"value": 1}}}}`)
		if r := f.run(a, 1); r.Status != store.StatusCompleted {
			t.Fatalf("alert %s %q", r.Status, r.Error)
		}
		mu.Lock()
		last := starts[len(starts)-1]
		mu.Unlock()
		if n := requests.Load() - before; n != 1 || !last.Equal(time.Date(2024, 3, 4, 13, 0, 0, 0, time.UTC)) {
			t.Fatalf("alert after a restart made %d requests, the last from %s; want 1, for the forming 13:00 bar", n, last)
		}
	})
}
