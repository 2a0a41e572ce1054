//! The endpoints of SPEC §3 for plans and jobs, and health.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use syllabus_domain::{
    FlashcardId, JobId, JobPayload, JobType, PlanId, PlanRequest, PlanStatus, RawPlanRequest,
};
use syllabus_store::Regeneration;
use syllabus_store::Wakeups;
use syllabus_store::records::{Actor, JobFilter, NewPlan, PlanFilter};

use crate::Stores;

use crate::auth::Caller;
use crate::input::{
    encode_cursor, from_value, integral_numbers, page, path_id, prefer_wait, query_enum,
};
use crate::limits::HeldSlot;
use crate::problem::ApiError;
use crate::request_id::RequestId;
use crate::wire::{
    AttemptView, FlashcardView, ItemsView, JobView, ListView, PlanView, SkillTreeView,
};
use crate::{AppState, metrics::Metrics};

type Result<T> = std::result::Result<T, ApiError>;
type State<S> = web::Data<AppState<S>>;
type Query = web::Query<HashMap<String, String>>;

fn actor(caller: Caller, rid: RequestId) -> Actor {
    Actor {
        user: caller.0,
        request_id: Some(rid.0),
    }
}

fn job_location(id: JobId) -> (header::HeaderName, String) {
    (header::LOCATION, format!("/api/v1/jobs/{id}"))
}

/// Waits until `changed` says the resource's state moved on, `settled` says nothing can change
/// it any more, `wait` passes, or the process starts stopping (`slot`'s gates close). Each
/// wake-up (an event about this resource only, or a resync after the listener reconnected)
/// re-reads it.
async fn hold<T>(
    mut wakeups: Wakeups,
    wait: Duration,
    slot: Option<HeldSlot>,
    mut current: T,
    mut reread: impl AsyncFnMut() -> Result<T>,
    changed: impl Fn(&T, &T) -> bool,
    settled: impl Fn(&T) -> bool,
) -> Result<T> {
    let Some(slot) = slot else {
        return Ok(current);
    };
    let deadline = tokio::time::Instant::now() + wait;
    let closing = slot.closing();
    tokio::pin!(closing);
    while !settled(&current) {
        tokio::select! {
            woken = tokio::time::timeout_at(deadline, wakeups.changed()) => {
                if woken.is_err() {
                    break;
                }
            }
            // Answered with the state as it is: the client asks again (elsewhere).
            () = &mut closing => break,
        }
        let next = reread().await?;
        if changed(&current, &next) {
            return Ok(next);
        }
        current = next;
    }
    Ok(current)
}

fn preference_applied(res: &mut actix_web::HttpResponseBuilder, wait: Option<Duration>) {
    if let Some(w) = wait {
        res.insert_header(("Preference-Applied", format!("wait={}", w.as_secs())));
    }
}

pub(crate) async fn create_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let raw: RawPlanRequest = from_value(integral_numbers(body.into_inner()))?;
    let request = PlanRequest::parse(&raw).map_err(|e| ApiError::issues(&e.0))?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let (detail, job) = state
        .store
        .create_plan(
            &actor(caller, rid),
            &NewPlan::from(&request),
            state.settings.job_max_attempts,
            state.settings.rate_limit,
        )
        .await?;
    tracing::info!(plan.id = %detail.plan.id, job.id = %job.id, "plan created");
    Ok(HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/plans/{}", detail.plan.id),
        ))
        .json(PlanView::detail(detail)))
}

