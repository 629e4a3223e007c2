package marketdata

import (
	"container/list"
	"sync"
	"time"
)

// The memory cache (lru) is the first layer of a lookup: a fresh entry is
// served without any fetch. Behind it, when Options.BarStore is set, sits
// the bar store (barstore.go): a miss or refresh reads the stored closed
// bars and asks the provider only for the stretches the store lacks.

// cacheKey identifies one cached series.
type cacheKey struct {
	provider string
	symbol   string // provider's spelling
	tf       Timeframe
}

// entry is one cached series. Entries are immutable once stored: refreshes
// store a new entry, so readers never see a slice being rewritten.
type entry struct {
	bars      []Bar     // contiguous as fetched; the last may be forming
	tf        Timeframe // the bars' timeframe
	fetchedAt time.Time // clock time of the fetch (or refresh)
	validTill time.Time // after this the entry needs a refresh
	short     int       // >0: a request for this many bars found fewer (no older history)
	gaps      []Gap     // gaps of bars
}

// lru is a bounded map of series, evicting the least recently used series
// when more than maxSeries are stored.
type lru struct {
	maxSeries int

	mu    sync.Mutex
	ll    *list.List // front = most recent; values are *lruItem
	items map[cacheKey]*list.Element
	bars  int // total bars held, for Stats
}

type lruItem struct {
	key cacheKey
	e   *entry
}

func newLRU(maxSeries int) *lru {
	return &lru{maxSeries: maxSeries, ll: list.New(), items: map[cacheKey]*list.Element{}}
}

// get returns the entry for k and marks it recently used.
func (c *lru) get(k cacheKey) *entry {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*lruItem).e
}

// put stores e under k, evicting the least recently used series beyond
// maxSeries.
func (c *lru) put(k cacheKey, e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[k]; ok {
		it := el.Value.(*lruItem)
		c.bars += len(e.bars) - len(it.e.bars)
		it.e = e
		c.ll.MoveToFront(el)
		return
	}
	c.items[k] = c.ll.PushFront(&lruItem{key: k, e: e})
	c.bars += len(e.bars)
	for c.ll.Len() > c.maxSeries {
		old := c.ll.Back()
		it := old.Value.(*lruItem)
		c.ll.Remove(old)
		delete(c.items, it.key)
		c.bars -= len(it.e.bars)
	}
}

// stats returns the number of series and bars held.
func (c *lru) stats() (series, bars int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ll.Len(), c.bars
}
