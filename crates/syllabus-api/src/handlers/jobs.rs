//! `/jobs`: create (flashcards, distractors, skill tree, module regeneration) and list; `/jobs/{id}`: read (with
//! `Prefer: wait`), cancel and retry.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::Value;
use syllabus_domain::{JobId, JobPayload, JobType};
use syllabus_store::Regeneration;
use syllabus_store::records::{JobFilter, Keyed};

use super::support::{Query, Result, State, accepted, actor, enqueue, keyed_job};
use super::wait::{hold, preference_applied};
use crate::auth::Caller;
use crate::idempotency::{IdemKey, replay};
use crate::input::{encode_cursor, integral_numbers, page, path_id, prefer_wait, query_enum};
use crate::problem::ApiError;
use crate::request_id::RequestId;
use crate::state::Stores;
use crate::wire::{JobView, ListView};

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

/// `POST /jobs`: `{type, payload, priority?}`; plan generation is created through `/plans`.
pub(crate) async fn create_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let body = integral_numbers(body.into_inner());
    let Some(doc) = body.as_object() else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    const CREATABLE: [JobType; 4] = [
        JobType::Flashcards,
        JobType::Distractors,
        JobType::SkillTree,
        JobType::ModuleRegeneration,
    ];
    let job_type = match doc.get("type") {
        None | Some(Value::Null) => return Err(ApiError::field("type", "is required")),
        Some(v) => v
            .as_str()
            .and_then(|t| CREATABLE.iter().copied().find(|c| c.as_str() == t))
            .ok_or_else(|| {
                ApiError::field(
                    "type",
                    "must be one of: flashcards, distractors, skill_tree, module_regeneration",
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
    enqueue(&state, caller, rid, &key, &payload, priority).await
}

/// `POST /jobs/{id}/retry`: a new job like a failed one; for plan generation, a regenerate.
pub(crate) async fn retry_job<S: Stores>(
    state: State<S>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = JobId::from_uuid(path_id(&path)?);
    let idem = keyed_job(&state, &key);
    let _turn = state.gates.write_turn(&caller.0).await?;
    let job = state.store.job(&caller.0, id).await?;
    if job.status != syllabus_domain::JobStatus::Failed {
        return Err(ApiError::invalid_state(format!(
            "only failed jobs can be retried; this one is {}",
            job.status.as_str()
        )));
    }
    let settings = &state.settings;
    if job.job_type == JobType::PlanGeneration {
        let plan = job.plan_id.ok_or_else(ApiError::not_found)?;
        return match state
            .store
            .regenerate(
                &actor(caller, rid),
                plan,
                false,
                settings.job_max_attempts,
                settings.rate_limit,
                idem,
            )
            .await?
        {
            Keyed::Fresh(Regeneration::Queued(job)) => Ok(accepted(job)),
            Keyed::Fresh(Regeneration::Capped(_)) => Err(ApiError::capped()),
            Keyed::Replay(answer) => Ok(replay(answer)),
        };
    }
    match state
        .store
        .retry_job(
            &actor(caller, rid),
            id,
            settings.job_max_attempts,
            settings.rate_limit,
            idem,
        )
        .await?
    {
        Keyed::Fresh(new) => Ok(accepted(new)),
        Keyed::Replay(answer) => Ok(replay(answer)),
    }
}
