-- Dashboard paging: the runs page and the overview read runs newest first
-- and by time window; the notifications page pages the outbox by status.
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_scheduled_for ON job_schedule_runs (scheduled_for, id);
CREATE INDEX IF NOT EXISTS ix_notifications_status_id ON notifications (status, id);
-- Failed and cancelled (skipped, missed) runs are few: the runs page filtered
-- by one of them reads these instead of walking every run.
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_failed ON job_schedule_runs (scheduled_for, id) WHERE status = 'failed';
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_cancelled ON job_schedule_runs (scheduled_for, id) WHERE status = 'cancelled';
