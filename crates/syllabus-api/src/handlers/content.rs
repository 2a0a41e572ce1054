//! A plan's content: `/plans/{id}/flashcards` (generate, list), `/flashcards/{id}/distractors`
//! (generate) and `/plans/{id}/skill-tree` (generate, read). Generating queues a job.

use actix_web::{HttpResponse, web};
use serde_json::Value;
use syllabus_domain::{FlashcardId, JobPayload, JobType, PlanId};

use super::support::{Result, State, enqueue};
use crate::auth::Caller;
use crate::idempotency::IdemKey;
use crate::input::{integral_numbers, path_id};
use crate::problem::ApiError;
use crate::request_id::RequestId;
use crate::state::Stores;
use crate::wire::{FlashcardView, ItemsView, SkillTreeView};

/// Payload issues as the fields of a domain endpoint's body (`payload.max_cards` → `max_cards`).
fn body_issues(issues: &syllabus_domain::Issues) -> ApiError {
    let renamed: syllabus_domain::Issues = issues
        .as_slice()
        .iter()
        .map(|i| {
            let path = i.path.strip_prefix("payload.").unwrap_or(&i.path);
            syllabus_domain::Issue::new(path, i.message.clone())
        })
        .collect();
    ApiError::issues(&renamed)
}

pub(crate) async fn create_flashcards<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let plan = path_id(&path)?;
    let mut doc = match integral_numbers(body.into_inner()) {
        Value::Object(map) => map,
        _ => return Err(ApiError::field("body", "must be a JSON object")),
    };
    doc.insert("plan_id".into(), Value::String(plan.to_string()));
    let payload =
        JobPayload::parse(JobType::Flashcards, &Value::Object(doc)).map_err(|e| body_issues(&e))?;
    enqueue(&state, caller, rid, &key, &payload, 0).await
}

pub(crate) async fn list_flashcards<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    let cards = state.store.flashcards(&caller.0, plan).await?;
    Ok(HttpResponse::Ok().json(ItemsView {
        items: cards.into_iter().map(FlashcardView::from).collect(),
    }))
}

pub(crate) async fn create_distractors<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let card = FlashcardId::from_uuid(path_id(&path)?);
    enqueue(
        &state,
        caller,
        rid,
        &key,
        &JobPayload::Distractors { flashcard_id: card },
        0,
    )
    .await
}

pub(crate) async fn create_skill_tree<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    enqueue(
        &state,
        caller,
        rid,
        &key,
        &JobPayload::SkillTree { plan_id: plan },
        0,
    )
    .await
}

pub(crate) async fn get_skill_tree<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    match state.store.skill_tree(&caller.0, plan).await? {
        Some(tree) => Ok(HttpResponse::Ok().json(SkillTreeView::from(tree))),
        None => Err(ApiError::not_found()),
    }
}
