//! The rows of `webhook_endpoints`, `webhook_deliveries` and `webhook_attempts` (issue #23), and
//! their conversions to records.

use chrono::{DateTime, Utc};
use diesel::QueryableByName;
use diesel::sql_types::{
    Array, Bool, Integer, Nullable, SmallInt, Text, Timestamptz, Uuid as SqlUuid,
};
use syllabus_domain::UserId;
use syllabus_domain::input::StringEnum;
use syllabus_domain::webhooks::{DeliveryOutcome, DeliveryStatus, WebhookEvent};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{DeliveryRecord, DeliveryTarget, EndpointRecord, WebhookAttempt};

/// The columns [`EndpointRow`] reads.
pub(crate) const ENDPOINT_COLUMNS: &str =
    "id, url, events, description, enabled, disabled_reason, created_at, updated_at";

fn unexpected(what: &str, value: &str) -> StoreError {
    StoreError::Unexpected(format!("stored {what} `{value}`"))
}

fn wire<E: StringEnum>(what: &str, value: &str) -> Result<E, StoreError> {
    E::from_wire(value).ok_or_else(|| unexpected(what, value))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// An endpoint.
#[derive(QueryableByName)]
pub(crate) struct EndpointRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Array<Text>)]
    events: Vec<String>,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Nullable<Text>)]
    disabled_reason: Option<String>,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
}

impl EndpointRow {
    pub(crate) fn into_record(self) -> Result<EndpointRecord, StoreError> {
        Ok(EndpointRecord {
            id: self.id,
            url: self.url,
            events: self
                .events
                .iter()
                .map(|e| wire::<WebhookEvent>("event", e))
                .collect::<Result<_, _>>()?,
            description: self.description,
            enabled: self.enabled,
            disabled_reason: self.disabled_reason,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// A delivery, without its attempts.
#[derive(QueryableByName)]
pub(crate) struct DeliveryRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) id: Uuid,
    #[diesel(sql_type = Text)]
    event_type: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Integer)]
    attempt_count: i32,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    next_attempt_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    ended_at: Option<DateTime<Utc>>,
}

impl DeliveryRow {
    pub(crate) fn into_record(
        self,
        attempts: Vec<WebhookAttempt>,
    ) -> Result<DeliveryRecord, StoreError> {
        let status: DeliveryStatus = wire("delivery status", &self.status)?;
        Ok(DeliveryRecord {
            id: self.id,
            event_type: self.event_type,
            status,
            attempt_count: count(self.attempt_count),
            created_at: self.created_at,
            next_attempt_at: self
                .next_attempt_at
                .filter(|_| status == DeliveryStatus::Pending),
            ended_at: self.ended_at,
            attempts,
        })
    }
}

/// An attempt, with its delivery's id.
#[derive(QueryableByName)]
pub(crate) struct AttemptRow {
    #[diesel(sql_type = SqlUuid)]
    pub(crate) delivery_id: Uuid,
    #[diesel(sql_type = Timestamptz)]
    attempted_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<SmallInt>)]
    status_code: Option<i16>,
    #[diesel(sql_type = Integer)]
    duration_ms: i32,
    #[diesel(sql_type = Text)]
    outcome: String,
    #[diesel(sql_type = Nullable<Text>)]
    response_excerpt: Option<String>,
}

impl AttemptRow {
    pub(crate) fn into_record(self) -> Result<WebhookAttempt, StoreError> {
        Ok(WebhookAttempt {
            attempted_at: self.attempted_at,
            status_code: self.status_code.and_then(|c| u16::try_from(c).ok()),
            duration_ms: count(self.duration_ms),
            outcome: wire::<DeliveryOutcome>("attempt outcome", &self.outcome)?,
            response_excerpt: self.response_excerpt,
        })
    }
}

/// A delivery with its endpoint, as its run reads it.
#[derive(QueryableByName)]
pub(crate) struct TargetRow {
    #[diesel(sql_type = SqlUuid)]
    id: Uuid,
    #[diesel(sql_type = Text)]
    user_id: String,
    #[diesel(sql_type = SqlUuid)]
    endpoint_id: Uuid,
    #[diesel(sql_type = Text)]
    url: String,
    #[diesel(sql_type = Text)]
    secret: String,
    #[diesel(sql_type = Bool)]
    enabled: bool,
    #[diesel(sql_type = Text)]
    body: String,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Integer)]
    attempt_count: i32,
}

impl TargetRow {
    pub(crate) fn into_record(self) -> Result<DeliveryTarget, StoreError> {
        Ok(DeliveryTarget {
            id: self.id,
            user: UserId::parse(&self.user_id)
                .ok_or_else(|| StoreError::Unexpected("stored user id".into()))?,
            endpoint_id: self.endpoint_id,
            url: self.url,
            secret: self.secret,
            enabled: self.enabled,
            body: self.body,
            status: wire("delivery status", &self.status)?,
            created_at: self.created_at,
            attempt_count: count(self.attempt_count),
        })
    }
}
