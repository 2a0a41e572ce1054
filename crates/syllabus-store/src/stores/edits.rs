//! [`EditStore`](crate::ports::EditStore) on [`Database`]: a plan's modules and tasks edited by
//! hand (issue #21). Each edit is one transaction: the module's or task's plan is found, its row
//! locked (crate::locks: plan first), [`edit_guard`] decides whether it may change now, the
//! domain's [`ordering`] gives the new positions, and the plan is dated anew.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use syllabus_domain::ordering::{self, CountRefusal, OrderEdit, OutOfRange};
use syllabus_domain::{
    Issues, ModuleChanges, ModuleId, NewModule, NewTask, Patch, PlanId, TaskChanges, TaskId, UserId,
};
use uuid::Uuid;

use crate::error::StoreError;
use crate::locks::{PlanLock, lock_plan};
use crate::pool::Database;
use crate::records::{ModuleRecord, TaskRecord};
use crate::rows::numbers::to_i32;
use crate::rows::plans::{ModuleInsert, TaskInsert};
use crate::schema::{modules, tasks};
use crate::sql::content_edits::{
    edit_guard, module_ids, place_of_task, plan_of_module, renumber_modules, renumber_tasks,
    task_ids, touch_plan,
};
use crate::sql::plan_reads::plan_detail;

fn refused(reason: CountRefusal) -> StoreError {
    StoreError::InvalidState(reason.reason())
}

fn out_of_range(field: &'static str) -> impl Fn(OutOfRange) -> StoreError {
    move |e| StoreError::Invalid(e.issues(field))
}

/// 1-based position of `id` in `ids`; [`StoreError::NotFound`] when it is not there (deleted
/// since it was found, before the lock).
fn position(ids: &[Uuid], id: Uuid) -> Result<usize, StoreError> {
    ids.iter()
        .position(|&x| x == id)
        .map(|i| i + 1)
        .ok_or(StoreError::NotFound)
}

/// Locks the plan and passes the guard.
async fn lock_for_edit(
    conn: &mut AsyncPgConnection,
    plan: Uuid,
    modules: &[Uuid],
) -> Result<(), StoreError> {
    lock_plan(conn, plan, PlanLock::Write).await?;
    edit_guard(conn, plan, modules).await
}

/// Locks the task's plan, then reads where the task is under that lock (another edit may have
/// moved it to another module of the plan meanwhile): its module and plan.
async fn locked_place_of_task(
    conn: &mut AsyncPgConnection,
    task: Uuid,
) -> Result<(Uuid, Uuid), StoreError> {
    let (_, plan) = place_of_task(conn, task).await?;
    lock_plan(conn, plan, PlanLock::Write).await?;
    place_of_task(conn, task).await
}

/// The module as the plan's detail shows it (its tasks with `user`'s progress).
async fn module_record(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
    module: Uuid,
) -> Result<ModuleRecord, StoreError> {
    plan_detail(conn, user, plan)
        .await?
        .modules
        .into_iter()
        .find(|m| m.id == module)
        .ok_or(StoreError::NotFound)
}

/// The task as the plan's detail shows it.
async fn task_record(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
    task: Uuid,
) -> Result<TaskRecord, StoreError> {
    plan_detail(conn, user, plan)
        .await?
        .modules
        .into_iter()
        .flat_map(|m| m.tasks)
        .find(|t| t.id == task)
        .ok_or(StoreError::NotFound)
}

/// Writes the text and minutes of a change (`Keep`/`None` leave a column as it is).
macro_rules! write_fields {
    ($conn:expr, $table:ident, $id:expr, $changes:expr) => {{
        let description = match &$changes.description {
            Patch::Keep => None,
            Patch::Clear => Some(None),
            Patch::Set(d) => Some(Some(d.as_str())),
        };
        let minutes = $changes.estimated_minutes.map(|m| {
            (
                $table::estimated_minutes.eq(to_i32(m)),
                $table::clamped.eq(false),
            )
        });
        if $changes.title.is_some() || description.is_some() || minutes.is_some() {
            diesel::update($table::table.filter($table::id.eq($id)))
                .set((
                    $changes.title.as_deref().map(|t| $table::title.eq(t)),
                    description.map(|d| $table::description.eq(d)),
                    minutes,
                ))
                .execute($conn)
                .await?;
        }
    }};
}

