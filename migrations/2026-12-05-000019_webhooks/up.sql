-- Signed webhooks (issue #23): a user's endpoints, the deliveries of events to them and each
-- delivery's attempts; the trigger that queues deliveries in the transaction that ends a job.
--
-- `webhook_endpoints`: at most 10 per user (the API counts under the user's row lock). `secret`
-- is the Standard Webhooks `whsec_<base64>` text, shown once by the create. `healthy_at` is the
-- last success of a delivery to it, or its re-enabling: a delivery that fails for good disables
-- the endpoint when nothing succeeded since that delivery's first attempt.
CREATE TABLE webhook_endpoints (
    id               uuid PRIMARY KEY,
    user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    url              text NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2048),
    secret           text NOT NULL CHECK (secret LIKE 'whsec\_%'),
    events           text[] NOT NULL CHECK (cardinality(events) >= 1 AND events <@
                         ARRAY['plan.ready', 'plan.failed', 'job.completed', 'job.failed']),
    description      text CHECK (char_length(description) BETWEEN 1 AND 200),
    enabled          boolean NOT NULL DEFAULT true,
    disabled_reason  text,
    healthy_at       timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_endpoints_reason_when_disabled CHECK (enabled OR disabled_reason IS NOT NULL)
);
CREATE INDEX webhook_endpoints_user_created_idx ON webhook_endpoints (user_id, created_at DESC, id DESC);
-- The trigger's one probe: the enabled endpoints of the job's user.
CREATE INDEX webhook_endpoints_enabled_idx ON webhook_endpoints (user_id) WHERE enabled;

-- One event to one endpoint. `id` is the `webhook-id` sent (the same on every retry); `body` the
-- exact JSON text signed and sent (built once, so every attempt sends the same bytes).
CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    endpoint_id       uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    event_type        text NOT NULL CHECK (event_type IN
                          ('plan.ready', 'plan.failed', 'job.completed', 'job.failed', 'webhook.test')),
    body              text NOT NULL,
    status            text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempt_count     integer NOT NULL DEFAULT 0 CHECK (attempt_count >= 0),
    first_attempt_at  timestamptz,
    next_attempt_at   timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    ended_at          timestamptz,
    CONSTRAINT webhook_deliveries_ended CHECK ((status = 'pending') = (ended_at IS NULL))
);
-- The endpoint's deliveries, newest first, paged by id (UUID v7: time-ordered).
CREATE INDEX webhook_deliveries_endpoint_id_idx ON webhook_deliveries (endpoint_id, id DESC);
-- A test event is refused while one to the same endpoint is pending.
CREATE INDEX webhook_deliveries_pending_test_idx ON webhook_deliveries (endpoint_id)
    WHERE status = 'pending' AND event_type = 'webhook.test';
-- The retention pass's batches.
CREATE INDEX webhook_deliveries_ended_idx ON webhook_deliveries (ended_at) WHERE ended_at IS NOT NULL;

-- Each attempt of a delivery: never the receiver's body beyond a 200-character excerpt.
CREATE TABLE webhook_attempts (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id       uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    user_id           text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attempted_at      timestamptz NOT NULL,
    status_code       smallint CHECK (status_code BETWEEN 100 AND 999),
    duration_ms       integer NOT NULL CHECK (duration_ms >= 0),
    outcome           text NOT NULL CHECK (outcome IN
                          ('success', 'http_status', 'timeout', 'connection', 'address_refused', 'too_large')),
    response_excerpt  text CHECK (char_length(response_excerpt) <= 200)
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, attempted_at);

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries', 'webhook_attempts']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format(
            'CREATE POLICY %I ON %I USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id))',
            t || '_owner', t);
    END LOOP;
END
$$;

-- The delivery job type: run by the same runtime, never listed, created or shown by the API.
ALTER TABLE jobs DROP CONSTRAINT jobs_job_type_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_job_type_check CHECK (job_type IN
    ('plan_generation', 'flashcards', 'distractors', 'skill_tree', 'module_regeneration',
     'webhook_delivery'));

