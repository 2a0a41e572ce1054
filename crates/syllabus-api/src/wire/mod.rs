//! The JSON shapes of SPEC §3 (snake_case, RFC 3339 UTC times), each deriving its schema for the
//! OpenAPI document (`ToSchema`, under the name the document gives it).
//!
//! How a shape's Rust form becomes its schema: a field is required unless serde skips it when
//! empty (an `Option` the API always writes, as null, says `required`); `deny_unknown_fields` on
//! these serialize-only types is what states `additionalProperties: false` (the API never writes
//! a field its schema does not name); a field's doc comment is its description. What a Rust type
//! cannot say (the domain's closed sets and bounds, constants) comes from [`fields`] through
//! `schema_with`.

mod content;
pub(crate) mod fields;
mod jobs;
mod progress;
mod regen;
mod schedule;
mod sharing;
mod skills;
pub(crate) mod study;
mod usage;
mod webhooks;

pub use content::{DueCardView, FlashcardView, SkillTreeView};
pub use jobs::JobView;
pub use progress::ProgressView;
pub(crate) use progress::{RegenerateRequest, TaskProgressRequest};
pub(crate) use regen::{ModuleDraftEventView, ModuleRegenerateRequest};
pub use schedule::ScheduleView;
pub use sharing::PublicPlanView;
pub(crate) use skills::{SkillEventView, SkillPreviewNodeView};
pub(crate) use study::{DUE_CURSOR_ACCEPTED, ReviewRequest, SettingsRequest};
pub use study::{DueCountView, DuePageView, ReviewView, SettingsView};
pub use usage::UsageReportView;
pub use webhooks::{CreatedEndpointView, DeliveryView, EndpointView, TestQueuedView};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use syllabus_domain::{
    AttemptCap, FailureClass, LearningStyle, Origin, SkillLevel, TaskStatus, Visibility,
};
use syllabus_store::records::{AttemptRecord, ModuleRecord, PlanDetail, PlanRecord, TaskRecord};
use utoipa::ToSchema;
use uuid::Uuid;

/// A list page: the page's items and the cursor of the next.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ListView<T> {
    pub items: Vec<T>,
    #[schema(schema_with = fields::next_cursor, required)]
    pub next_cursor: Option<String>,
}

/// Items without paging.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemsView<T> {
    pub items: Vec<T>,
}

/// How the inputs were sanitized.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InputView {
    topic_truncated: bool,
    topic_original_length: u32,
    notes_truncated: bool,
    #[schema(required)]
    notes_original_length: Option<u32>,
}

/// A plan: as listed (without `modules`) or in detail.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Plan)]
pub struct PlanView {
    id: Uuid,
    #[schema(schema_with = fields::plan_topic)]
    topic: String,
    #[schema(schema_with = fields::plan_notes, required)]
    notes: Option<String>,
    #[schema(schema_with = fields::names::<SkillLevel>)]
    skill_level: String,
    #[schema(schema_with = fields::weekly_hours)]
    weekly_hours: i64,
    #[schema(schema_with = fields::names::<LearningStyle>)]
    learning_style: String,
    #[schema(format = Date, required)]
    start_date: Option<String>,
    #[schema(format = Date, required)]
    deadline_date: Option<String>,
    /// The days of the week the plan is studied on, Monday first (every day by default).
    #[schema(schema_with = fields::study_days)]
    study_days: Vec<String>,
    /// Who may read it: `private` (its owner) or `public` (anyone, through
    /// `/api/v1/public/plans/{id}`).
    #[schema(schema_with = fields::names::<Visibility>)]
    visibility: &'static str,
    /// Where its content came from: `ai` (generated), `template` (a fork), `manual`.
    #[schema(schema_with = fields::names::<Origin>)]
    origin: &'static str,
    /// The plan a fork copied (it may since have been deleted or made private).
    #[schema(required)]
    forked_from: Option<Uuid>,
    #[schema(schema_with = fields::plan_status)]
    status: &'static str,
    #[schema(inline)]
    input: InputView,
    attempts_used: u32,
    #[schema(schema_with = fields::attempts_cap)]
    attempts_cap: u32,
    #[schema(required)]
    latest_attempt: Option<AttemptView>,
    /// Detail only; [] while pending.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    modules: Option<Vec<ModuleView>>,
    total_minutes: u32,
    progress: ProgressView,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl PlanView {
    /// A plan as listed (no modules).
    #[must_use]
    pub fn summary(p: PlanRecord) -> Self {
        Self {
            id: p.id.as_uuid(),
            topic: p.request.topic,
            notes: p.request.notes,
            skill_level: p.request.skill_level,
            weekly_hours: p.request.weekly_hours,
            learning_style: p.request.learning_style,
            start_date: p.request.start_date,
            deadline_date: p.request.deadline_date,
            study_days: p.request.study_days.unwrap_or_default(),
            visibility: p.visibility.as_str(),
            origin: p.origin.as_str(),
            forked_from: p.forked_from.map(|f| f.as_uuid()),
            status: p.status.as_str(),
            input: InputView {
                topic_truncated: p.topic_truncated,
                topic_original_length: p.topic_original_length,
                notes_truncated: p.notes_truncated,
                notes_original_length: p.notes_original_length,
            },
            attempts_used: p.attempts_used,
            attempts_cap: AttemptCap::MAX,
            latest_attempt: p.latest_attempt.map(AttemptView::from),
            modules: None,
            total_minutes: p.total_minutes,
            progress: ProgressView::from(p.progress),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }

    /// A plan with its modules and tasks.
    #[must_use]
    pub fn detail(d: PlanDetail) -> Self {
        Self {
            modules: Some(d.modules.into_iter().map(ModuleView::from).collect()),
            ..Self::summary(d.plan)
        }
    }
}

/// A module of a plan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Module)]
pub struct ModuleView {
    id: Uuid,
    #[schema(minimum = 1)]
    order: u32,
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::module_minutes)]
    estimated_minutes: u32,
    /// Its completed tasks.
    completed_tasks: u32,
    /// Its tasks.
    total_tasks: u32,
    tasks: Vec<TaskView>,
}

