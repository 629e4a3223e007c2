package marketdata

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// mustTime parses an RFC 3339 time or fails the test.
func mustTime(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// synthBar returns a deterministic, valid bar opening at t.
func synthBar(t time.Time) Bar {
	base := 100 + float64(t.Unix()/60%97)
	return Bar{Time: t.UTC(), Open: base, High: base + 2, Low: base - 1, Close: base + 1, Volume: 10 + float64(t.Unix()/60%7)}
}

// script is a queue of failure modes a fake server plays before answering
// normally: "500", "429", "418", "timeout", "malformed", "empty",
// "outoforder", "notfound".
type script struct {
	mu    sync.Mutex
	steps []string
}

func (s *script) push(steps ...string) {
	s.mu.Lock()
	s.steps = append(s.steps, steps...)
	s.mu.Unlock()
}

func (s *script) next() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.steps) == 0 {
		return ""
	}
	st := s.steps[0]
	s.steps = s.steps[1:]
	return st
}

// fakeBinance speaks GET /api/v3/klines with synthetic bars for every
// symbol ending in USDT, from listing to the clock's now (the last one
// forming).
type fakeBinance struct {
	*httptest.Server
	clock   *fakeClock
	listing time.Time
	script  script
	hits    atomic.Int64
	// gate, when set, blocks each normal answer until it is closed.
	gate chan struct{}

	mu   sync.Mutex
	reqs []*http.Request
}

func newFakeBinance(t testing.TB, clock *fakeClock) *fakeBinance {
	f := &fakeBinance{clock: clock, listing: mustTime(t, "2020-01-01T00:00:00Z")}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeBinance) requests() []*http.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*http.Request(nil), f.reqs...)
}

func (f *fakeBinance) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, r)
	f.mu.Unlock()
	w.Header().Set("X-MBX-USED-WEIGHT-1M", strconv.FormatInt(f.hits.Load()*2, 10))
	if r.URL.Path != "/api/v3/klines" {
		http.NotFound(w, r)
		return
	}
	q := r.URL.Query()
	switch f.script.next() {
	case "500":
		w.WriteHeader(500)
		io.WriteString(w, "<html>Internal Server Error</html>")
		return
	case "429":
		w.Header().Set("Retry-After", "120")
		w.WriteHeader(429)
		io.WriteString(w, `{"code":-1003,"msg":"Too much request weight used; current limit is 6000 request weight per 1 MINUTE."}`)
		return
	case "418":
		w.Header().Set("Retry-After", "600")
		w.WriteHeader(418)
		io.WriteString(w, `{"code":-1003,"msg":"Way too much request weight used; IP banned until 1700000000000."}`)
		return
	case "timeout":
		<-r.Context().Done()
		return
	case "malformed":
		io.WriteString(w, `[[1700000000000,"1.0","2.0"`)
		return
	case "empty":
		io.WriteString(w, `[]`)
		return
	case "notfound":
		w.WriteHeader(400)
		io.WriteString(w, `{"code":-1121,"msg":"Invalid symbol."}`)
		return
	case "outoforder":
		io.WriteString(w, `[[1700006400000,"1","2","0.5","1.5","10",1700009999999,"15",3,"5","7","0"],`+
			`[1700002800000,"1","2","0.5","1.5","10",1700006399999,"15",3,"5","7","0"]]`)
		return
	}
	if f.gate != nil {
		<-f.gate
	}
	sym := q.Get("symbol")
	if !strings.HasSuffix(sym, "USDT") {
		w.WriteHeader(400)
		io.WriteString(w, `{"code":-1121,"msg":"Invalid symbol."}`)
		return
	}
	tf, err := ParseTimeframe(q.Get("interval"))
	if err != nil {
		w.WriteHeader(400)
		io.WriteString(w, `{"code":-1120,"msg":"Invalid interval."}`)
		return
	}
	start, _ := strconv.ParseInt(q.Get("startTime"), 10, 64)
	end, _ := strconv.ParseInt(q.Get("endTime"), 10, 64)
	limit, _ := strconv.Atoi(q.Get("limit"))
	if limit <= 0 || limit > 1000 {
		limit = 500
	}
	now := f.clock.Now()
	t := tf.Open(time.UnixMilli(start))
	if t.Before(time.UnixMilli(start)) {
		t = tf.Next(t)
	}
	if t.Before(f.listing) {
		t = f.listing
	}
	rows := []string{}
	for ; !t.After(time.UnixMilli(end)) && !t.After(now) && len(rows) < limit; t = tf.Next(t) {
		b := synthBar(t)
		ff := func(v float64) string { return strconv.FormatFloat(v, 'f', 8, 64) }
		rows = append(rows, fmt.Sprintf(`[%d,"%s","%s","%s","%s","%s",%d,"%s",%d,"%s","%s","0"]`,
			t.UnixMilli(), ff(b.Open), ff(b.High), ff(b.Low), ff(b.Close), ff(b.Volume),
			tf.Next(t).UnixMilli()-1, ff(b.Volume*b.Close), 42, ff(b.Volume/2), ff(b.Volume*b.Close/2)))
	}
	w.Header().Set("Content-Type", "application/json;charset=UTF-8")
	io.WriteString(w, "["+strings.Join(rows, ",")+"]")
}

