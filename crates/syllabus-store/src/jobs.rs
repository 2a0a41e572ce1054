//! The jobs table as a queue: creating, claiming (`FOR UPDATE SKIP LOCKED`, in batches), batched
//! heartbeats, fenced completion, stale rescue, release on shutdown; and the owner's reads.

use std::time::Duration;

use chrono::{DateTime, Utc};
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{
    Array, BigInt, Double, Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid,
};
use diesel::{OptionalExtension, QueryableByName};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use serde_json::Value;
use syllabus_domain::rate_limit::{RateDecision, SlidingWindow};
use syllabus_domain::{FailureClass, JobId, JobStatus, JobType, PlanId, UserId};
use uuid::Uuid;

use crate::records::{
    Actor, ClaimedJob, JobEnd, JobError, JobFilter, JobRecord, Lease, NewJob, Page, PageRequest,
    QueueStats, RateLimit, RunTimes,
};
use crate::schema::{jobs, users};
use crate::{Database, StoreError};

#[derive(QueryableByName)]
#[diesel(table_name = jobs)]
pub(crate) struct JobRow {
    id: Uuid,
    user_id: String,
    job_type: String,
    status: String,
    plan_id: Option<Uuid>,
    payload: Value,
    result: Option<Value>,
    error_message: Option<String>,
    error_classification: Option<String>,
    attempts: i32,
    max_attempts: i32,
    priority: i16,
    run_at: DateTime<Utc>,
    request_id: Option<String>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    completed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
    lease_token: Option<Uuid>,
    rescues: i32,
}

fn unexpected(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(format!("unknown {what} {value:?} in jobs"))
}

impl JobRow {
    fn job_type(&self) -> Result<JobType, StoreError> {
        self.job_type
            .parse()
            .map_err(|()| unexpected("job type", &self.job_type))
    }

    fn into_record(self) -> Result<JobRecord, StoreError> {
        let job_type = self.job_type()?;
        let status = self
            .status
            .parse()
            .map_err(|()| unexpected("status", &self.status))?;
        let error = match (self.error_message, self.error_classification) {
            (Some(message), Some(class)) => Some(JobError {
                message,
                classification: class
                    .parse()
                    .map_err(|()| unexpected("classification", &class))?,
            }),
            _ => None,
        };
        Ok(JobRecord {
            id: JobId::from_uuid(self.id),
            job_type,
            status,
            plan_id: self.plan_id.map(PlanId::from_uuid),
            payload: self.payload,
            result: self.result,
            error,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(0),
            priority: self.priority,
            run_at: self.run_at,
            created_at: self.created_at,
            started_at: self.started_at,
            completed_at: self.completed_at,
            updated_at: self.updated_at,
        })
    }

    fn into_claimed(self) -> Result<ClaimedJob, StoreError> {
        let job_type = self.job_type()?;
        let user = UserId::parse(&self.user_id).ok_or_else(|| unexpected("user", &self.user_id))?;
        let token = self
            .lease_token
            .ok_or_else(|| StoreError::Unexpected("a claimed job without a lease".into()))?;
        Ok(ClaimedJob {
            lease: Lease {
                job: JobId::from_uuid(self.id),
                token,
            },
            user,
            job_type,
            plan_id: self.plan_id.map(PlanId::from_uuid),
            payload: self.payload,
            attempts: u32::try_from(self.attempts).unwrap_or(0),
            max_attempts: u32::try_from(self.max_attempts).unwrap_or(1),
            rescues: u32::try_from(self.rescues).unwrap_or(0),
            request_id: self.request_id,
            created_at: self.created_at,
        })
    }
}

#[derive(QueryableByName)]
struct At {
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
}

