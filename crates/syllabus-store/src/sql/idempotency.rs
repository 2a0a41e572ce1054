//! Idempotency keys (issue #23), claimed and answered inside the transaction of the create they
//! guard: a committed key always carries the answer of committed work.

use diesel::prelude::*;
use diesel::sql_types::{Bool, Bytea, Double, Nullable, SmallInt, Text};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::UserId;

use crate::error::StoreError;
use crate::records::{Idempotency, Keyed, KeyedRequest, StoredResponse};
use crate::sql::prepared::Prepared;

/// What claiming a key found.
pub(crate) enum Claim {
    /// The key is new: the create goes on and stores its answer with [`answer_key`].
    Fresh,
    /// The key's first request was the same: its answer.
    Replay(StoredResponse),
}

/// Claims a key in one round trip: the transaction-scoped advisory lock on (user, key) with
/// `pg_try_` (never a wait), the user's row, and the key's row inserted `in_progress` when the
/// lock was had, taking over an expired row not pruned yet. `got`: the lock was had; `fresh`:
/// the row is this request's.
const CLAIM_SQL: &str = "WITH lock AS (
        SELECT pg_try_advisory_xact_lock(hashtext($1), hashtext($2)) AS got
     ), usr AS (
        INSERT INTO users (id) SELECT $1 FROM lock WHERE got ON CONFLICT DO NOTHING
     ), claimed AS (
        INSERT INTO idempotency_keys
            (user_id, key, method, path, fingerprint, status, expires_at)
        SELECT $1, $2, $3, $4, $5, 'in_progress', now() + make_interval(secs => $6)
        FROM lock WHERE got
        ON CONFLICT (user_id, key) DO UPDATE
            SET method = EXCLUDED.method, path = EXCLUDED.path,
                fingerprint = EXCLUDED.fingerprint, status = 'in_progress',
                response_status = NULL, response_headers = '{}'::jsonb, response_body = NULL,
                created_at = now(), expires_at = EXCLUDED.expires_at
            WHERE idempotency_keys.expires_at <= now()
        RETURNING 1
     )
     SELECT got, EXISTS (SELECT 1 FROM claimed) AS fresh FROM lock";

/// The answer of the create that claimed the key, in its transaction.
const ANSWER_SQL: &str = "UPDATE idempotency_keys
     SET status = 'done', response_status = $3, response_headers = $4::jsonb, response_body = $5
     WHERE user_id = $1 AND key = $2";

#[derive(QueryableByName)]
struct Claimed {
    #[diesel(sql_type = Bool)]
    got: bool,
    #[diesel(sql_type = Bool)]
    fresh: bool,
}

#[derive(QueryableByName)]
struct KeyRow {
    #[diesel(sql_type = Text)]
    method: String,
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Bytea)]
    fingerprint: Vec<u8>,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<SmallInt>)]
    response_status: Option<i16>,
    #[diesel(sql_type = Text)]
    response_headers: String,
    #[diesel(sql_type = Nullable<Bytea>)]
    response_body: Option<Vec<u8>>,
}

