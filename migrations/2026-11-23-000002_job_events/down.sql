ALTER TABLE generation_attempts DROP COLUMN issues;
DROP TRIGGER jobs_notify_status ON jobs;
DROP TRIGGER jobs_notify_insert ON jobs;
DROP FUNCTION syllabus_notify_job();
