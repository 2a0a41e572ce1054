-- Regenerating one module of a plan (issue #21).
--
-- A new job type, `module_regeneration` (payload `{plan_id, module_id, instruction?}`), counted
-- by the per-user rate limit like the others. At most one is queued or running per module (the
-- API refuses a second under the plan's row lock; this index is the database's word on it).
ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree', 'module_regeneration'));
ALTER TABLE rate_events DROP CONSTRAINT rate_events_job_type_check;
ALTER TABLE rate_events ADD CONSTRAINT rate_events_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree', 'module_regeneration'));
CREATE UNIQUE INDEX jobs_one_active_module_regeneration_idx ON jobs ((payload ->> 'module_id'))
    WHERE job_type = 'module_regeneration' AND status IN ('pending', 'processing');

-- A module regeneration's provider calls are recorded beside the plan's attempts, naming their
-- module: never numbered (they do not count toward the plan's cap of 3, nor in attempts_used,
-- which count numbered rows), never `capped`. `module_id` is a plain id (no foreign key): the
-- record outlives a module deleted or replaced later, like the call it records.
ALTER TABLE generation_attempts ADD COLUMN module_id uuid;
ALTER TABLE generation_attempts DROP CONSTRAINT attempts_number_unless_capped;
ALTER TABLE generation_attempts ADD CONSTRAINT attempts_number_unless_capped CHECK (
    CASE WHEN module_id IS NULL
         THEN (classification IS NOT DISTINCT FROM 'capped') = (number IS NULL)
         ELSE number IS NULL AND classification IS DISTINCT FROM 'capped' END);
DROP INDEX attempts_one_capped_idx;
CREATE UNIQUE INDEX attempts_one_capped_idx ON generation_attempts (plan_id)
    WHERE number IS NULL AND module_id IS NULL;
-- A run's re-ask reads the newest attempt of its job.
CREATE INDEX attempts_job_idx ON generation_attempts (job_id, created_at DESC)
    WHERE module_id IS NOT NULL;

-- The draft of a module being regenerated, as its answer streams (one row per job, rewritten
-- each time a task completes; `seq` counts the rewrites). UNLOGGED and disposable like
-- plan_previews: deleted by the transaction that ends the run. Its trigger tells the plan's
-- event streams with keys only; each stream reads the row back as its user.
CREATE UNLOGGED TABLE module_drafts (
    job_id      uuid PRIMARY KEY REFERENCES jobs (id) ON DELETE CASCADE,
    plan_id     uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    module_id   uuid NOT NULL,
    position    integer NOT NULL,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq         integer NOT NULL,
    module      jsonb NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX module_drafts_plan_idx ON module_drafts (plan_id);

ALTER TABLE module_drafts ENABLE ROW LEVEL SECURITY;
ALTER TABLE module_drafts FORCE ROW LEVEL SECURITY;
CREATE POLICY module_drafts_owner ON module_drafts
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));

CREATE FUNCTION syllabus_notify_draft() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('syllabus_previews',
            jsonb_build_object('plan_id', NEW.plan_id, 'draft', true)::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER module_drafts_notify AFTER INSERT OR UPDATE ON module_drafts
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_draft();
