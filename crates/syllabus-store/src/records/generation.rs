//! Plan generation as records: attempts (read and to write), what a run needs, and what a
//! regenerate did.

use chrono::{DateTime, Utc};
use syllabus_domain::{FailureClass, Issues, RawPlanRequest};
use uuid::Uuid;

use super::jobs::JobRecord;

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
    /// 1–3, `None` for a capped record and a module regeneration's.
    pub number: Option<u32>,
    /// The module a module regeneration's attempt was for (issue #21); `None` for the plan's.
    pub module_id: Option<Uuid>,
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
/// What `regenerate` did.
#[derive(Debug, Clone, PartialEq)]
pub enum Regeneration {
    /// A new generation job was queued.
    Queued(JobRecord),
    /// The plan is at the cap: a `capped` attempt was recorded and nothing was queued.
    Capped(AttemptRecord),
}
