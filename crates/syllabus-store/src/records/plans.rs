//! Plans as records: a plan as listed and in detail, its modules and tasks, the plan to create,
//! the previews of an attempt in flight and what a plan's event stream shows.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use syllabus_domain::input::WeeklyHours;
use syllabus_domain::schedule::ScheduleTask;
use syllabus_domain::{
    Origin, PlanId, PlanStatus, RawPlanRequest, StudyDays, TaskStatus, Visibility,
};
use uuid::Uuid;

use super::generation::AttemptRecord;

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
    /// How far the learner is (issue #20).
    pub progress: ProgressRecord,
    /// The newest attempt.
    pub latest_attempt: Option<AttemptRecord>,
    /// Who may read it.
    pub visibility: Visibility,
    /// Where its content came from.
    pub origin: Origin,
    /// The plan a fork copied.
    pub forked_from: Option<PlanId>,
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

impl ModuleRecord {
    /// How many of its tasks are completed.
    #[must_use]
    pub fn completed_tasks(&self) -> u32 {
        let n = self
            .tasks
            .iter()
            .filter(|t| t.status == TaskStatus::Completed)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// How many tasks it has.
    #[must_use]
    pub fn total_tasks(&self) -> u32 {
        u32::try_from(self.tasks.len()).unwrap_or(u32::MAX)
    }
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
    /// The learner's progress (`not_started` until set).
    pub status: TaskStatus,
    /// When it was completed (set only while `completed`).
    pub completed_at: Option<DateTime<Utc>>,
}

/// A plan's progress, counted over its tasks (issue #20). A module is completed when it has tasks
/// and all of them are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProgressRecord {
    /// Completed tasks.
    pub completed_tasks: u32,
    /// Tasks.
    pub total_tasks: u32,
    /// Sum of the completed tasks' minutes.
    pub completed_minutes: u32,
    /// Sum of the tasks' minutes.
    pub total_minutes: u32,
    /// Modules whose tasks are all completed.
    pub completed_modules: u32,
    /// Modules.
    pub total_modules: u32,
}

/// What a plan's study schedule is computed from (issue #20): its remaining tasks and the
/// learner's parameters, read in one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleSource {
    /// The plan's status: a pending or failed plan has no tasks yet.
    pub status: PlanStatus,
    /// Its weekly hours.
    pub weekly_hours: WeeklyHours,
    /// Its start date, if any.
    pub start_date: Option<NaiveDate>,
    /// Its deadline, if any.
    pub deadline_date: Option<NaiveDate>,
    /// The days it is studied on.
    pub study_days: StudyDays,
    /// The tasks not completed (`not_started` or `in_progress`), in plan order: by module
    /// order, then task order.
    pub tasks: Vec<ScheduleTask>,
}

impl ProgressRecord {
    /// [`syllabus_domain::progress::completion`]: completed minutes over total minutes, 0–1.
    #[must_use]
    pub fn completion(&self) -> f64 {
        syllabus_domain::progress::completion(self.completed_minutes, self.total_minutes)
    }
}

/// Plans filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PlanFilter {
    /// Only plans with this derived status.
    pub status: Option<PlanStatus>,
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
    /// The days it is studied on.
    pub study_days: StudyDays,
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
            study_days: Some(self.study_days.names().map(str::to_owned).collect()),
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
            study_days: r.study_days,
        }
    }
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
    /// The drafts of the plan's module regenerations in flight (issue #21).
    pub drafts: Vec<super::DraftRecord>,
    /// The streamed skills of the plan's latest skill-tree job that showed any (issue #24), by
    /// index: kept after a failed run, gone once a tree is saved.
    pub skills: Vec<super::SkillPreviewRecord>,
}
