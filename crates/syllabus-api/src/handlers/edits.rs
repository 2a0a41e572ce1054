//! A plan edited by hand (issue #21): `/modules/{id}` and `/tasks/{id}` (change, delete),
//! `/plans/{id}/modules` and `/modules/{id}/tasks` (add). The bodies are checked by the domain
//! (`syllabus_domain::edits`: bounds, never clamped; every field at fault named); the store
//! does each edit in one transaction under the plan's row lock.

use actix_web::{HttpResponse, web};
use serde_json::Value;
use syllabus_domain::{
    Issues, ModuleChanges, ModuleId, NewModule, NewTask, PlanId, TaskChanges, TaskId,
};

use super::support::{Result, State};
use crate::auth::Caller;
use crate::input::{integral_numbers, path_id};
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::{ModuleView, TaskView};

/// The body as the domain reads it (`5.0` is the integer 5, as the document's integers say),
/// checked by `parse`.
fn checked<T>(
    body: web::Json<Value>,
    parse: fn(&Value) -> std::result::Result<T, Issues>,
) -> Result<T> {
    parse(&integral_numbers(body.into_inner())).map_err(|issues| ApiError::issues(&issues))
}

/// `PATCH /api/v1/modules/{id}`: a merge patch of the module's title, description, minutes and
/// order → 200 Module.
pub(crate) async fn update_module<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let id = ModuleId::from_uuid(path_id(&path)?);
    let changes = checked(body, ModuleChanges::parse)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let module = state.store.update_module(&caller.0, id, &changes).await?;
    tracing::info!(module.id = %id, "module changed");
    Ok(HttpResponse::Ok().json(ModuleView::from(module)))
}

/// `PATCH /api/v1/tasks/{id}`: a merge patch of the task's title, description, minutes, order
/// and module → 200 Task.
pub(crate) async fn update_task<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let id = TaskId::from_uuid(path_id(&path)?);
    let changes = checked(body, TaskChanges::parse)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let task = state.store.update_task(&caller.0, id, &changes).await?;
    tracing::info!(task.id = %id, "task changed");
    Ok(HttpResponse::Ok().json(TaskView::from(task)))
}

/// `POST /api/v1/plans/{id}/modules`: a module with its tasks → 201 Module.
pub(crate) async fn add_module<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    let module = checked(body, NewModule::parse)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let module = state.store.add_module(&caller.0, plan, &module).await?;
    tracing::info!(plan.id = %plan, module.id = %module.id, "module added");
    Ok(HttpResponse::Created().json(ModuleView::from(module)))
}

/// `POST /api/v1/modules/{id}/tasks`: a task → 201 Task.
pub(crate) async fn add_task<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let module = ModuleId::from_uuid(path_id(&path)?);
    let task = checked(body, NewTask::parse)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let task = state.store.add_task(&caller.0, module, &task).await?;
    tracing::info!(module.id = %module, task.id = %task.id, "task added");
    Ok(HttpResponse::Created().json(TaskView::from(task)))
}

/// `DELETE /api/v1/modules/{id}` → 204; its tasks and their progress go with it.
pub(crate) async fn delete_module<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = ModuleId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    state.store.delete_module(&caller.0, id).await?;
    tracing::info!(module.id = %id, "module deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /api/v1/tasks/{id}` → 204; its progress goes with it.
pub(crate) async fn delete_task<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = TaskId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    state.store.delete_task(&caller.0, id).await?;
    tracing::info!(task.id = %id, "task deleted");
    Ok(HttpResponse::NoContent().finish())
}
