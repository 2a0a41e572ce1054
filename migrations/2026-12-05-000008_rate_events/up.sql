-- Requests that count toward a user's sliding-window rate limit without creating a job
-- (issue #18): a regenerate refused at the attempt cap makes no provider call, but it still
-- locks the plan and writes its `capped` attempt, so it is counted like a job of its type.
-- The window's check reads the jobs created and these rows together; each check deletes the
-- user's rows that left the window, so a user has at most RATE_LIMIT_PER_HOUR rows per type.
CREATE TABLE rate_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_type    text NOT NULL CHECK (job_type IN ('plan_generation', 'flashcards', 'distractors', 'skill_tree')),
    created_at  timestamptz NOT NULL
);
CREATE INDEX rate_events_window ON rate_events (user_id, job_type, created_at DESC);

ALTER TABLE rate_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE rate_events FORCE ROW LEVEL SECURITY;
CREATE POLICY rate_events_owner ON rate_events
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));
