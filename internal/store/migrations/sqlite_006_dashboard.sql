-- Dashboard paging: the runs page and the overview read runs newest first
-- and by time window; the notifications page pages the outbox by status.
CREATE INDEX IF NOT EXISTS ix_job_schedule_runs_scheduled_for ON job_schedule_runs (scheduled_for, id);
CREATE INDEX IF NOT EXISTS ix_notifications_status_id ON notifications (status, id);
