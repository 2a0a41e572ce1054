//! `/tasks/{id}/progress`: the learner ticks a task off (issue #20).

use actix_web::{HttpResponse, web};
use serde_json::Value;
use syllabus_domain::TaskStatus;
use syllabus_domain::input::StringEnum as _;

use super::support::{Result, State};
use crate::auth::Caller;
use crate::input::{from_value, path_id};
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::{TaskProgressRequest, TaskView};

/// `PUT /api/v1/tasks/{id}/progress` `{"status": …}` → 200 with the task.
pub(crate) async fn set_task_progress<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let task = path_id(&path)?;
    let TaskProgressRequest { status } = from_value(body.into_inner())?;
    let status = TaskStatus::from_wire(&status)
        .ok_or_else(|| ApiError::field("status", TaskStatus::expected()))?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let task = state
        .store
        .set_task_progress(&caller.0, task, status)
        .await?;
    tracing::info!(task.id = %task.id, status = status.as_str(), "task progress set");
    Ok(HttpResponse::Ok().json(TaskView::from(task)))
}
