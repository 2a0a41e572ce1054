//! The ledger of provider calls (issue #22): a call written with its run's end, the user's
//! month of tokens for the budget, the reads of a usage report and of the metrics, and the
//! retention pass's batches.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{
    BigInt, Bool, Date, Integer, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{FailureClass, JobId, JobType, UserId};

use crate::error::StoreError;
use crate::records::{ProviderCall, UsageCounter, UsageTotals};
use crate::rows::numbers::to_i32;

/// Records `call` for the job `job` (its owner, type and plan read from the job's row) and adds
/// its tokens to the owner's month. Runs in the transaction that ends the run, after its fenced
/// write: both commit or neither does.
pub(crate) async fn record_call(
    conn: &mut AsyncPgConnection,
    job: JobId,
    call: &ProviderCall,
) -> Result<(), StoreError> {
    let tokens =
        i64::from(call.prompt_tokens.unwrap_or(0)) + i64::from(call.completion_tokens.unwrap_or(0));
    let n = diesel::sql_query(
        "WITH j AS (SELECT user_id, job_type, plan_id FROM jobs WHERE id = $1),
              c AS (INSERT INTO llm_calls (id, user_id, job_id, job_type, plan_id, provider, model,
                                           classification, prompt_tokens, completion_tokens,
                                           priced, cost_nanos, duration_ms)
                    SELECT $2, user_id, $1, job_type, plan_id, $3, $4, $5, $6, $7, $8, $9, $10
                    FROM j
                    RETURNING user_id, created_at)
         INSERT INTO llm_usage_months AS m (user_id, month, tokens)
         SELECT user_id, date_trunc('month', created_at AT TIME ZONE 'UTC')::date, $11 FROM c
         ON CONFLICT (user_id, month) DO UPDATE SET tokens = m.tokens + excluded.tokens",
    )
    .bind::<SqlUuid, _>(job.as_uuid())
    .bind::<SqlUuid, _>(uuid::Uuid::now_v7())
    .bind::<Text, _>(&call.provider)
    .bind::<Text, _>(&call.model)
    .bind::<Nullable<Text>, _>(call.classification.map(FailureClass::as_str))
    .bind::<Nullable<Integer>, _>(call.prompt_tokens.map(to_i32))
    .bind::<Nullable<Integer>, _>(call.completion_tokens.map(to_i32))
    .bind::<Bool, _>(call.priced)
    .bind::<Nullable<BigInt>, _>(call.cost_nanos)
    .bind::<Integer, _>(i32::try_from(call.duration_ms).unwrap_or(i32::MAX))
    .bind::<BigInt, _>(tokens)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(StoreError::Unexpected(
            "a provider call's job is gone".into(),
        ));
    }
    Ok(())
}

#[derive(QueryableByName)]
struct Tokens {
    #[diesel(sql_type = BigInt)]
    tokens: i64,
}

/// The tokens `user` used in the month starting `month` (one row read).
pub(crate) async fn month_tokens(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    month: NaiveDate,
) -> Result<u64, StoreError> {
    let rows: Vec<Tokens> =
        diesel::sql_query("SELECT tokens FROM llm_usage_months WHERE user_id = $1 AND month = $2")
            .bind::<Text, _>(user.as_str())
            .bind::<Date, _>(month)
            .load(conn)
            .await?;
    Ok(rows
        .into_iter()
        .next()
        .map_or(0, |r| u64::try_from(r.tokens).unwrap_or(0)))
}

#[derive(QueryableByName)]
pub(crate) struct SumRow {
    #[diesel(sql_type = Text)]
    job_type: String,
    #[diesel(sql_type = BigInt)]
    calls: i64,
    #[diesel(sql_type = BigInt)]
    prompt_tokens: i64,
    #[diesel(sql_type = BigInt)]
    completion_tokens: i64,
    #[diesel(sql_type = BigInt)]
    unpriced_calls: i64,
    #[diesel(sql_type = BigInt)]
    cost_nanos: i64,
}

