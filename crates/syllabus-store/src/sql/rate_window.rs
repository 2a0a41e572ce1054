//! The per-user, per-job-type rate limit, checked and counted inside the transaction that
//! creates a job (or refuses one that still counts).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::rate_limit::{RateDecision, SlidingWindow};
use syllabus_domain::{JobType, UserId};

use crate::error::StoreError;
use crate::records::RateLimit;
use crate::schema::jobs;
use crate::sql::users::{UserRow, record_user};

#[derive(QueryableByName)]
struct At {
    #[diesel(sql_type = Timestamptz)]
    at: DateTime<Utc>,
}

/// Takes the user's rate-limit lock for `job_type` (held until commit, so concurrent creations
/// serialize), refuses the job when the user's monthly token budget is used up
/// ([`StoreError::BudgetExceeded`], nothing counted), records the user on first sight (unless
/// `row` says this transaction has), checks the exact sliding window against the jobs already
/// created, and returns the wall-clock time the new job is created at.
///
/// Only the newest `limit` creations in the window are read: when the window is full, the slot
/// frees when the oldest of those leaves it, whatever older ones it still holds.
pub(crate) async fn lock_rate_window(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    row: UserRow,
    job_type: JobType,
    limit: RateLimit,
) -> Result<DateTime<Utc>, StoreError> {
    let now: At = diesel::sql_query(
        "SELECT clock_timestamp() AS at FROM (SELECT pg_advisory_xact_lock(hashtextextended($1, 0))) AS l",
    )
    .bind::<Text, _>(format!("rate:{user}:{}", job_type.as_str()))
    .get_result(conn)
    .await?;
    if let Some(budget) = limit.monthly_token_budget {
        // One row read (issue #22): refused before anything is written or counted.
        let month = syllabus_domain::usage::month_start(now.at.date_naive());
        let used = crate::sql::usage::month_tokens(conn, user, month).await?;
        if !syllabus_domain::usage::within_budget(used, Some(budget)) {
            return Err(StoreError::BudgetExceeded {
                resets_at: syllabus_domain::usage::budget_resets_at(now.at),
            });
        }
    }
    record_user(conn, user, row).await?;
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
