//! What several handlers share: their result and state types, the actor of a change, and the
//! `202 Accepted` answer of a queued job.

use std::collections::HashMap;

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use syllabus_domain::{JobId, JobPayload};
use syllabus_store::records::{Actor, Idempotency, JobRecord, Keyed, PlanDetail, Render};

use crate::auth::Caller;
use crate::idempotency::IdemKey;
use crate::problem::ApiError;
use crate::request_id::RequestId;
use crate::state::{AppState, Stores};
use crate::wire::{JobView, PlanView};

/// A handler's result: a problem answer on error.
pub(super) type Result<T> = std::result::Result<T, ApiError>;
/// The handlers' shared state.
pub(super) type State<S> = web::Data<AppState<S>>;
/// A request's query, read field by field.
pub(super) type Query = web::Query<HashMap<String, String>>;

/// Who makes a change, for the records it writes.
pub(super) fn actor(caller: Caller, rid: RequestId) -> Actor {
    Actor {
        user: caller.0,
        request_id: Some(rid.0),
    }
}

fn job_location(id: JobId) -> (header::HeaderName, String) {
    (header::LOCATION, format!("/api/v1/jobs/{id}"))
}

/// The answer [`accepted`] sends, to store with an idempotency key.
pub(super) fn accepted_answer(job: &JobRecord) -> syllabus_store::records::StoredResponse {
    crate::idempotency::stored_json(
        actix_web::http::StatusCode::ACCEPTED,
        Some(job_location(job.id).1),
        &JobView::from(job.clone()),
    )
}

/// [`accepted_answer`] as the renderer of a keyed create's answer, when it has a key.
pub(super) fn keyed_job<S: Stores>(
    state: &State<S>,
    key: &IdemKey,
) -> Option<Idempotency<JobRecord>> {
    key.request(state.settings.idempotency_ttl)
        .map(|request| Idempotency {
            request,
            answer: Box::new(accepted_answer) as Render<JobRecord>,
        })
}

/// `202 Accepted` with the job and its `Location`.
pub(super) fn accepted(job: JobRecord) -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(job_location(job.id))
        .json(JobView::from(job))
}

/// `201 Created` with a new plan and its `Location`.
pub(super) fn created_plan(detail: PlanDetail) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((
            header::LOCATION,
            format!("/api/v1/plans/{}", detail.plan.id),
        ))
        .json(PlanView::detail(detail))
}

/// The answer [`created_plan`] sends, to store with an idempotency key.
pub(super) fn created_plan_answer(detail: &PlanDetail) -> syllabus_store::records::StoredResponse {
    crate::idempotency::stored_json(
        actix_web::http::StatusCode::CREATED,
        Some(format!("/api/v1/plans/{}", detail.plan.id)),
        &PlanView::detail(detail.clone()),
    )
}

/// Queues a job for `payload` in the caller's write turn, under the rate limit; with an
/// `Idempotency-Key`, the answer is stored with the job, or a stored one replayed.
pub(super) async fn enqueue<S: Stores>(
    state: &State<S>,
    caller: Caller,
    rid: RequestId,
    key: &IdemKey,
    payload: &JobPayload,
    priority: i16,
) -> Result<HttpResponse> {
    let idem = keyed_job(state, key);
    let _turn = state.gates.write_turn(&caller.0).await?;
    let job = match state
        .store
        .enqueue_keyed(
            &actor(caller, rid),
            payload,
            priority,
            state.settings.job_max_attempts,
            state.settings.rate_limit,
            idem,
        )
        .await?
    {
        Keyed::Fresh(job) => job,
        Keyed::Replay(answer) => return Ok(crate::idempotency::replay(answer)),
    };
    tracing::info!(job.id = %job.id, job.r#type = job.job_type.as_str(), "job queued");
    Ok(accepted(job))
}
