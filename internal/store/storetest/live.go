package storetest

import (
	"context"
	"strings"
	"testing"

	"github.com/atf/scheduler/internal/store"
)

// JobIDType is the type of job_schedule_runs.job_id in a framework
// database: the live dump has int4, the framework's alembic head bigint, its
// ORM model varchar(255).
type JobIDType string

// The three job_id types found in the framework's databases.
const (
	JobIDInt4    JobIDType = "int4"
	JobIDBigint  JobIDType = "int8"
	JobIDVarchar JobIDType = "varchar(255)"
)

// JobIDTypes lists every variant, for tests that run on each.
var JobIDTypes = []JobIDType{JobIDInt4, JobIDBigint, JobIDVarchar}

// frameworkSchema creates the tables of the trading framework's live
// database as its schema dump (src/data/db/docs/db_schema.sql) defines them:
// identity int4 ids that an INSERT may not name, text state_json defaulting
// to '{}', no unique (user_id, name), nullable run columns without CHECKs,
// the foreign key from runs to schedules, the NOTIFY triggers, and the
// users and notification-queue tables. %JOBID% is the job_id type.
const frameworkSchema = `
CREATE TABLE job_schedules (
	id int4 GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START 1 CACHE 1 NO CYCLE) NOT NULL,
	user_id int4 NOT NULL,
	"name" varchar(255) NOT NULL,
	job_type varchar(50) NOT NULL,
	"target" varchar(255) NOT NULL,
	task_params jsonb DEFAULT '{}'::jsonb NOT NULL,
	cron varchar(100) NOT NULL,
	enabled bool DEFAULT true NOT NULL,
	next_run_at timestamptz NULL,
	created_at timestamptz DEFAULT now() NOT NULL,
	updated_at timestamptz DEFAULT now() NOT NULL,
	state_json text DEFAULT '{}'::text NULL,
	CONSTRAINT job_schedules_pkey PRIMARY KEY (id));

CREATE FUNCTION notify_scheduler_update() RETURNS trigger LANGUAGE plpgsql AS $f$
BEGIN
  PERFORM pg_notify('scheduler_updates', 'reload');
  RETURN NEW;
END;
$f$;
CREATE TRIGGER trg_scheduler_insert AFTER INSERT ON job_schedules FOR EACH ROW EXECUTE FUNCTION notify_scheduler_update();
CREATE TRIGGER trg_scheduler_update AFTER UPDATE ON job_schedules FOR EACH ROW EXECUTE FUNCTION notify_scheduler_update();
CREATE TRIGGER trg_scheduler_delete AFTER DELETE ON job_schedules FOR EACH ROW EXECUTE FUNCTION notify_scheduler_update();

CREATE TABLE job_schedule_runs (
	job_type text NOT NULL,
	job_id %JOBID% NULL,
	user_id int8 NULL,
	status text NULL,
	scheduled_for timestamptz NULL,
	enqueued_at timestamptz DEFAULT now() NULL,
	started_at timestamptz NULL,
	finished_at timestamptz NULL,
	job_snapshot jsonb NULL,
	"result" jsonb NULL,
	"error" text NULL,
	id int4 GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START 1 CACHE 1 NO CYCLE) NOT NULL,
	CONSTRAINT job_schedule_runs_pkey PRIMARY KEY (id)%FK%);
CREATE UNIQUE INDEX ux_runs_job_scheduled_for ON job_schedule_runs USING btree (job_type, job_id, scheduled_for);

CREATE TABLE apscheduler_jobs (id varchar(191) NOT NULL, next_run_time float8 NULL, job_state bytea NOT NULL,
	CONSTRAINT apscheduler_jobs_pkey PRIMARY KEY (id));

CREATE TABLE usr_users (
	id int4 GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START 1 CACHE 1 NO CYCLE) NOT NULL,
	email varchar(100) NULL,
	"role" varchar(20) DEFAULT 'trader'::character varying NOT NULL,
	is_active bool DEFAULT true NULL,
	created_at timestamptz DEFAULT now() NULL,
	updated_at timestamp NULL,
	last_login timestamp NULL,
	CONSTRAINT users_pkey PRIMARY KEY (id));
CREATE INDEX ix_users_email ON usr_users USING btree (email);

CREATE TABLE usr_auth_identities (
	id int4 GENERATED ALWAYS AS IDENTITY (INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START 1 CACHE 1 NO CYCLE) NOT NULL,
	user_id int4 NOT NULL,
	provider varchar(32) NOT NULL,
	external_id varchar(255) NOT NULL,
	metadata jsonb NULL,
	created_at timestamptz DEFAULT now() NULL,
	CONSTRAINT auth_identities_pkey PRIMARY KEY (id),
	CONSTRAINT auth_identities_user_id_fkey FOREIGN KEY (user_id) REFERENCES usr_users(id) ON DELETE CASCADE);
CREATE INDEX ix_auth_identities_provider ON usr_auth_identities USING btree (provider);
CREATE INDEX ix_auth_identities_user_id ON usr_auth_identities USING btree (user_id);

CREATE TABLE msg_messages (
	id bigserial NOT NULL,
	message_type varchar(50) NOT NULL,
	priority varchar(20) DEFAULT 'NORMAL'::character varying NOT NULL,
	channels _text NOT NULL,
	recipient_id varchar(100) NULL,
	template_name varchar(100) NULL,
	"content" jsonb NOT NULL,
	metadata jsonb NULL,
	created_at timestamptz DEFAULT now() NOT NULL,
	scheduled_for timestamptz DEFAULT now() NOT NULL,
	status varchar(20) DEFAULT 'PENDING'::character varying NOT NULL,
	retry_count int4 DEFAULT 0 NOT NULL,
	max_retries int4 DEFAULT 3 NOT NULL,
	last_error text NULL,
	processed_at timestamptz NULL,
	locked_by varchar(100) NULL,
	locked_at timestamptz NULL,
	CONSTRAINT msg_messages_max_retries_check CHECK ((max_retries >= 0)),
	CONSTRAINT msg_messages_pkey PRIMARY KEY (id),
	CONSTRAINT msg_messages_priority_check CHECK (((priority)::text = ANY (ARRAY['LOW', 'NORMAL', 'HIGH', 'CRITICAL']))),
	CONSTRAINT msg_messages_retry_count_check CHECK ((retry_count >= 0)),
	CONSTRAINT msg_messages_status_check CHECK (((status)::text = ANY (ARRAY['PENDING', 'PROCESSING', 'DELIVERED', 'FAILED', 'CANCELLED']))));
CREATE INDEX idx_msg_messages_pending_poll ON msg_messages USING btree (status, scheduled_for, locked_by, locked_at) WHERE ((status)::text = 'PENDING'::text);
CREATE INDEX idx_msg_messages_recipient ON msg_messages USING btree (recipient_id);

CREATE TABLE msg_delivery_status (
	id bigserial NOT NULL,
	message_id int8 NOT NULL,
	channel varchar(50) NOT NULL,
	status varchar(20) NOT NULL,
	delivered_at timestamptz NULL,
	response_time_ms int4 NULL,
	error_message text NULL,
	external_id varchar(255) NULL,
	created_at timestamptz DEFAULT now() NOT NULL,
	CONSTRAINT msg_delivery_status_pkey PRIMARY KEY (id),
	CONSTRAINT msg_delivery_status_response_time_ms_check CHECK ((response_time_ms >= 0)),
	CONSTRAINT msg_delivery_status_status_check CHECK (((status)::text = ANY (ARRAY['PENDING', 'SENT', 'DELIVERED', 'FAILED', 'BOUNCED']))),
	CONSTRAINT msg_delivery_status_message_id_fkey FOREIGN KEY (message_id) REFERENCES msg_messages(id) ON DELETE CASCADE);
CREATE INDEX idx_delivery_status_message ON msg_delivery_status USING btree (message_id);
`

