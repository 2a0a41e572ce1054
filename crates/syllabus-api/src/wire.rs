//! The JSON shapes of SPEC §3 (snake_case, RFC 3339 UTC times).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use syllabus_domain::{AttemptCap, FailureClass};
use syllabus_store::records::{
    AttemptRecord, FlashcardRecord, JobRecord, ModuleRecord, PlanDetail, PlanRecord,
    SkillNodeRecord, SkillTreeRecord, TaskRecord,
};
use uuid::Uuid;

/// A list page.
#[derive(Debug, Serialize)]
pub struct ListView<T> {
    /// Items.
    pub items: Vec<T>,
    /// Opaque cursor of the next page.
    pub next_cursor: Option<String>,
}

/// Items without paging.
#[derive(Debug, Serialize)]
pub struct ItemsView<T> {
    /// Items.
    pub items: Vec<T>,
}

/// How the inputs were sanitized.
#[derive(Debug, Serialize)]
pub struct InputView {
    topic_truncated: bool,
    topic_original_length: u32,
    notes_truncated: bool,
    notes_original_length: Option<u32>,
}

/// A plan.
#[derive(Debug, Serialize)]
pub struct PlanView {
    id: Uuid,
    topic: String,
    notes: Option<String>,
    skill_level: String,
    weekly_hours: i64,
    learning_style: String,
    start_date: Option<String>,
    deadline_date: Option<String>,
    status: &'static str,
    input: InputView,
    attempts_used: u32,
    attempts_cap: u32,
    latest_attempt: Option<AttemptView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    modules: Option<Vec<ModuleView>>,
    total_minutes: u32,
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

/// A module.
#[derive(Debug, Serialize)]
pub struct ModuleView {
    id: Uuid,
    order: u32,
    title: String,
    description: Option<String>,
    estimated_minutes: u32,
    tasks: Vec<TaskView>,
}

impl From<ModuleRecord> for ModuleView {
    fn from(m: ModuleRecord) -> Self {
        Self {
            id: m.id,
            order: m.order,
            title: m.title,
            description: m.description,
            estimated_minutes: m.estimated_minutes,
            tasks: m.tasks.into_iter().map(TaskView::from).collect(),
        }
    }
}

/// A task.
#[derive(Debug, Serialize)]
pub struct TaskView {
    id: Uuid,
    order: u32,
    title: String,
    description: Option<String>,
    estimated_minutes: u32,
}

impl From<TaskRecord> for TaskView {
    fn from(t: TaskRecord) -> Self {
        Self {
            id: t.id,
            order: t.order,
            title: t.title,
            description: t.description,
            estimated_minutes: t.estimated_minutes,
        }
    }
}

/// Token usage.
#[derive(Debug, Serialize)]
pub struct UsageView {
    prompt_tokens: u32,
    completion_tokens: u32,
    total_tokens: u32,
}

/// A generation attempt.
#[derive(Debug, Serialize)]
pub struct AttemptView {
    id: Uuid,
    number: Option<u32>,
    status: &'static str,
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
    provider: Option<String>,
    model: Option<String>,
    usage: Option<UsageView>,
    prompt_hash: Option<String>,
    error: Option<String>,
    created_at: DateTime<Utc>,
}

impl From<AttemptRecord> for AttemptView {
    fn from(r: AttemptRecord) -> Self {
        let a = r.attempt;
        Self {
            id: r.id,
            number: r.number,
            status: if a.classification.is_some() {
                "failure"
            } else {
                "success"
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
            created_at: r.created_at,
        }
    }
}

/// A job's error.
#[derive(Debug, Serialize)]
pub struct JobErrorView {
    message: String,
    classification: &'static str,
}

/// A job.
#[derive(Debug, Serialize)]
pub struct JobView {
    id: Uuid,
    #[serde(rename = "type")]
    job_type: &'static str,
    status: &'static str,
    payload: Value,
    result: Option<Value>,
    error: Option<JobErrorView>,
    attempts: u32,
    max_attempts: u32,
    priority: i16,
    run_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
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

/// A flashcard.
#[derive(Debug, Serialize)]
pub struct FlashcardView {
    id: Uuid,
    plan_id: Uuid,
    module_id: Option<Uuid>,
    question: String,
    answer: String,
    distractors: Vec<String>,
    /// `multiple_choice` with 3 distractors, else `question_answer`.
    mode: &'static str,
    created_at: DateTime<Utc>,
}

impl From<FlashcardRecord> for FlashcardView {
    fn from(c: FlashcardRecord) -> Self {
        Self {
            id: c.id.as_uuid(),
            plan_id: c.plan_id.as_uuid(),
            module_id: c.module_id,
            question: c.question,
            answer: c.answer,
            mode: if c.distractors.len() == 3 {
                "multiple_choice"
            } else {
                "question_answer"
            },
            distractors: c.distractors,
            created_at: c.created_at,
        }
    }
}

/// A skill node.
#[derive(Debug, Serialize)]
pub struct SkillNodeView {
    id: Uuid,
    title: String,
    description: Option<String>,
    depth: u32,
    path: String,
    children: Vec<SkillNodeView>,
}

impl From<SkillNodeRecord> for SkillNodeView {
    fn from(n: SkillNodeRecord) -> Self {
        Self {
            id: n.id,
            title: n.title,
            description: n.description,
            depth: n.depth,
            path: n.path,
            children: n.children.into_iter().map(Self::from).collect(),
        }
    }
}

/// A skill tree.
#[derive(Debug, Serialize)]
pub struct SkillTreeView {
    id: Uuid,
    plan_id: Uuid,
    node_count: u32,
    depth: u32,
    skills: Vec<SkillNodeView>,
    created_at: DateTime<Utc>,
}

impl From<SkillTreeRecord> for SkillTreeView {
    fn from(t: SkillTreeRecord) -> Self {
        Self {
            id: t.id,
            plan_id: t.plan_id.as_uuid(),
            node_count: t.node_count,
            depth: t.depth,
            skills: t.roots.into_iter().map(SkillNodeView::from).collect(),
            created_at: t.created_at,
        }
    }
}
