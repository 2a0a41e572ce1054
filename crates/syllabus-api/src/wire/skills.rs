//! The data of a plan stream's `skill` event (issue #24): a top-level skill of a skill tree
//! being generated, as soon as it has streamed in complete and valid.

use serde::{Deserialize, Serialize};
use syllabus_store::records::SkillPreviewRecord;
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields;

/// A streamed skill with the skills under it: a skill-tree node without an id (nothing is stored
/// as the tree until its job completes).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SkillPreviewNode)]
pub(crate) struct SkillPreviewNodeView {
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::skill_depth)]
    depth: u32,
    #[schema(examples("1.2"))]
    path: String,
    #[schema(no_recursion)]
    children: Vec<SkillPreviewNodeView>,
}

/// The data of a plan stream's `skill` event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = SkillEvent,
    description = "The data of a plan stream's `skill` event: a top-level skill (with its \
                   children) of the plan's skill-tree job, sent as soon as it has streamed in \
                   complete and valid. A preview: the tree is stored only when the job completes; \
                   when the job fails, the skills it streamed are still sent to a stream opened \
                   later (until the plan's next skill-tree job streams its first skill or a tree \
                   is saved)."
)]
pub(crate) struct SkillEventView {
    /// The skill-tree job.
    job_id: Uuid,
    /// 0-based position among the tree's top-level skills.
    index: u32,
    /// The job's run that streamed it, from 1: each run of the job that streams a skill has a
    /// higher number than the ones before (a re-ask, or a run after a rescue or a release). A
    /// skill of a later run of the same job replaces every skill of its earlier runs: drop them.
    #[schema(minimum = 1)]
    run: u32,
    skill: SkillPreviewNodeView,
}

impl SkillEventView {
    /// The event of a stored skill; `None` when the stored form is not one this version reads.
    pub(crate) fn from_record(s: SkillPreviewRecord) -> Option<Self> {
        Some(Self {
            job_id: s.job_id.as_uuid(),
            index: s.index,
            run: s.run,
            skill: serde_json::from_value(s.skill).ok()?,
        })
    }
}
