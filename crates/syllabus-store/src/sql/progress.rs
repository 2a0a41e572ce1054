//! Task progress (issue #20) as several ports read it: a plan's tasks' statuses, the summary of a
//! page of plans, whether a plan has any progress, the tasks not yet completed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::schedule::ScheduleTask;
use syllabus_domain::{TaskId, TaskStatus, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::ProgressRecord;

/// The progress of each plan of `plans` that has modules (a plan without is all zeros), for its
/// owner `user`, in one statement whose cost is the rows of those plans: modules by
/// `modules_plan_position_key`, tasks by `tasks_module_position_key`, progress by its key.
/// A module is completed when it has tasks and all of them are.
pub(crate) const PROGRESS_SQL: &str = "
    WITH per_module AS (
        SELECT m.plan_id,
               count(t.id) AS tasks,
               count(t.id) FILTER (WHERE tp.status = 'completed') AS done,
               coalesce(sum(t.estimated_minutes), 0) AS minutes,
               coalesce(sum(t.estimated_minutes) FILTER (WHERE tp.status = 'completed'), 0)
                   AS done_minutes
        FROM modules m
        LEFT JOIN tasks t ON t.module_id = m.id
        LEFT JOIN task_progress tp ON tp.task_id = t.id
        WHERE m.plan_id = ANY($1) AND m.user_id = $2
        GROUP BY m.plan_id, m.id)
    SELECT plan_id,
           sum(done)::bigint AS completed_tasks,
           sum(tasks)::bigint AS total_tasks,
           sum(done_minutes)::bigint AS completed_minutes,
           sum(minutes)::bigint AS total_minutes,
           count(*) FILTER (WHERE tasks > 0 AND done = tasks) AS completed_modules,
           count(*) AS total_modules
    FROM per_module GROUP BY plan_id";

#[derive(diesel::QueryableByName)]
struct ProgressRow {
    #[diesel(sql_type = SqlUuid)]
    plan_id: Uuid,
    #[diesel(sql_type = BigInt)]
    completed_tasks: i64,
    #[diesel(sql_type = BigInt)]
    total_tasks: i64,
    #[diesel(sql_type = BigInt)]
    completed_minutes: i64,
    #[diesel(sql_type = BigInt)]
    total_minutes: i64,
    #[diesel(sql_type = BigInt)]
    completed_modules: i64,
    #[diesel(sql_type = BigInt)]
    total_modules: i64,
}

fn count(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// The progress of `plans` ([`PROGRESS_SQL`]); a plan missing from the map has none.
pub(crate) async fn progress_of(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plans: &[Uuid],
) -> Result<HashMap<Uuid, ProgressRecord>, StoreError> {
    if plans.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<ProgressRow> = diesel::sql_query(PROGRESS_SQL)
        .bind::<Array<SqlUuid>, _>(plans.to_vec())
        .bind::<Text, _>(user.as_str().to_owned())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            (
                r.plan_id,
                ProgressRecord {
                    completed_tasks: count(r.completed_tasks),
                    total_tasks: count(r.total_tasks),
                    completed_minutes: count(r.completed_minutes),
                    total_minutes: count(r.total_minutes),
                    completed_modules: count(r.completed_modules),
                    total_modules: count(r.total_modules),
                },
            )
        })
        .collect())
}

/// One plan's progress.
pub(crate) async fn plan_progress(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
) -> Result<ProgressRecord, StoreError> {
    Ok(progress_of(conn, user, &[plan])
        .await?
        .remove(&plan)
        .unwrap_or_default())
}

/// A task's progress as stored.
#[derive(diesel::QueryableByName)]
pub(crate) struct TaskProgressRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) task_id: Uuid,
    #[diesel(sql_type = Text)]
    pub(crate) status: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub(crate) completed_at: Option<DateTime<Utc>>,
}

impl TaskProgressRow {
    /// The status (`not_started` for a value this version does not know).
    pub(crate) fn status(&self) -> TaskStatus {
        self.status.parse().unwrap_or(TaskStatus::NotStarted)
    }
}

/// The progress rows of a plan's tasks (tasks without one are `not_started`).
pub(crate) async fn task_progress(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
) -> Result<HashMap<Uuid, TaskProgressRow>, StoreError> {
    let rows: Vec<TaskProgressRow> = diesel::sql_query(
        "SELECT task_id, status, completed_at FROM task_progress
         WHERE plan_id = $1 AND user_id = $2",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<Text, _>(user.as_str().to_owned())
    .load(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.task_id, r)).collect())
}

/// Whether any task of the plan is not `not_started` (what a regeneration would discard).
pub(crate) async fn has_progress(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<bool, StoreError> {
    #[derive(diesel::QueryableByName)]
    struct Any {
        #[diesel(sql_type = Bool)]
        any: bool,
    }
    let row: Any = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM task_progress
                        WHERE plan_id = $1 AND status <> 'not_started') AS any",
    )
    .bind::<SqlUuid, _>(plan)
    .get_result(conn)
    .await?;
    Ok(row.any)
}

/// Discards the plan's progress (a regeneration the learner confirmed); returns how many rows.
pub(crate) async fn discard_progress(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<usize, StoreError> {
    Ok(
        diesel::sql_query("DELETE FROM task_progress WHERE plan_id = $1")
            .bind::<SqlUuid, _>(plan)
            .execute(conn)
            .await?,
    )
}

/// A task not completed, as [`remaining_tasks`] reads it.
#[derive(diesel::QueryableByName)]
struct RemainingRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    module_order: i32,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    task_order: i32,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    minutes: i32,
}

/// The plan's tasks that are not completed, in plan order (module position, then task
/// position), for its owner `user`: modules by `modules_plan_position_key`, tasks by
/// `tasks_module_position_key`, progress by its key.
pub(crate) async fn remaining_tasks(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
) -> Result<Vec<ScheduleTask>, StoreError> {
    let rows: Vec<RemainingRow> = diesel::sql_query(
        "SELECT t.id, m.position AS module_order, t.position AS task_order, t.title,
                t.estimated_minutes AS minutes
         FROM modules m
         JOIN tasks t ON t.module_id = m.id
         LEFT JOIN task_progress tp ON tp.task_id = t.id
         WHERE m.plan_id = $1 AND m.user_id = $2
           AND tp.status IS DISTINCT FROM 'completed'
         ORDER BY m.position, t.position",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<Text, _>(user.as_str().to_owned())
    .load(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ScheduleTask {
            id: TaskId::from_uuid(r.id),
            module_order: count(i64::from(r.module_order)),
            task_order: count(i64::from(r.task_order)),
            title: r.title,
            minutes: count(i64::from(r.minutes)),
        })
        .collect())
}
