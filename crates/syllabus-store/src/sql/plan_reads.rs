//! Reads of a plan that [`PlanStore`](crate::ports::PlanStore) runs inside its transactions: its
//! detail (modules, tasks, progress, latest attempt, whether a generation is live) and the page
//! query of the list.

use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::{AttemptCap, PlanStatus, TaskStatus, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{AttemptRecord, ModuleRecord, PlanDetail, PlanFilter, PlanRecord, TaskRecord};
use crate::rows::attempts::AttemptRow;
use crate::rows::numbers::to_u32;
use crate::rows::plans::{ModuleRow, PLAN_COLUMNS, PLAN_STATUS_SQL, TaskRow};
use crate::schema::{generation_attempts, modules, tasks};
use crate::sql::plans::plan_row;
use crate::sql::progress::{plan_progress, task_progress};

pub(crate) async fn latest_attempts(
    conn: &mut AsyncPgConnection,
    plan_ids: &[Uuid],
) -> Result<Vec<(Uuid, AttemptRecord)>, StoreError> {
    let rows: Vec<AttemptRow> = generation_attempts::table
        .filter(generation_attempts::plan_id.eq_any(plan_ids))
        .filter(generation_attempts::module_id.is_null())
        .distinct_on(generation_attempts::plan_id)
        .order((
            generation_attempts::plan_id,
            generation_attempts::created_at.desc(),
            generation_attempts::id.desc(),
        ))
        .select(AttemptRow::as_select())
        .load(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| (r.plan_id, r.into_record()))
        .collect())
}

/// A page of the user's plans, newest first (`rows` of them).
/// The explicit `user_id` predicate lets PostgreSQL use `plans_user_id_idx` (row-level security's
/// `OR scope = 'system'` cannot be an index condition); RLS stays the safety net.
pub(crate) fn plans_page_query(
    user: &UserId,
    filter: PlanFilter,
    after: Option<Uuid>,
    rows: i64,
) -> BoxedSqlQuery<'static, Pg, SqlQuery> {
    diesel::sql_query(format!(
        "SELECT * FROM (SELECT {PLAN_COLUMNS} FROM plans p
                       WHERE p.user_id = $5 AND ($1::uuid IS NULL OR p.id < $1)) AS x
         WHERE $2::text IS NULL OR ({PLAN_STATUS_SQL}) = $2
         ORDER BY x.id DESC LIMIT $3"
    ))
    .into_boxed()
    .bind::<Nullable<SqlUuid>, _>(after)
    .bind::<Nullable<Text>, _>(filter.status.map(PlanStatus::as_str))
    .bind::<BigInt, _>(rows)
    .bind::<BigInt, _>(i64::from(AttemptCap::MAX))
    .bind::<Text, _>(user.as_str().to_owned())
}

/// The plan's newest attempt (a `capped` one included; a module regeneration's is not the
/// plan's).
pub(crate) async fn latest_attempt(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<Option<AttemptRecord>, StoreError> {
    let latest: Option<AttemptRow> = generation_attempts::table
        .filter(generation_attempts::plan_id.eq(plan))
        .filter(generation_attempts::module_id.is_null())
        .order((
            generation_attempts::created_at.desc(),
            generation_attempts::id.desc(),
        ))
        .select(AttemptRow::as_select())
        .first(conn)
        .await
        .optional()?;
    Ok(latest.map(AttemptRow::into_record))
}

/// Whether the plan has a generation job queued or running (read through the partial unique
/// index `jobs_one_active_generation_idx`, whose predicate this repeats).
pub(crate) async fn generation_live(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<bool, StoreError> {
    #[derive(QueryableByName)]
    struct Live {
        #[diesel(sql_type = Bool)]
        live: bool,
    }
    let row: Live = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs WHERE plan_id = $1 AND job_type = 'plan_generation'
                        AND status IN ('pending', 'processing')) AS live",
    )
    .bind::<SqlUuid, _>(plan)
    .get_result(conn)
    .await?;
    Ok(row.live)
}

/// [`generation_live`] for a pending plan; a ready or failed one is not waiting for any.
pub(crate) async fn generating(
    conn: &mut AsyncPgConnection,
    plan: &PlanRecord,
) -> Result<bool, StoreError> {
    if plan.status == PlanStatus::Pending {
        generation_live(conn, plan.id.as_uuid()).await
    } else {
        Ok(false)
    }
}

/// A plan's modules in order and their tasks (by module, in order), as rows.
pub(crate) async fn content_rows(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<(Vec<ModuleRow>, Vec<TaskRow>), StoreError> {
    let module_rows: Vec<ModuleRow> = modules::table
        .filter(modules::plan_id.eq(plan))
        .order(modules::position)
        .select(ModuleRow::as_select())
        .load(conn)
        .await?;
    let module_ids: Vec<Uuid> = module_rows.iter().map(|m| m.id).collect();
    let task_rows: Vec<TaskRow> = tasks::table
        .filter(tasks::module_id.eq_any(&module_ids))
        .order((tasks::module_id, tasks::position))
        .select(TaskRow::as_select())
        .load(conn)
        .await?;
    Ok((module_rows, task_rows))
}

/// The plan with its modules and tasks in order, with `user`'s progress.
pub(crate) async fn plan_detail(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    id: Uuid,
) -> Result<PlanDetail, StoreError> {
    plan_detail_of(conn, Some(user), id).await
}

/// The plan with its modules and tasks in order; with `user`, their progress and the plan's
/// latest attempt, without (the public view) neither.
pub(crate) async fn plan_detail_of(
    conn: &mut AsyncPgConnection,
    user: Option<&UserId>,
    id: Uuid,
) -> Result<PlanDetail, StoreError> {
    let row = plan_row(conn, id).await?;
    let (progress, statuses, latest) = match user {
        Some(user) => (
            plan_progress(conn, user, id).await?,
            task_progress(conn, user, id).await?,
            latest_attempt(conn, id).await?,
        ),
        None => Default::default(),
    };
    let (module_rows, task_rows) = content_rows(conn, id).await?;
    let modules = module_rows
        .into_iter()
        .map(|m| ModuleRecord {
            id: m.id,
            order: to_u32(m.position),
            title: m.title,
            description: m.description,
            estimated_minutes: to_u32(m.estimated_minutes),
            tasks: task_rows
                .iter()
                .filter(|t| t.module_id == m.id)
                .map(|t| {
                    let progress = statuses.get(&t.id);
                    TaskRecord {
                        id: t.id,
                        order: to_u32(t.position),
                        title: t.title.clone(),
                        description: t.description.clone(),
                        estimated_minutes: to_u32(t.estimated_minutes),
                        status: progress.map_or(TaskStatus::NotStarted, |p| p.status()),
                        completed_at: progress.and_then(|p| p.completed_at),
                    }
                })
                .collect(),
        })
        .collect();
    let plan = row.into_record(latest, progress);
    let generating = generating(conn, &plan).await?;
    Ok(PlanDetail {
        plan,
        modules,
        generating,
    })
}
