-- The framework's readers accept five run statuses and no NULL state_json:
-- fires not run are 'cancelled' with the reason in a column of our own and
-- in result.reason (see the PostgreSQL file).
-- +columns job_schedule_runs reason TEXT
UPDATE job_schedule_runs SET reason = status, status = 'cancelled',
    result = json_set(CASE WHEN json_valid(result) AND json_type(result) = 'object' THEN result ELSE '{}' END, '$.reason', status)
    WHERE status IN ('skipped', 'missed');
UPDATE job_schedules SET state_json = '{}' WHERE state_json IS NULL;
-- SQLite cannot change a column's default: a trigger gives raw inserts the
-- '{}' default instead.
CREATE TRIGGER IF NOT EXISTS trg_job_schedules_state_default AFTER INSERT ON job_schedules
    FOR EACH ROW WHEN NEW.state_json IS NULL
    BEGIN UPDATE job_schedules SET state_json = '{}' WHERE id = NEW.id; END;