impl SumRow {
    fn totals(&self) -> UsageTotals {
        let u = |n: i64| u64::try_from(n).unwrap_or(0);
        UsageTotals {
            calls: u(self.calls),
            prompt_tokens: u(self.prompt_tokens),
            completion_tokens: u(self.completion_tokens),
            unpriced_calls: u(self.unpriced_calls),
            cost_nanos: self.cost_nanos,
        }
    }

    fn job_type(&self) -> Result<JobType, StoreError> {
        self.job_type
            .parse()
            .map_err(|_| StoreError::Unexpected(format!("unknown job type {}", self.job_type)))
    }
}

#[derive(QueryableByName)]
struct DayRow {
    #[diesel(sql_type = Date)]
    day: NaiveDate,
    #[diesel(embed)]
    sums: SumRow,
}

/// The sums of raw calls and daily aggregates together, per day and job type, of the calls
/// visible in the transaction's scope.
const DAY_SUMS_SQL: &str = "
    SELECT day, job_type, sum(calls)::bigint AS calls, sum(prompt_tokens)::bigint AS prompt_tokens,
           sum(completion_tokens)::bigint AS completion_tokens,
           sum(unpriced_calls)::bigint AS unpriced_calls, sum(cost_nanos)::bigint AS cost_nanos
    FROM (
        SELECT (created_at AT TIME ZONE 'UTC')::date AS day, job_type, 1 AS calls,
               coalesce(prompt_tokens, 0) AS prompt_tokens,
               coalesce(completion_tokens, 0) AS completion_tokens,
               CASE WHEN priced THEN 0 ELSE 1 END AS unpriced_calls,
               coalesce(cost_nanos, 0) AS cost_nanos
        FROM llm_calls
        WHERE user_id = $1 AND created_at >= ($2::date AT TIME ZONE 'UTC')
          AND created_at < (($3::date + 1) AT TIME ZONE 'UTC')
        UNION ALL
        SELECT day, job_type, calls, prompt_tokens, completion_tokens, unpriced_calls, cost_nanos
        FROM llm_usage_daily
        WHERE user_id = $1 AND day BETWEEN $2 AND $3
    ) AS u
    GROUP BY day, job_type
    ORDER BY day, job_type";

/// `user`'s calls from `from` to `to` (UTC days, both included), per day and job type.
pub(crate) async fn day_sums(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(NaiveDate, JobType, UsageTotals)>, StoreError> {
    let rows: Vec<DayRow> = diesel::sql_query(DAY_SUMS_SQL)
        .bind::<Text, _>(user.as_str())
        .bind::<Date, _>(from)
        .bind::<Date, _>(to)
        .load(conn)
        .await?;
    rows.into_iter()
        .map(|r| Ok((r.day, r.sums.job_type()?, r.sums.totals())))
        .collect()
}

#[derive(QueryableByName)]
struct CounterRow {
    #[diesel(sql_type = Text)]
    provider: String,
    #[diesel(sql_type = Text)]
    model: String,
    #[diesel(sql_type = Text)]
    class: String,
    #[diesel(embed)]
    sums: SumRow,
}

/// Every call ever recorded (raw rows and aggregates, system scope), per provider, model, job
/// type and class. A retention pass moves rows from one side to the other in one transaction,
/// so the sums never go down until aggregates leave their own retention.
pub(crate) async fn counters(
    conn: &mut AsyncPgConnection,
) -> Result<Vec<UsageCounter>, StoreError> {
    let rows: Vec<CounterRow> = diesel::sql_query(
        "SELECT provider, model, job_type, class, sum(calls)::bigint AS calls,
                sum(prompt_tokens)::bigint AS prompt_tokens,
                sum(completion_tokens)::bigint AS completion_tokens,
                sum(unpriced_calls)::bigint AS unpriced_calls, sum(cost_nanos)::bigint AS cost_nanos
         FROM (
             SELECT provider, model, job_type, coalesce(classification, '') AS class, 1 AS calls,
                    coalesce(prompt_tokens, 0) AS prompt_tokens,
                    coalesce(completion_tokens, 0) AS completion_tokens,
                    CASE WHEN priced THEN 0 ELSE 1 END AS unpriced_calls,
                    coalesce(cost_nanos, 0) AS cost_nanos
             FROM llm_calls
             UNION ALL
             SELECT provider, model, job_type, class, calls, prompt_tokens, completion_tokens,
                    unpriced_calls, cost_nanos
             FROM llm_usage_daily
         ) AS u
         GROUP BY provider, model, job_type, class
         ORDER BY provider, model, job_type, class",
    )
    .load(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(UsageCounter {
                job_type: r.sums.job_type()?,
                totals: r.sums.totals(),
                class: if r.class.is_empty() {
                    None
                } else {
                    r.class.parse().ok()
                },
                provider: r.provider,
                model: r.model,
            })
        })
        .collect()
}