impl From<ModuleRecord> for ModuleView {
    fn from(m: ModuleRecord) -> Self {
        let (completed_tasks, total_tasks) = (m.completed_tasks(), m.total_tasks());
        Self {
            id: m.id,
            order: m.order,
            title: m.title,
            description: m.description,
            estimated_minutes: m.estimated_minutes,
            completed_tasks,
            total_tasks,
            tasks: m.tasks.into_iter().map(TaskView::from).collect(),
        }
    }
}

/// A task of a module.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Task)]
pub struct TaskView {
    id: Uuid,
    #[schema(minimum = 1)]
    order: u32,
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::task_minutes)]
    estimated_minutes: u32,
    /// The learner's progress.
    #[schema(schema_with = fields::names::<TaskStatus>)]
    status: &'static str,
    /// When it was completed; null unless `completed`.
    #[schema(required)]
    completed_at: Option<DateTime<Utc>>,
}

impl From<TaskRecord> for TaskView {
    fn from(t: TaskRecord) -> Self {
        Self {
            id: t.id,
            order: t.order,
            title: t.title,
            description: t.description,
            estimated_minutes: t.estimated_minutes,
            status: t.status.as_str(),
            completed_at: t.completed_at,
        }
    }
}

/// Token usage.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageView {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptStatus {
    /// The plan was stored.
    Success,
    /// See the classification.
    Failure,
}

/// A generation attempt.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Attempt)]
pub struct AttemptView {
    id: Uuid,
    #[schema(schema_with = fields::attempt_number_or_null, required)]
    number: Option<u32>,
    #[schema(inline)]
    status: AttemptStatus,
    #[schema(schema_with = fields::failure_class_or_null, required)]
    classification: Option<&'static str>,
    duration_ms: u64,
    modules_count: u32,
    tasks_count: u32,
    topic_truncated: bool,
    notes_truncated: bool,
    effort_normalized: bool,
    modules_clamped: u32,
    tasks_clamped: u32,
    timeout_extended: bool,
    #[schema(required)]
    provider: Option<String>,
    #[schema(required)]
    model: Option<String>,
    #[schema(schema_with = fields::inline_or_null::<UsageView>, required)]
    usage: Option<UsageView>,
    #[schema(required)]
    prompt_hash: Option<String>,
    #[schema(required)]
    error: Option<String>,
    /// The module a module regeneration's attempt was for (issue #21: not numbered, not
    /// counted toward the cap); null for the plan's own attempts.
    #[schema(required)]
    module_id: Option<Uuid>,
    created_at: DateTime<Utc>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(r: AttemptRecord) -> Self {
        let a = r.attempt;
        Self {
            id: r.id,
            number: r.number,
            status: if a.classification.is_some() {
                AttemptStatus::Failure
            } else {
                AttemptStatus::Success
            },
            classification: a.classification.map(FailureClass::as_str),
            duration_ms: a.duration_ms,
            modules_count: a.modules_count,
            tasks_count: a.tasks_count,
            topic_truncated: a.topic_truncated,
            notes_truncated: a.notes_truncated,
            effort_normalized: a.effort_normalized,
            modules_clamped: a.modules_clamped,
            tasks_clamped: a.tasks_clamped,
            timeout_extended: a.timeout_extended,
            provider: a.provider,
            model: a.model,
            usage: a.usage.map(|u| UsageView {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                total_tokens: u.total_tokens,
            }),
            prompt_hash: a.prompt_hash,
            error: a.error,
            module_id: r.module_id,
            created_at: r.created_at,
        }
    }
}

/// The data of a plan stream's `module` event, borrowing the stored preview (no copy per stream).
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(
    as = ModuleEvent,
    description = "The data of a plan stream's `module` event: a module of the attempt in flight, complete and valid, as soon as it has streamed in."
)]
pub(crate) struct ModuleEventView<'a> {
    #[schema(schema_with = fields::attempt_number)]
    pub attempt_number: u32,
    #[schema(schema_with = fields::module_index)]
    pub index: u32,
    #[schema(schema_with = fields::module_preview)]
    pub module: &'a Value,
}

/// Who a request is signed in as, and whether development sign-in is offered.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Session)]
pub(crate) struct SessionView<'a> {
    #[schema(schema_with = fields::session_user, required)]
    pub user_id: Option<&'a str>,
    /// Whether POST /api/v1/session/dev mints tokens.
    pub dev_sign_in: bool,
}

/// What a development sign-in asks for.
#[derive(Deserialize, ToSchema)]
#[schema(as = DevSignIn)]
pub(crate) struct DevSignInRequest {
    #[schema(schema_with = fields::sign_in_name)]
    pub name: String,
}

/// A token minted by development sign-in.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DevToken)]
pub(crate) struct MintedView<'a> {
    /// An HS256 JWT: send it as `Authorization: Bearer <token>`.
    pub token: &'a str,
    #[schema(schema_with = fields::minted_user)]
    pub user_id: &'a str,
    /// The token's `exp` (12 hours after it was minted).
    #[schema(format = DateTime)]
    pub expires_at: String,
}
