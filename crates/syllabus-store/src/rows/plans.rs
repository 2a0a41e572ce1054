//! Rows of `plans`, `modules` and `tasks`: the plan as read with its counts ([`PLAN_COLUMNS`]),
//! and what creating a plan and storing its generated content insert.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool};
use syllabus_domain::{PlanId, RawPlanRequest, StudyDays, plan_status_from_counts};
use uuid::Uuid;

use super::numbers::to_u32;
use crate::records::{AttemptRecord, PlanRecord, ProgressRecord};
use crate::schema::{modules, plans, tasks};

pub(crate) const PLAN_COLUMNS: &str = "
    p.id, p.topic, p.topic_truncated, p.topic_original_length, p.notes, p.notes_truncated,
    p.notes_original_length, p.skill_level, p.weekly_hours, p.learning_style, p.start_date,
    p.deadline_date, p.study_days, p.created_at, p.updated_at,
    EXISTS (SELECT 1 FROM modules m WHERE m.plan_id = p.id) AS has_modules,
    (SELECT count(*) FROM generation_attempts a
        WHERE a.plan_id = p.id AND a.number IS NOT NULL AND a.status = 'failure') AS failed_attempts,
    (SELECT count(*) FROM generation_attempts a
        WHERE a.plan_id = p.id AND a.number IS NOT NULL) AS attempts_used,
    (SELECT coalesce(sum(m.estimated_minutes), 0) FROM modules m WHERE m.plan_id = p.id)::bigint
        AS total_minutes";

/// The SQL mirror of [`plan_status_from_counts`] over [`PLAN_COLUMNS`] (for filtering lists;
/// `$4` is [`AttemptCap::MAX`](syllabus_domain::AttemptCap::MAX)).
pub(crate) const PLAN_STATUS_SQL: &str = "
    CASE WHEN x.has_modules THEN 'ready' WHEN x.failed_attempts >= $4 THEN 'failed'
         ELSE 'pending' END";

/// A plan as [`PLAN_COLUMNS`] reads it: its row and the counts its status and totals derive
/// from.
#[derive(QueryableByName)]
#[diesel(table_name = plans)]
pub(crate) struct PlanRow {
    pub(crate) id: Uuid,
    pub(crate) topic: String,
    pub(crate) topic_truncated: bool,
    pub(crate) topic_original_length: i32,
    pub(crate) notes: Option<String>,
    pub(crate) notes_truncated: bool,
    pub(crate) notes_original_length: Option<i32>,
    pub(crate) skill_level: String,
    pub(crate) weekly_hours: i16,
    pub(crate) learning_style: String,
    pub(crate) start_date: Option<NaiveDate>,
    pub(crate) deadline_date: Option<NaiveDate>,
    pub(crate) study_days: i16,
    pub(crate) created_at: DateTime<Utc>,
    pub(crate) updated_at: DateTime<Utc>,
    #[diesel(sql_type = Bool)]
    pub(crate) has_modules: bool,
    #[diesel(sql_type = BigInt)]
    pub(crate) failed_attempts: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) attempts_used: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) total_minutes: i64,
}

impl PlanRow {
    pub(crate) fn request(&self) -> RawPlanRequest {
        RawPlanRequest {
            topic: self.topic.clone(),
            notes: self.notes.clone(),
            skill_level: self.skill_level.clone(),
            weekly_hours: i64::from(self.weekly_hours),
            learning_style: self.learning_style.clone(),
            start_date: self.start_date.map(|d| d.to_string()),
            deadline_date: self.deadline_date.map(|d| d.to_string()),
            study_days: Some(self.study_days().names().map(str::to_owned).collect()),
        }
    }

    /// The plan's study days; every day should the column ever hold what is not a set.
    pub(crate) fn study_days(&self) -> StudyDays {
        study_days_from_column(self.study_days)
    }

    pub(crate) fn into_record(
        self,
        latest_attempt: Option<AttemptRecord>,
        progress: ProgressRecord,
    ) -> PlanRecord {
        PlanRecord {
            id: PlanId::from_uuid(self.id),
            request: self.request(),
            topic_truncated: self.topic_truncated,
            topic_original_length: to_u32(self.topic_original_length),
            notes_truncated: self.notes_truncated,
            notes_original_length: self.notes_original_length.map(to_u32),
            status: plan_status_from_counts(self.has_modules, to_u32(self.failed_attempts)),
            attempts_used: to_u32(self.attempts_used),
            total_minutes: to_u32(self.total_minutes),
            progress,
            latest_attempt,
            created_at: self.created_at,
            updated_at: self.updated_at,
        }
    }
}

/// A new plan.
#[derive(Insertable)]
#[diesel(table_name = plans)]
pub(crate) struct PlanInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) user_id: &'a str,
    pub(crate) topic: &'a str,
    pub(crate) topic_truncated: bool,
    pub(crate) topic_original_length: i32,
    pub(crate) notes: Option<&'a str>,
    pub(crate) notes_truncated: bool,
    pub(crate) notes_original_length: Option<i32>,
    pub(crate) skill_level: &'a str,
    pub(crate) weekly_hours: i16,
    pub(crate) learning_style: &'a str,
    pub(crate) start_date: Option<NaiveDate>,
    pub(crate) deadline_date: Option<NaiveDate>,
    pub(crate) study_days: i16,
}

/// What a change of a plan writes: `None` leaves a column as it is; `Some(None)` sets NULL.
#[derive(AsChangeset)]
#[diesel(table_name = plans)]
pub(crate) struct PlanChangeset<'a> {
    pub(crate) weekly_hours: Option<i16>,
    pub(crate) study_days: Option<i16>,
    pub(crate) start_date: Option<Option<NaiveDate>>,
    pub(crate) deadline_date: Option<Option<NaiveDate>>,
    pub(crate) notes: Option<Option<&'a str>>,
    pub(crate) notes_truncated: Option<bool>,
    pub(crate) notes_original_length: Option<Option<i32>>,
}

/// [`StudyDays`] from `plans.study_days` (its CHECK keeps it 1–127).
pub(crate) fn study_days_from_column(bits: i16) -> StudyDays {
    u8::try_from(bits)
        .ok()
        .and_then(StudyDays::from_bits)
        .unwrap_or_default()
}

/// A stored module.
#[derive(Queryable, Selectable)]
#[diesel(table_name = modules)]
pub(crate) struct ModuleRow {
    pub(crate) id: Uuid,
    pub(crate) position: i32,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) estimated_minutes: i32,
}

/// A stored task.
#[derive(Queryable, Selectable)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskRow {
    pub(crate) id: Uuid,
    pub(crate) module_id: Uuid,
    pub(crate) position: i32,
    pub(crate) title: String,
    pub(crate) description: Option<String>,
    pub(crate) estimated_minutes: i32,
}

/// A generated module to store.
#[derive(Insertable)]
#[diesel(table_name = modules)]
pub(crate) struct ModuleInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) plan_id: Uuid,
    pub(crate) user_id: &'a str,
    pub(crate) position: i32,
    pub(crate) title: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) estimated_minutes: i32,
    pub(crate) clamped: bool,
}

/// A generated task to store.
#[derive(Insertable)]
#[diesel(table_name = tasks)]
pub(crate) struct TaskInsert<'a> {
    pub(crate) id: Uuid,
    pub(crate) module_id: Uuid,
    pub(crate) user_id: &'a str,
    pub(crate) position: i32,
    pub(crate) title: &'a str,
    pub(crate) description: Option<&'a str>,
    pub(crate) estimated_minutes: i32,
    pub(crate) clamped: bool,
}
