-- The initial schema: users, plans and their generated content, attempts, jobs, flashcards,
-- distractors and skill trees. Every owned row carries user_id and is guarded by row-level
-- security keyed on the per-transaction setting `syllabus.user_id`.

CREATE TABLE users (
    id          text PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 255),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE plans (
    id                     uuid PRIMARY KEY,
    user_id                text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic                  text NOT NULL CHECK (char_length(topic) BETWEEN 3 AND 200),
    topic_truncated        boolean NOT NULL,
    topic_original_length  integer NOT NULL CHECK (topic_original_length >= 3),
    notes                  text CHECK (char_length(notes) BETWEEN 1 AND 2000),
    notes_truncated        boolean NOT NULL DEFAULT false,
    notes_original_length  integer CHECK (notes_original_length >= 0),
    skill_level            text NOT NULL CHECK (skill_level IN ('beginner', 'intermediate', 'advanced')),
    weekly_hours           smallint NOT NULL CHECK (weekly_hours BETWEEN 0 AND 80),
    learning_style         text NOT NULL CHECK (learning_style IN ('reading', 'video', 'practice', 'mixed')),
    start_date             date,
    deadline_date          date,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT plans_deadline_after_start CHECK (deadline_date IS NULL OR start_date IS NULL OR deadline_date >= start_date)
);
CREATE INDEX plans_user_created_idx ON plans (user_id, created_at DESC, id DESC);

CREATE TABLE modules (
    id                 uuid PRIMARY KEY,
    plan_id            uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position           integer NOT NULL CHECK (position >= 1),
    title              text NOT NULL CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    description        text CHECK (char_length(description) <= 2000),
    estimated_minutes  integer NOT NULL CHECK (estimated_minutes BETWEEN 15 AND 480),
    clamped            boolean NOT NULL DEFAULT false,
    CONSTRAINT modules_plan_position_key UNIQUE (plan_id, position)
);

CREATE TABLE tasks (
    id                 uuid PRIMARY KEY,
    module_id          uuid NOT NULL REFERENCES modules (id) ON DELETE CASCADE,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position           integer NOT NULL CHECK (position >= 1),
    title              text NOT NULL CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    description        text CHECK (char_length(description) <= 2000),
    estimated_minutes  integer NOT NULL CHECK (estimated_minutes BETWEEN 5 AND 120),
    clamped            boolean NOT NULL DEFAULT false,
    CONSTRAINT tasks_module_position_key UNIQUE (module_id, position)
);

CREATE TABLE jobs (
    id                    uuid PRIMARY KEY,
    user_id               text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_type              text NOT NULL CHECK (job_type IN ('plan_generation', 'flashcards', 'distractors', 'skill_tree')),
    status                text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'processing', 'completed', 'failed', 'cancelled')),
    -- A deleted plan keeps its jobs' history (they are cancelled, not erased).
    plan_id               uuid REFERENCES plans (id) ON DELETE SET NULL,
    payload               jsonb NOT NULL,
    result                jsonb,
    error_message         text,
    error_classification  text CHECK (error_classification IN ('capped', 'timeout', 'rate_limit', 'validation', 'provider_error')),
    attempts              integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts          integer NOT NULL CHECK (max_attempts >= 1),
    priority              smallint NOT NULL DEFAULT 0,
    run_at                timestamptz NOT NULL DEFAULT now(),
    -- The lease: a fresh token per claim fences out a worker whose job was rescued.
    lease_token           uuid,
    locked_by             text,
    heartbeat_at          timestamptz,
    request_id            text,
    created_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    completed_at          timestamptz,
    updated_at            timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT jobs_lease_when_processing CHECK ((status = 'processing') = (lease_token IS NOT NULL))
);
CREATE INDEX jobs_claim_idx ON jobs (priority DESC, run_at, id) WHERE status = 'pending';
CREATE INDEX jobs_processing_heartbeat_idx ON jobs (heartbeat_at) WHERE status = 'processing';
CREATE INDEX jobs_user_type_created_idx ON jobs (user_id, job_type, created_at);
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC, id DESC);
CREATE INDEX jobs_plan_idx ON jobs (plan_id);
-- At most one plan generation queued or running per plan.
CREATE UNIQUE INDEX jobs_one_active_generation_idx ON jobs (plan_id)
    WHERE job_type = 'plan_generation' AND status IN ('pending', 'processing');

