//! The shapes of task progress (issue #20): a plan's progress summary, and the bodies of
//! `PUT /tasks/{id}/progress` and `POST /plans/{id}/regenerate`.

use serde::{Deserialize, Serialize};
use syllabus_domain::TaskStatus;
use syllabus_store::records::ProgressRecord;
use utoipa::ToSchema;

use super::fields;

/// How far the learner is with a plan. `completion` is `completed_minutes / total_minutes` (the
/// tasks' estimated minutes, so a long task weighs more than a short one), 0 when the plan has
/// no tasks; a module is completed when all its tasks are.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Progress)]
pub struct ProgressView {
    /// completed_minutes / total_minutes, 0–1 (0 without tasks).
    #[schema(minimum = 0, maximum = 1)]
    completion: f64,
    completed_tasks: u32,
    total_tasks: u32,
    /// Sum of the completed tasks' estimated minutes.
    completed_minutes: u32,
    /// Sum of the tasks' estimated minutes.
    total_minutes: u32,
    /// Modules whose tasks are all completed.
    completed_modules: u32,
    total_modules: u32,
}

impl From<ProgressRecord> for ProgressView {
    fn from(p: ProgressRecord) -> Self {
        Self {
            completion: p.completion(),
            completed_tasks: p.completed_tasks,
            total_tasks: p.total_tasks,
            completed_minutes: p.completed_minutes,
            total_minutes: p.total_minutes,
            completed_modules: p.completed_modules,
            total_modules: p.total_modules,
        }
    }
}

/// What `PUT /api/v1/tasks/{id}/progress` takes.
#[derive(Deserialize, ToSchema)]
#[schema(as = TaskProgressUpdate)]
pub(crate) struct TaskProgressRequest {
    /// The task's new status.
    #[schema(schema_with = fields::names::<TaskStatus>)]
    pub status: String,
}

/// What `POST /api/v1/plans/{id}/regenerate` may take (an empty body is `{}`).
#[derive(Deserialize, ToSchema, Default)]
#[schema(as = Regenerate)]
pub(crate) struct RegenerateRequest {
    /// Required `true` when any task of the plan has progress: a regeneration replaces the
    /// tasks and discards it.
    #[serde(default)]
    #[schema(default = false)]
    pub discard_progress: bool,
}
