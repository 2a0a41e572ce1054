DROP INDEX jobs_waiting_idx;
ALTER TABLE jobs DROP COLUMN waits_for;
