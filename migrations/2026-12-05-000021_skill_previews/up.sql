-- The top-level skills of a skill-tree answer as it streams (issue #24): one row per root
-- skill that streamed in complete and valid, written by the run while it holds its lease, with
-- the run's number (one more than the job's rows carried when the run wrote its first skill: a
-- re-run of the job, however the earlier one ended, replaces its skills). They outlive a failed run (the web app shows them with the job's failure and a
-- retry), so the table is logged. Jobs are ordered by creation: a run's first skill deletes the
-- skills of the plan's earlier jobs (and of its own earlier runs), the transaction that saves a
-- job's tree deletes those of that job and the earlier ones, and the streams read the latest
-- job's only. So two tree jobs of one plan at once never mix their skills. Its trigger tells the plan's event streams
-- with keys only (the `draft` notice: re-read), each stream reads the rows back as its user.
CREATE TABLE skill_previews (
    plan_id     uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    job_id      uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    position    integer NOT NULL CHECK (position BETWEEN 0 AND 7),
    run         integer NOT NULL CHECK (run >= 1),
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    skill       jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, job_id, position)
);
CREATE INDEX skill_previews_job_idx ON skill_previews (job_id);

ALTER TABLE skill_previews ENABLE ROW LEVEL SECURITY;
ALTER TABLE skill_previews FORCE ROW LEVEL SECURITY;
CREATE POLICY skill_previews_owner ON skill_previews
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));

CREATE FUNCTION syllabus_notify_skill_preview() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('syllabus_previews',
            jsonb_build_object('plan_id', NEW.plan_id, 'draft', true)::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER skill_previews_notify AFTER INSERT OR UPDATE ON skill_previews
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_skill_preview();
