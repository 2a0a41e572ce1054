//! What the store reads and writes, as plain data: no diesel type crosses this boundary.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use syllabus_domain::{
    FailureClass, Issues, JobId, JobStatus, JobType, PlanId, PlanStatus, RawPlanRequest, UserId,
};
use uuid::Uuid;

/// A page of a list and the cursor of the next one.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    /// The items, newest first.
    pub items: Vec<T>,
    /// Where the next page starts, or `None` on the last page.
    pub next_cursor: Option<Uuid>,
}

impl<T> Page<T> {
    /// The page of rows read newest first with [`PageRequest::fetch`]: the row past `size`, when
    /// there is one, only tells that more follow, and the last kept item is the cursor.
    pub(crate) fn from_fetched(mut items: Vec<T>, size: usize, id: impl Fn(&T) -> Uuid) -> Self {
        let more = items.len() > size;
        items.truncate(size);
        let next_cursor = if more { items.last().map(id) } else { None };
        Self { items, next_cursor }
    }
}

impl PageRequest {
    /// Items per page, clamped to 1–100.
    pub(crate) fn size(self) -> usize {
        usize::try_from(self.limit.clamp(1, 100)).unwrap_or(20)
    }

    /// Rows to read for a page: one more than [`Self::size`], to tell whether more follow.
    pub(crate) fn fetch(self) -> i64 {
        i64::from(self.limit.clamp(1, 100)) + 1
    }
}

/// Paging of a list: at most `limit` items older than `after`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page (1–100).
    pub limit: u32,
    /// The previous page's `next_cursor`.
    pub after: Option<Uuid>,
}

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
}

/// A plan as listed (without modules).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanRecord {
    /// Id.
    pub id: PlanId,
    /// The sanitized request as stored (topic and notes already truncated).
    pub request: RawPlanRequest,
    /// Whether the topic was cut.
    pub topic_truncated: bool,
    /// The topic's length before the cut.
    pub topic_original_length: u32,
    /// Whether the notes were cut.
    pub notes_truncated: bool,
    /// The notes' length before the cut.
    pub notes_original_length: Option<u32>,
    /// Derived status.
    pub status: PlanStatus,
    /// Attempts counting toward the cap.
    pub attempts_used: u32,
    /// Sum of module minutes (0 while pending).
    pub total_minutes: u32,
    /// The newest attempt.
    pub latest_attempt: Option<AttemptRecord>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A plan with its modules and tasks, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanDetail {
    /// The plan.
    pub plan: PlanRecord,
    /// Modules in order (`[]` while pending).
    pub modules: Vec<ModuleRecord>,
    /// Whether a generation job of the plan is queued or running (only read for a pending
    /// plan; `false` for a ready or failed one). A pending plan without one does not change by
    /// itself: its waits and event streams end.
    pub generating: bool,
}

/// A stored module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleRecord {
    /// Id.
    pub id: Uuid,
    /// 1..N within the plan.
    pub order: u32,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Minutes after clamping.
    pub estimated_minutes: u32,
    /// Tasks in order.
    pub tasks: Vec<TaskRecord>,
}

/// A stored task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRecord {
    /// Id.
    pub id: Uuid,
    /// 1..N within the module.
    pub order: u32,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Minutes after clamping.
    pub estimated_minutes: u32,
}

/// Token usage of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenUsage {
    /// Prompt tokens.
    pub prompt_tokens: u32,
    /// Completion tokens.
    pub completion_tokens: u32,
    /// Total.
    pub total_tokens: u32,
}

/// A generation attempt as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    /// Id.
    pub id: Uuid,
    /// 1–3, `None` for a capped record.
    pub number: Option<u32>,
    /// The facts written.
    pub attempt: NewAttempt,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A generation attempt to write. `classification` is `None` on success.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NewAttempt {
    /// `None` for a success.
    pub classification: Option<FailureClass>,
    /// Call duration.
    pub duration_ms: u64,
    /// Modules generated.
    pub modules_count: u32,
    /// Tasks generated.
    pub tasks_count: u32,
    /// The plan's topic was truncated.
    pub topic_truncated: bool,
    /// The plan's notes were truncated.
    pub notes_truncated: bool,
    /// Some effort was clamped or rounded.
    pub effort_normalized: bool,
    /// Modules whose minutes were clamped.
    pub modules_clamped: u32,
    /// Tasks whose minutes were clamped.
    pub tasks_clamped: u32,
    /// The deadline was extended.
    pub timeout_extended: bool,
    /// Provider name.
    pub provider: Option<String>,
    /// Model.
    pub model: Option<String>,
    /// Usage when sent.
    pub usage: Option<TokenUsage>,
    /// SHA-256 of the prompt.
    pub prompt_hash: Option<String>,
    /// A user-safe sentence on failure.
    pub error: Option<String>,
    /// What a validation failure found, to re-ask with.
    pub issues: Option<Issues>,
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
    },
    /// Failed for good.
    Failed {
        /// Why.
        error: JobError,
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

/// A plan's stored request and what the next generation attempt needs.
#[derive(Debug, Clone, PartialEq)]
pub struct GenerationInput {
    /// The request as stored (already sanitized; parsing it again changes nothing).
    pub request: RawPlanRequest,
    /// Whether the topic was cut.
    pub topic_truncated: bool,
    /// Whether the notes were cut.
    pub notes_truncated: bool,
    /// Attempts counting toward the cap so far.
    pub attempts_used: u32,
    /// The issues of the newest attempt when it failed as `validation`.
    pub reask: Option<Issues>,
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
}

/// Plans filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanFilter {
    /// Only plans with this derived status.
    pub status: Option<PlanStatus>,
}

