//! [`ProgressStore`](crate::ports::ProgressStore) on [`Database`]: setting a task's progress and
//! reading a plan's, and what its study schedule is computed from (issue #20).

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::input::WeeklyHours;
use syllabus_domain::{PlanId, TaskStatus, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_plan};
use crate::pool::Database;
use crate::records::{ProgressRecord, ScheduleSource, TaskRecord};
use crate::rows::numbers::to_u32;
use crate::sql::drafts::regeneration_live;
use crate::sql::plans::plan_row;
use crate::sql::progress::{plan_progress, remaining_tasks};

/// A task with its plan, as the owner sees it.
#[derive(diesel::QueryableByName)]
struct TaskOf {
    #[diesel(sql_type = SqlUuid)]
    plan_id: Uuid,
    #[diesel(sql_type = SqlUuid)]
    module_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    position: i32,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    estimated_minutes: i32,
}

#[derive(diesel::QueryableByName)]
struct Written {
    #[diesel(sql_type = Nullable<Timestamptz>)]
    completed_at: Option<DateTime<Utc>>,
}

#[derive(diesel::QueryableByName)]
struct Live {
    #[diesel(sql_type = diesel::sql_types::Bool)]
    live: bool,
}

async fn set_progress(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    task: Uuid,
    status: TaskStatus,
) -> Result<TaskRecord, StoreError> {
    // The task's plan, then the plan locked before anything is written (crate::locks): a
    // regeneration holds it while it checks for progress, so it cannot miss this one.
    let of: TaskOf = diesel::sql_query(
        "SELECT m.plan_id, t.module_id, t.position, t.title, t.description, t.estimated_minutes
         FROM tasks t JOIN modules m ON m.id = t.module_id
         WHERE t.id = $1 AND t.user_id = $2",
    )
    .bind::<SqlUuid, _>(task)
    .bind::<Text, _>(user.as_str().to_owned())
    .get_result(conn)
    .await?;
    lock_plan(conn, of.plan_id, PlanLock::KeyShare).await?;
    let live: Live = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE plan_id = $1 AND job_type = 'plan_generation'
                        AND status IN ('pending', 'processing')) AS live",
    )
    .bind::<SqlUuid, _>(of.plan_id)
    .get_result(conn)
    .await?;
    if live.live {
        // A generation queued or running replaces these tasks: progress on them would be lost.
        return Err(StoreError::InvalidState(
            "the plan is being generated again: its tasks are about to be replaced".into(),
        ));
    }
    if regeneration_live(conn, of.module_id).await? {
        // Likewise one module's regeneration replaces that module's tasks.
        return Err(StoreError::InvalidState(
            "the task's module is being regenerated: its tasks are about to be replaced".into(),
        ));
    }
    // `completed_at` is set when the task becomes completed (kept when it already was) and
    // cleared otherwise.
    let written: Written = diesel::sql_query(
        "INSERT INTO task_progress AS tp (task_id, plan_id, user_id, status, completed_at)
         VALUES ($1, $2, $3, $4, CASE WHEN $4 = 'completed' THEN now() END)
         ON CONFLICT (task_id) DO UPDATE SET
             status = EXCLUDED.status,
             completed_at = CASE WHEN EXCLUDED.status = 'completed'
                                 THEN coalesce(tp.completed_at, EXCLUDED.completed_at) END,
             updated_at = now()
         RETURNING tp.completed_at",
    )
    .bind::<SqlUuid, _>(task)
    .bind::<SqlUuid, _>(of.plan_id)
    .bind::<Text, _>(user.as_str().to_owned())
    .bind::<Text, _>(status.as_str())
    .get_result(conn)
    .await?;
    Ok(TaskRecord {
        id: task,
        order: to_u32(of.position),
        title: of.title,
        description: of.description,
        estimated_minutes: to_u32(of.estimated_minutes),
        status,
        completed_at: written.completed_at,
    })
}

impl crate::ports::ProgressStore for Database {
    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn set_task_progress(
        &self,
        user: &UserId,
        task: Uuid,
        status: TaskStatus,
    ) -> Result<TaskRecord, StoreError> {
        let owner = user.clone();
        self.as_user_retrying(user, move |conn| {
            let owner = owner.clone();
            Box::pin(async move { set_progress(conn, &owner, task, status).await })
        })
        .await
    }

    async fn plan_progress(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> Result<ProgressRecord, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                let exists: bool = diesel::select(diesel::dsl::exists(
                    crate::schema::plans::table
                        .filter(crate::schema::plans::id.eq(plan.as_uuid()))
                        .filter(crate::schema::plans::user_id.eq(owner.as_str())),
                ))
                .get_result(conn)
                .await?;
                if !exists {
                    return Err(StoreError::NotFound);
                }
                plan_progress(conn, &owner, plan.as_uuid()).await
            })
        })
        .await
    }

    async fn schedule_source(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> Result<ScheduleSource, StoreError> {
        let owner = user.clone();
        self.as_user(user, move |conn| {
            Box::pin(async move {
                // Under row-level security another user's plan is not found.
                let row = plan_row(conn, plan.as_uuid()).await?;
                let tasks = remaining_tasks(conn, &owner, plan.as_uuid()).await?;
                let weekly_hours = WeeklyHours::new(i64::from(row.weekly_hours))
                    .ok_or_else(|| StoreError::Unexpected("weekly_hours out of range".into()))?;
                let (start_date, deadline_date) = (row.start_date, row.deadline_date);
                let study_days = row.study_days();
                let status = row.into_record(None, ProgressRecord::default()).status;
                Ok(ScheduleSource {
                    status,
                    weekly_hours,
                    start_date,
                    deadline_date,
                    study_days,
                    tasks,
                })
            })
        })
        .await
    }
}
