-- Shared provider limits (issue #22): every `serve` and `worker` process reserves a provider
-- call here before making it, so the fleet keeps the provider's requests and tokens per minute.
--
-- `provider_state`: one row per provider key (base URL and model). Reservations lock it (the
-- upsert of `crates/syllabus-store/src/stores/limits.rs`), so they are serialized per provider
-- for one short transaction and never across a call. `paused_until` is set by a 429 and refuses
-- every reservation until then. The counters feed /metrics. Later columns (a circuit breaker's
-- state) belong here too.
CREATE TABLE provider_state (
    provider      text PRIMARY KEY,
    paused_until  timestamptz,
    granted       bigint NOT NULL DEFAULT 0 CHECK (granted >= 0),
    refused       bigint NOT NULL DEFAULT 0 CHECK (refused >= 0),
    paused_ms     bigint NOT NULL DEFAULT 0 CHECK (paused_ms >= 0),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- The sliding window's reservations: one row per call, its tokens the estimate until the call's
-- reported usage corrects it. Rows older than the window are deleted by the next reservation of
-- their provider, so a provider has about a window's calls here. Unlogged: after a crash the
-- window starts empty (at worst one window's burst), and the hot inserts write no WAL.
CREATE UNLOGGED TABLE provider_reservations (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider  text NOT NULL,
    at        timestamptz NOT NULL,
    tokens    bigint NOT NULL CHECK (tokens >= 0)
);
CREATE INDEX provider_reservations_window ON provider_reservations (provider, at);

-- Not owned by a user: only the runtime's system scope sees them.
ALTER TABLE provider_state ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_state FORCE ROW LEVEL SECURITY;
CREATE POLICY provider_state_system ON provider_state
    USING (syllabus_row_visible(NULL)) WITH CHECK (syllabus_row_visible(NULL));
ALTER TABLE provider_reservations ENABLE ROW LEVEL SECURITY;
ALTER TABLE provider_reservations FORCE ROW LEVEL SECURITY;
CREATE POLICY provider_reservations_system ON provider_reservations
    USING (syllabus_row_visible(NULL)) WITH CHECK (syllabus_row_visible(NULL));

-- Fair claiming between users (syllabus_domain::fairness): a job's virtual time is now, or an
-- hour after the newest virtual time among its user's pending jobs, whichever is later (the
-- trigger reads the user's own rows under row-level security, through `jobs_user_fair_idx`).
-- Due jobs are claimed by priority, then by greatest(run_at, fair_at), then id: every user's
-- first job before anyone's second. Existing rows keep the migration's time (a fast default).
ALTER TABLE jobs ADD COLUMN fair_at timestamptz NOT NULL DEFAULT now();

CREATE FUNCTION jobs_fair_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    NEW.fair_at := greatest(
        now(),
        (SELECT max(fair_at) FROM jobs WHERE user_id = NEW.user_id AND status = 'pending')
            + interval '1 hour'
    );
    RETURN NEW;
END
$$;
CREATE TRIGGER jobs_fair_at BEFORE INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_fair_at();

CREATE INDEX jobs_user_fair_idx ON jobs (user_id, fair_at DESC) WHERE status = 'pending';
CREATE INDEX jobs_fair_claim_idx ON jobs (priority DESC, greatest(run_at, fair_at), id)
    WHERE status = 'pending';
DROP INDEX jobs_claim_idx;
