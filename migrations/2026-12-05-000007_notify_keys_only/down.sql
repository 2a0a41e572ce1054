-- Back to payloads that carry the module when it fits (2026-12-02-000004_plan_previews).
CREATE OR REPLACE FUNCTION syllabus_notify_preview() RETURNS trigger
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
