//! Rows of `jobs`: a job as read (a record for its owner, a claimed run for a worker) and as
//! inserted.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde_json::Value;
use syllabus_domain::{JobId, JobType, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{ClaimedJob, JobError, JobRecord, Lease};
use crate::schema::jobs;

/// A job as stored (`SELECT *`, `RETURNING *`).
#[derive(QueryableByName)]
#[diesel(table_name = jobs)]
pub(crate) struct JobRow {
    pub(crate) id: Uuid,
    pub(crate) user_id: String,
    pub(crate) job_type: String,
    pub(crate) status: String,
    pub(crate) plan_id: Option<Uuid>,
    pub(crate) payload: Value,
    pub(crate) result: Option<Value>,
    pub(crate) error_message: Option<String>,
    pub(crate) error_classification: Option<String>,
    pub(crate) attempts: i32,
    pub(crate) max_attempts: i32,
    pub(crate) priority: i16,
    pub(crate) run_at: DateTime<Utc>,
    pub(crate) request_id: Option<String>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) started_at: Option<DateTime<Utc>>,
    pub(crate) completed_at: Option<DateTime<Utc>>,
    pub(crate) updated_at: DateTime<Utc>,
    pub(crate) lease_token: Option<Uuid>,
    pub(crate) rescues: i32,
    pub(crate) reask: Option<Value>,
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

    pub(crate) fn into_record(self) -> Result<JobRecord, StoreError> {
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

    pub(crate) fn into_claimed(self, fair_at: DateTime<Utc>) -> Result<ClaimedJob, StoreError> {
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
            // Reasons that no longer parse are dropped: the model is asked afresh.
            reask: self.reask.and_then(|v| serde_json::from_value(v).ok()),
            fair_at,
        })
    }
}

/// A pending job to insert.
#[derive(Insertable)]
#[diesel(table_name = jobs)]
pub(crate) struct JobInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) user_id: &'a str,
    pub(crate) job_type: &'a str,
    pub(crate) plan_id: Option<Uuid>,
    pub(crate) payload: &'a Value,
    pub(crate) max_attempts: i32,
    pub(crate) priority: i16,
    pub(crate) request_id: Option<&'a str>,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) run_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
}
