-- Tables of the original Python service (SQLite types), adopted if present.
CREATE TABLE IF NOT EXISTS job_schedules (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    name        VARCHAR(255) NOT NULL,
    job_type    VARCHAR(50) NOT NULL,
    target      VARCHAR(255),
    task_params JSON NOT NULL DEFAULT '{}',
    cron        VARCHAR(100) NOT NULL,
    enabled     BOOLEAN NOT NULL DEFAULT 1,
    next_run_at TIMESTAMP,
    created_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at  TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    state_json  JSON,
    CONSTRAINT uq_job_schedules_user_name UNIQUE (user_id, name),
    CONSTRAINT ck_job_schedules_job_type CHECK (job_type IN
        ('report', 'screener', 'alert', 'notification', 'data_processing', 'backup', 'script', 'schedule'))
);
CREATE INDEX IF NOT EXISTS ix_job_schedules_user_id ON job_schedules (user_id);
CREATE INDEX IF NOT EXISTS ix_job_schedules_enabled ON job_schedules (enabled);
CREATE INDEX IF NOT EXISTS ix_job_schedules_next_run_at ON job_schedules (next_run_at);

CREATE TABLE IF NOT EXISTS job_schedule_runs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    job_type      TEXT NOT NULL,
    job_id        VARCHAR(255) NOT NULL,
    user_id       INTEGER,
    status        TEXT NOT NULL DEFAULT 'pending',
    scheduled_for TIMESTAMP NOT NULL,
    enqueued_at   TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    started_at    TIMESTAMP,
    finished_at   TIMESTAMP,
    job_snapshot  JSON,
    result        JSON,
    error         TEXT,
    CONSTRAINT uq_job_schedule_runs_key UNIQUE (job_type, job_id, scheduled_for)
);

-- +columns job_schedules timezone VARCHAR(64)
-- +columns job_schedules last_error TEXT
-- +columns job_schedules last_error_at TIMESTAMP
-- +columns job_schedule_runs kind TEXT NOT NULL DEFAULT 'manual'
-- +columns job_schedule_runs attempt INTEGER NOT NULL DEFAULT 1
-- +columns job_schedule_runs max_attempts INTEGER NOT NULL DEFAULT 1
-- +columns job_schedule_runs exclusive BOOLEAN NOT NULL DEFAULT 1
-- +columns job_schedule_runs run_after TIMESTAMP
-- +columns job_schedule_runs lease_owner TEXT
-- +columns job_schedule_runs lease_expires_at TIMESTAMP
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_pending ON job_schedule_runs (run_after, id) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_running ON job_schedule_runs (lease_expires_at) WHERE status = 'running';
CREATE UNIQUE INDEX IF NOT EXISTS ux_job_schedule_runs_one_running
    ON job_schedule_runs (job_type, job_id) WHERE status = 'running' AND exclusive;

CREATE TABLE IF NOT EXISTS job_run_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    owner       TEXT,
    started_at  TIMESTAMP,
    finished_at TIMESTAMP NOT NULL,
    error       TEXT,
    UNIQUE (run_id, attempt)
);

CREATE TABLE IF NOT EXISTS notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    idempotency_key TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    recipient       TEXT NOT NULL DEFAULT '',
    notification_type TEXT NOT NULL DEFAULT 'ALERT',
    title           TEXT NOT NULL DEFAULT '',
    body            TEXT NOT NULL DEFAULT '',
    data            JSON,
    priority        TEXT NOT NULL DEFAULT 'NORMAL',
    status          TEXT NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_error      TEXT,
    claimed_by      TEXT,
    claimed_at      TIMESTAMP,
    run_id          INTEGER,
    schedule_id     INTEGER,
    user_id         INTEGER,
    created_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    sent_at         TIMESTAMP
);
CREATE INDEX IF NOT EXISTS ix_notifications_due ON notifications (next_attempt_at) WHERE status IN ('pending', 'failed');
CREATE INDEX IF NOT EXISTS ix_notifications_recipient ON notifications (channel, recipient, id) WHERE status IN ('pending', 'failed', 'sending');

CREATE TABLE IF NOT EXISTS notification_recipients (
    user_id          INTEGER PRIMARY KEY,
    telegram_chat_id TEXT,
    email            TEXT,
    webhook_url      TEXT
);
