-- Instance liveness, covered instants, process groups (see the PostgreSQL file).
CREATE TABLE IF NOT EXISTS scheduler_nodes (
    node_id      TEXT PRIMARY KEY,
    host         TEXT NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    started_at   TIMESTAMP NOT NULL,
    heartbeat_at TIMESTAMP NOT NULL,
    expires_at   TIMESTAMP NOT NULL
);
-- +columns job_schedule_runs covers_from TIMESTAMP
-- +columns job_schedule_runs covers_to TIMESTAMP
-- +columns job_schedule_runs exec_process TEXT
