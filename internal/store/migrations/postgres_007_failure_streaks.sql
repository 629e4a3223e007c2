-- Failure streaks: one row per schedule that has failed at least once.
-- failures counts the failed runs in a row (0: healthy); streak numbers
-- the streaks, so that each notice has its own outbox key; notified_at is
-- when the streak's first message or last daily reminder went out;
-- recovered_failures holds the length of the streak that ended last;
-- recipients the planned recipients of the streak's messages (JSON), so
-- that the recovery message goes where the failure message went;
-- invalid_error the configuration error the owner was last told about.
CREATE TABLE IF NOT EXISTS schedule_failure_streaks (
    schedule_id        BIGINT PRIMARY KEY,
    streak             INTEGER NOT NULL DEFAULT 0,
    failures           INTEGER NOT NULL DEFAULT 0,
    first_failure_at   TIMESTAMPTZ,
    last_failure_at    TIMESTAMPTZ,
    last_error         TEXT,
    notified_at        TIMESTAMPTZ,
    reminders          INTEGER NOT NULL DEFAULT 0,
    recovered_failures INTEGER NOT NULL DEFAULT 0,
    recipients         TEXT,
    invalid_error      TEXT
);
