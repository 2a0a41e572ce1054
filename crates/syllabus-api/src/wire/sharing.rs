//! The public view of a plan (issue #21): what anyone may read of a public plan — its topic,
//! parameters, origin and content — and nothing of its owner: no owner id, notes, dates,
//! attempts or progress.

use chrono::{DateTime, Utc};
use serde::Serialize;
use syllabus_domain::{LearningStyle, Origin, SkillLevel};
use syllabus_store::records::{ModuleRecord, PlanDetail, TaskRecord};
use utoipa::ToSchema;
use uuid::Uuid;

use super::fields;

/// A public plan as anyone sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PublicPlan)]
pub struct PublicPlanView {
    id: Uuid,
    #[schema(schema_with = fields::plan_topic)]
    topic: String,
    #[schema(schema_with = fields::names::<SkillLevel>)]
    skill_level: String,
    #[schema(schema_with = fields::weekly_hours)]
    weekly_hours: i64,
    #[schema(schema_with = fields::names::<LearningStyle>)]
    learning_style: String,
    #[schema(schema_with = fields::names::<Origin>)]
    origin: &'static str,
    total_minutes: u32,
    modules: Vec<PublicModuleView>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A module of a public plan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PublicModule)]
pub struct PublicModuleView {
    #[schema(minimum = 1)]
    order: u32,
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::module_minutes)]
    estimated_minutes: u32,
    tasks: Vec<PublicTaskView>,
}

/// A task of a public plan.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PublicTask)]
pub struct PublicTaskView {
    #[schema(minimum = 1)]
    order: u32,
    title: String,
    #[schema(required)]
    description: Option<String>,
    #[schema(schema_with = fields::task_minutes)]
    estimated_minutes: u32,
}

impl From<PlanDetail> for PublicPlanView {
    fn from(d: PlanDetail) -> Self {
        let p = d.plan;
        Self {
            id: p.id.as_uuid(),
            topic: p.request.topic,
            skill_level: p.request.skill_level,
            weekly_hours: p.request.weekly_hours,
            learning_style: p.request.learning_style,
            origin: p.origin.as_str(),
            total_minutes: p.total_minutes,
            modules: d.modules.into_iter().map(PublicModuleView::from).collect(),
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

impl From<ModuleRecord> for PublicModuleView {
    fn from(m: ModuleRecord) -> Self {
        Self {
            order: m.order,
            title: m.title,
            description: m.description,
            estimated_minutes: m.estimated_minutes,
            tasks: m.tasks.into_iter().map(PublicTaskView::from).collect(),
        }
    }
}

impl From<TaskRecord> for PublicTaskView {
    fn from(t: TaskRecord) -> Self {
        Self {
            order: t.order,
            title: t.title,
            description: t.description,
            estimated_minutes: t.estimated_minutes,
        }
    }
}
