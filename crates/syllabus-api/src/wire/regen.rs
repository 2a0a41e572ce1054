//! Regenerating one module (issue #21): the request, and the plan stream's `module_draft` event.

use serde::{Deserialize, Serialize};
use syllabus_store::records::DraftRecord;
use utoipa::ToSchema;
use uuid::Uuid;

/// What `POST /api/v1/plans/{id}/modules/{module_id}/regenerate` may take (an empty body is
/// `{}`).
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = ModuleRegenerate)]
pub(crate) struct ModuleRegenerateRequest {
    /// What the learner wants of the new module, e.g. "more hands-on". Trimmed; blank or null
    /// is none; longer than 500 characters once trimmed is refused (400), never cut; no NUL.
    #[serde(default)]
    #[schema(pattern = "^[^\\u0000]*$")]
    pub instruction: Option<String>,
}

/// A complete task of a module being regenerated.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftTaskView {
    /// 1-based.
    order: u32,
    title: String,
    #[schema(required)]
    description: Option<String>,
    estimated_minutes: u32,
}

/// A module being regenerated, as far as it has streamed in.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct DraftModuleView {
    /// Null until it has streamed in valid.
    #[schema(required)]
    title: Option<String>,
    #[schema(required)]
    description: Option<String>,
    /// Null until it has streamed in valid.
    #[schema(required)]
    estimated_minutes: Option<u32>,
    /// The complete tasks so far, in order.
    #[schema(inline)]
    tasks: Vec<DraftTaskView>,
}

/// The data of a plan stream's `module_draft` event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = ModuleDraftEvent,
    description = "The data of a plan stream's `module_draft` event: a module being regenerated \
                   (job `module_regeneration`) as far as its answer has streamed in, sent each \
                   time a task completes. A preview: nothing is stored until the job completes."
)]
pub(crate) struct ModuleDraftEventView {
    /// The regeneration's job.
    job_id: Uuid,
    /// The module (its id is kept by the regeneration).
    module_id: Uuid,
    /// The module's position (kept).
    order: u32,
    #[schema(inline)]
    module: DraftModuleView,
}

impl ModuleDraftEventView {
    /// The event of a stored draft; `None` when the stored form is not one this version reads.
    pub(crate) fn from_record(d: DraftRecord) -> Option<Self> {
        Some(Self {
            job_id: d.job_id.as_uuid(),
            module_id: d.module_id,
            order: d.order,
            module: serde_json::from_value(d.module).ok()?,
        })
    }
}
