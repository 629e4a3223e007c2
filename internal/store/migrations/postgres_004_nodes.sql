-- Instances renew their liveness here; fires an instance claimed ahead stay
-- its own while it does, however late they are.
CREATE TABLE IF NOT EXISTS scheduler_nodes (
    node_id      TEXT PRIMARY KEY,
    host         TEXT NOT NULL DEFAULT '',
    pid          INTEGER NOT NULL DEFAULT 0,
    started_at   TIMESTAMPTZ NOT NULL,
    heartbeat_at TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
-- The instants a coalesced run or a missed record stands for.
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS covers_from TIMESTAMPTZ;
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS covers_to TIMESTAMPTZ;
-- Where a run's process group lives, so a recovering instance on the same
-- host can kill what is left of it before running it again.
-- (JSON: host, boot id, process group, pid, start time.)
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS exec_process TEXT;