/// The advisory lock key of the retention pass (one process at a time): "SYLLUSAG".
pub const RETENTION_LOCK: i64 = 0x5359_4c4c_5553_4147;

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Bool)]
    locked: bool,
}

/// Tries the retention pass's lock for this transaction; `false` when another process holds it.
pub(crate) async fn try_retention_lock(conn: &mut AsyncPgConnection) -> Result<bool, StoreError> {
    let row: Locked = diesel::sql_query("SELECT pg_try_advisory_xact_lock($1) AS locked")
        .bind::<BigInt, _>(RETENTION_LOCK)
        .get_result(conn)
        .await?;
    Ok(row.locked)
}

/// Folds the calls of up to `batch` (user, UTC day) pairs whose day ended before `before` into
/// daily aggregates and deletes them, in one statement; returns the rows folded. A (user, day)
/// is folded whole, so its percentiles are exact; an aggregate that exists already (a day
/// folded, then a late row) adds the counts and keeps the larger percentiles.
pub(crate) async fn fold_calls(
    conn: &mut AsyncPgConnection,
    before: NaiveDate,
    batch: i64,
) -> Result<u64, StoreError> {
    #[derive(QueryableByName)]
    struct Folded {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let row: Folded = diesel::sql_query(
        "WITH pairs AS (
             SELECT DISTINCT user_id, (created_at AT TIME ZONE 'UTC')::date AS day
             FROM llm_calls WHERE created_at < ($1::date AT TIME ZONE 'UTC')
             ORDER BY 2, 1 LIMIT $2),
         gone AS (
             DELETE FROM llm_calls c USING pairs p
             WHERE c.user_id = p.user_id
               AND c.created_at >= (p.day AT TIME ZONE 'UTC')
               AND c.created_at < ((p.day + 1) AT TIME ZONE 'UTC')
             RETURNING c.*),
         agg AS (
             INSERT INTO llm_usage_daily AS d
             SELECT user_id, (created_at AT TIME ZONE 'UTC')::date, job_type, provider, model,
                    coalesce(classification, ''), count(*),
                    coalesce(sum(prompt_tokens), 0), coalesce(sum(completion_tokens), 0),
                    count(*) FILTER (WHERE NOT priced), coalesce(sum(cost_nanos), 0),
                    percentile_disc(0.5) WITHIN GROUP (ORDER BY duration_ms),
                    percentile_disc(0.95) WITHIN GROUP (ORDER BY duration_ms),
                    max(duration_ms)
             FROM gone
             GROUP BY 1, 2, 3, 4, 5, 6
             ON CONFLICT (user_id, day, job_type, provider, model, class) DO UPDATE SET
                 calls = d.calls + excluded.calls,
                 prompt_tokens = d.prompt_tokens + excluded.prompt_tokens,
                 completion_tokens = d.completion_tokens + excluded.completion_tokens,
                 unpriced_calls = d.unpriced_calls + excluded.unpriced_calls,
                 cost_nanos = d.cost_nanos + excluded.cost_nanos,
                 duration_p50_ms = greatest(d.duration_p50_ms, excluded.duration_p50_ms),
                 duration_p95_ms = greatest(d.duration_p95_ms, excluded.duration_p95_ms),
                 duration_max_ms = greatest(d.duration_max_ms, excluded.duration_max_ms)
             RETURNING 1)
         SELECT count(*) AS n FROM gone",
    )
    .bind::<Date, _>(before)
    .bind::<BigInt, _>(batch)
    .get_result(conn)
    .await?;
    Ok(u64::try_from(row.n).unwrap_or(0))
}

