-- The merged capped rows stay merged (each keeps its count in no column once `times` is gone).
DROP INDEX attempts_one_capped_idx;
ALTER TABLE generation_attempts DROP CONSTRAINT attempts_times_only_capped;
ALTER TABLE generation_attempts DROP COLUMN times;

DROP INDEX jobs_pending_run_at_idx;
DROP INDEX jobs_finished_idx;
DROP INDEX skill_nodes_parent_idx;
DROP INDEX flashcards_module_idx;

DROP INDEX attempts_plan_created_idx;
CREATE INDEX attempts_plan_created_idx ON generation_attempts (plan_id, created_at DESC);
DROP INDEX jobs_user_id_idx;
CREATE INDEX jobs_user_created_idx ON jobs (user_id, created_at DESC, id DESC);
DROP INDEX plans_user_id_idx;
CREATE INDEX plans_user_created_idx ON plans (user_id, created_at DESC, id DESC);