/// Takes the user's rate-limit lock for `job_type` (held until commit, so concurrent creations
/// serialize), records the user on first sight, checks the exact sliding window against the jobs
/// already created, and returns the wall-clock time the new job is created at.
///
/// Only the newest `limit` creations in the window are read: when the window is full, the slot
/// frees when the oldest of those leaves it, whatever older ones it still holds.
pub(crate) async fn lock_rate_window(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    job_type: JobType,
    limit: RateLimit,
) -> Result<DateTime<Utc>, StoreError> {
    let now: At = diesel::sql_query(
        "SELECT clock_timestamp() AS at FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l",
    )
    .bind::<Text, _>(format!("rate:{user}:{}", job_type.as_str()))
    .get_result(conn)
    .await?;
    diesel::insert_into(users::table)
        .values(users::id.eq(user.as_str()))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let window = SlidingWindow::new(limit.limit, limit.window);
    let since = window.window_start(now.at);
    let mut started: Vec<DateTime<Utc>> = jobs::table
        .filter(jobs::user_id.eq(user.as_str()))
        .filter(jobs::job_type.eq(job_type.as_str()))
        .filter(jobs::created_at.gt(since))
        .order(jobs::created_at.desc())
        .limit(i64::from(limit.limit))
        .select(jobs::created_at)
        .load(conn)
        .await?;
    // Requests counted without a job (a regenerate refused at the cap).
    let counted: Vec<At> = diesel::sql_query(
        "SELECT created_at AS at FROM rate_events
         WHERE user_id = $1 AND job_type = $2 AND created_at > $3
         ORDER BY created_at DESC LIMIT $4",
    )
    .bind::<Text, _>(user.as_str())
    .bind::<Text, _>(job_type.as_str())
    .bind::<Timestamptz, _>(since)
    .bind::<BigInt, _>(i64::from(limit.limit))
    .load(conn)
    .await?;
    if !counted.is_empty() {
        started.extend(counted.into_iter().map(|c| c.at));
        started.sort_unstable_by(|a, b| b.cmp(a));
        started.truncate(usize::try_from(limit.limit).unwrap_or(usize::MAX));
    }
    started.reverse();
    match window.check(now.at, &started) {
        RateDecision::Allowed { .. } => Ok(now.at),
        RateDecision::Limited { retry_after } => Err(StoreError::RateLimited { retry_after }),
    }
}

/// Counts a request that creates no job toward `user`'s window for `job_type`, at `at` (from
/// [`lock_rate_window`], whose lock is held), and forgets the user's counted requests that left
/// the window.
pub(crate) async fn count_without_job(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    job_type: JobType,
    limit: RateLimit,
    at: DateTime<Utc>,
) -> Result<(), StoreError> {
    let since = SlidingWindow::new(limit.limit, limit.window).window_start(at);
    diesel::sql_query(
        "WITH gone AS (DELETE FROM rate_events
                       WHERE user_id = $1 AND job_type = $2 AND created_at <= $3)
         INSERT INTO rate_events (user_id, job_type, created_at) VALUES ($1, $2, $4)",
    )
    .bind::<Text, _>(user.as_str())
    .bind::<Text, _>(job_type.as_str())
    .bind::<Timestamptz, _>(since)
    .bind::<Timestamptz, _>(at)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(Insertable)]
#[diesel(table_name = jobs)]
struct JobInsert<'a> {
    id: Uuid,
    user_id: &'a str,
    job_type: &'a str,
    plan_id: Option<Uuid>,
    payload: &'a Value,
    max_attempts: i32,
    priority: i16,
    request_id: Option<&'a str>,
    created_at: DateTime<Utc>,
    run_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Inserts a pending job created at `at` (from [`lock_rate_window`]); the trigger's NOTIFY goes
/// out when the transaction commits.
pub(crate) async fn insert_job(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    job: &NewJob,
    at: DateTime<Utc>,
) -> Result<JobRecord, StoreError> {
    let id = JobId::new();
    let max_attempts = i32::try_from(job.max_attempts).unwrap_or(i32::MAX);
    diesel::insert_into(jobs::table)
        .values(JobInsert {
            id: id.as_uuid(),
            user_id: actor.user.as_str(),
            job_type: job.job_type.as_str(),
            plan_id: job.plan_id.map(|p| p.as_uuid()),
            payload: &job.payload,
            max_attempts,
            priority: job.priority,
            request_id: actor.request_id.as_deref(),
            created_at: at,
            run_at: at,
            updated_at: at,
        })
        .execute(conn)
        .await?;
    Ok(JobRecord {
        id,
        job_type: job.job_type,
        status: JobStatus::Pending,
        plan_id: job.plan_id,
        payload: job.payload.clone(),
        result: None,
        error: None,
        attempts: 0,
        max_attempts: job.max_attempts,
        priority: job.priority,
        run_at: at,
        created_at: at,
        started_at: None,
        completed_at: None,
        updated_at: at,
    })
}