async fn update_module(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    module: Uuid,
    changes: &ModuleChanges,
) -> Result<ModuleRecord, StoreError> {
    let plan = plan_of_module(conn, module).await?;
    lock_for_edit(conn, plan, &[module]).await?;
    let ids = module_ids(conn, plan).await?;
    let from = position(&ids, module)?;
    if let Some(to) = changes.order {
        let ordered = ordering::apply(ids.clone(), OrderEdit::Move { from, to })
            .map_err(out_of_range("order"))?;
        if ordered != ids {
            renumber_modules(conn, plan, &ordered).await?;
        }
    }
    write_fields!(conn, modules, module, changes);
    if *changes != ModuleChanges::default() {
        touch_plan(conn, plan).await?;
    }
    module_record(conn, user, plan, module).await
}

async fn update_task(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    task: Uuid,
    changes: &TaskChanges,
) -> Result<TaskRecord, StoreError> {
    let (module, plan) = locked_place_of_task(conn, task).await?;
    let target = changes
        .module_id
        .map(|m| m.as_uuid())
        .filter(|&m| m != module);
    edit_guard(
        conn,
        plan,
        &[Some(module), target]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>(),
    )
    .await?;
    let ids = task_ids(conn, module).await?;
    let from = position(&ids, task)?;
    if let Some(target) = target {
        // A module of another plan (or nobody's) is a bad value of the body, not a 404.
        let other_plan = plan_of_module(conn, target).await.ok();
        if other_plan != Some(plan) {
            let mut issues = Issues::default();
            issues.push("module_id", "must be the id of a module of the same plan");
            return Err(StoreError::Invalid(issues));
        }
        ordering::may_remove_task(ids.len()).map_err(refused)?;
        let there = task_ids(conn, target).await?;
        ordering::may_add_task(there.len()).map_err(refused)?;
        let (source, there) = ordering::move_between(ids, from, there, changes.order)
            .map_err(out_of_range("order"))?;
        renumber_tasks(conn, target, &there).await?;
        renumber_tasks(conn, module, &source).await?;
    } else if let Some(to) = changes.order {
        let ordered = ordering::apply(ids.clone(), OrderEdit::Move { from, to })
            .map_err(out_of_range("order"))?;
        if ordered != ids {
            renumber_tasks(conn, module, &ordered).await?;
        }
    }
    write_fields!(conn, tasks, task, changes);
    if *changes != TaskChanges::default() {
        touch_plan(conn, plan).await?;
    }
    task_record(conn, user, plan, task).await
}

async fn add_module(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    plan: Uuid,
    new: &NewModule,
) -> Result<ModuleRecord, StoreError> {
    lock_for_edit(conn, plan, &[]).await?;
    let ids = module_ids(conn, plan).await?;
    ordering::may_add_module(ids.len()).map_err(refused)?;
    let id = ModuleId::new().as_uuid();
    let last = u32::try_from(ids.len() + 1).unwrap_or(u32::MAX);
    let ordered = ordering::apply(
        ids,
        OrderEdit::Insert {
            at: new.order,
            item: id,
        },
    )
    .map_err(out_of_range("order"))?;
    diesel::insert_into(modules::table)
        .values(ModuleInsert {
            id,
            plan_id: plan,
            user_id: user.as_str(),
            position: to_i32(last),
            title: &new.title,
            description: new.description.as_deref(),
            estimated_minutes: to_i32(new.estimated_minutes),
            clamped: false,
        })
        .execute(conn)
        .await?;
    let rows: Vec<TaskInsert<'_>> = new
        .tasks
        .iter()
        .zip(1..)
        .map(|(t, n)| TaskInsert {
            id: TaskId::new().as_uuid(),
            module_id: id,
            user_id: user.as_str(),
            position: n,
            title: &t.title,
            description: t.description.as_deref(),
            estimated_minutes: to_i32(t.estimated_minutes),
            clamped: false,
        })
        .collect();
    diesel::insert_into(tasks::table)
        .values(&rows)
        .execute(conn)
        .await?;
    if ordered.last() != Some(&id) {
        renumber_modules(conn, plan, &ordered).await?;
    }
    touch_plan(conn, plan).await?;
    module_record(conn, user, plan, id).await
}

