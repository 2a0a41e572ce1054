//! Regenerating one module (issue #21) as records: what a run reads, and the drafts a plan's
//! event stream shows while it runs.

use serde_json::Value;
use syllabus_domain::regen::ModuleDraft;
use syllabus_domain::{Issues, JobId, PlanId, RawPlanRequest};
use uuid::Uuid;

/// The module a regeneration works on, and its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModuleTarget {
    /// The plan.
    pub plan: PlanId,
    /// The module.
    pub module: Uuid,
}

/// What a module regeneration run needs: the plan's request, the module as it is, the plan's
/// other module titles, and the issues its job's previous run failed validation with.
#[derive(Debug, Clone, PartialEq)]
pub struct ModuleJobInput {
    /// The plan's request as stored.
    pub request: RawPlanRequest,
    /// Whether the topic was cut.
    pub topic_truncated: bool,
    /// Whether the notes were cut.
    pub notes_truncated: bool,
    /// The module's position (1-based), kept by the regeneration.
    pub order: u32,
    /// The module's title now.
    pub title: String,
    /// The module's description now.
    pub description: Option<String>,
    /// The titles of the plan's other modules, in order.
    pub other_titles: Vec<String>,
    /// The issues of this job's newest attempt when it failed as `validation`.
    pub reask: Option<Issues>,
}

/// The draft of a module being regenerated, as a plan's stream reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftRecord {
    /// The regeneration's job.
    pub job_id: JobId,
    /// The module.
    pub module_id: Uuid,
    /// Its position (1-based).
    pub order: u32,
    /// How many times the draft was written (grows with each complete task).
    pub seq: u32,
    /// `{title, description, estimated_minutes, tasks: [{order, title, description,
    /// estimated_minutes}]}`.
    pub module: Value,
}

impl DraftRecord {
    /// The stored and sent form of a draft.
    #[must_use]
    pub fn module_json(draft: &ModuleDraft) -> Value {
        serde_json::json!({
            "title": draft.title,
            "description": draft.description,
            "estimated_minutes": draft.estimated_minutes,
            "tasks": draft.tasks.iter().map(|t| serde_json::json!({
                "order": t.order,
                "title": t.title,
                "description": t.description,
                "estimated_minutes": t.estimated_minutes,
            })).collect::<Vec<_>>(),
        })
    }
}
