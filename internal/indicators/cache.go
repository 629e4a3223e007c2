package indicators

import (
	"container/list"
	"math"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/singleflight"

	"github.com/atf/scheduler/internal/marketdata"
)

// Cache memoizes Compute results so that identical work (same series, same
// bars, equivalent spec) is done once per bar rather than once per alert. It
// is safe for concurrent use; concurrent callers of the same key share one
// computation. It holds at most maxEntries results and evicts the least
// recently used.
//
// The maps and slices returned by Compute are shared between callers and
// must be treated as read-only.
type Cache struct {
	max   int
	group singleflight.Group

	mu      sync.Mutex
	entries map[string]*list.Element // of *cacheEntry
	order   *list.List               // front = most recently used
	calls   uint64                   // successful Compute calls
	stats   CacheStats
}

type cacheEntry struct {
	key string
	out map[string][]float64
}

// CacheStats counts cache activity.
type CacheStats struct {
	// Hits is the number of successful calls that did not compute: answered
	// from the cache or by a concurrent computation of the same key.
	Hits uint64
	// Misses is the number of successful computations run.
	Misses uint64
	// Evictions is the number of results dropped to respect the size bound.
	Evictions uint64
	// Entries is the number of results currently held.
	Entries int
}

// NewCache returns a cache holding at most maxEntries results. With
// maxEntries < 1 nothing is stored, but concurrent identical calls are still
// computed once.
func NewCache(maxEntries int) *Cache {
	return &Cache{max: maxEntries, entries: make(map[string]*list.Element), order: list.New()}
}

// Compute returns Compute(s, bars), computed at most once per key. The key is
// seriesKey (which must identify the instrument and timeframe, e.g.
// "binance:BTCUSDT:1h"), the number of bars, the open time and values of the
// last bar, and s.Key(); so the same series extended by a new bar, or with
// its last bar updated, is a new key. Errors are returned but not cached. The
// result is shared: callers must not modify it.
func (c *Cache) Compute(seriesKey string, bars []marketdata.Bar, s Spec) (map[string][]float64, error) {
	n, err := Normalize(s)
	if err != nil {
		return nil, err
	}
	key := cacheKey(seriesKey, bars, n)
	if out, ok := c.get(key); ok {
		c.mu.Lock()
		c.calls++
		c.mu.Unlock()
		return out, nil
	}
	v, err, _ := c.group.Do(key, func() (any, error) {
		// A caller that missed just before another flight stored its
		// result must not compute again.
		if out, ok := c.get(key); ok {
			return out, nil
		}
		out, err := Compute(n, bars)
		if err != nil {
			return nil, err
		}
		c.put(key, out)
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return v.(map[string][]float64), nil
}

// Stats returns a snapshot of the cache counters.
func (c *Cache) Stats() CacheStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.Hits = c.calls - c.stats.Misses
	st.Entries = len(c.entries)
	return st
}

func (c *Cache) get(key string) (map[string][]float64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).out, true
}

// put stores a freshly computed result and counts the computation.
func (c *Cache) put(key string, out map[string][]float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Misses++
	if c.max < 1 {
		return
	}
	if el, ok := c.entries[key]; ok {
		el.Value.(*cacheEntry).out = out
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, out: out})
	for len(c.entries) > c.max {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, oldest.Value.(*cacheEntry).key)
		c.stats.Evictions++
	}
}

// cacheKey builds the cache key of a normalized spec on bars.
func cacheKey(seriesKey string, bars []marketdata.Bar, n Spec) string {
	var b strings.Builder
	b.Grow(len(seriesKey) + 96)
	b.WriteString(seriesKey)
	b.WriteByte('|')
	b.WriteString(strconv.Itoa(len(bars)))
	if len(bars) > 0 {
		last := &bars[len(bars)-1]
		b.WriteByte('|')
		b.WriteString(strconv.FormatInt(last.Time.UnixNano(), 36))
		for _, v := range [...]float64{last.Open, last.High, last.Low, last.Close, last.Volume} {
			b.WriteByte(':')
			b.WriteString(strconv.FormatUint(math.Float64bits(v), 36))
		}
	}
	b.WriteByte('|')
	b.WriteString(n.Key())
	return b.String()
}
