-- Failure streaks (see the PostgreSQL file).
CREATE TABLE IF NOT EXISTS schedule_failure_streaks (
    schedule_id        BIGINT PRIMARY KEY,
    streak             INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    first_failure_at   TIMESTAMP,
    last_failure_at    TIMESTAMP,
    last_error         TEXT,
    notified_at        TIMESTAMP,
    reminders          INTEGER NOT NULL DEFAULT 0,
    recovered_failures INTEGER NOT NULL DEFAULT 0,
    recipients         TEXT,
    invalid_error      TEXT
);
