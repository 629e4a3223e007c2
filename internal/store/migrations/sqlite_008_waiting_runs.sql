-- Runs that wait for the general claim (retries, manual runs, fires
-- released by a stopped instance), by schedule: a schedule's next cron fire
-- yields to such a run that is due before it, so that it is not starved by
-- fires that keep the schedule's one running slot taken. Few rows: fires
-- claimed ahead are owned and not in it.
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_waiting ON job_schedule_runs (job_type, job_id)
    WHERE status = 'pending' AND lease_owner IS NULL;
