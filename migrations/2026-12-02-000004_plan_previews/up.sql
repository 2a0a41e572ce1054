-- Module previews of the generation attempt being streamed (issue #11).
--
-- A worker inserts a row for each module of the model's answer as soon as it is complete and
-- valid; the row's trigger sends a NOTIFY on `syllabus_previews` (delivered at commit) carrying
-- the preview itself when it fits NOTIFY's payload limit, else only its key. API processes that
-- stream `GET /plans/{id}/events` listen on that channel and read the table when they need to
-- (a reconnect with Last-Event-ID, a large module, a listener that lagged). The rows of an
-- attempt are deleted in the transaction that records the attempt, so the table holds only
-- attempts in flight. UNLOGGED: previews are disposable (lost on a crash, like the run that
-- wrote them), and skipping the WAL keeps thousands of streamed modules a second cheap.
CREATE UNLOGGED TABLE plan_previews (
    plan_id         uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    attempt_number  integer NOT NULL CHECK (attempt_number BETWEEN 1 AND 3),
    position        integer NOT NULL CHECK (position BETWEEN 0 AND 23),
    user_id         text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    module          jsonb NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (plan_id, attempt_number, position)
);

ALTER TABLE plan_previews ENABLE ROW LEVEL SECURITY;
ALTER TABLE plan_previews FORCE ROW LEVEL SECURITY;
CREATE POLICY plan_previews_owner ON plan_previews
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));

CREATE FUNCTION syllabus_notify_preview() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    DECLARE
        payload jsonb := jsonb_build_object(
            'plan_id', NEW.plan_id,
            'attempt_number', NEW.attempt_number,
            'index', NEW.position);
    BEGIN
        -- NOTIFY payloads must stay under 8,000 bytes: a larger module is read from the table.
        IF octet_length(NEW.module::text) <= 7000 THEN
            payload := payload || jsonb_build_object('module', NEW.module);
        END IF;
        PERFORM pg_notify('syllabus_previews', payload::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER plan_previews_notify AFTER INSERT OR UPDATE ON plan_previews
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_preview();

-- One statement per preview from the worker (thousands a second at scale): acts for the plan's
-- owner like the application's transactions do (row-level security applies to the insert), does
-- not wait for a WAL flush (the row is disposable), and writes only while the run still holds its
-- lease (a run cancelled mid-statement cannot leave a row behind the attempt's record). A rescued
-- or released run's rows are cleared when the next run of the attempt starts.
CREATE FUNCTION syllabus_publish_preview(p_user text, p_plan uuid, p_attempt integer,
                                         p_position integer, p_module jsonb,
                                         p_job uuid, p_lease uuid) RETURNS void
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM set_config('syllabus.user_id', p_user, true);
        PERFORM set_config('synchronous_commit', 'off', true);
        INSERT INTO plan_previews (plan_id, attempt_number, position, user_id, module)
        SELECT p_plan, p_attempt, p_position, p_user, p_module
        WHERE EXISTS (SELECT 1 FROM jobs
                      WHERE id = p_job AND lease_token = p_lease AND status = 'processing')
        ON CONFLICT (plan_id, attempt_number, position)
            DO UPDATE SET module = EXCLUDED.module, created_at = now();
    END
    $$;

-- A deleted plan's event streams end: its running job's row only loses its plan_id (no status
-- change, so no job event), so the delete tells the streams itself.
CREATE FUNCTION syllabus_notify_plan_deleted() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('syllabus_previews',
            jsonb_build_object('plan_id', OLD.id, 'deleted', true)::text);
        RETURN NULL;
    END
    $$;

CREATE TRIGGER plans_notify_delete AFTER DELETE ON plans
    FOR EACH ROW EXECUTE FUNCTION syllabus_notify_plan_deleted();
