//! `/plans`: create and list; `/plans/{id}`: read (with `Prefer: wait`) and delete; its
//! attempts; regeneration.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use syllabus_domain::changes::CHANGEABLE_FIELDS;
use syllabus_domain::{
    InputError, Issues, PlanChanges, PlanId, PlanRequest, PlanStatus, RawPlanChanges,
    RawPlanRequest, validate_import,
};
use syllabus_store::Regeneration;
use syllabus_store::records::{
    Idempotency, JobRecord, Keyed, NewPlan, PlanDetail, PlanFilter, Render,
};

use super::support::{
    Query, Result, State, accepted, actor, created_plan, created_plan_answer, keyed_job,
};
use super::wait::{hold, preference_applied};
use crate::auth::Caller;
use crate::idempotency::{IdemKey, replay};
use crate::input::{
    encode_cursor, from_value, integral_numbers, optional_body, page, path_id, prefer_wait,
    query_enum,
};
use crate::problem::{ApiError, FieldError};
use crate::request_id::RequestId;
use crate::state::Stores;
use crate::wire::{AttemptView, ListView, PlanView, RegenerateRequest};

pub(crate) async fn create_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let mut body = integral_numbers(body.into_inner());
    // A client's own modules (an import): no generation.
    let modules = body.as_object_mut().and_then(|b| b.remove("modules"));
    let raw: RawPlanRequest = from_value(body)?;
    let request = PlanRequest::parse(&raw);
    if let Some(modules) = modules {
        return import_plan(state, caller, &key, request, modules).await;
    }
    let request = request.map_err(|e| ApiError::issues(&e.0))?;
    let idem = key
        .request(state.settings.idempotency_ttl)
        .map(|request| Idempotency {
            request,
            answer: Box::new(|(detail, _): &(PlanDetail, JobRecord)| created_plan_answer(detail))
                as Render<(PlanDetail, JobRecord)>,
        });
    let _turn = state.gates.write_turn(&caller.0).await?;
    let (detail, job) = match state
        .store
        .create_plan(
            &actor(caller, rid),
            &NewPlan::from(&request),
            state.settings.job_max_attempts,
            state.settings.rate_limit,
            idem,
        )
        .await?
    {
        Keyed::Fresh(made) => made,
        Keyed::Replay(answer) => return Ok(replay(answer)),
    };
    tracing::info!(plan.id = %detail.plan.id, job.id = %job.id, "plan created");
    Ok(created_plan(detail))
}

/// `POST /api/v1/plans` with `modules`: the plan is created ready from the client's modules and
/// tasks, checked by the domain's rules for a generated plan except that an effort out of bounds
/// is refused rather than clamped (a client's numbers are never changed silently).
async fn import_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    key: &IdemKey,
    request: std::result::Result<PlanRequest, InputError>,
    modules: Value,
) -> Result<HttpResponse> {
    let content = validate_import(&modules);
    let (Ok(request), Ok(content)) = (&request, &content) else {
        // Every field at fault, the request's and the modules'.
        let issues: Issues = [request.err().map(|e| e.0), content.err()]
            .into_iter()
            .flatten()
            .flat_map(Issues::into_vec)
            .collect();
        return Err(ApiError::issues(&issues));
    };
    let idem = key
        .request(state.settings.idempotency_ttl)
        .map(|request| Idempotency {
            request,
            answer: Box::new(created_plan_answer) as Render<PlanDetail>,
        });
    let _turn = state.gates.write_turn(&caller.0).await?;
    let detail = match state
        .store
        .import_plan(&caller.0, &NewPlan::from(request), content, idem)
        .await?
    {
        Keyed::Fresh(detail) => detail,
        Keyed::Replay(answer) => return Ok(replay(answer)),
    };
    tracing::info!(plan.id = %detail.plan.id, "plan imported");
    Ok(created_plan(detail))
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

/// `PATCH /api/v1/plans/{id}`: the plan's weekly hours, study days, dates and notes, with JSON
/// merge-patch meaning (a field left out is kept, `null` clears it); never a regeneration.
pub(crate) async fn update_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let body = integral_numbers(body.into_inner());
    // A field this cannot change (a typo, or `topic`, which needs a new plan) is refused by
    // name rather than ignored.
    if let Value::Object(fields) = &body {
        let unknown: Vec<FieldError> = fields
            .keys()
            .filter(|k| !CHANGEABLE_FIELDS.contains(&k.as_str()))
            .map(|k| FieldError {
                field: k.clone(),
                message: format!(
                    "cannot be changed here; a plan's {} can",
                    CHANGEABLE_FIELDS.join(", ")
                ),
            })
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::validation(unknown));
        }
    }
    let raw: RawPlanChanges = from_value(body)?;
    let changes = PlanChanges::parse(raw).map_err(|e| ApiError::issues(&e.0))?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let detail = state.store.update_plan(&caller.0, id, &changes).await?;
    tracing::info!(plan.id = %id, "plan changed");
    Ok(HttpResponse::Ok().json(PlanView::detail(detail)))
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

/// `POST /plans/{id}/regenerate`, with an optional body `{"discard_progress": true}` (no body,
/// or an empty one, is `{}`).
pub(crate) async fn regenerate<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> std::result::Result<HttpResponse, actix_web::Error> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let body: RegenerateRequest = optional_body(&req, payload).await?;
    let idem = keyed_job(&state, &key);
    let _turn = state.gates.write_turn(&caller.0).await?;
    match state
        .store
        .regenerate(
            &actor(caller, rid),
            id,
            body.discard_progress,
            state.settings.job_max_attempts,
            state.settings.rate_limit,
            idem,
        )
        .await
        .map_err(ApiError::from)?
    {
        Keyed::Fresh(Regeneration::Queued(job)) => Ok(accepted(job)),
        Keyed::Fresh(Regeneration::Capped(_)) => Err(ApiError::capped().into()),
        Keyed::Replay(answer) => Ok(replay(answer)),
    }
}
