-- The bar store (see the PostgreSQL file). Bars and spans are tables
-- without rowid: the primary key is the storage order, so a series' bars
-- lie together and take no second index.
CREATE TABLE IF NOT EXISTS market_series (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    provider  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    UNIQUE (provider, symbol, timeframe)
);
CREATE TABLE IF NOT EXISTS market_bars (
    series_id INTEGER NOT NULL REFERENCES market_series (id) ON DELETE CASCADE,
    open_ms   INTEGER NOT NULL,
    open      REAL NOT NULL,
    high      REAL NOT NULL,
    low       REAL NOT NULL,
    close     REAL NOT NULL,
    volume    REAL NOT NULL,
    PRIMARY KEY (series_id, open_ms)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS market_bar_spans (
    series_id INTEGER NOT NULL REFERENCES market_series (id) ON DELETE CASCADE,
    from_ms   INTEGER NOT NULL,
    to_ms     INTEGER NOT NULL,
    PRIMARY KEY (series_id, from_ms)
) WITHOUT ROWID;