// fakeYahoo speaks GET /v8/finance/chart/{symbol} with synthetic 24/7 bars
// (as for BTC-USD), every fifth one null, plus scripted failures.
type fakeYahoo struct {
	*httptest.Server
	clock  *fakeClock
	script script
	hits   atomic.Int64

	mu  sync.Mutex
	uas []string
}

func newFakeYahoo(t testing.TB, clock *fakeClock) *fakeYahoo {
	f := &fakeYahoo{clock: clock}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

var yahooIntervals = map[string]Timeframe{"1m": "1m", "5m": "5m", "15m": "15m", "30m": "30m", "60m": "1h", "1d": "1d", "1wk": "1w", "1mo": "1M"}

func (f *fakeYahoo) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	f.mu.Lock()
	f.uas = append(f.uas, r.Header.Get("User-Agent"))
	f.mu.Unlock()
	sym, ok := strings.CutPrefix(r.URL.Path, "/v8/finance/chart/")
	if !ok {
		http.NotFound(w, r)
		return
	}
	switch f.script.next() {
	case "500":
		w.WriteHeader(500)
		return
	case "429":
		w.WriteHeader(429)
		io.WriteString(w, "Too Many Requests\r\n")
		return
	case "timeout":
		<-r.Context().Done()
		return
	case "malformed":
		io.WriteString(w, `{"chart":{"result":[{"meta":`)
		return
	case "notfound":
		w.WriteHeader(404)
		io.WriteString(w, `{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}`)
		return
	}
	if strings.HasSuffix(sym, "USDT") {
		w.WriteHeader(404)
		io.WriteString(w, `{"chart":{"result":null,"error":{"code":"Not Found","description":"No data found, symbol may be delisted"}}}`)
		return
	}
	q := r.URL.Query()
	tf, ok := yahooIntervals[q.Get("interval")]
	if !ok {
		w.WriteHeader(422)
		io.WriteString(w, `{"chart":{"result":null,"error":{"code":"Unprocessable Entity","description":"Invalid input - interval=`+q.Get("interval")+` is not supported."}}}`)
		return
	}
	p1, _ := strconv.ParseInt(q.Get("period1"), 10, 64)
	p2, _ := strconv.ParseInt(q.Get("period2"), 10, 64)
	now := f.clock.Now()
	var ts []int64
	var o, h, l, c, v []*float64
	t := tf.Open(time.Unix(p1, 0))
	if t.Before(time.Unix(p1, 0)) {
		t = tf.Next(t)
	}
	for i := 0; t.Before(time.Unix(p2, 0)) && !t.After(now); t, i = tf.Next(t), i+1 {
		ts = append(ts, t.Unix())
		if t.Unix()/int64(tf.Duration().Seconds())%5 == 3 {
			o, h, l, c, v = append(o, nil), append(h, nil), append(l, nil), append(c, nil), append(v, nil)
			continue
		}
		b := synthBar(t)
		o, h, l, c, v = append(o, &b.Open), append(h, &b.High), append(l, &b.Low), append(c, &b.Close), append(v, &b.Volume)
	}
	res := map[string]any{
		"meta": map[string]any{"currency": "USD", "symbol": sym, "exchangeName": "CCC", "instrumentType": "CRYPTOCURRENCY",
			"gmtoffset": 0, "timezone": "UTC", "exchangeTimezoneName": "UTC", "dataGranularity": q.Get("interval")},
		"timestamp":  ts,
		"indicators": map[string]any{"quote": []any{map[string]any{"open": o, "high": h, "low": l, "close": c, "volume": v}}},
	}
	if len(ts) == 0 {
		delete(res, "timestamp")
		res["indicators"] = map[string]any{"quote": []any{map[string]any{}}}
	}
	json.NewEncoder(w).Encode(map[string]any{"chart": map[string]any{"result": []any{res}, "error": nil}})
}

// testOptions returns options wired to the fake servers, with no retry delay
// and a quiet logger.
func testOptions(clock *fakeClock, bin *fakeBinance, yah *fakeYahoo) Options {
	o := DefaultOptions()
	o.Now = clock.Now
	o.Sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	o.Timeout = 5 * time.Second
	o.Logger = slog.New(slog.DiscardHandler)
	o.RateLimits = nil // the fakes do not limit; rate-limit tests set their own
	if bin != nil {
		o.BinanceBaseURL = bin.URL
	}
	if yah != nil {
		o.YahooBaseURL = yah.URL
	}
	return o
}

func newTestClient(t testing.TB, o Options) *Client {
	t.Helper()
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