async fn add_task(
    conn: &mut AsyncPgConnection,
    user: &UserId,
    module: Uuid,
    new: &NewTask,
) -> Result<TaskRecord, StoreError> {
    let plan = plan_of_module(conn, module).await?;
    lock_for_edit(conn, plan, &[module]).await?;
    // Read again under the lock: a deletion (or a generation's success) that committed in
    // between leaves no module to add to (404, not a foreign-key error).
    plan_of_module(conn, module).await?;
    let ids = task_ids(conn, module).await?;
    ordering::may_add_task(ids.len()).map_err(refused)?;
    let id = TaskId::new().as_uuid();
    let last = u32::try_from(ids.len() + 1).unwrap_or(u32::MAX);
    let ordered = ordering::apply(
        ids,
        OrderEdit::Insert {
            at: new.order,
            item: id,
        },
    )
    .map_err(out_of_range("order"))?;
    diesel::insert_into(tasks::table)
        .values(TaskInsert {
            id,
            module_id: module,
            user_id: user.as_str(),
            position: to_i32(last),
            title: &new.title,
            description: new.description.as_deref(),
            estimated_minutes: to_i32(new.estimated_minutes),
            clamped: false,
        })
        .execute(conn)
        .await?;
    if ordered.last() != Some(&id) {
        renumber_tasks(conn, module, &ordered).await?;
    }
    touch_plan(conn, plan).await?;
    task_record(conn, user, plan, id).await
}

async fn delete_module(conn: &mut AsyncPgConnection, module: Uuid) -> Result<(), StoreError> {
    let plan = plan_of_module(conn, module).await?;
    lock_for_edit(conn, plan, &[module]).await?;
    let ids = module_ids(conn, plan).await?;
    let at = position(&ids, module)?;
    ordering::may_remove_module(ids.len()).map_err(refused)?;
    let ordered = ordering::apply(ids, OrderEdit::Remove { at }).map_err(out_of_range("module"))?;
    // Its tasks and their progress cascade; its flashcards keep their plan, without a module.
    diesel::delete(modules::table.filter(modules::id.eq(module)))
        .execute(conn)
        .await?;
    renumber_modules(conn, plan, &ordered).await?;
    touch_plan(conn, plan).await
}

async fn delete_task(conn: &mut AsyncPgConnection, task: Uuid) -> Result<(), StoreError> {
    let (module, plan) = locked_place_of_task(conn, task).await?;
    edit_guard(conn, plan, &[module]).await?;
    let ids = task_ids(conn, module).await?;
    let at = position(&ids, task)?;
    ordering::may_remove_task(ids.len()).map_err(refused)?;
    let ordered = ordering::apply(ids, OrderEdit::Remove { at }).map_err(out_of_range("task"))?;
    // Its progress cascades.
    diesel::delete(tasks::table.filter(tasks::id.eq(task)))
        .execute(conn)
        .await?;
    renumber_tasks(conn, module, &ordered).await?;
    touch_plan(conn, plan).await
}

impl crate::ports::EditStore for Database {
    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn update_module(
        &self,
        user: &UserId,
        module: ModuleId,
        changes: &ModuleChanges,
    ) -> Result<ModuleRecord, StoreError> {
        let (owner, changes) = (user.clone(), changes.clone());
        self.as_user_retrying(user, move |conn| {
            let (owner, changes) = (owner.clone(), changes.clone());
            Box::pin(async move { update_module(conn, &owner, module.as_uuid(), &changes).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn update_task(
        &self,
        user: &UserId,
        task: TaskId,
        changes: &TaskChanges,
    ) -> Result<TaskRecord, StoreError> {
        let (owner, changes) = (user.clone(), changes.clone());
        self.as_user_retrying(user, move |conn| {
            let (owner, changes) = (owner.clone(), changes.clone());
            Box::pin(async move { update_task(conn, &owner, task.as_uuid(), &changes).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn add_module(
        &self,
        user: &UserId,
        plan: PlanId,
        module: &NewModule,
    ) -> Result<ModuleRecord, StoreError> {
        let (owner, module) = (user.clone(), module.clone());
        self.as_user_retrying(user, move |conn| {
            let (owner, module) = (owner.clone(), module.clone());
            Box::pin(async move { add_module(conn, &owner, plan.as_uuid(), &module).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn add_task(
        &self,
        user: &UserId,
        module: ModuleId,
        task: &NewTask,
    ) -> Result<TaskRecord, StoreError> {
        let (owner, task) = (user.clone(), task.clone());
        self.as_user_retrying(user, move |conn| {
            let (owner, task) = (owner.clone(), task.clone());
            Box::pin(async move { add_task(conn, &owner, module.as_uuid(), &task).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn delete_module(&self, user: &UserId, module: ModuleId) -> Result<(), StoreError> {
        self.as_user_retrying(user, move |conn| {
            Box::pin(async move { delete_module(conn, module.as_uuid()).await })
        })
        .await
    }

    #[tracing::instrument(skip_all, fields(user.id = %user))]
    async fn delete_task(&self, user: &UserId, task: TaskId) -> Result<(), StoreError> {
        self.as_user_retrying(user, move |conn| {
            Box::pin(async move { delete_task(conn, task.as_uuid()).await })
        })
        .await
    }
}
