//! The two writes to `jobs` that several ports make inside their own transactions: inserting a
//! pending job and ending a run (fenced by its lease).

use chrono::{DateTime, Utc};
use diesel::sql_types::{Jsonb, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{JobId, JobStatus};

use crate::error::StoreError;
use crate::records::{Actor, JobEnd, JobError, JobRecord, Lease, NewJob, ProviderCall};
use crate::rows::jobs::JobInsert;
use crate::schema::jobs;

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

/// What an end writes beside its status.
pub(crate) struct EndColumns<'e> {
    pub(crate) result: Option<&'e serde_json::Value>,
    pub(crate) error: Option<&'e JobError>,
    /// When a retry is due.
    pub(crate) run_at: Option<DateTime<Utc>>,
    /// What the next attempt re-asks, as JSON.
    pub(crate) reask: Option<serde_json::Value>,
}

/// The columns `end` writes.
pub(crate) fn end_columns(end: &JobEnd) -> EndColumns<'_> {
    let (result, error, run_at, reask) = match end {
        JobEnd::Completed { result } => (Some(result), None, None, None),
        JobEnd::Retry { at, error, reask } => (None, Some(error), Some(*at), reask.as_ref()),
        JobEnd::Failed { error, reask } => (None, Some(error), None, reask.as_ref()),
        JobEnd::Cancelled => (None, None, None, None),
        JobEnd::Superseded { error } => (None, Some(error), None, None),
    };
    EndColumns {
        result,
        error,
        run_at,
        reask: reask.and_then(|i| serde_json::to_value(i).ok()),
    }
}

/// Ends a run: fenced by the lease, so a run whose job was rescued or released changes nothing
/// and its whole transaction rolls back. `call`, the provider call the run made, is recorded
/// in the ledger in the same transaction (issue #22).
pub(crate) async fn end_job(
    conn: &mut AsyncPgConnection,
    lease: Lease,
    end: &JobEnd,
    call: Option<&ProviderCall>,
) -> Result<(), StoreError> {
    let status = end.status();
    let EndColumns {
        result,
        error,
        run_at,
        reask,
    } = end_columns(end);
    // Kept prepared: every run ends through it (issue #22).
    let n = crate::sql::prepared::Prepared(diesel::sql_query(
        "UPDATE jobs SET status = $3, result = $4, error_message = $5, error_classification = $6,
                run_at = coalesce($7, run_at), reask = $8, lease_token = NULL, locked_by = NULL,
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
    .bind::<Nullable<Jsonb>, _>(reask))
    .execute(conn)
    .await?;
    if n == 0 {
        return Err(StoreError::LeaseLost);
    }
    if let Some(call) = call {
        crate::sql::usage::record_call(conn, lease.job, call).await?;
    }
    Ok(())
}
