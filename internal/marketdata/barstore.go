package marketdata

import (
	"context"
	"slices"
	"time"
)

// SeriesKey names one stored series: the provider, the symbol as sent to it
// (after SymbolMap) and the timeframe.
type SeriesKey struct {
	Provider  string
	Symbol    string
	Timeframe Timeframe
}

// Span is the half-open range [From, To) of bar open times.
type Span struct {
	From, To time.Time
}

// BarStore keeps closed bars across restarts, behind the in-memory cache
// (Options.BarStore; the scheduler's database implements it). Besides the
// bars it keeps the spans of open times known complete: every closed bar
// opening inside a span is stored, so a span's stretch without bars is one
// the market was closed and is never fetched again. Implementations must be
// safe for concurrent use, also by several processes.
type BarStore interface {
	// LoadBars returns the stored bars of key opening in [from, to), oldest
	// first, and the complete spans overlapping [from, to), merged and
	// ordered. An unknown series gives no bars and no spans.
	LoadBars(ctx context.Context, key SeriesKey, from, to time.Time) ([]Bar, []Span, error)
	// SaveBars stores closed bars of key and records span as complete, in
	// one transaction. It is an upsert: saving the same bars again, or
	// from several processes at once, changes nothing. The store may drop
	// bars older than its retention and clip span to it.
	SaveBars(ctx context.Context, key SeriesKey, bars []Bar, span Span) error
}

// ResultStoreHit is the outcome of a fetch served from the bar store with no
// provider request.
const ResultStoreHit = "store_hit"

// settleAfter is how long after its close a bar, or a stretch without bars,
// is trusted when nothing later came with it: a provider that publishes a
// bar late (delayed quotes) would otherwise leave a hole stored for good.
const settleAfter = time.Hour

// fetchRange returns the bars of symbol opening in [from, to], like fetch.
// With a BarStore it reads what the store holds and asks the provider only
// for the missing stretches, one request per stretch; what comes back
// closed and settled is stored. Without one, or when the store fails, it is
// fetch.
func (c *Client) fetchRange(ctx context.Context, p Provider, symbol string, tf Timeframe, from, to time.Time, allowEmpty bool) ([]Bar, error) {
	st := c.opts.BarStore
	if st == nil || to.Before(from) {
		return c.fetch(ctx, p, symbol, tf, from, to, allowEmpty)
	}
	key := SeriesKey{Provider: p.Name(), Symbol: symbol, Timeframe: tf}
	lo, hi := tf.Open(from), tf.Next(tf.Open(to))
	stored, spans, err := st.LoadBars(ctx, key, lo, hi)
	if err != nil {
		c.log.Warn("bar store: read failed, fetching from the provider", "provider", key.Provider, "symbol", symbol, "timeframe", string(tf), "error", err)
		return c.fetch(ctx, p, symbol, tf, from, to, allowEmpty)
	}
	missing := uncovered(lo, hi, spans)
	if len(missing) == 0 {
		c.report(Outcome{Provider: key.Provider, Result: ResultStoreHit})
	}
	var fetched []Bar
	for _, g := range missing {
		gf, gt := g.From, g.To.Add(-time.Millisecond)
		if gf.Before(from) {
			gf = from
		}
		if gt.After(to) {
			gt = to
		}
		bars, err := c.fetch(ctx, p, symbol, tf, gf, gt, allowEmpty || len(missing) > 1)
		if err != nil {
			return nil, err
		}
		c.saveFetched(ctx, key, bars, g, from, to)
		fetched = append(fetched, bars...)
	}
	merged := mergeBars(stored, fetched, from, to)
	if _, err := Validate(merged, tf); err != nil {
		c.log.Warn("bar store: stored bars do not join the fetched ones, fetching the whole range", "provider", key.Provider, "symbol", symbol, "timeframe", string(tf), "error", err)
		return c.fetch(ctx, p, symbol, tf, from, to, allowEmpty)
	}
	return merged, nil
}

// saveFetched saves what a provider answered for the missing stretch g of a
// request for [from, to]: the closed bars and, as complete, the stretch's
// bar slots that the request covered whole and that are settled — closed
// before an hour ago (settleAfter), or followed by a later bar in the same
// answer. The forming bar and anything after it are never stored. A store
// failure is logged; the fetched bars are served all the same.
func (c *Client) saveFetched(ctx context.Context, key SeriesKey, bars []Bar, g Span, from, to time.Time) {
	tf := key.Timeframe
	clock := c.opts.Now()
	a, b := g.From, g.To
	if from.After(a) {
		a = tf.Next(a) // the first slot was requested only in part
	}
	if to.Before(b.Add(-time.Millisecond)) {
		b = tf.Open(to) // so was the last
	}
	bound := tf.Open(clock.Add(-settleAfter))
	if n := len(bars); n > 0 {
		bound = later(bound, tf.Open(bars[n-1].Time))
	}
	b = earlier(b, bound)
	b = earlier(b, tf.Open(clock))
	keep := make([]Bar, 0, len(bars))
	for _, x := range bars {
		if !tf.Closed(x.Time, clock) || x.Time.Truncate(time.Millisecond) != x.Time {
			b = earlier(b, tf.Open(x.Time))
			break
		}
		if tf.Open(x.Time).Before(b) {
			keep = append(keep, x)
		}
	}
	span := Span{From: a, To: b}
	if !a.Before(b) {
		span = Span{}
	}
	if len(keep) == 0 && span == (Span{}) {
		return
	}
	if err := c.opts.BarStore.SaveBars(context.WithoutCancel(ctx), key, keep, span); err != nil {
		c.log.Warn("bar store: write failed", "provider", key.Provider, "symbol", key.Symbol, "timeframe", string(tf), "error", err)
	}
}

// uncovered returns the parts of [lo, hi) outside spans (ordered, merged).
func uncovered(lo, hi time.Time, spans []Span) []Span {
	var out []Span
	at := lo
	for _, s := range spans {
		if !s.To.After(at) {
			continue
		}
		if !s.From.Before(hi) {
			break
		}
		if s.From.After(at) {
			out = append(out, Span{From: at, To: s.From})
		}
		at = s.To
	}
	if at.Before(hi) {
		out = append(out, Span{From: at, To: hi})
	}
	return out
}

// mergeBars joins stored and fetched bars opening in [from, to], oldest
// first; a fetched bar replaces a stored one of the same time.
func mergeBars(stored, fetched []Bar, from, to time.Time) []Bar {
	out := make([]Bar, 0, len(stored)+len(fetched))
	in := func(t time.Time) bool { return !t.Before(from) && !t.After(to) }
	have := make(map[int64]bool, len(fetched))
	for _, b := range fetched {
		if in(b.Time) {
			out = append(out, b)
			have[b.Time.UnixNano()] = true
		}
	}
	for _, b := range stored {
		if in(b.Time) && !have[b.Time.UnixNano()] {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(x, y Bar) int { return x.Time.Compare(y.Time) })
	return out
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
