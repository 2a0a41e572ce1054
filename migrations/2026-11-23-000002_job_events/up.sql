-- Job events: every insert of a job and every change of its status sends a NOTIFY on
-- `syllabus_jobs` from inside the writing transaction (delivered at commit, dropped on rollback).
-- Workers wake on `pending` jobs; `Prefer: wait` readers wake on their job or plan.
CREATE FUNCTION syllabus_notify_job() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('syllabus_jobs', json_build_object(
            'id', NEW.id,
            'plan_id', NEW.plan_id,
            'status', NEW.status,
            'type', NEW.job_type)::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_job();
CREATE TRIGGER jobs_notify_status AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION syllabus_notify_job();

-- What a `validation` failure found (paths and sentences only, never model output), so that the
-- next attempt can re-ask with it even when another process runs it.
ALTER TABLE generation_attempts ADD COLUMN issues jsonb;
