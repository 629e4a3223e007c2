package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atf/scheduler/internal/marketdata"
)

// DefaultBarRetention is how long stored bars are kept when BAR_RETENTION
// does not say: 400 days, a year of daily bars with room for the longest
// indicator warm-ups.
const DefaultBarRetention = 400 * 24 * time.Hour

// barBatch is the number of bars one INSERT statement carries (7 arguments
// each, well below both databases' limits).
const barBatch = 500

// Bars is the bar store in the scheduler's database (tables market_series,
// market_bars, market_bar_spans): closed bars per (provider, symbol,
// timeframe) and the spans of open times known complete. It implements
// marketdata.BarStore. Bars opening before the retention are neither stored
// nor kept: SaveBars drops them and Prune deletes them.
type Bars struct {
	db        *DB
	retention time.Duration
	// Now is the clock that retention is measured on; nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	ids map[marketdata.SeriesKey]int64
}

var _ marketdata.BarStore = (*Bars)(nil)

// Bars returns the bar store of this database keeping bars for retention
// (DefaultBarRetention when retention <= 0).
func (s *DB) Bars(retention time.Duration) *Bars {
	if retention <= 0 {
		retention = DefaultBarRetention
	}
	return &Bars{db: s, retention: retention, ids: map[marketdata.SeriesKey]int64{}}
}

// Retention returns how long bars are kept.
func (b *Bars) Retention() time.Duration { return b.retention }

func (b *Bars) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// cutoff returns the open time of the first whole bar slot of tf inside the
// retention at now: older bars are not kept.
func (b *Bars) cutoff(tf marketdata.Timeframe, now time.Time) time.Time {
	x := now.Add(-b.retention)
	c := tf.Open(x)
	if c.Before(x) {
		c = tf.Next(c)
	}
	return c
}

// seriesID returns the id of key's series, creating the row when create is
// set; ok is false for an unknown series that was not created.
func (b *Bars) seriesID(ctx context.Context, key marketdata.SeriesKey, create bool) (id int64, ok bool, err error) {
	b.mu.Lock()
	id, ok = b.ids[key]
	b.mu.Unlock()
	if ok {
		return id, true, nil
	}
	s := b.db
	sel := func() error {
		return s.queryRow(ctx, s.db, `SELECT id FROM market_series WHERE provider = $1 AND symbol = $2 AND timeframe = $3`,
			key.Provider, key.Symbol, string(key.Timeframe)).Scan(&id)
	}
	err = sel()
	if errors.Is(err, sql.ErrNoRows) && create {
		if _, err = s.exec(ctx, s.db, `INSERT INTO market_series (provider, symbol, timeframe) VALUES ($1, $2, $3)
			ON CONFLICT (provider, symbol, timeframe) DO NOTHING`, key.Provider, key.Symbol, string(key.Timeframe)); err != nil {
			return 0, false, fmt.Errorf("bar store: add series %s %s %s: %w", key.Provider, key.Symbol, key.Timeframe, err)
		}
		err = sel()
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("bar store: series %s %s %s: %w", key.Provider, key.Symbol, key.Timeframe, err)
	}
	b.mu.Lock()
	b.ids[key] = id
	b.mu.Unlock()
	return id, true, nil
}

// LoadBars implements marketdata.BarStore. The spans are read before the
// bars: a span is written in the transaction of its bars, so every span
// returned has its bars.
func (b *Bars) LoadBars(ctx context.Context, key marketdata.SeriesKey, from, to time.Time) ([]marketdata.Bar, []marketdata.Span, error) {
	id, ok, err := b.seriesID(ctx, key, false)
	if err != nil || !ok {
		return nil, nil, err
	}
	s := b.db
	lo, hi := from.UnixMilli(), to.UnixMilli()
	rows, err := s.query(ctx, s.db, `SELECT from_ms, to_ms FROM market_bar_spans
		WHERE series_id = $1 AND to_ms > $2 AND from_ms < $3 ORDER BY from_ms`, id, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("bar store: read spans of %s %s %s: %w", key.Provider, key.Symbol, key.Timeframe, err)
	}
	var spans []marketdata.Span
	for rows.Next() {
		var f, t int64
		if err := rows.Scan(&f, &t); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("bar store: read spans: %w", err)
		}
		sp := marketdata.Span{From: time.UnixMilli(f).UTC(), To: time.UnixMilli(t).UTC()}
		if n := len(spans); n > 0 && !sp.From.After(spans[n-1].To) {
			if sp.To.After(spans[n-1].To) {
				spans[n-1].To = sp.To
			}
			continue
		}
		spans = append(spans, sp)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("bar store: read spans: %w", err)
	}
	rows, err = s.query(ctx, s.db, `SELECT open_ms, open, high, low, close, volume FROM market_bars
		WHERE series_id = $1 AND open_ms >= $2 AND open_ms < $3 ORDER BY open_ms`, id, lo, hi)
	if err != nil {
		return nil, nil, fmt.Errorf("bar store: read bars of %s %s %s: %w", key.Provider, key.Symbol, key.Timeframe, err)
	}
	defer rows.Close()
	var bars []marketdata.Bar
	for rows.Next() {
		var ms int64
		var x marketdata.Bar
		if err := rows.Scan(&ms, &x.Open, &x.High, &x.Low, &x.Close, &x.Volume); err != nil {
			return nil, nil, fmt.Errorf("bar store: read bars: %w", err)
		}
		x.Time = time.UnixMilli(ms).UTC()
		bars = append(bars, x)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("bar store: read bars: %w", err)
	}
	return bars, spans, nil
}

