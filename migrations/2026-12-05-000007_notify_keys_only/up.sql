-- Preview notifications carry keys only (issue #18).
--
-- A NOTIFY payload reaches every session that LISTENs on its channel, and any role allowed to
-- connect to the database may LISTEN: row-level security does not apply to notifications. The
-- preview trigger used to put the module itself (a user's generated text) in its payload; it now
-- sends the preview's key, and each API process reads the row back as the user its stream serves
-- (crates/syllabus-store/src/listen.rs). The other payloads already carry ids and statuses only.
CREATE OR REPLACE FUNCTION syllabus_notify_preview() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
    BEGIN
        PERFORM pg_notify('syllabus_previews', jsonb_build_object(
            'plan_id', NEW.plan_id,
            'attempt_number', NEW.attempt_number,
            'index', NEW.position)::text);
        RETURN NULL;
    END
    $$;
