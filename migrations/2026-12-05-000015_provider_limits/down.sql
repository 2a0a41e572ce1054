CREATE INDEX jobs_claim_idx ON jobs (priority DESC, run_at, id) WHERE status = 'pending';
DROP INDEX jobs_fair_claim_idx;
DROP INDEX jobs_user_fair_idx;
DROP TRIGGER jobs_fair_at ON jobs;
DROP FUNCTION jobs_fair_at();
ALTER TABLE jobs DROP COLUMN fair_at;
DROP TABLE provider_reservations;
DROP TABLE provider_state;