// SaveBars implements marketdata.BarStore: an upsert of the bars (keyed by
// series and open time) and the union of span with the spans it overlaps
// or touches, in one transaction, retried when a concurrent writer
// deadlocks it. Bars and span parts before the retention are dropped.
func (b *Bars) SaveBars(ctx context.Context, key marketdata.SeriesKey, bars []marketdata.Bar, span marketdata.Span) error {
	cut := b.cutoff(key.Timeframe, b.now())
	keep := make([]marketdata.Bar, 0, len(bars))
	for _, x := range bars {
		if !x.Time.Before(cut) {
			keep = append(keep, x)
		}
	}
	if span.From.Before(cut) {
		span.From = cut
	}
	hasSpan := span.From.Before(span.To)
	if len(keep) == 0 && !hasSpan {
		return nil
	}
	id, _, err := b.seriesID(ctx, key, true)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		err = b.db.inTx(ctx, func(tx *sql.Tx) error {
			if err := b.upsertBars(ctx, tx, id, keep); err != nil {
				return err
			}
			if hasSpan {
				return b.addSpan(ctx, tx, id, span.From.UnixMilli(), span.To.UnixMilli())
			}
			return nil
		})
		if err == nil || attempt == 2 || !isConflict(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("bar store: save %d bars of %s %s %s: %w", len(keep), key.Provider, key.Symbol, key.Timeframe, err)
	}
	return nil
}

// upsertBars writes bars in statements of barBatch rows.
func (b *Bars) upsertBars(ctx context.Context, tx *sql.Tx, id int64, bars []marketdata.Bar) error {
	lite := b.db.d.name == "sqlite"
	for len(bars) > 0 {
		n := min(len(bars), barBatch)
		var q strings.Builder
		q.WriteString(`INSERT INTO market_bars (series_id, open_ms, open, high, low, close, volume) VALUES `)
		args := make([]any, 0, 7*n)
		for i, x := range bars[:n] {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for j := 1; j <= 7; j++ {
				if j > 1 {
					q.WriteByte(',')
				}
				if lite {
					q.WriteByte('?') // SQLite looks $N names up one by one: slow for thousands
				} else {
					q.WriteString("$" + strconv.Itoa(7*i+j))
				}
			}
			q.WriteByte(')')
			args = append(args, id, x.Time.UnixMilli(), x.Open, x.High, x.Low, x.Close, x.Volume)
		}
		q.WriteString(` ON CONFLICT (series_id, open_ms) DO UPDATE SET open = excluded.open, high = excluded.high,
			low = excluded.low, close = excluded.close, volume = excluded.volume`)
		if _, err := b.db.exec(ctx, tx, q.String(), args...); err != nil {
			return fmt.Errorf("upsert bars: %w", err)
		}
		bars = bars[n:]
	}
	return nil
}

// addSpan merges [from, to) with the spans of the series it overlaps or
// touches into one row. Two writers merging at once each leave a row that
// holds their own span; rows of one start keep the longer end, so the
// union of the rows never loses a complete stretch.
func (b *Bars) addSpan(ctx context.Context, tx *sql.Tx, id, from, to int64) error {
	s := b.db
	var lo, hi sql.NullInt64
	if err := s.queryRow(ctx, tx, `SELECT MIN(from_ms), MAX(to_ms) FROM market_bar_spans
		WHERE series_id = $1 AND from_ms <= $3 AND to_ms >= $2`, id, from, to).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("read spans: %w", err)
	}
	if lo.Valid && lo.Int64 < from {
		from = lo.Int64
	}
	if hi.Valid && hi.Int64 > to {
		to = hi.Int64
	}
	if _, err := s.exec(ctx, tx, `DELETE FROM market_bar_spans WHERE series_id = $1 AND from_ms >= $2 AND to_ms <= $3`, id, from, to); err != nil {
		return fmt.Errorf("merge spans: %w", err)
	}
	return b.putSpan(ctx, tx, id, from, to)
}