CREATE TABLE generation_attempts (
    id                 uuid PRIMARY KEY,
    plan_id            uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id            text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id             uuid,
    -- 1..3 for attempts that count toward the cap; NULL for capped records.
    number             smallint CHECK (number BETWEEN 1 AND 3),
    status             text NOT NULL CHECK (status IN ('success', 'failure')),
    classification     text CHECK (classification IN ('capped', 'timeout', 'rate_limit', 'validation', 'provider_error')),
    duration_ms        integer NOT NULL DEFAULT 0 CHECK (duration_ms >= 0),
    modules_count      integer NOT NULL DEFAULT 0,
    tasks_count        integer NOT NULL DEFAULT 0,
    topic_truncated    boolean NOT NULL DEFAULT false,
    notes_truncated    boolean NOT NULL DEFAULT false,
    effort_normalized  boolean NOT NULL DEFAULT false,
    modules_clamped    integer NOT NULL DEFAULT 0,
    tasks_clamped      integer NOT NULL DEFAULT 0,
    timeout_extended   boolean NOT NULL DEFAULT false,
    provider           text,
    model              text,
    prompt_tokens      integer,
    completion_tokens  integer,
    total_tokens       integer,
    prompt_hash        text,
    error              text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT attempts_class_iff_failure CHECK ((status = 'success') = (classification IS NULL)),
    CONSTRAINT attempts_number_unless_capped CHECK ((classification IS NOT DISTINCT FROM 'capped') = (number IS NULL)),
    -- The cap, enforced by the database: three numbered attempts at most, each once.
    CONSTRAINT attempts_plan_number_key UNIQUE (plan_id, number)
);
CREATE INDEX attempts_plan_created_idx ON generation_attempts (plan_id, created_at DESC);

CREATE TABLE flashcards (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    module_id   uuid REFERENCES modules (id) ON DELETE SET NULL,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The job that created the card: a retried or rescued job replaces only its own cards.
    job_id      uuid NOT NULL,
    question    text NOT NULL CHECK (char_length(question) BETWEEN 1 AND 1000),
    answer      text NOT NULL CHECK (char_length(answer) BETWEEN 1 AND 2000),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX flashcards_plan_idx ON flashcards (plan_id, created_at, id);
CREATE INDEX flashcards_job_idx ON flashcards (job_id);

CREATE TABLE distractors (
    id            uuid PRIMARY KEY,
    flashcard_id  uuid NOT NULL REFERENCES flashcards (id) ON DELETE CASCADE,
    user_id       text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position      smallint NOT NULL CHECK (position BETWEEN 0 AND 2),
    text          text NOT NULL CHECK (char_length(text) BETWEEN 1 AND 2000),
    CONSTRAINT distractors_card_position_key UNIQUE (flashcard_id, position)
);

CREATE TABLE skill_trees (
    id          uuid PRIMARY KEY,
    plan_id     uuid NOT NULL REFERENCES plans (id) ON DELETE CASCADE,
    user_id     text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    job_id      uuid NOT NULL,
    node_count  integer NOT NULL CHECK (node_count >= 1),
    depth       smallint NOT NULL CHECK (depth BETWEEN 1 AND 3),
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT skill_trees_plan_key UNIQUE (plan_id)
);

CREATE TABLE skill_nodes (
    id           uuid PRIMARY KEY,
    tree_id      uuid NOT NULL REFERENCES skill_trees (id) ON DELETE CASCADE,
    parent_id    uuid REFERENCES skill_nodes (id) ON DELETE CASCADE,
    user_id      text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    depth        smallint NOT NULL CHECK (depth BETWEEN 1 AND 3),
    path         text NOT NULL CHECK (path ~ '^[1-9][0-9]*(\.[1-9][0-9]*){0,2}$'),
    title        text NOT NULL CHECK (char_length(btrim(title)) BETWEEN 1 AND 200),
    description  text CHECK (char_length(description) <= 2000),
    CONSTRAINT skill_nodes_tree_path_key UNIQUE (tree_id, path)
);

-- Row-level security. `syllabus.user_id` is set with SET LOCAL in every transaction that acts for
-- a user; `syllabus.scope = 'system'` is set only by the job runtime's own bookkeeping (claiming,
-- rescuing, pruning, metrics), which spans users by design.
CREATE FUNCTION syllabus_row_visible(owner text) RETURNS boolean
    LANGUAGE sql STABLE
    AS $$
        SELECT owner = current_setting('syllabus.user_id', true)
            OR current_setting('syllabus.scope', true) = 'system'
    $$;

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['plans', 'modules', 'tasks', 'jobs', 'generation_attempts',
                              'flashcards', 'distractors', 'skill_trees', 'skill_nodes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id))',
            t || '_owner', t);
    END LOOP;
END
$$;

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY users_self ON users USING (syllabus_row_visible(id)) WITH CHECK (syllabus_row_visible(id));
