-- Task progress (issue #20): how far the learner is with each task.
--
-- A table of its own rather than columns on `tasks`: tasks are generated content, which a
-- regeneration deletes and rewrites in the worker's transaction; progress is the learner's state,
-- written one row at a time by the API. Kept apart, the generation's writes stay as they were, a
-- plan never touched costs no rows, and a task's progress goes with the task (ON DELETE CASCADE):
-- a regeneration, which needs `discard_progress` when any exists, leaves none behind.
-- `plan_id` is the task's plan (set by the store from the task's module): a plan's progress is
-- found, counted and notified without a join through modules.
CREATE TABLE task_progress (
    task_id       uuid PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    plan_id       uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status        text NOT NULL CHECK (status IN ('not_started', 'in_progress', 'completed')),
    completed_at  timestamptz,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT task_progress_completed_at CHECK ((status = 'completed') = (completed_at IS NOT NULL))
);
-- A plan's progress (the regenerate guard, the per-plan summary), and the user's rows.
CREATE INDEX task_progress_plan_idx ON task_progress (plan_id, status);
CREATE INDEX task_progress_user_idx ON task_progress (user_id, plan_id);

ALTER TABLE task_progress ENABLE ROW LEVEL SECURITY;
ALTER TABLE task_progress FORCE ROW LEVEL SECURITY;
CREATE POLICY task_progress_owner ON task_progress
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));

-- A change of a task's progress (set, or discarded by a regeneration) tells the plan's event
-- streams, on the channel they already listen to, with keys only (each stream reads the summary
-- back as its user). Identical payloads of one transaction are delivered once.
CREATE FUNCTION syllabus_notify_progress() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    DECLARE
        plan uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.plan_id ELSE NEW.plan_id END;
    BEGIN
        PERFORM pg_notify('syllabus_previews',
            jsonb_build_object('plan_id', plan, 'progress', true)::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER task_progress_notify AFTER INSERT OR UPDATE OR DELETE ON task_progress
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_progress();
