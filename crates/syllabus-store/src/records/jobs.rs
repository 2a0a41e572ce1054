//! Jobs as records: who creates one and under which rate limit, a job as its owner sees it, a
//! claimed run and its lease, how a run ends, the events and the queue's metrics.

use chrono::{DateTime, Utc};
use serde_json::Value;
use syllabus_domain::{FailureClass, Issues, JobId, JobStatus, JobType, PlanId, UserId};
use uuid::Uuid;

/// Who asks and on behalf of which request: written to jobs for log correlation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user.
    pub user: UserId,
    /// The HTTP request id, carried into the jobs it creates.
    pub request_id: Option<String>,
}

/// A rate limit to apply while creating a job, in the same transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Jobs allowed per user and type in the window.
    pub limit: u32,
    /// The window.
    pub window: std::time::Duration,
    /// Tokens a user may use per calendar month (UTC) before creating a job is refused
    /// (`USER_MONTHLY_TOKEN_BUDGET`; `None`: no budget).
    pub monthly_token_budget: Option<u64>,
}

/// A job's error as shown to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError {
    /// A user-safe sentence.
    pub message: String,
    /// The class.
    pub classification: FailureClass,
}

/// A job as its owner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRecord {
    /// Id.
    pub id: JobId,
    /// Type.
    pub job_type: JobType,
    /// Status.
    pub status: JobStatus,
    /// The plan it concerns, if any and not deleted.
    pub plan_id: Option<PlanId>,
    /// Payload as accepted.
    pub payload: Value,
    /// Result when completed.
    pub result: Option<Value>,
    /// The last error.
    pub error: Option<JobError>,
    /// Runs started.
    pub attempts: u32,
    /// Runs allowed.
    pub max_attempts: u32,
    /// Higher runs first.
    pub priority: i16,
    /// Not before.
    pub run_at: DateTime<Utc>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First started.
    pub started_at: Option<DateTime<Utc>>,
    /// Finished.
    pub completed_at: Option<DateTime<Utc>>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A job to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    /// Type.
    pub job_type: JobType,
    /// The plan it concerns.
    pub plan_id: Option<PlanId>,
    /// Payload.
    pub payload: Value,
    /// Runs allowed.
    pub max_attempts: u32,
    /// Higher runs first.
    pub priority: i16,
}

/// A job claimed by a worker, with the lease that fences its writes.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    /// The job's lease.
    pub lease: Lease,
    /// Owner.
    pub user: UserId,
    /// Type.
    pub job_type: JobType,
    /// The plan it concerns.
    pub plan_id: Option<PlanId>,
    /// Payload.
    pub payload: Value,
    /// Runs started, this one included.
    pub attempts: u32,
    /// Runs allowed.
    pub max_attempts: u32,
    /// How many times a stale rescue took the job back from a run that stopped (its worker
    /// process died); graceful releases do not count.
    pub rescues: u32,
    /// The HTTP request that created it.
    pub request_id: Option<String>,
    /// When it was committed (for pick-up latency).
    pub created_at: DateTime<Utc>,
    /// What the previous run's answer broke, when it failed as `validation`: the model is
    /// re-asked with these reasons.
    pub reask: Option<Issues>,
    /// Its virtual time for fair claiming (`syllabus_domain::fairness::fair_at`).
    pub fair_at: DateTime<Utc>,
}

/// The right to finish one run of a job: a fresh token per claim. A worker whose job was
/// rescued holds a stale token and can no longer complete or fail it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// The job.
    pub job: JobId,
    /// This claim's token.
    pub token: Uuid,
}

/// How a run ends.
#[derive(Debug, Clone, PartialEq)]
pub enum JobEnd {
    /// Done; `result` is stored.
    Completed {
        /// The job's result.
        result: Value,
    },
    /// Failed; runs again at `at`.
    Retry {
        /// When.
        at: DateTime<Utc>,
        /// Why this run failed.
        error: JobError,
        /// What the answer broke (a `validation` failure), for the next run's re-ask.
        reask: Option<Issues>,
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: JobError,
        /// What the answer broke (a `validation` failure), for a retry's re-ask.
        reask: Option<Issues>,
    },
    /// Its subject is gone (the plan was deleted): nothing to do.
    Cancelled,
    /// Its subject was replaced under the run (a regeneration replaced the module it was
    /// working on): cancelled, with the reason shown to the user.
    Superseded {
        /// Why (a user-safe sentence).
        error: JobError,
    },
}

impl JobEnd {
    /// The job's status after this end.
    #[must_use]
    pub const fn status(&self) -> JobStatus {
        match self {
            Self::Completed { .. } => JobStatus::Completed,
            Self::Retry { .. } => JobStatus::Pending,
            Self::Failed { .. } => JobStatus::Failed,
            Self::Cancelled | Self::Superseded { .. } => JobStatus::Cancelled,
        }
    }
}

/// A job-state change, as broadcast to waiters and workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEvent {
    /// A job was created or changed status.
    Changed {
        /// The job.
        id: JobId,
        /// Its plan.
        plan_id: Option<PlanId>,
        /// Its new status.
        status: JobStatus,
        /// Its type.
        job_type: JobType,
    },
    /// The listener reconnected: events may have been missed, so everyone re-reads.
    Resync,
}

/// Queue depth and history for metrics.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueueStats {
    /// Jobs by type and status.
    pub jobs: Vec<(JobType, JobStatus, u64)>,
    /// Age in seconds of the oldest pending job that is due.
    pub oldest_ready_age_seconds: f64,
    /// Generation attempts by class (`None` = success).
    pub attempts: Vec<(Option<FailureClass>, u64)>,
    /// Provider calls by provider, model, job type and class (issue #22).
    pub usage: Vec<crate::records::UsageCounter>,
    /// The shared provider limits' figures (issue #22), the window being the last 60 s.
    pub providers: Vec<super::ProviderStats>,
    /// Stored webhook delivery attempts by outcome (issue #23).
    pub webhook_attempts: Vec<(syllabus_domain::webhooks::DeliveryOutcome, u64)>,
}

/// Jobs filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobFilter {
    /// Only this type.
    pub job_type: Option<JobType>,
    /// Only this status.
    pub status: Option<JobStatus>,
}

/// Run times of finished jobs, for the metrics histogram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunTimes {
    /// Upper bounds of the buckets, in seconds.
    pub bounds: Vec<f64>,
    /// Per type: cumulative counts per bound, the total count and the sum of seconds.
    pub by_type: Vec<(JobType, Vec<u64>, u64, f64)>,
}
