//! [`QueueStore`](crate::ports::QueueStore) on [`Database`]: the jobs table as a queue (claiming
//! with `FOR UPDATE SKIP LOCKED`, in batches), batched heartbeats, release on shutdown, stale
//! rescue, pruning and fenced completion.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{Array, BigInt, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::StoreError;
use crate::finishes;
use crate::pool::Database;
use crate::records::{ClaimedJob, JobEnd, Lease, ProviderCall, Retention, RetentionReport};
use crate::rows::jobs::JobRow;
use crate::sql::job_writes::end_job;
use crate::sql::prepared::Prepared;

/// [`GIVE_BACK`] without `run_at`.
macro_rules! returned_pending {
    () => {
        "status = 'pending', attempts = greatest(attempts - 1, 0),
    lease_token = NULL, locked_by = NULL, heartbeat_at = NULL, updated_at = now()"
    };
}

/// The SET list that returns a run's job to `pending` without counting the run (a graceful
/// release, a stale rescue): the lease is dropped and the job is due at once.
const GIVE_BACK: &str = concat!(returned_pending!(), ", run_at = now()");

/// The SET list of a run that waits for provider capacity (issue #22): as [`GIVE_BACK`], due at
/// `$3` instead of at once, waiting for the provider `$4` (a correction that frees capacity
/// early makes the first waiter due: `LimiterStore::correct`).
const DEFER: &str = concat!(returned_pending!(), ", run_at = $3, waits_for = $4");

/// Claims up to `$2` due jobs for worker `$1`: by priority, then fairly between users
/// (`syllabus_domain::fairness::claim_key`: `greatest(run_at, fair_at)`, read from
/// `jobs_fair_claim_idx`), then id; returned in that order (`run_at` is untouched by the claim;
/// a capacity wait's `waits_for` ends with it). Kept prepared ([`Prepared`]): it names its
/// columns, so that a migration adding one to `jobs` does not break the statement a running
/// process holds.
pub(crate) const CLAIM_SQL: &str = "WITH next AS (
        SELECT id FROM jobs
        WHERE status = 'pending' AND run_at <= now()
        ORDER BY priority DESC, greatest(run_at, fair_at), id
        LIMIT $2
        FOR UPDATE SKIP LOCKED
     ), claimed AS (
        UPDATE jobs j SET status = 'processing', lease_token = gen_random_uuid(),
               locked_by = $1, heartbeat_at = now(), attempts = j.attempts + 1,
               started_at = coalesce(j.started_at, now()), updated_at = now(), waits_for = NULL
        FROM next WHERE j.id = next.id
        RETURNING j.id, j.user_id, j.job_type, j.status, j.plan_id, j.payload, j.result,
                  j.error_message, j.error_classification, j.attempts, j.max_attempts,
                  j.priority, j.run_at, j.request_id, j.created_at, j.started_at,
                  j.completed_at, j.updated_at, j.lease_token, j.rescues, j.reask, j.fair_at
     )
     SELECT * FROM claimed ORDER BY priority DESC, greatest(run_at, fair_at), id";

/// One batch of pruning (`$1`, `$2`: the completed and failed retentions in ms); reads
/// `jobs_finished_idx`, not the table.
pub(crate) const PRUNE_SQL: &str = "DELETE FROM jobs WHERE id IN (
    SELECT id FROM jobs
    WHERE (status IN ('completed', 'cancelled')
           AND completed_at < now() - make_interval(secs => $1 / 1000.0))
       OR (status = 'failed'
           AND completed_at < now() - make_interval(secs => $2 / 1000.0))
    LIMIT 1000 FOR UPDATE SKIP LOCKED)";

/// When the next pending job is due: one entry of `jobs_pending_run_at_idx`.
pub(crate) const NEXT_RUN_AT_SQL: &str =
    "SELECT min(run_at) AS at FROM jobs WHERE status = 'pending'";

#[derive(QueryableByName)]
struct Beat {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    token: Uuid,
}

/// A claimed job's row and its virtual time.
#[derive(QueryableByName)]
struct ClaimRow {
    #[diesel(embed)]
    job: JobRow,
    #[diesel(sql_type = Timestamptz)]
    fair_at: DateTime<Utc>,
}

#[derive(QueryableByName)]
struct NextAt {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

impl crate::ports::QueueStore for Database {
    async fn claim_many(&self, worker: &str, limit: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let worker = worker.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.as_system(move |conn| {
            Box::pin(async move {
                let rows: Vec<ClaimRow> = Prepared(
                    diesel::sql_query(CLAIM_SQL)
                        .bind::<Text, _>(worker)
                        .bind::<BigInt, _>(limit),
                )
                .load(conn)
                .await?;
                rows.into_iter()
                    .map(|r| r.job.into_claimed(r.fair_at))
                    .collect()
            })
        })
        .await
    }

