//! `POST /plans/{id}/modules/{module_id}/regenerate` (issue #21): queue a `module_regeneration`
//! job for one module of the caller's plan, with the learner's optional instruction. The job's
//! drafts stream on the plan's event stream (`module_draft`); its success replaces only that
//! module, in place.

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;
use syllabus_domain::regen::parse_instruction;
use syllabus_domain::{JobPayload, PlanId};

use super::support::enqueue;
use crate::auth::Caller;
use crate::idempotency::IdemKey;
use crate::input::{optional_body, path_id};
use crate::problem::ApiError;
use crate::request_id::RequestId;
use crate::state::{AppState, Stores};
use crate::wire::ModuleRegenerateRequest;

/// `POST /plans/{id}/modules/{module_id}/regenerate`: an optional body `{"instruction": …}` (no
/// body, or an empty one, is `{}`). 404 for another user's plan or a module not in it; 409 while
/// the plan's generation or another regeneration of the module is queued or running; 429 at the
/// rate limit.
pub(crate) async fn regenerate_module<S: Stores>(
    state: web::Data<AppState<S>>,
    caller: Caller,
    rid: RequestId,
    key: IdemKey,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let (plan, module) = path.into_inner();
    let plan = PlanId::from_uuid(path_id(&plan)?);
    let module = path_id(&module)?;
    let body: ModuleRegenerateRequest = optional_body(&req, payload).await?;
    let instruction = parse_instruction(body.instruction.map(|s| json!(s)).as_ref())
        .map_err(|m| ApiError::field("instruction", m))?;
    let payload = JobPayload::ModuleRegeneration {
        plan_id: plan,
        module_id: module,
        instruction,
    };
    Ok(enqueue(&state, caller, rid, &key, &payload, 0).await?)
}
