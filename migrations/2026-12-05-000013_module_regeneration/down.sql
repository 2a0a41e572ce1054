DROP TABLE module_drafts;
DROP FUNCTION syllabus_notify_draft();
DROP INDEX attempts_job_idx;
DELETE FROM generation_attempts WHERE module_id IS NOT NULL;
DROP INDEX attempts_one_capped_idx;
CREATE UNIQUE INDEX attempts_one_capped_idx ON generation_attempts (plan_id) WHERE number IS NULL;
ALTER TABLE generation_attempts DROP CONSTRAINT attempts_number_unless_capped;
ALTER TABLE generation_attempts ADD CONSTRAINT attempts_number_unless_capped
    CHECK ((classification IS NOT DISTINCT FROM 'capped') = (number IS NULL));
ALTER TABLE generation_attempts DROP COLUMN module_id;
DROP INDEX jobs_one_active_module_regeneration_idx;
DELETE FROM rate_events WHERE job_type = 'module_regeneration';
DELETE FROM jobs WHERE job_type = 'module_regeneration';
ALTER TABLE rate_events DROP CONSTRAINT rate_events_job_type_check;
ALTER TABLE rate_events ADD CONSTRAINT rate_events_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree'));
ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree'));
