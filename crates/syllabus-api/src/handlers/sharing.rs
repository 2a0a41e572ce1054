//! `/public/plans/{id}`: a public plan as anyone sees it, signed in or not; `/plans/{id}/fork`:
//! a copy of a plan the caller may read into a new private plan of theirs (issue #21).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use syllabus_domain::PlanId;

use super::support::{Result, State, created_plan};
use crate::auth::Caller;
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
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let _turn = state.gates.write_turn(&caller.0).await?;
    let detail = state.store.fork_plan(&caller.0, id).await?;
    tracing::info!(plan.id = %detail.plan.id, forked_from = %id, "plan forked");
    Ok(created_plan(detail))
}
