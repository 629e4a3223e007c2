-- The framework's readers (its web UI loads runs through a model whose
-- status is one of pending, running, completed, failed, cancelled; schedules
-- through one that rejects a NULL state_json) must accept every row.
-- Fires not run are 'cancelled' with the reason in a column of our own and
-- in result.reason; state_json defaults to '{}' (whether it is text, as in
-- the framework's live table, or jsonb).
ALTER TABLE job_schedule_runs ADD COLUMN IF NOT EXISTS reason TEXT;
UPDATE job_schedule_runs SET reason = status, status = 'cancelled',
    result = CASE WHEN jsonb_typeof(result) = 'object' THEN result ELSE '{}'::jsonb END || jsonb_build_object('reason', status)
    WHERE status IN ('skipped', 'missed');
ALTER TABLE job_schedules ALTER COLUMN state_json SET DEFAULT '{}';
UPDATE job_schedules SET state_json = '{}' WHERE state_json IS NULL;
