//! Hand edits of a plan's modules and tasks (issue #21): finding a module's or task's plan, the
//! guard every edit passes under the plan's row lock, the positions of a plan's modules and of a
//! module's tasks, and renumbering them.
//!
//! **Renumbering in two steps.** `UNIQUE(plan_id, position)` and `UNIQUE(module_id, position)`
//! are checked row by row (not deferrable), so a permutation written in one `UPDATE` can collide
//! with itself. Every row of the scope is first moved out of the way (`position + OFFSET`), then
//! given its final position 1..N. The rows of one scope are few (≤ 24 modules, ≤ 20 tasks).

use diesel::prelude::*;
use diesel::sql_types::{Array, Bool, Uuid as SqlUuid};
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use crate::error::StoreError;
use crate::schema::{modules, plans, tasks};
use crate::sql::drafts::regeneration_live;
use crate::sql::plan_reads::generation_live;

/// Added to every position of a scope before its final positions are written: far above any
/// position (≤ 24), far below `i32::MAX`.
const OFFSET: i32 = 1_000_000;

/// The plan of a module the user may see; [`StoreError::NotFound`] otherwise (row-level
/// security hides another user's).
pub(crate) async fn plan_of_module(
    conn: &mut AsyncPgConnection,
    module: Uuid,
) -> Result<Uuid, StoreError> {
    Ok(modules::table
        .filter(modules::id.eq(module))
        .select(modules::plan_id)
        .first(conn)
        .await?)
}

/// The module and plan of a task the user may see; [`StoreError::NotFound`] otherwise.
pub(crate) async fn place_of_task(
    conn: &mut AsyncPgConnection,
    task: Uuid,
) -> Result<(Uuid, Uuid), StoreError> {
    Ok(tasks::table
        .inner_join(modules::table)
        .filter(tasks::id.eq(task))
        .select((tasks::module_id, modules::plan_id))
        .first(conn)
        .await?)
}

/// Whether a hand edit may change the plan's content now; run under the plan's row lock
/// (`PlanLock::Write`), before anything is written. `modules` are the modules the edit touches
/// (none when it adds one).
///
/// This is the one place that decides: a plan without modules is not ready (its generation is
/// pending or failed); a plan whose generation is queued or running would see its success
/// replace every module, the edit included; a module whose own regeneration is queued or running
/// (its success would replace the module's tasks and texts) is not edited, moved, deleted or
/// given or lent a task meanwhile.
///
/// # Errors
/// [`StoreError::InvalidState`] naming the reason.
pub(crate) async fn edit_guard(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    modules: &[Uuid],
) -> Result<(), StoreError> {
    #[derive(QueryableByName)]
    struct Ready {
        #[diesel(sql_type = Bool)]
        ready: bool,
    }
    let ready: Ready =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM modules WHERE plan_id = $1) AS ready")
            .bind::<SqlUuid, _>(plan)
            .get_result(conn)
            .await?;
    if !ready.ready {
        return Err(StoreError::InvalidState(
            "the plan has no modules yet: its generation is pending or failed".into(),
        ));
    }
    if generation_live(conn, plan).await? {
        return Err(StoreError::InvalidState(
            "a generation of the plan is queued or running: its success would replace the \
             modules"
                .into(),
        ));
    }
    for &module in modules {
        if regeneration_live(conn, module).await? {
            return Err(StoreError::InvalidState(
                "a regeneration of this module is queued or running: its success would replace \
                 the module's tasks"
                    .into(),
            ));
        }
    }
    Ok(())
}

/// The plan's module ids in order.
pub(crate) async fn module_ids(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(modules::table
        .filter(modules::plan_id.eq(plan))
        .order(modules::position)
        .select(modules::id)
        .load(conn)
        .await?)
}

/// The module's task ids in order.
pub(crate) async fn task_ids(
    conn: &mut AsyncPgConnection,
    module: Uuid,
) -> Result<Vec<Uuid>, StoreError> {
    Ok(tasks::table
        .filter(tasks::module_id.eq(module))
        .order(tasks::position)
        .select(tasks::id)
        .load(conn)
        .await?)
}

/// Gives the plan's modules the positions 1..N in the order of `ordered` (every module of the
/// plan, each once), in two steps (see the module's documentation).
pub(crate) async fn renumber_modules(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    ordered: &[Uuid],
) -> Result<(), StoreError> {
    diesel::update(modules::table.filter(modules::plan_id.eq(plan)))
        .set(modules::position.eq(modules::position + OFFSET))
        .execute(conn)
        .await?;
    diesel::sql_query(
        "UPDATE modules m SET position = v.pos::integer
         FROM unnest($2::uuid[]) WITH ORDINALITY AS v(id, pos)
         WHERE m.id = v.id AND m.plan_id = $1",
    )
    .bind::<SqlUuid, _>(plan)
    .bind::<Array<SqlUuid>, _>(ordered.to_vec())
    .execute(conn)
    .await?;
    Ok(())
}

/// Makes `ordered` the tasks of `module`, at positions 1..N (a task of another module of the
/// plan among them moves here), in two steps.
pub(crate) async fn renumber_tasks(
    conn: &mut AsyncPgConnection,
    module: Uuid,
    ordered: &[Uuid],
) -> Result<(), StoreError> {
    diesel::update(tasks::table.filter(tasks::module_id.eq(module)))
        .set(tasks::position.eq(tasks::position + OFFSET))
        .execute(conn)
        .await?;
    diesel::sql_query(
        "UPDATE tasks t SET module_id = $1, position = v.pos::integer
         FROM unnest($2::uuid[]) WITH ORDINALITY AS v(id, pos)
         WHERE t.id = v.id",
    )
    .bind::<SqlUuid, _>(module)
    .bind::<Array<SqlUuid>, _>(ordered.to_vec())
    .execute(conn)
    .await?;
    Ok(())
}

/// Dates the plan's change: every successful edit moves its `updated_at`.
pub(crate) async fn touch_plan(conn: &mut AsyncPgConnection, plan: Uuid) -> Result<(), StoreError> {
    diesel::update(plans::table.filter(plans::id.eq(plan)))
        .set(plans::updated_at.eq(diesel::dsl::now))
        .execute(conn)
        .await?;
    Ok(())
}
