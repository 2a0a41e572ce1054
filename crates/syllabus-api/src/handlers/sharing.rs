//! `/public/plans/{id}`: a public plan as anyone sees it, signed in or not; `/plans/{id}/fork`:
//! a copy of a plan the caller may read into a new private plan of theirs (issue #21).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use syllabus_domain::PlanId;

use syllabus_store::records::{Idempotency, Keyed, PlanDetail, Render};

use super::support::{Result, State, created_plan, created_plan_answer};
use crate::auth::Caller;
use crate::idempotency::{IdemKey, replay};
use crate::input::path_id;
use crate::state::Stores;
use crate::wire::PublicPlanView;

/// `GET /api/v1/public/plans/{id}` (no token needed): 200 for a public plan, 404 otherwise,
/// exactly as for a missing plan. Read in the public scope of row-level security.
pub(crate) async fn public_plan<S: Stores>(
    state: State<S>,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let detail = state.store.public_plan(id).await?;
    Ok(HttpResponse::Ok()
        // Whoever shares it may make it private again: caches must ask each time.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(PublicPlanView::from(detail)))
}

/// `POST /api/v1/plans/{id}/fork` → 201 with the copy and its `Location`.
pub(crate) async fn fork_plan<S: Stores>(
    state: State<S>,
    caller: Caller,
    key: IdemKey,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let idem = key
        .request(state.settings.idempotency_ttl)
        .map(|request| Idempotency {
            request,
            answer: Box::new(created_plan_answer) as Render<PlanDetail>,
        });
    let _turn = state.gates.write_turn(&caller.0).await?;
    let detail = match state.store.fork_plan(&caller.0, id, idem).await? {
        Keyed::Fresh(detail) => detail,
        Keyed::Replay(answer) => return Ok(replay(answer)),
    };
    tracing::info!(plan.id = %detail.plan.id, forked_from = %id, "plan forked");
    Ok(created_plan(detail))
}