/// Runs `sql` (a `DELETE … WHERE ctid IN (SELECT … LIMIT $2)` bound to `at`, `batch`) once;
/// returns the rows deleted.
pub(crate) async fn delete_batch(
    conn: &mut AsyncPgConnection,
    sql: &'static str,
    at: DateTime<Utc>,
    batch: i64,
) -> Result<u64, StoreError> {
    let n = diesel::sql_query(sql)
        .bind::<Timestamptz, _>(at)
        .bind::<BigInt, _>(batch)
        .execute(conn)
        .await?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Module-regeneration attempts (never numbered: they do not count toward a plan's cap) older
/// than `$1`. Numbered attempts and a plan's one `capped` row stay while the plan exists (at
/// most four per plan): `attempts_used` counts them.
pub(crate) const DELETE_OLD_MODULE_ATTEMPTS: &str = "
    DELETE FROM generation_attempts WHERE id IN (
        SELECT id FROM generation_attempts
        WHERE module_id IS NOT NULL AND created_at < $1 LIMIT $2)";

/// Daily aggregates whose day is before `$1`.
pub(crate) const DELETE_OLD_AGGREGATES: &str = "
    DELETE FROM llm_usage_daily WHERE ctid IN (
        SELECT ctid FROM llm_usage_daily WHERE day < ($1 AT TIME ZONE 'UTC')::date LIMIT $2)";

/// Rate-limit rows that left the window (created before `$1`).
pub(crate) const DELETE_EXPIRED_RATE_EVENTS: &str = "
    DELETE FROM rate_events WHERE id IN (
        SELECT id FROM rate_events WHERE created_at < $1 LIMIT $2)";

/// Previews and module drafts left by runs that ended (their job is no longer `processing`),
/// written before `$1`.
pub(crate) const DELETE_LEFTOVER_DRAFTS: &str = "
    DELETE FROM module_drafts WHERE job_id IN (
        SELECT d.job_id FROM module_drafts d JOIN jobs j ON j.id = d.job_id
        WHERE j.status <> 'processing' AND d.updated_at < $1 LIMIT $2)";

/// Month counters of months that ended before `$1`'s month a year ago (the budget reads only
/// the current month).
pub(crate) const DELETE_OLD_MONTHS: &str = "
    DELETE FROM llm_usage_months WHERE ctid IN (
        SELECT ctid FROM llm_usage_months
        WHERE month < (date_trunc('month', $1 AT TIME ZONE 'UTC') - interval '1 year')::date
        LIMIT $2)";

/// Plan previews left by runs that ended (no `processing` generation of the plan), written
/// before `$1`.
pub(crate) const DELETE_LEFTOVER_PREVIEWS: &str = "
    DELETE FROM plan_previews WHERE ctid IN (
        SELECT p.ctid FROM plan_previews p
        WHERE p.created_at < $1
          AND NOT EXISTS (SELECT 1 FROM jobs j
                          WHERE j.plan_id = p.plan_id AND j.job_type = 'plan_generation'
                            AND j.status = 'processing')
        LIMIT $2)";
