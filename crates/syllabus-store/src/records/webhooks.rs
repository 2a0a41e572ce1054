//! Webhooks as records (issue #23): an endpoint as its owner sees it, a delivery with its
//! attempts, and what the delivery runtime reads and writes.

use chrono::{DateTime, Utc};
use syllabus_domain::UserId;
use syllabus_domain::webhooks::{DeliveryOutcome, DeliveryStatus, WebhookEvent};
use uuid::Uuid;

/// An endpoint to create: its URL and events already checked by the domain's rules, and the
/// secret the API drew.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEndpoint {
    /// The receiver's URL.
    pub url: String,
    /// The events it wants (at least one, no duplicates).
    pub events: Vec<WebhookEvent>,
    /// Trimmed, at most 200 characters.
    pub description: Option<String>,
    /// `whsec_<base64>`.
    pub secret: String,
}

/// An endpoint as its owner sees it (never its secret, but at its creation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    /// Id.
    pub id: Uuid,
    /// The receiver's URL.
    pub url: String,
    /// The events it wants.
    pub events: Vec<WebhookEvent>,
    /// Its description.
    pub description: Option<String>,
    /// Whether deliveries are made to it.
    pub enabled: bool,
    /// Why it was disabled.
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Updated.
    pub updated_at: DateTime<Utc>,
}

/// A created endpoint and its secret (shown this once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedEndpoint {
    /// The endpoint.
    pub endpoint: EndpointRecord,
    /// Its secret.
    pub secret: String,
}

/// A change to an endpoint: each field when given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EndpointChanges {
    /// Enable (clearing the reason and the failure streak) or disable it.
    pub enabled: Option<bool>,
    /// New events.
    pub events: Option<Vec<WebhookEvent>>,
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    /// How long it took.
    pub duration_ms: u32,
    /// How it went.
    pub outcome: DeliveryOutcome,
    /// At most 200 characters of the answer's body, sanitized.
    pub response_excerpt: Option<String>,
}

/// A delivery as its owner sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// Id (the `webhook-id` sent).
    pub id: Uuid,
    /// The event's type.
    pub event_type: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts made.
    pub attempt_count: u32,
    /// Created (when its event happened).
    pub created_at: DateTime<Utc>,
    /// When the next attempt is due (pending only).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it succeeded or failed.
    pub ended_at: Option<DateTime<Utc>>,
    /// Its attempts, oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

/// What a delivery's run reads: the delivery and its endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryTarget {
    /// The delivery.
    pub id: Uuid,
    /// Its owner.
    pub user: UserId,
    /// The endpoint.
    pub endpoint_id: Uuid,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's secret.
    pub secret: String,
    /// Whether the endpoint is enabled.
    pub enabled: bool,
    /// The JSON text to send.
    pub body: String,
    /// Where the delivery stands.
    pub status: DeliveryStatus,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Attempts made so far.
    pub attempt_count: u32,
}

/// How a delivery's run ends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEnd {
    /// The receiver answered 2xx.
    Succeeded,
    /// Another attempt at this time.
    Retry {
        /// When.
        at: DateTime<Utc>,
    },
    /// No more attempts: failed (past its window, or its endpoint is disabled). The endpoint is
    /// disabled when nothing succeeded to it since this delivery's first attempt.
    Failed,
}

/// What [`DeliveryEnd::Failed`] did to the endpoint: its new `disabled_reason`, when it
/// disabled it now.
pub type Disabled = Option<String>;