/// Claims `req`'s key for `user` in the current transaction, before anything is created or
/// counted toward the rate limit.
///
/// One round trip ([`CLAIM_SQL`]): a transaction-scoped advisory lock on (user, key) (the
/// two-integer form: its own lock space, and no string that two pairs could share) is tried first:
/// a request holding it is still in flight ([`StoreError::IdempotencyKeyInUse`], never a wait).
/// Then the row is inserted `in_progress` (an expired row is taken over); when an unexpired one
/// exists, it is the answer of a committed first request: replayed when the route and body
/// match, else [`StoreError::IdempotencyKeyReused`].
///
/// # Errors
/// As above; the store's errors.
pub(crate) async fn claim_key(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    req: &KeyedRequest,
) -> Result<Claim, StoreError> {
    let claimed: Claimed = Prepared(
        diesel::sql_query(CLAIM_SQL)
            .bind::<Text, _>(user.as_str())
            .bind::<Text, _>(&req.key)
            .bind::<Text, _>(&req.method)
            .bind::<Text, _>(&req.path)
            .bind::<Bytea, _>(&req.fingerprint)
            .bind::<Double, _>(req.ttl.as_secs_f64()),
    )
    .get_result(conn)
    .await?;
    if !claimed.got {
        return Err(StoreError::IdempotencyKeyInUse);
    }
    if claimed.fresh {
        return Ok(Claim::Fresh);
    }
    let row: KeyRow = diesel::sql_query(
        "SELECT method, path, fingerprint, status, response_status,
                response_headers::text AS response_headers, response_body
         FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind::<Text, _>(user.as_str())
    .bind::<Text, _>(&req.key)
    .get_result(conn)
    .await?;
    if row.method != req.method || row.path != req.path || row.fingerprint != req.fingerprint {
        return Err(StoreError::IdempotencyKeyReused);
    }
    let (Some(status), Some(body), "done") =
        (row.response_status, row.response_body, row.status.as_str())
    else {
        return Err(StoreError::IdempotencyKeyInUse);
    };
    let headers: Vec<(String, String)> = serde_json::from_str(&row.response_headers)
        .map_err(|e| StoreError::Unexpected(format!("stored headers: {e}")))?;
    Ok(Claim::Replay(StoredResponse {
        status: u16::try_from(status).unwrap_or(500),
        headers,
        body,
    }))
}

/// Stores the answer of the create that claimed `key`, in the create's transaction: the row
/// becomes `done`.
///
/// # Errors
/// The store's errors.
pub(crate) async fn answer_key(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    key: &str,
    answer: &StoredResponse,
) -> Result<(), StoreError> {
    let headers = serde_json::to_string(&answer.headers)
        .map_err(|e| StoreError::Unexpected(format!("headers: {e}")))?;
    let updated = Prepared(
        diesel::sql_query(ANSWER_SQL)
            .bind::<Text, _>(user.as_str())
            .bind::<Text, _>(key)
            .bind::<SmallInt, _>(i16::try_from(answer.status).unwrap_or(500))
            .bind::<Text, _>(headers)
            .bind::<Bytea, _>(&answer.body),
    )
    .execute(conn)
    .await?;
    // The row this transaction claimed: anything else would commit work without its key.
    if updated != 1 {
        return Err(StoreError::Unexpected(format!(
            "idempotency key answered {updated} rows"
        )));
    }
    Ok(())
}

/// Claims `idem`'s key (when there is one) before a create: `Some` answer to replay, or `None`
/// for the create to go on.
///
/// # Errors
/// As [`claim_key`].
pub(crate) async fn claim<T>(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    idem: Option<&Idempotency<T>>,
) -> Result<Option<StoredResponse>, StoreError> {
    match idem {
        None => Ok(None),
        Some(i) => Ok(match claim_key(conn, user, &i.request).await? {
            Claim::Fresh => None,
            Claim::Replay(answer) => Some(answer),
        }),
    }
}

/// Stores the answer for what a create made (when it had a key), in its transaction.
///
/// # Errors
/// As [`answer_key`].
pub(crate) async fn finish<T>(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    idem: Option<Idempotency<T>>,
    made: T,
) -> Result<Keyed<T>, StoreError> {
    if let Some(i) = idem {
        let answer = (i.answer)(&made);
        answer_key(conn, user, &i.request.key, &answer).await?;
    }
    Ok(Keyed::Fresh(made))
}

/// Drops the key a create claimed when the create refused without creating anything but still
/// commits (a capped regeneration records its refusal): the key is free again rather than left
/// `in_progress` with no answer.
///
/// # Errors
/// The store's errors.
pub(crate) async fn forget<T>(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    idem: Option<Idempotency<T>>,
) -> Result<(), StoreError> {
    if let Some(i) = idem {
        diesel::sql_query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind::<Text, _>(user.as_str())
            .bind::<Text, _>(&i.request.key)
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// Keys that expired before `$1` (the pass's clock) and by the database's clock, which set
/// `expires_at` and decides a takeover: a worker whose clock runs ahead never prunes a key early.
/// A batch of `$2` (the retention pass).
pub(crate) const DELETE_EXPIRED_KEYS: &str = "
    DELETE FROM idempotency_keys WHERE ctid IN (
        SELECT ctid FROM idempotency_keys WHERE expires_at < LEAST($1, now()) LIMIT $2)";