/// Jobs filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct JobFilter {
    /// Only this type.
    pub job_type: Option<JobType>,
    /// Only this status.
    pub status: Option<JobStatus>,
}

/// A sanitized plan to create, from [`syllabus_domain::PlanRequest`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewPlan {
    /// Topic after sanitizing.
    pub topic: String,
    /// Whether it was cut.
    pub topic_truncated: bool,
    /// Length before the cut.
    pub topic_original_length: u32,
    /// Notes after sanitizing.
    pub notes: Option<String>,
    /// Whether they were cut.
    pub notes_truncated: bool,
    /// Length before the cut.
    pub notes_original_length: Option<u32>,
    /// Level.
    pub skill_level: String,
    /// Hours.
    pub weekly_hours: u8,
    /// Style.
    pub learning_style: String,
    /// Start.
    pub start_date: Option<NaiveDate>,
    /// Deadline.
    pub deadline_date: Option<NaiveDate>,
}

impl NewPlan {
    /// The request as it is stored (and read back).
    #[must_use]
    pub fn request(&self) -> RawPlanRequest {
        RawPlanRequest {
            topic: self.topic.clone(),
            notes: self.notes.clone(),
            skill_level: self.skill_level.clone(),
            weekly_hours: i64::from(self.weekly_hours),
            learning_style: self.learning_style.clone(),
            start_date: self.start_date.map(|d| d.to_string()),
            deadline_date: self.deadline_date.map(|d| d.to_string()),
        }
    }
}

impl From<&syllabus_domain::PlanRequest> for NewPlan {
    fn from(r: &syllabus_domain::PlanRequest) -> Self {
        let len = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        Self {
            topic: r.topic.as_str().to_owned(),
            topic_truncated: r.topic.truncated(),
            topic_original_length: len(r.topic.original_length()),
            // Notes a cut emptied are stored as absent, with the cut reported.
            notes: r
                .notes
                .as_ref()
                .map(|n| n.as_str().to_owned())
                .filter(|n| !n.is_empty()),
            notes_truncated: r
                .notes
                .as_ref()
                .is_some_and(syllabus_domain::Sanitized::truncated),
            notes_original_length: r.notes.as_ref().map(|n| len(n.original_length())),
            skill_level: r.skill_level.as_str().to_owned(),
            weekly_hours: r.weekly_hours.get(),
            learning_style: r.learning_style.as_str().to_owned(),
            start_date: r.start_date,
            deadline_date: r.deadline_date,
        }
    }
}

/// A stored flashcard with its distractors (0 or 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashcardRecord {
    /// Id.
    pub id: syllabus_domain::FlashcardId,
    /// Its plan.
    pub plan_id: PlanId,
    /// Its module, if it was made for one.
    pub module_id: Option<Uuid>,
    /// Question.
    pub question: String,
    /// Answer.
    pub answer: String,
    /// Three wrong answers in order, or none (question/answer mode).
    pub distractors: Vec<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored skill tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillTreeRecord {
    /// Id.
    pub id: Uuid,
    /// Its plan.
    pub plan_id: PlanId,
    /// Nodes in the tree.
    pub node_count: u32,
    /// Deepest level (1–3).
    pub depth: u32,
    /// Root nodes in order, children nested.
    pub roots: Vec<SkillNodeRecord>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

/// A stored skill node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillNodeRecord {
    /// Id.
    pub id: Uuid,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// 1–3.
    pub depth: u32,
    /// Materialized path, e.g. `1.2.3`.
    pub path: String,
    /// Children in order.
    pub children: Vec<SkillNodeRecord>,
}

/// What a flashcards run sends the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentContext {
    /// The plan's topic.
    pub topic: String,
    /// Module titles in order (the one module when a job names it).
    pub module_titles: Vec<String>,
}

/// What a distractors run sends the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardContext {
    /// The plan's topic.
    pub topic: String,
    /// The card's question.
    pub question: String,
    /// The card's answer.
    pub answer: String,
}

/// Run times of finished jobs, for the metrics histogram.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunTimes {
    /// Upper bounds of the buckets, in seconds.
    pub bounds: Vec<f64>,
    /// Per type: cumulative counts per bound, the total count and the sum of seconds.
    pub by_type: Vec<(JobType, Vec<u64>, u64, f64)>,
}

/// A module of an attempt in flight, as streamed (issue #11): a Module without ids, stored only
/// until the attempt ends.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRecord {
    /// The attempt it belongs to (1–3).
    pub attempt_number: u32,
    /// 0-based position in the answer.
    pub index: u32,
    /// `{order, title, description, estimated_minutes, tasks: [{order, title, description,
    /// estimated_minutes}]}`.
    pub module: Value,
}

impl PreviewRecord {
    /// The stored and sent form of a streamed module: a Module without ids.
    #[must_use]
    pub fn module_json(module: &syllabus_domain::plan::NormalizedModule) -> Value {
        serde_json::json!({
            "order": module.order,
            "title": module.title,
            "description": module.description,
            "estimated_minutes": module.estimated_minutes,
            "tasks": module.tasks.iter().map(|t| serde_json::json!({
                "order": t.order,
                "title": t.title,
                "description": t.description,
                "estimated_minutes": t.estimated_minutes,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What a plan's event stream shows, read in one transaction: the plan, its numbered attempts
/// (oldest first) and the previews of the attempt in flight (number `attempts.len() + 1`).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanStreamState {
    /// The plan, as in lists.
    pub plan: PlanRecord,
    /// Attempts that count toward the cap, by number.
    pub attempts: Vec<AttemptRecord>,
    /// Previews of the next attempt, by index.
    pub previews: Vec<PreviewRecord>,
    /// As [`PlanDetail::generating`].
    pub generating: bool,
}