pub(crate) async fn list_plans<S: Stores>(
    state: State<S>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse> {
    let filter = PlanFilter {
        status: query_enum(&query, "status")?,
    };
    let page = state.store.plans(&caller.0, filter, page(&query)?).await?;
    Ok(HttpResponse::Ok().json(ListView {
        items: page.items.into_iter().map(PlanView::summary).collect(),
        next_cursor: page.next_cursor.map(encode_cursor),
    }))
}

pub(crate) async fn get_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let wait = prefer_wait(&req);
    // Subscribed before the read: a change committed after it wakes the wait.
    let wakeups = wait.map(|_| state.events.watch_plan(id));
    let mut detail = state.store.plan(&caller.0, id).await?;
    if let (Some(w), Some(wakeups)) = (wait, wakeups) {
        // A pending plan with no generation queued or running (cancelled, given up) will not
        // change by itself: the wait answers at once.
        let slot = (detail.plan.status == PlanStatus::Pending && detail.generating)
            .then(|| state.gates.hold(&caller.0))
            .transpose()?;
        detail = hold(
            wakeups,
            w,
            slot,
            detail,
            async || Ok(state.store.plan(&caller.0, id).await?),
            |a, b| a.plan.status != b.plan.status,
            |d| d.plan.status != PlanStatus::Pending || !d.generating,
        )
        .await?;
    }
    let mut res = HttpResponse::Ok();
    preference_applied(&mut res, wait);
    Ok(res.json(PlanView::detail(detail)))
}

pub(crate) async fn delete_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    state.store.delete_plan(&caller.0, id).await?;
    Ok(HttpResponse::NoContent().finish())
}

pub(crate) async fn plan_attempts<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let page = state.store.attempts(&caller.0, id, page(&query)?).await?;
    Ok(HttpResponse::Ok().json(ListView {
        items: page.items.into_iter().map(AttemptView::from).collect(),
        next_cursor: page.next_cursor.map(encode_cursor),
    }))
}

pub(crate) async fn regenerate<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    match state
        .store
        .regenerate(
            &actor(caller, rid),
            id,
            state.settings.job_max_attempts,
            state.settings.rate_limit,
        )
        .await?
    {
        Regeneration::Queued(job) => Ok(HttpResponse::Accepted()
            .insert_header(job_location(job.id))
            .json(JobView::from(job))),
        Regeneration::Capped(_) => Err(ApiError::capped()),
    }
}

pub(crate) async fn list_jobs<S: Stores>(
    state: State<S>,
    caller: Caller,
    query: Query,
) -> Result<HttpResponse> {
    let filter = JobFilter {
        job_type: query_enum(&query, "type")?,
        status: query_enum(&query, "status")?,
    };
    let page = state.store.jobs(&caller.0, filter, page(&query)?).await?;
    Ok(HttpResponse::Ok().json(ListView {
        items: page.items.into_iter().map(JobView::from).collect(),
        next_cursor: page.next_cursor.map(encode_cursor),
    }))
}

pub(crate) async fn get_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse> {
    let id = JobId::from_uuid(path_id(&path)?);
    let wait = prefer_wait(&req);
    // Subscribed before the read: a change committed after it wakes the wait.
    let wakeups = wait.map(|_| state.events.watch_job(id));
    let mut job = state.store.job(&caller.0, id).await?;
    if let (Some(w), Some(wakeups)) = (wait, wakeups) {
        let slot = (!job.status.is_terminal())
            .then(|| state.gates.hold(&caller.0))
            .transpose()?;
        job = hold(
            wakeups,
            w,
            slot,
            job,
            async || Ok(state.store.job(&caller.0, id).await?),
            |a, b| a.status != b.status,
            |j| j.status.is_terminal(),
        )
        .await?;
    }
    let mut res = HttpResponse::Ok();
    preference_applied(&mut res, wait);
    Ok(res.json(JobView::from(job)))
}

pub(crate) async fn cancel_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = JobId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    let job = state.store.cancel_job(&caller.0, id).await?;
    Ok(HttpResponse::Ok().json(JobView::from(job)))
}

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn readyz<S: Stores>(state: State<S>) -> Result<HttpResponse> {
    match state.store.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable())
        }
    }
}

