-- What every provider call used and cost (issue #22 items 4 and 5).
--
-- `llm_calls`: one row per run that reached the provider (every job type, failures included),
-- written by the transaction that ends the run (fenced by its lease), so a call's row and its
-- run's end commit together or not at all. `job_id` and `plan_id` are plain ids (no foreign
-- key): the record outlives the job (pruned) and the plan (deleted), like the call it records.
-- `cost_nanos` is in 10^-9 currency units at the price in force at the call; NULL when the model
-- had no price (`priced` false) or the provider reported no usage.
CREATE TABLE llm_calls (
    id                 uuid PRIMARY KEY,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id             uuid NOT NULL,
    job_type           text NOT NULL,
    plan_id            uuid,
    provider           text NOT NULL,
    model              text NOT NULL,
    classification     text,
    prompt_tokens      integer CHECK (prompt_tokens >= 0),
    completion_tokens  integer CHECK (completion_tokens >= 0),
    priced             boolean NOT NULL,
    cost_nanos         bigint CHECK (cost_nanos >= 0),
    duration_ms        integer NOT NULL CHECK (duration_ms >= 0),
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX llm_calls_user_time_idx ON llm_calls (user_id, created_at);
-- The retention pass walks the oldest rows.
CREATE INDEX llm_calls_time_idx ON llm_calls (created_at);

-- Calls older than ATTEMPT_RETENTION_DAYS folded per user, UTC day, job type, provider, model
-- and class (`''` for a success), then deleted; kept USAGE_AGGREGATE_RETENTION_DAYS.
CREATE TABLE llm_usage_daily (
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day                date NOT NULL,
    job_type           text NOT NULL,
    provider           text NOT NULL,
    model              text NOT NULL,
    class              text NOT NULL,
    calls              bigint NOT NULL,
    prompt_tokens      bigint NOT NULL,
    completion_tokens  bigint NOT NULL,
    unpriced_calls     bigint NOT NULL,
    cost_nanos         bigint NOT NULL,
    duration_p50_ms    integer NOT NULL,
    duration_p95_ms    integer NOT NULL,
    duration_max_ms    integer NOT NULL,
    PRIMARY KEY (user_id, day, job_type, provider, model, class)
);
CREATE INDEX llm_usage_daily_day_idx ON llm_usage_daily (day);

-- Tokens per user and calendar month (UTC), added to by the transaction that writes each call:
-- the monthly budget's check reads one row.
CREATE TABLE llm_usage_months (
    user_id  text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    month    date NOT NULL,
    tokens   bigint NOT NULL,
    PRIMARY KEY (user_id, month)
);

ALTER TABLE llm_calls ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_calls FORCE ROW LEVEL SECURITY;
CREATE POLICY llm_calls_owner ON llm_calls
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));
ALTER TABLE llm_usage_daily ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_usage_daily FORCE ROW LEVEL SECURITY;
CREATE POLICY llm_usage_daily_owner ON llm_usage_daily
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));
ALTER TABLE llm_usage_months ENABLE ROW LEVEL SECURITY;
ALTER TABLE llm_usage_months FORCE ROW LEVEL SECURITY;
CREATE POLICY llm_usage_months_owner ON llm_usage_months
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));