// FrameworkURL creates a fresh PostgreSQL schema holding the trading
// framework's live tables (see frameworkSchema) with job_id of type typ,
// not migrated, and returns a URL selecting it. It skips the test when
// TEST_DATABASE_URL is not set.
func FrameworkURL(t testing.TB, typ JobIDType) string {
	t.Helper()
	u := PostgresURL(t)
	db, err := store.Open(context.Background(), store.Options{Driver: "postgres", DSN: u})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	defer db.Close()
	fk := ""
	if typ != JobIDVarchar { // a varchar column cannot reference an int4 id
		fk = ",\n\tCONSTRAINT job_schedule_runs_job_id_fkey FOREIGN KEY (job_id) REFERENCES job_schedules(id) ON DELETE CASCADE"
	}
	ddl := strings.NewReplacer("%JOBID%", string(typ), "%FK%", fk).Replace(frameworkSchema)
	if _, err := db.SQL().Exec(ddl); err != nil {
		t.Fatalf("create the framework's tables (job_id %s): %v", typ, err)
	}
	return u
}

// Framework opens a store on the framework's live tables (FrameworkURL)
// after migrating them, as `scheduler migrate` on an adopted database does.
func Framework(t testing.TB, typ JobIDType) *store.DB {
	t.Helper()
	return open(t, "postgres", FrameworkURL(t, typ))
}