pub(crate) async fn metrics<S: Stores>(
    state: State<S>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse> {
    let (stats, runs) = metrics
        .queue
        .get(std::time::Instant::now(), async || {
            Ok::<_, ApiError>((
                state.store.queue_stats().await?,
                state.store.run_times().await?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render(&stats, &runs)))
}

pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::json())
}

pub(crate) async fn not_found() -> Result<HttpResponse> {
    Err(ApiError::not_found())
}

fn accepted(job: syllabus_store::records::JobRecord) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(job_location(job.id))
        .json(JobView::from(job))
}

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

async fn enqueue<S: Stores>(
    state: &State<S>,
    caller: Caller,
    rid: RequestId,
    payload: &JobPayload,
    priority: i16,
) -> Result<HttpResponse> {
    let _turn = state.gates.write_turn(&caller.0).await?;
    let job = state
        .store
        .enqueue(
            &actor(caller, rid),
            payload,
            priority,
            state.settings.job_max_attempts,
            state.settings.rate_limit,
        )
        .await?;
    tracing::info!(job.id = %job.id, job.r#type = job.job_type.as_str(), "job queued");
    Ok(accepted(job))
}

pub(crate) async fn create_flashcards<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
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
    enqueue(&state, caller, rid, &payload, 0).await
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
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let card = FlashcardId::from_uuid(path_id(&path)?);
    enqueue(
        &state,
        caller,
        rid,
        &JobPayload::Distractors { flashcard_id: card },
        0,
    )
    .await
}

pub(crate) async fn create_skill_tree<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let plan = PlanId::from_uuid(path_id(&path)?);
    enqueue(
        &state,
        caller,
        rid,
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

/// `POST /jobs`: `{type, payload, priority?}`; plan generation is created through `/plans`.
pub(crate) async fn create_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let body = integral_numbers(body.into_inner());
    let Some(doc) = body.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    const CREATABLE: [JobType; 3] = [
        JobType::Flashcards,
        JobType::Distractors,
        JobType::SkillTree,
    ];
    let job_type = match doc.get("type") {
        None | Some(Value::Null) => return Err(ApiError::field("type", "is required")),
        Some(v) => v
            .as_str()
            .and_then(|t| CREATABLE.iter().copied().find(|c| c.as_str() == t))
            .ok_or_else(|| {
                ApiError::field(
                    "type",
                    "must be one of: flashcards, distractors, skill_tree",
                )
            })?,
    };
    let priority = match doc.get("priority") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|p| syllabus_domain::jobs::PRIORITY_RANGE.contains(p))
            .and_then(|p| i16::try_from(p).ok())
            .ok_or_else(|| ApiError::field("priority", "must be an integer from -100 to 100"))?,
    };
    let payload = JobPayload::parse(job_type, doc.get("payload").unwrap_or(&Value::Null))
        .map_err(|e| ApiError::issues(&e))?;
    enqueue(&state, caller, rid, &payload, priority).await
}

/// `POST /jobs/{id}/retry`: a new job like a failed one; for plan generation, a regenerate.
pub(crate) async fn retry_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = JobId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    let job = state.store.job(&caller.0, id).await?;
    if job.status != syllabus_domain::JobStatus::Failed {
        return Err(ApiError::invalid_state(format!(
            "only failed jobs can be retried; this one is {}",
            job.status.as_str()
        )));
    }
    let settings = state.settings;
    if job.job_type == JobType::PlanGeneration {
        let plan = job.plan_id.ok_or_else(ApiError::not_found)?;
        return match state
            .store
            .regenerate(
                &actor(caller, rid),
                plan,
                settings.job_max_attempts,
                settings.rate_limit,
            )
            .await?
        {
            Regeneration::Queued(job) => Ok(accepted(job)),
            Regeneration::Capped(_) => Err(ApiError::capped()),
        };
    }
    let new = state
        .store
        .retry_job(
            &actor(caller, rid),
            id,
            settings.job_max_attempts,
            settings.rate_limit,
        )
        .await?;
    Ok(accepted(new))
}
