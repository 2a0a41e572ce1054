//! Webhooks as the API shows them (issue #23): an endpoint (its secret only in the answer of
//! its creation), a delivery with its attempts, and the answer of a test.

use chrono::{DateTime, Utc};
use serde::Serialize;
use syllabus_domain::webhooks::{
    DESCRIPTION_MAX_CHARS, DeliveryOutcome, DeliveryStatus, EXCERPT_MAX_CHARS, SECRET_PREFIX,
    WebhookEvent,
};
use syllabus_store::records::{CreatedEndpoint, DeliveryRecord, EndpointRecord, WebhookAttempt};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ArrayBuilder, Object, ObjectBuilder, OneOfBuilder, Type};
use uuid::Uuid;

use super::fields;

fn events() -> utoipa::openapi::schema::Array {
    ArrayBuilder::new()
        .items(fields::names::<WebhookEvent>())
        .min_items(Some(1))
        .unique_items(true)
        .build()
}

fn description() -> OneOfBuilder {
    fields::or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(DESCRIPTION_MAX_CHARS)),
    )
}

fn secret() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(format!("^{SECRET_PREFIX}[A-Za-z0-9+/]+={{0,2}}$")))
        .description(Some(
            "The signing secret: `whsec_` and the base64 of 32 random bytes. Shown only in the \
             answer of the endpoint's creation.",
        ))
        .build()
}

fn excerpt() -> OneOfBuilder {
    fields::or_null(
        ObjectBuilder::new()
            .schema_type(Type::String)
            .max_length(Some(EXCERPT_MAX_CHARS))
            .description(Some(
                "At most 200 characters of the receiver's answer, decoded lossily, control \
                 characters removed.",
            )),
    )
}

fn status_code() -> OneOfBuilder {
    fields::or_null(fields::integer(Some(100), Some(999)))
}

/// A webhook endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpoint)]
pub struct EndpointView {
    id: Uuid,
    url: String,
    #[schema(schema_with = events)]
    events: Vec<&'static str>,
    #[schema(schema_with = description, required)]
    description: Option<String>,
    enabled: bool,
    /// Why deliveries to it stopped (`deliveries failing since <time>`, or `disabled by its
    /// owner`); null while enabled.
    #[schema(required)]
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<EndpointRecord> for EndpointView {
    fn from(e: EndpointRecord) -> Self {
        Self {
            id: e.id,
            url: e.url,
            events: e.events.iter().map(|e| e.as_str()).collect(),
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// A created endpoint: the endpoint and its secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookEndpointCreated)]
pub struct CreatedEndpointView {
    id: Uuid,
    url: String,
    #[schema(schema_with = events)]
    events: Vec<&'static str>,
    #[schema(schema_with = description, required)]
    description: Option<String>,
    enabled: bool,
    #[schema(required)]
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    #[schema(schema_with = secret)]
    secret: String,
}

impl From<CreatedEndpoint> for CreatedEndpointView {
    fn from(c: CreatedEndpoint) -> Self {
        let e = EndpointView::from(c.endpoint);
        Self {
            id: e.id,
            url: e.url,
            events: e.events,
            description: e.description,
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
            secret: c.secret,
        }
    }
}

/// One attempt of a delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookAttempt)]
pub struct AttemptView {
    attempted_at: DateTime<Utc>,
    #[schema(schema_with = status_code, required)]
    status_code: Option<u16>,
    duration_ms: u32,
    #[schema(schema_with = fields::names::<DeliveryOutcome>)]
    outcome: &'static str,
    #[schema(schema_with = excerpt, required)]
    response_excerpt: Option<String>,
}

impl From<WebhookAttempt> for AttemptView {
    fn from(a: WebhookAttempt) -> Self {
        Self {
            attempted_at: a.attempted_at,
            status_code: a.status_code,
            duration_ms: a.duration_ms,
            outcome: a.outcome.as_str(),
            response_excerpt: a.response_excerpt,
        }
    }
}

fn event_type() -> Object {
    let mut names: Vec<&str> = WebhookEvent::ALL.iter().map(|e| e.as_str()).collect();
    names.push(syllabus_domain::webhooks::TEST_EVENT);
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(names))
        .build()
}

/// A delivery of an event to an endpoint.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryView {
    /// The `webhook-id` sent with it (the same on every attempt).
    id: Uuid,
    #[schema(schema_with = event_type)]
    event_type: String,
    #[schema(schema_with = fields::names::<DeliveryStatus>)]
    status: &'static str,
    attempt_count: u32,
    created_at: DateTime<Utc>,
    #[schema(required)]
    next_attempt_at: Option<DateTime<Utc>>,
    #[schema(required)]
    ended_at: Option<DateTime<Utc>>,
    attempts: Vec<AttemptView>,
}

impl From<DeliveryRecord> for DeliveryView {
    fn from(d: DeliveryRecord) -> Self {
        Self {
            id: d.id,
            event_type: d.event_type,
            status: d.status.as_str(),
            attempt_count: d.attempt_count,
            created_at: d.created_at,
            next_attempt_at: d.next_attempt_at,
            ended_at: d.ended_at,
            attempts: d.attempts.into_iter().map(AttemptView::from).collect(),
        }
    }
}

/// A queued test delivery.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WebhookTestQueued)]
pub struct TestQueuedView {
    /// The delivery (see `GET /webhooks/{id}/deliveries`).
    pub delivery_id: Uuid,
}
