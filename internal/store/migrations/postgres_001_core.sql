-- Tables of the original Python service, with every column, constraint and
-- index it had. IF NOT EXISTS lets an existing database be adopted.
CREATE TABLE IF NOT EXISTS job_schedules (
    id          SERIAL PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    name        VARCHAR(255) NOT NULL,
    job_type    VARCHAR(50) NOT NULL,
    target      VARCHAR(255),
    task_params JSONB NOT NULL DEFAULT '{}'::jsonb,
    cron        VARCHAR(100) NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT TRUE,
    next_run_at TIMESTAMPTZ,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    state_json  JSONB,
    CONSTRAINT uq_job_schedules_user_name UNIQUE (user_id, name),
    CONSTRAINT ck_job_schedules_job_type CHECK (job_type IN
        ('report', 'screener', 'alert', 'notification', 'data_processing', 'backup', 'script', 'schedule'))
);
CREATE INDEX IF NOT EXISTS ix_job_schedules_user_id ON job_schedules (user_id);
CREATE INDEX IF NOT EXISTS ix_job_schedules_enabled ON job_schedules (enabled);
CREATE INDEX IF NOT EXISTS ix_job_schedules_next_run_at ON job_schedules (next_run_at);

CREATE TABLE IF NOT EXISTS job_schedule_runs (
    id            BIGSERIAL PRIMARY KEY,
    job_type      TEXT NOT NULL,
    job_id        VARCHAR(255) NOT NULL,
    user_id       INTEGER,
    status        TEXT NOT NULL DEFAULT 'pending',
    scheduled_for TIMESTAMPTZ NOT NULL,
    enqueued_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    started_at    TIMESTAMPTZ,
    finished_at   TIMESTAMPTZ,
    job_snapshot  JSONB,
    result        JSONB,
    error         TEXT,
    CONSTRAINT uq_job_schedule_runs_key UNIQUE (job_type, job_id, scheduled_for)
);

-- Columns this service adds (ensured one by one so adopted tables get them too).
ALTER TABLE job_schedules ADD COLUMN IF NOT EXISTS timezone VARCHAR(64);
ALTER TABLE job_schedules ADD COLUMN IF NOT EXISTS last_error TEXT;
ALTER TABLE job_schedules ADD COLUMN IF NOT EXISTS last_error_at TIMESTAMPTZ;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS kind TEXT NOT NULL DEFAULT 'manual';
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS attempt INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS max_attempts INTEGER NOT NULL DEFAULT 1;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS exclusive BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS run_after TIMESTAMPTZ;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS lease_owner TEXT;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS lease_expires_at TIMESTAMPTZ;

CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_pending ON job_schedule_runs (run_after NULLS FIRST, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_running ON job_schedule_runs (lease_expires_at) WHERE status = 'running';
-- At most one exclusive run of a schedule is running at any time, whatever
-- the number of scheduler instances.
CREATE UNIQUE INDEX IF NOT EXISTS ux_job_schedule_runs_one_running
    ON job_schedule_runs (job_type, job_id) WHERE status = 'running' AND exclusive;

-- Failed attempts that were retried; the last attempt is the run row itself.
CREATE TABLE IF NOT EXISTS job_run_attempts (
    id          BIGSERIAL PRIMARY KEY,
    run_id      BIGINT NOT NULL,
    attempt     INTEGER NOT NULL,
    owner       TEXT,
    started_at  TIMESTAMPTZ,
    finished_at TIMESTAMPTZ NOT NULL,
    error       TEXT,
    UNIQUE (run_id, attempt)
);

-- Transactional outbox of notifications.
CREATE TABLE IF NOT EXISTS notifications (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    notification_type TEXT NOT NULL DEFAULT 'ALERT',
    title           TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    data            JSONB,
    priority        TEXT NOT NULL DEFAULT 'NORMAL',
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_at      TIMESTAMPTZ,
    run_id          BIGINT,
    schedule_id     BIGINT,
    user_id         BIGINT,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    sent_at         TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS ix_notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS ix_notifications_recipient ON notifications (channel, recipient, id) WHERE status IN ('pending', 'failed', 'sending');

-- Our own recipients configuration (used when the old usr_* tables are absent).
CREATE TABLE IF NOT EXISTS notification_recipients (
    user_id          BIGINT PRIMARY KEY,
    telegram_chat_id TEXT,
    email            TEXT,
    webhook_url      TEXT
);
