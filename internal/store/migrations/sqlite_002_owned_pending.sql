-- Runs an instance claimed ahead of their instant are pending with that
-- instance's lease: the general claim looks only at unowned pending runs,
-- and lease recovery covers owned pending runs as well as running ones.
DROP INDEX IF EXISTS ix_job_schedule_runs_pending;
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_unowned ON job_schedule_runs (run_after, id)
    WHERE status = 'pending' AND lease_owner IS NULL;
DROP INDEX IF EXISTS ix_job_schedule_runs_running;
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_leased ON job_schedule_runs (lease_expires_at)
    WHERE lease_owner IS NOT NULL;
