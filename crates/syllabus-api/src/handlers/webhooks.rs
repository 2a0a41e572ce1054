//! `/webhooks` (issue #23): a user's endpoints — create (the secret shown once), list, read,
//! change, delete — a test event to one, and its deliveries with their attempts. Creating or
//! changing an endpoint sends nothing: deliveries happen only on events, from the job runtime.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde_json::{Map, Value};
use syllabus_domain::webhooks::{
    MAX_ENDPOINTS, SECRET_BYTES, WebhookEvent, check_url, parse_description, parse_events,
    secret_text,
};
use syllabus_store::records::{
    CreatedEndpoint, EndpointChanges, Idempotency, Keyed, NewEndpoint, Render, StoredResponse,
};

use super::support::{Query, Result, State};
use crate::auth::Caller;
use crate::idempotency::{IdemKey, replay, stored_json};
use crate::input::{encode_cursor, page, path_id};
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::{
    CreatedEndpointView, DeliveryView, EndpointView, ItemsView, ListView, TestQueuedView,
};

/// The fields of a create.
pub(crate) const CREATE_FIELDS: [&str; 3] = ["url", "events", "description"];
/// The fields of a change.
pub(crate) const CHANGE_FIELDS: [&str; 2] = ["enabled", "events"];

fn location(id: uuid::Uuid) -> String {
    format!("/api/v1/webhooks/{id}")
}

/// The body as an object taking only `fields` (400 naming any other).
fn object(body: Value, fields: &[&str]) -> Result<Map<String, Value>> {
    let Value::Object(doc) = body else {
        return Err(ApiError::field("body", "must be a JSON object"));
    };
    if let Some(other) = doc.keys().find(|k| !fields.contains(&k.as_str())) {
        return Err(ApiError::field(
            other,
            format!("is not a field here (expected: {})", fields.join(", ")),
        ));
    }
    Ok(doc)
}

/// `events`: 400 when it is not an array, 422 naming it when it names an unknown type or none.
fn events(value: &Value) -> Result<Vec<WebhookEvent>> {
    if !value.is_array() {
        return Err(ApiError::field("events", "must be an array of event types"));
    }
    parse_events(value).map_err(|m| ApiError::unprocessable("events", m))
}

/// 32 random bytes from the operating system, as `whsec_<base64>`.
fn new_secret() -> Result<String> {
    let mut bytes = [0_u8; SECRET_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| {
        tracing::error!(error = %e, "no randomness for a webhook secret");
        ApiError::internal()
    })?;
    Ok(secret_text(&bytes))
}

fn created(made: &CreatedEndpoint) -> StoredResponse {
    stored_json(
        StatusCode::CREATED,
        Some(location(made.endpoint.id)),
        &CreatedEndpointView::from(made.clone()),
    )
}

/// `POST /webhooks` → 201 with the endpoint, its secret (this once) and `Location`.
pub(crate) async fn create_webhook<S: Stores>(
    state: State<S>,
    caller: Caller,
    key: IdemKey,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let doc = object(body.into_inner(), &CREATE_FIELDS)?;
    let url = match doc.get("url") {
        None | Some(Value::Null) => return Err(ApiError::field("url", "is required")),
        Some(Value::String(s)) => check_url(s, state.settings.webhooks_allow_loopback)
            .map_err(|m| ApiError::unprocessable("url", m))?,
        Some(_) => return Err(ApiError::field("url", "must be a string")),
    };
    let events = match doc.get("events") {
        None | Some(Value::Null) => return Err(ApiError::field("events", "is required")),
        Some(v) => events(v)?,
    };
    let description = match doc.get("description") {
        Some(v) if !v.is_string() && !v.is_null() => {
            return Err(ApiError::field("description", "must be a string"));
        }
        v => parse_description(v).map_err(|m| ApiError::unprocessable("description", m))?,
    };
    let endpoint = NewEndpoint {
        url: url.to_string(),
        events,
        description,
        secret: new_secret()?,
    };
    let idem = key
        .request(state.settings.idempotency_ttl)
        .map(|request| Idempotency {
            request,
            answer: Box::new(created) as Render<CreatedEndpoint>,
        });
    let _turn = state.gates.write_turn(&caller.0).await?;
    let made = match state
        .store
        .create_endpoint(&caller.0, &endpoint, MAX_ENDPOINTS, idem)
        .await?
    {
        Keyed::Fresh(made) => made,
        Keyed::Replay(answer) => return Ok(replay(answer)),
    };
    tracing::info!(webhook.id = %made.endpoint.id, "webhook endpoint created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, location(made.endpoint.id)))
        .json(CreatedEndpointView::from(made)))
}

/// `GET /webhooks` → the caller's endpoints, newest first.
pub(crate) async fn list_webhooks<S: Stores>(
    state: State<S>,
    caller: Caller,
) -> Result<HttpResponse> {
    let items = state.store.endpoints(&caller.0).await?;
    Ok(HttpResponse::Ok().json(ItemsView {
        items: items.into_iter().map(EndpointView::from).collect(),
    }))
}

/// `GET /webhooks/{id}`.
pub(crate) async fn get_webhook<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = path_id(&path)?;
    let endpoint = state.store.endpoint(&caller.0, id).await?;
    Ok(HttpResponse::Ok().json(EndpointView::from(endpoint)))
}

/// `PATCH /webhooks/{id}` `{enabled?, events?}`.
pub(crate) async fn update_webhook<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    body: web::Json<Value>,
) -> Result<HttpResponse> {
    let id = path_id(&path)?;
    let doc = object(body.into_inner(), &CHANGE_FIELDS)?;
    // Nothing here can be cleared: null is refused like any other wrong type.
    let enabled = match doc.get("enabled") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => return Err(ApiError::field("enabled", "must be a boolean")),
    };
    let events = match doc.get("events") {
        None => None,
        Some(v) => Some(events(v)?),
    };
    let _turn = state.gates.write_turn(&caller.0).await?;
    let endpoint = state
        .store
        .update_endpoint(&caller.0, id, &EndpointChanges { enabled, events })
        .await?;
    if enabled.is_some() {
        tracing::info!(webhook.id = %id, enabled = endpoint.enabled, "webhook endpoint changed");
    }
    Ok(HttpResponse::Ok().json(EndpointView::from(endpoint)))
}

/// `DELETE /webhooks/{id}` → 204; its deliveries go with it.
pub(crate) async fn delete_webhook<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = path_id(&path)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    state.store.delete_endpoint(&caller.0, id).await?;
    tracing::info!(webhook.id = %id, "webhook endpoint deleted");
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /webhooks/{id}/test` → 202 `{delivery_id}`: a `webhook.test` event to this endpoint.
pub(crate) async fn test_webhook<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse> {
    let id = path_id(&path)?;
    let _turn = state.gates.write_turn(&caller.0).await?;
    let delivery_id = state.store.queue_test(&caller.0, id).await?;
    Ok(HttpResponse::Accepted().json(TestQueuedView { delivery_id }))
}

/// `GET /webhooks/{id}/deliveries?limit=&cursor=` → a page of deliveries, newest first.
pub(crate) async fn list_deliveries<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse> {
    let id = path_id(&path)?;
    let page = state.store.deliveries(&caller.0, id, page(&query)?).await?;
    Ok(HttpResponse::Ok().json(ListView {
        items: page.items.into_iter().map(DeliveryView::from).collect(),
        next_cursor: page.next_cursor.map(encode_cursor),
    }))
}