-- Fair claiming (migration 000015) is between users' own work: a delivery is due now in fair
-- order and does not push its user's next job an hour back, nor is it pushed back by them. The
-- trigger's index leaves deliveries out, so a user's pending (retrying) deliveries are never
-- scanned by the insert of their next job.
DROP INDEX jobs_user_fair_idx;
CREATE INDEX jobs_user_fair_idx ON jobs (user_id, fair_at DESC)
    WHERE status = 'pending' AND job_type <> 'webhook_delivery';
CREATE OR REPLACE FUNCTION jobs_fair_at() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    IF NEW.job_type = 'webhook_delivery' THEN
        NEW.fair_at := now();
        RETURN NEW;
    END IF;
    NEW.fair_at := greatest(
        now(),
        (SELECT max(fair_at) FROM jobs
         WHERE user_id = NEW.user_id AND status = 'pending' AND job_type <> 'webhook_delivery')
            + interval '1 hour'
    );
    RETURN NEW;
END
$$;

-- A UUID v7 (time-ordered, as the store's own ids; PostgreSQL 15 has no uuidv7()): the
-- millisecond clock in the first 48 bits of a random UUID, its version nibble set to 7.
CREATE FUNCTION syllabus_uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE
    AS $$
        SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid())
            PLACING substring(int8send(floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
            FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid
    $$;

-- The events of a job's end (syllabus_domain::webhooks::WebhookEvent::of_job_end): in the
-- transaction that ends the job, whichever writer ends it (a run's own end, the batched ends,
-- a give-up after rescues), one delivery row per enabled endpoint of the job's user subscribed
-- to each event, and its delivery job, due now. A rolled-back end queues nothing. The job row
-- is filled as the store's own inserts fill it (`fair_at` by its trigger above; `max_attempts`
-- is a ceiling only: the delivery's window decides when it stops).
CREATE FUNCTION syllabus_webhook_events() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    kinds text[] := ARRAY['job.' || NEW.status];
    kind text;
    endpoint record;
    delivery uuid;
    data json;
    stamp text := to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');
BEGIN
    IF NEW.job_type = 'plan_generation' THEN
        kinds := kinds || CASE NEW.status WHEN 'completed' THEN 'plan.ready' ELSE 'plan.failed' END;
    END IF;
    FOR endpoint IN
        SELECT id, events FROM webhook_endpoints
        WHERE user_id = NEW.user_id AND enabled AND events && kinds
        ORDER BY id
        -- An endpoint deleted meanwhile is waited for and then skipped, never referenced.
        FOR KEY SHARE
    LOOP
        FOREACH kind IN ARRAY kinds LOOP
            CONTINUE WHEN NOT kind = ANY (endpoint.events);
            IF kind LIKE 'plan.%' THEN
                data := json_build_object('plan_id', NEW.plan_id, 'job_id', NEW.id,
                    'status', CASE NEW.status WHEN 'completed' THEN 'ready' ELSE 'failed' END);
            ELSE
                data := json_build_object('job_id', NEW.id, 'job_type', NEW.job_type,
                    'status', NEW.status, 'plan_id', NEW.plan_id);
            END IF;
            delivery := syllabus_uuid_v7();
            INSERT INTO webhook_deliveries (id, endpoint_id, user_id, event_type, body, next_attempt_at)
            VALUES (delivery, endpoint.id, NEW.user_id, kind,
                    json_build_object('type', kind, 'timestamp', stamp, 'data', data)::text, now());
            INSERT INTO jobs (id, user_id, job_type, payload, max_attempts, priority, request_id,
                              created_at, run_at, updated_at)
            VALUES (syllabus_uuid_v7(), NEW.user_id, 'webhook_delivery',
                    jsonb_build_object('delivery_id', delivery), 10000, 0, NEW.request_id,
                    now(), now(), now());
        END LOOP;
    END LOOP;
    RETURN NULL;
END
$$;
CREATE TRIGGER jobs_webhook_events AFTER UPDATE OF status ON jobs
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          AND NEW.status IN ('completed', 'failed')
          AND NEW.job_type <> 'webhook_delivery')
    EXECUTE FUNCTION syllabus_webhook_events();
