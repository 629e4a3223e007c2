-- The bar store: closed OHLCV bars per (provider, symbol, timeframe), kept
-- across restarts, and the spans of bar open times known complete (every
-- closed bar opening inside a span is stored; a span without bars is a
-- stretch the market was closed). Times are Unix milliseconds.
CREATE TABLE IF NOT EXISTS market_series (
    id        SERIAL PRIMARY KEY,
    provider  TEXT NOT NULL,
    symbol    TEXT NOT NULL,
    timeframe TEXT NOT NULL,
    UNIQUE (provider, symbol, timeframe)
);
CREATE TABLE IF NOT EXISTS market_bars (
    series_id INTEGER NOT NULL REFERENCES market_series (id) ON DELETE CASCADE,
    open_ms   BIGINT NOT NULL,
    open      DOUBLE PRECISION NOT NULL,
    high      DOUBLE PRECISION NOT NULL,
    low       DOUBLE PRECISION NOT NULL,
    close     DOUBLE PRECISION NOT NULL,
    volume    DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series_id, open_ms)
);
CREATE TABLE IF NOT EXISTS market_bar_spans (
    series_id INTEGER NOT NULL REFERENCES market_series (id) ON DELETE CASCADE,
    from_ms   BIGINT NOT NULL,
    to_ms     BIGINT NOT NULL,
    PRIMARY KEY (series_id, from_ms)
);