    async fn heartbeat_many(&self, leases: &[Lease]) -> Result<Vec<Lease>, StoreError> {
        if leases.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<Uuid> = leases.iter().map(|l| l.job.as_uuid()).collect();
        let tokens: Vec<Uuid> = leases.iter().map(|l| l.token).collect();
        let alive: Vec<Beat> = self
            .as_system(move |conn| {
                Box::pin(async move {
                    Ok(Prepared(
                        // Rows locked in id order, as the batched ends lock theirs
                        // (crate::finishes): the two never wait on each other in a circle.
                        diesel::sql_query(
                            "WITH l AS (
                                SELECT * FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token)
                             ), locked AS (
                                SELECT j.id FROM jobs j
                                JOIN l ON j.id = l.id AND j.lease_token = l.token
                                WHERE j.status = 'processing'
                                ORDER BY j.id
                                FOR UPDATE OF j
                             )
                             UPDATE jobs j SET heartbeat_at = now()
                             FROM locked, l
                             WHERE j.id = locked.id AND l.id = j.id
                               AND j.lease_token = l.token AND j.status = 'processing'
                             RETURNING j.id, j.lease_token AS token",
                        )
                        .bind::<Array<SqlUuid>, _>(ids)
                        .bind::<Array<SqlUuid>, _>(tokens),
                    )
                    .load(conn)
                    .await?)
                })
            })
            .await?;
        let alive: std::collections::HashSet<(Uuid, Uuid)> =
            alive.into_iter().map(|b| (b.id, b.token)).collect();
        Ok(leases
            .iter()
            .filter(|l| !alive.contains(&(l.job.as_uuid(), l.token)))
            .copied()
            .collect())
    }

    async fn release(&self, lease: Lease) -> Result<bool, StoreError> {
        self.as_system(move |conn| {
            Box::pin(async move {
                let n = diesel::sql_query(format!(
                    "UPDATE jobs SET {GIVE_BACK}
                     WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
                ))
                .bind::<SqlUuid, _>(lease.job.as_uuid())
                .bind::<SqlUuid, _>(lease.token)
                .execute(conn)
                .await?;
                Ok(n == 1)
            })
        })
        .await
    }

    async fn defer(
        &self,
        lease: Lease,
        at: DateTime<Utc>,
        provider: &str,
    ) -> Result<bool, StoreError> {
        let provider = provider.to_owned();
        self.as_system(move |conn| {
            Box::pin(async move {
                let n = diesel::sql_query(format!(
                    "UPDATE jobs SET {DEFER}
                     WHERE id = $1 AND lease_token = $2 AND status = 'processing'"
                ))
                .bind::<SqlUuid, _>(lease.job.as_uuid())
                .bind::<SqlUuid, _>(lease.token)
                .bind::<Timestamptz, _>(at)
                .bind::<Text, _>(&provider)
                .execute(conn)
                .await?;
                Ok(n == 1)
            })
        })
        .await
    }

    async fn release_many(&self, leases: &[Lease]) -> Result<u64, StoreError> {
        if leases.is_empty() {
            return Ok(0);
        }
        let ids: Vec<Uuid> = leases.iter().map(|l| l.job.as_uuid()).collect();
        let tokens: Vec<Uuid> = leases.iter().map(|l| l.token).collect();
        self.as_system(move |conn| {
            Box::pin(async move {
                let n = diesel::sql_query(format!(
                    "UPDATE jobs j SET {GIVE_BACK}
                     FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token)
                     WHERE j.id = l.id AND j.lease_token = l.token AND j.status = 'processing'"
                ))
                .bind::<Array<SqlUuid>, _>(ids)
                .bind::<Array<SqlUuid>, _>(tokens)
                .execute(conn)
                .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
        })
        .await
    }

    async fn rescue_stale(&self, stale_after: Duration) -> Result<u64, StoreError> {
        let millis = i64::try_from(stale_after.as_millis()).unwrap_or(i64::MAX);
        self.as_system(move |conn| {
            Box::pin(async move {
                let n = diesel::sql_query(format!(
                    "WITH stale AS (
                        SELECT id FROM jobs
                        WHERE status = 'processing'
                          AND heartbeat_at < now() - make_interval(secs => $1 / 1000.0)
                        FOR UPDATE SKIP LOCKED
                     )
                     UPDATE jobs SET {GIVE_BACK}, rescues = jobs.rescues + 1
                     FROM stale WHERE jobs.id = stale.id"
                ))
                .bind::<BigInt, _>(millis)
                .execute(conn)
                .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
        })
        .await
    }

    async fn next_run_at(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.as_system(|conn| {
            Box::pin(async move {
                let row: NextAt = Prepared(diesel::sql_query(NEXT_RUN_AT_SQL))
                    .get_result(conn)
                    .await?;
                Ok(row.at)
            })
        })
        .await
    }

    async fn prune(&self, completed: Duration, failed: Duration) -> Result<u64, StoreError> {
        let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        let (completed, failed) = (ms(completed), ms(failed));
        let mut total = 0;
        loop {
            // One short transaction per batch of 1,000: rows other workers hold are skipped.
            let n = self
                .as_system(move |conn| {
                    Box::pin(async move {
                        Ok(diesel::sql_query(PRUNE_SQL)
                            .bind::<BigInt, _>(completed)
                            .bind::<BigInt, _>(failed)
                            .execute(conn)
                            .await?)
                    })
                })
                .await?;
            total += u64::try_from(n).unwrap_or(0);
            if n < 1_000 {
                return Ok(total);
            }
        }
    }

    async fn retain_usage(&self, retention: Retention) -> Result<RetentionReport, StoreError> {
        use crate::sql::usage as u;
        let days = |d: u32| chrono::Duration::days(i64::from(d));
        let calls_before = (retention.now - days(retention.calls_days)).date_naive();
        let calls_at = retention.now - days(retention.calls_days);
        let aggregates_at = retention.now - days(retention.aggregates_days);
        let rate_at = retention.now
            - chrono::Duration::from_std(retention.rate_window).unwrap_or(chrono::Duration::MAX);
        // A draft or preview of an ended run older than this is a leftover (a live run's are
        // younger: it deletes them when it ends).
        let leftover_at = retention.now - chrono::Duration::hours(1);
        let mut report = RetentionReport::default();
        // Each step: batches of `BATCH`, one short transaction each, under the pass's lock.
        let steps: [(Option<&'static str>, DateTime<Utc>); 9] = [
            (None, calls_at),
            (Some(u::DELETE_OLD_MODULE_ATTEMPTS), calls_at),
            (Some(u::DELETE_OLD_AGGREGATES), aggregates_at),
            (Some(u::DELETE_OLD_MONTHS), retention.now),
            (Some(u::DELETE_EXPIRED_RATE_EVENTS), rate_at),
            (Some(u::DELETE_LEFTOVER_PREVIEWS), leftover_at),
            (Some(u::DELETE_LEFTOVER_DRAFTS), leftover_at),
            // Idempotency keys past their `expires_at` (issue #23).
            (
                Some(crate::sql::idempotency::DELETE_EXPIRED_KEYS),
                retention.now,
            ),
            // Ended webhook deliveries and their attempts, kept as long as provider calls
            // (issue #23).
            (
                Some(crate::sql::webhooks::DELETE_ENDED_DELIVERIES),
                calls_at,
            ),
        ];
        const BATCH: i64 = 500;
        for (i, (sql, at)) in steps.into_iter().enumerate() {
            loop {
                let n = self
                    .as_system(move |conn| {
                        Box::pin(async move {
                            if !u::try_retention_lock(conn).await? {
                                return Ok(None);
                            }
                            Ok(Some(match sql {
                                // Whole user-days: a batch of pairs, not of rows.
                                None => u::fold_calls(conn, calls_before, 50).await?,
                                Some(sql) => u::delete_batch(conn, sql, at, BATCH).await?,
                            }))
                        })
                    })
                    .await?;
                let Some(n) = n else {
                    report.skipped = true;
                    return Ok(report);
                };
                match i {
                    0 => report.calls_folded += n,
                    1 => report.attempts_deleted += n,
                    2 => report.aggregates_deleted += n,
                    _ => report.leftovers_deleted += n,
                }
                let full = if i == 0 {
                    n > 0
                } else {
                    n >= BATCH.unsigned_abs()
                };
                if !full {
                    break;
                }
            }
        }
        Ok(report)
    }

    async fn finish(
        &self,
        lease: Lease,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> Result<(), StoreError> {
        match call {
            // Only the job's row: batched with the process's other such ends (issue #22).
            None => {
                self.finisher(finishes::start_finisher)
                    .finish(lease, end)
                    .await
            }
            Some(call) => {
                self.as_system(move |conn| {
                    Box::pin(async move { end_job(conn, lease, &end, Some(&call)).await })
                })
                .await
            }
        }
    }
}
