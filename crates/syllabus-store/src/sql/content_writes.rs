//! Writing a plan's modules and tasks: a generation's answer, or a client's own (an import); one
//! module regenerated in place (issue #21).

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::NormalizedPlan;
use syllabus_domain::plan::NormalizedModule;
use uuid::Uuid;

use crate::error::StoreError;
use crate::rows::numbers::to_i32;
use crate::rows::plans::{ModuleInsert, TaskInsert};
use crate::schema::{modules, plans, tasks};

/// Replaces one module of the plan in place: its id and position kept, its title, description
/// and minutes set from `content`, its tasks replaced by new ones (their progress cascades with
/// the old ones); the plan dated anew. Nothing else changes.
///
/// # Errors
/// [`StoreError::ModuleReplaced`] when the plan has no such module (deleted, or replaced by a
/// plan's regeneration): the caller's transaction must roll back.
pub(crate) async fn replace_module(
    conn: &mut AsyncPgConnection,
    user: &str,
    plan: Uuid,
    module: Uuid,
    content: &NormalizedModule,
) -> Result<(), StoreError> {
    let updated = diesel::update(
        modules::table
            .filter(modules::id.eq(module))
            .filter(modules::plan_id.eq(plan)),
    )
    .set((
        modules::title.eq(&content.title),
        modules::description.eq(content.description.as_deref()),
        modules::estimated_minutes.eq(to_i32(content.estimated_minutes)),
        modules::clamped.eq(content.clamped),
    ))
    .execute(conn)
    .await?;
    if updated == 0 {
        return Err(StoreError::ModuleReplaced);
    }
    diesel::delete(tasks::table.filter(tasks::module_id.eq(module)))
        .execute(conn)
        .await?;
    let task_rows: Vec<TaskInsert<'_>> = content
        .tasks
        .iter()
        .map(|t| TaskInsert {
            id: Uuid::now_v7(),
            module_id: module,
            user_id: user,
            position: to_i32(t.order),
            title: &t.title,
            description: t.description.as_deref(),
            estimated_minutes: to_i32(t.estimated_minutes),
            clamped: t.clamped,
        })
        .collect();
    diesel::insert_into(tasks::table)
        .values(&task_rows)
        .execute(conn)
        .await?;
    diesel::update(plans::table.filter(plans::id.eq(plan)))
        .set(plans::updated_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the plan's modules and tasks with `content` and dates the plan anew.
pub(crate) async fn replace_modules_and_tasks(
    conn: &mut AsyncPgConnection,
    user: &str,
    plan: Uuid,
    content: &NormalizedPlan,
) -> Result<(), StoreError> {
    diesel::delete(modules::table.filter(modules::plan_id.eq(plan)))
        .execute(conn)
        .await?;
    let mut module_rows = Vec::with_capacity(content.modules.len());
    let mut task_rows = Vec::new();
    for m in &content.modules {
        let module_id = Uuid::now_v7();
        module_rows.push(ModuleInsert {
            id: module_id,
            plan_id: plan,
            user_id: user,
            position: to_i32(m.order),
            title: &m.title,
            description: m.description.as_deref(),
            estimated_minutes: to_i32(m.estimated_minutes),
            clamped: m.clamped,
        });
        for t in &m.tasks {
            task_rows.push(TaskInsert {
                id: Uuid::now_v7(),
                module_id,
                user_id: user,
                position: to_i32(t.order),
                title: &t.title,
                description: t.description.as_deref(),
                estimated_minutes: to_i32(t.estimated_minutes),
                clamped: t.clamped,
            });
        }
    }
    diesel::insert_into(modules::table)
        .values(&module_rows)
        .execute(conn)
        .await?;
    // PostgreSQL binds at most 65,535 parameters per statement: 8 per task.
    for chunk in task_rows.chunks(4_000) {
        diesel::insert_into(tasks::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    diesel::update(plans::table.filter(plans::id.eq(plan)))
        .set(plans::updated_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}
