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
