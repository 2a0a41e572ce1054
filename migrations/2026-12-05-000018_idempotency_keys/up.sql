-- Idempotency keys (issue #23): the first answer to a create sent with an `Idempotency-Key`
-- header, replayed for the same key and the same request while the key is kept.
--
-- A row is written in the create's own transaction, with the answer the handler is about to
-- send: a committed key always points at committed work and its answer (`done`), and work never
-- commits without its key. `in_progress` is what the row says only inside that transaction.
-- `fingerprint` is the SHA-256 of the request body's bytes; `method` and `path` the route the
-- key was used on. Expired rows are pruned by the workers' retention pass, in batches.
CREATE TABLE idempotency_keys (
    user_id          text NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    key              text NOT NULL CHECK (char_length(key) BETWEEN 1 AND 255),
    method           text NOT NULL,
    path             text NOT NULL,
    fingerprint      bytea NOT NULL,
    status           text NOT NULL CHECK (status IN ('in_progress', 'done')),
    response_status  smallint,
    response_headers jsonb NOT NULL DEFAULT '{}'::jsonb,
    response_body    bytea,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_user_key UNIQUE (user_id, key)
);
-- The retention pass's batches.
CREATE INDEX idempotency_keys_expires_idx ON idempotency_keys (expires_at);

ALTER TABLE idempotency_keys ENABLE ROW LEVEL SECURITY;
ALTER TABLE idempotency_keys FORCE ROW LEVEL SECURITY;
CREATE POLICY idempotency_keys_owner ON idempotency_keys
    USING (syllabus_row_visible(user_id)) WITH CHECK (syllabus_row_visible(user_id));
