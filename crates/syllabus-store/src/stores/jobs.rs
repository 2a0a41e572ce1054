//! [`JobStore`](crate::ports::JobStore) on [`Database`]: jobs as their owner sees them
//! (one, a page, cancelling), the queue's metrics across users, and the database's health.

use diesel::pg::Pg;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{Array, BigInt, Double, Nullable, Text, Uuid as SqlUuid};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::RunQueryDsl;
use syllabus_domain::provider_limits::DEFAULT_WINDOW;
use syllabus_domain::{FailureClass, JobId, JobStatus, JobType, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::pool::Database;
use crate::records::{JobFilter, JobRecord, Page, PageRequest, QueueStats, RunTimes};
use crate::rows::jobs::JobRow;
use crate::sql::provider_stats::provider_stats;

/// The age of the oldest due pending job: one entry of `jobs_pending_run_at_idx`.
pub(crate) const OLDEST_READY_SQL: &str =
    "SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8 AS seconds
     FROM jobs WHERE status = 'pending' AND run_at <= now()";

#[derive(QueryableByName)]
struct Counted {
    #[diesel(sql_type = Text)]
    a: String,
    #[diesel(sql_type = Nullable<Text>)]
    b: Option<String>,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Age {
    #[diesel(sql_type = Double)]
    seconds: f64,
}

#[derive(QueryableByName)]
struct RunTimeRow {
    #[diesel(sql_type = Text)]
    job_type: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
    #[diesel(sql_type = Double)]
    sum: f64,
}

/// One job by id, as its owner may see it: the runtime's own jobs (webhook deliveries, issue
/// #23) are not theirs to see, read, cancel or retry.
const PUBLIC_JOB_BY_ID: &str =
    "SELECT * FROM jobs WHERE id = $1 AND job_type <> 'webhook_delivery'";

/// A page of the user's jobs, newest first (`rows` of them). The explicit `user_id` predicate
/// lets PostgreSQL use `jobs_user_id_idx`; row-level security stays the safety net.
pub(crate) fn jobs_page_query(
    user: &UserId,
    filter: JobFilter,
    after: Option<Uuid>,
    rows: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(
        "SELECT * FROM jobs
         WHERE user_id = $5 AND job_type <> 'webhook_delivery'
           AND ($1::uuid IS NULL OR id < $1)
           AND ($2::text IS NULL OR job_type = $2)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY id DESC LIMIT $4",
    )
    .into_boxed()
    .bind::<Nullable<SqlUuid>, _>(after)
    .bind::<Nullable<Text>, _>(filter.job_type.map(JobType::as_str))
    .bind::<Nullable<Text>, _>(filter.status.map(JobStatus::as_str))
    .bind::<BigInt, _>(rows)
    .bind::<Text, _>(user.as_str().to_owned())
}

impl crate::ports::JobStore for Database {
    async fn job(&self, user: &UserId, id: JobId) -> Result<JobRecord, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let row: JobRow = diesel::sql_query(PUBLIC_JOB_BY_ID)
                    .bind::<SqlUuid, _>(id.as_uuid())
                    .get_result(conn)
                    .await?;
                row.into_record()
            })
        })
        .await
    }

    async fn jobs(
        &self,
        user: &UserId,
        filter: JobFilter,
        page: PageRequest,
    ) -> Result<Page<JobRecord>, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let rows: Vec<JobRow> = jobs_page_query(&owner, filter, page.after, page.fetch())
                    .load(conn)
                    .await?;
                let items = rows
                    .into_iter()
                    .map(JobRow::into_record)
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Page::from_fetched(items, page.size(), |j| j.id.as_uuid()))
            })
        })
        .await
    }

    async fn cancel_job(&self, user: &UserId, id: JobId) -> Result<JobRecord, StoreError> {
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let row: Option<JobRow> = diesel::sql_query(
                    "UPDATE jobs SET status = 'cancelled', completed_at = now(), updated_at = now()
                     WHERE id = $1 AND status = 'pending' AND job_type <> 'webhook_delivery'
                     RETURNING *",
                )
                .bind::<SqlUuid, _>(id.as_uuid())
                .get_result(conn)
                .await
                .optional()?;
                if let Some(row) = row {
                    return row.into_record();
                }
                let current: JobRow = diesel::sql_query(PUBLIC_JOB_BY_ID)
                    .bind::<SqlUuid, _>(id.as_uuid())
                    .get_result(conn)
                    .await?;
                Err(StoreError::InvalidState(format!(
                    "only pending jobs can be cancelled; this one is {}",
                    current.status
                )))
            })
        })
        .await
    }

    async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        self.as_system(|conn| {
            Box::pin(async move {
                let jobs: Vec<Counted> = diesel::sql_query(
                    "SELECT job_type AS a, status AS b, count(*) AS n FROM jobs GROUP BY 1, 2",
                )
                .load(conn)
                .await?;
                let age: Age = diesel::sql_query(OLDEST_READY_SQL).get_result(conn).await?;
                let attempts: Vec<Counted> = diesel::sql_query(
                    "SELECT status AS a, classification AS b, count(*) AS n
                     FROM generation_attempts GROUP BY 1, 2",
                )
                .load(conn)
                .await?;
                let providers = provider_stats(conn, DEFAULT_WINDOW).await?;
                let webhooks: Vec<Counted> = diesel::sql_query(
                    "SELECT outcome AS a, NULL::text AS b, count(*) AS n
                     FROM webhook_attempts GROUP BY 1",
                )
                .load(conn)
                .await?;
                let n = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(QueueStats {
                    providers,
                    jobs: jobs
                        .into_iter()
                        .filter_map(|c| {
                            Some((c.a.parse().ok()?, c.b.as_deref()?.parse().ok()?, n(c.n)))
                        })
                        .collect(),
                    oldest_ready_age_seconds: age.seconds,
                    attempts: attempts
                        .into_iter()
                        .map(|c| {
                            let class = c.b.and_then(|b| b.parse::<FailureClass>().ok());
                            (class, n(c.n))
                        })
                        .collect(),
                    usage: crate::sql::usage::counters(conn).await?,
                    webhook_attempts: webhooks
                        .into_iter()
                        .filter_map(|c| {
                            use syllabus_domain::input::StringEnum as _;
                            let outcome =
                                syllabus_domain::webhooks::DeliveryOutcome::from_wire(&c.a)?;
                            Some((outcome, n(c.n)))
                        })
                        .collect(),
                })
            })
        })
        .await
    }

    async fn run_times(&self) -> Result<RunTimes, StoreError> {
        const BOUNDS: [f64; 10] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
        self.as_system(|conn| {
            Box::pin(async move {
                // Bucketed in the database: a scrape reads one row per type and bound, not one
                // per stored job.
                let rows: Vec<RunTimeRow> = diesel::sql_query(
                    "SELECT j.job_type, count(*) FILTER (WHERE j.seconds <= b.le) AS n,
                            count(*) AS total, sum(j.seconds) AS sum
                     FROM (SELECT job_type,
                                  extract(epoch FROM completed_at - started_at)::float8 AS seconds
                           FROM jobs
                           WHERE status IN ('completed', 'failed') AND started_at IS NOT NULL
                             AND completed_at IS NOT NULL) AS j
                     CROSS JOIN unnest($1::float8[]) AS b(le)
                     GROUP BY j.job_type, b.le
                     ORDER BY j.job_type, b.le",
                )
                .bind::<Array<Double>, _>(BOUNDS.to_vec())
                .load(conn)
                .await?;
                let mut by_type: Vec<(JobType, Vec<u64>, u64, f64)> = Vec::new();
                for r in rows {
                    let Ok(t) = r.job_type.parse::<JobType>() else {
                        continue;
                    };
                    let n = u64::try_from(r.n).unwrap_or(0);
                    match by_type.last_mut() {
                        Some((last, counts, _, _)) if *last == t => counts.push(n),
                        _ => by_type.push((t, vec![n], u64::try_from(r.total).unwrap_or(0), r.sum)),
                    }
                }
                Ok(RunTimes {
                    bounds: BOUNDS.to_vec(),
                    by_type,
                })
            })
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        Database::ping(self).await
    }
}
