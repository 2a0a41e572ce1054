//! A job and its error, as the API shows them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use syllabus_domain::FailureClass;
use syllabus_store::records::JobRecord;
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields;

/// A job's error.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JobErrorView {
    message: String,
    #[schema(schema_with = fields::names::<FailureClass>)]
    classification: &'static str,
}

/// A job.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Job)]
pub struct JobView {
    id: Uuid,
    #[serde(rename = "type")]
    #[schema(schema_with = fields::job_type)]
    job_type: &'static str,
    #[schema(schema_with = fields::job_status)]
    status: &'static str,
    #[schema(value_type = Object)]
    payload: Value,
    #[schema(value_type = Option<Object>, required)]
    result: Option<Value>,
    #[schema(schema_with = fields::inline_or_null::<JobErrorView>, required)]
    error: Option<JobErrorView>,
    attempts: u32,
    max_attempts: u32,
    #[schema(schema_with = fields::priority)]
    priority: i16,
    run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    #[schema(required)]
    started_at: Option<DateTime<Utc>>,
    #[schema(required)]
    completed_at: Option<DateTime<Utc>>,
    updated_at: DateTime<Utc>,
}

impl From<JobRecord> for JobView {
    fn from(j: JobRecord) -> Self {
        Self {
            id: j.id.as_uuid(),
            job_type: j.job_type.as_str(),
            status: j.status.as_str(),
            payload: j.payload,
            result: j.result,
            error: j.error.map(|e| JobErrorView {
                message: e.message,
                classification: e.classification.as_str(),
            }),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            priority: j.priority,
            run_at: j.run_at,
            created_at: j.created_at,
            started_at: j.started_at,
            completed_at: j.completed_at,
            updated_at: j.updated_at,
        }
    }
}