/// Ends a run: fenced by the lease, so a run whose job was rescued or released changes nothing
/// and its whole transaction rolls back.
pub(crate) async fn end_job(
    conn: &mut AsyncPgConnection,
    lease: Lease,
    end: &JobEnd,
) -> Result<(), StoreError> {
    let status = end.status();
    let (result, error, run_at) = match end {
        JobEnd::Completed { result } => (Some(result), None, None),
        JobEnd::Retry { at, error } => (None, Some(error), Some(*at)),
        JobEnd::Failed { error } => (None, Some(error), None),
        JobEnd::Cancelled => (None, None, None),
        JobEnd::Superseded { error } => (None, Some(error), None),
    };
    let n = diesel::sql_query(
        "UPDATE jobs SET status = $3, result = $4, error_message = $5, error_classification = $6,
                run_at = coalesce($7, run_at), lease_token = NULL, locked_by = NULL,
                heartbeat_at = NULL, updated_at = now(),
                completed_at = CASE WHEN $3 = 'pending' THEN NULL ELSE now() END
         WHERE id = $1 AND lease_token = $2 AND status = 'processing'",
    )
    .bind::<SqlUuid, _>(lease.job.as_uuid())
    .bind::<SqlUuid, _>(lease.token)
    .bind::<Text, _>(status.as_str())
    .bind::<Nullable<Jsonb>, _>(result)
    .bind::<Nullable<Text>, _>(error.map(|e| e.message.as_str()))
    .bind::<Nullable<Text>, _>(error.map(|e| e.classification.as_str()))
    .bind::<Nullable<Timestamptz>, _>(run_at)
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(StoreError::LeaseLost);
    }
    Ok(())
}

/// The SET list that returns a run's job to `pending` without counting the run (a graceful
/// release, a stale rescue): the lease is dropped and the job is due at once.
const GIVE_BACK: &str = "status = 'pending', attempts = greatest(attempts - 1, 0),
    lease_token = NULL, locked_by = NULL, heartbeat_at = NULL, run_at = now(), updated_at = now()";

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

#[derive(QueryableByName)]
struct Beat {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    token: Uuid,
}

#[derive(QueryableByName)]
struct NextAt {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    at: Option<DateTime<Utc>>,
}

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
         WHERE user_id = $5
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
                let row: JobRow = diesel::sql_query("SELECT * FROM jobs WHERE id = $1")
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
                     WHERE id = $1 AND status = 'pending' RETURNING *",
                )
                .bind::<SqlUuid, _>(id.as_uuid())
                .get_result(conn)
                .await
                .optional()?;
                if let Some(row) = row {
                    return row.into_record();
                }
                let current: JobRow = diesel::sql_query("SELECT * FROM jobs WHERE id = $1")
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
                let n = |n: i64| u64::try_from(n).unwrap_or(0);
                Ok(QueueStats {
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

impl crate::ports::QueueStore for Database {
    async fn claim_many(&self, worker: &str, limit: usize) -> Result<Vec<ClaimedJob>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let worker = worker.to_owned();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.as_system(move |conn| {
            Box::pin(async move {
                let mut rows: Vec<JobRow> = diesel::sql_query(
                    "WITH next AS (
                        SELECT id FROM jobs
                        WHERE status = 'pending' AND run_at <= now()
                        ORDER BY priority DESC, run_at, id
                        LIMIT $2
                        FOR UPDATE SKIP LOCKED
                     )
                     UPDATE jobs j SET status = 'processing', lease_token = gen_random_uuid(),
                            locked_by = $1, heartbeat_at = now(), attempts = j.attempts + 1,
                            started_at = coalesce(j.started_at, now()), updated_at = now()
                     FROM next WHERE j.id = next.id
                     RETURNING j.*",
                )
                .bind::<Text, _>(worker)
                .bind::<BigInt, _>(limit)
                .load(conn)
                .await?;
                // RETURNING has no order: put the batch back in claim order (`run_at` is
                // untouched by the claim).
                rows.sort_by(|a, b| {
                    b.priority
                        .cmp(&a.priority)
                        .then(a.run_at.cmp(&b.run_at))
                        .then(a.id.cmp(&b.id))
                });
                rows.into_iter().map(JobRow::into_claimed).collect()
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
                    Ok(diesel::sql_query(
                        "UPDATE jobs j SET heartbeat_at = now()
                         FROM unnest($1::uuid[], $2::uuid[]) AS l(id, token)
                         WHERE j.id = l.id AND j.lease_token = l.token
                           AND j.status = 'processing'
                         RETURNING j.id, j.lease_token AS token",
                    )
                    .bind::<Array<SqlUuid>, _>(ids)
                    .bind::<Array<SqlUuid>, _>(tokens)
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
                let row: NextAt = diesel::sql_query(NEXT_RUN_AT_SQL).get_result(conn).await?;
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

    async fn finish(&self, lease: Lease, end: JobEnd) -> Result<(), StoreError> {
        self.as_system(move |conn| Box::pin(async move { end_job(conn, lease, &end).await }))
            .await
    }
}
