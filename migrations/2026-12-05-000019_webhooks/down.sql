DROP TRIGGER IF EXISTS jobs_webhook_events ON jobs;
DROP FUNCTION IF EXISTS syllabus_webhook_events();
DROP FUNCTION IF EXISTS syllabus_uuid_v7();
DROP TABLE IF EXISTS webhook_attempts;
DROP TABLE IF EXISTS webhook_deliveries;
DROP TABLE IF EXISTS webhook_endpoints;
DELETE FROM jobs WHERE job_type = 'webhook_delivery';
ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree', 'module_regeneration'));
DROP INDEX IF EXISTS jobs_user_fair_idx;
CREATE INDEX jobs_user_fair_idx ON jobs (user_id, fair_at DESC) WHERE status = 'pending';
CREATE OR REPLACE FUNCTION jobs_fair_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.fair_at := greatest(
        now(),
        (SELECT max(fair_at) FROM jobs WHERE user_id = NEW.user_id AND status = 'pending')
            + interval '1 hour'
    );
    RETURN NEW;
END
$$;