// putSpan inserts a span row, keeping the longer end when one of that start
// exists.
func (b *Bars) putSpan(ctx context.Context, tx *sql.Tx, id, from, to int64) error {
	if _, err := b.db.exec(ctx, tx, `INSERT INTO market_bar_spans (series_id, from_ms, to_ms) VALUES ($1, $2, $3)
		ON CONFLICT (series_id, from_ms) DO UPDATE SET to_ms = CASE WHEN excluded.to_ms > market_bar_spans.to_ms
		THEN excluded.to_ms ELSE market_bar_spans.to_ms END`, id, from, to); err != nil {
		return fmt.Errorf("write span: %w", err)
	}
	return nil
}

// PruneResult counts what Prune deleted.
type PruneResult struct {
	// Series is the number of series looked at.
	Series int `json:"series"`
	// Bars is the number of bars deleted.
	Bars int64 `json:"bars"`
}

// Prune deletes the bars opening before the retention at the store's clock
// and clips the spans to it, one short transaction per series. A cancelled
// ctx stops between series.
func (b *Bars) Prune(ctx context.Context) (PruneResult, error) {
	var out PruneResult
	s := b.db
	type series struct {
		id int64
		tf string
	}
	rows, err := s.query(ctx, s.db, `SELECT id, timeframe FROM market_series ORDER BY id`)
	if err != nil {
		return out, fmt.Errorf("bar store: prune: list series: %w", err)
	}
	var all []series
	for rows.Next() {
		var x series
		if err := rows.Scan(&x.id, &x.tf); err != nil {
			rows.Close()
			return out, fmt.Errorf("bar store: prune: list series: %w", err)
		}
		all = append(all, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, fmt.Errorf("bar store: prune: list series: %w", err)
	}
	now := b.now()
	for _, x := range all {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("bar store: prune: %w", err)
		}
		tf, err := marketdata.ParseTimeframe(x.tf)
		if err != nil {
			continue // not a series this version wrote
		}
		cut := b.cutoff(tf, now).UnixMilli()
		err = s.inTx(ctx, func(tx *sql.Tx) error {
			res, err := s.exec(ctx, tx, `DELETE FROM market_bars WHERE series_id = $1 AND open_ms < $2`, x.id, cut)
			if err != nil {
				return fmt.Errorf("delete bars: %w", err)
			}
			n, _ := res.RowsAffected()
			out.Bars += n
			var end sql.NullInt64
			if err := s.queryRow(ctx, tx, `SELECT MAX(to_ms) FROM market_bar_spans WHERE series_id = $1 AND from_ms < $2`, x.id, cut).Scan(&end); err != nil {
				return fmt.Errorf("read spans: %w", err)
			}
			if _, err := s.exec(ctx, tx, `DELETE FROM market_bar_spans WHERE series_id = $1 AND from_ms < $2`, x.id, cut); err != nil {
				return fmt.Errorf("delete spans: %w", err)
			}
			if end.Valid && end.Int64 > cut {
				return b.putSpan(ctx, tx, x.id, cut, end.Int64)
			}
			return nil
		})
		if err != nil {
			return out, fmt.Errorf("bar store: prune series %d: %w", x.id, err)
		}
		out.Series++
	}
	return out, nil
}

// BarStats describes the bar store's content.
type BarStats struct {
	// Series is the number of (provider, symbol, timeframe) series.
	Series int64 `json:"series"`
	// Bars is the number of stored bars.
	Bars int64 `json:"bars"`
	// Bytes is the space the three tables and their indexes take
	// (PostgreSQL: pg_total_relation_size; SQLite: the dbstat table, 0 when
	// the build lacks it).
	Bytes int64 `json:"bytes"`
}

// Stats counts the stored series and bars and measures their size.
func (b *Bars) Stats(ctx context.Context) (BarStats, error) {
	var st BarStats
	s := b.db
	if err := s.queryRow(ctx, s.db, `SELECT (SELECT COUNT(*) FROM market_series), (SELECT COUNT(*) FROM market_bars)`).Scan(&st.Series, &st.Bars); err != nil {
		return st, fmt.Errorf("bar store: count: %w", err)
	}
	q := `SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ('market_series', 'market_bars', 'market_bar_spans')
		OR name LIKE 'sqlite_autoindex_market_%'`
	if s.d.name == "postgres" {
		q = `SELECT pg_total_relation_size('market_series') + pg_total_relation_size('market_bars') + pg_total_relation_size('market_bar_spans')`
	}
	if err := s.queryRow(ctx, s.db, q).Scan(&st.Bytes); err != nil && s.d.name == "postgres" {
		return st, fmt.Errorf("bar store: size: %w", err)
	}
	return st, nil
}
