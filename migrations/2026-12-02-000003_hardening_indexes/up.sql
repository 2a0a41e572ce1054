-- Hardening (issue #10). The migration runs as the application role, which row-level security
-- applies to: act as the system scope to see every row.
SELECT set_config('syllabus.scope', 'system', true);

-- Lists filter on user_id themselves (row-level security stays the safety net: its
-- `OR scope = 'system'` keeps PostgreSQL from using user_id as an index condition) and page by id.
DROP INDEX plans_user_created_idx;
CREATE INDEX plans_user_id_idx ON plans (user_id, id DESC);
DROP INDEX jobs_user_created_idx;
CREATE INDEX jobs_user_id_idx ON jobs (user_id, id DESC);
-- A plan's attempts page by (created_at, id), newest first.
DROP INDEX attempts_plan_created_idx;
CREATE INDEX attempts_plan_created_idx ON generation_attempts (plan_id, created_at DESC, id DESC);

-- Foreign keys whose parent's delete cascades (or sets NULL) scanned the child table.
CREATE INDEX flashcards_module_idx ON flashcards (module_id);
CREATE INDEX skill_nodes_parent_idx ON skill_nodes (parent_id);

-- The runtime's own queries: pruning finished jobs and the next due time (and the oldest ready
-- job's age) read an index instead of the table.
CREATE INDEX jobs_finished_idx ON jobs (status, completed_at) WHERE completed_at IS NOT NULL;
CREATE INDEX jobs_pending_run_at_idx ON jobs (run_at) WHERE status = 'pending';

-- Capped attempts: one row per plan, counting the capped requests (`times`) and dated by the
-- latest; the rows no longer grow with every refused regenerate.
ALTER TABLE generation_attempts ADD COLUMN times integer NOT NULL DEFAULT 1
    CONSTRAINT attempts_times_positive CHECK (times >= 1);
ALTER TABLE generation_attempts ADD CONSTRAINT attempts_times_only_capped
    CHECK (times = 1 OR number IS NULL);
WITH capped AS (
    SELECT id, count(*) OVER w AS n, row_number() OVER (w ORDER BY created_at DESC, id DESC) AS r
    FROM generation_attempts WHERE number IS NULL
    WINDOW w AS (PARTITION BY plan_id)
)
UPDATE generation_attempts a SET times = capped.n FROM capped WHERE a.id = capped.id AND capped.r = 1;
WITH capped AS (
    SELECT id, row_number() OVER (PARTITION BY plan_id ORDER BY created_at DESC, id DESC) AS r
    FROM generation_attempts WHERE number IS NULL
)
DELETE FROM generation_attempts a USING capped WHERE a.id = capped.id AND capped.r > 1;
CREATE UNIQUE INDEX attempts_one_capped_idx ON generation_attempts (plan_id) WHERE number IS NULL;
