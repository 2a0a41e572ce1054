//! [`WebhookStore`]: a user's webhook endpoints and their deliveries, as the API reads and
//! changes them; [`DeliveryStore`]: what a delivery's run reads and how it ends (issue #23).

use std::future::Future;

use syllabus_domain::UserId;
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{
    CreatedEndpoint, DeliveryEnd, DeliveryRecord, DeliveryTarget, Disabled, EndpointChanges,
    EndpointRecord, Idempotency, JobEnd, Keyed, Lease, NewEndpoint, Page, PageRequest,
    WebhookAttempt,
};

/// A user's endpoints under row-level security: another user's is [`StoreError::NotFound`].
pub trait WebhookStore: Clone + Send + Sync + 'static {
    /// Creates an endpoint unless the user has `max` already; with an idempotency key, as
    /// [`crate::PlanStore::create_plan`].
    ///
    /// # Errors
    /// [`StoreError::WebhookLimit`]; the idempotency key's errors; the store's.
    fn create_endpoint(
        &self,
        user: &UserId,
        endpoint: &NewEndpoint,
        max: u32,
        idem: Option<Idempotency<CreatedEndpoint>>,
    ) -> impl Future<Output = Result<Keyed<CreatedEndpoint>, StoreError>> + Send;

    /// The user's endpoints, newest first.
    ///
    /// # Errors
    /// The store's errors.
    fn endpoints(
        &self,
        user: &UserId,
    ) -> impl Future<Output = Result<Vec<EndpointRecord>, StoreError>> + Send;

    /// One endpoint.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn endpoint(
        &self,
        user: &UserId,
        id: Uuid,
    ) -> impl Future<Output = Result<EndpointRecord, StoreError>> + Send;

    /// Changes an endpoint; enabling it clears its `disabled_reason` and its failure streak.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn update_endpoint(
        &self,
        user: &UserId,
        id: Uuid,
        changes: &EndpointChanges,
    ) -> impl Future<Output = Result<EndpointRecord, StoreError>> + Send;

    /// Deletes an endpoint and its deliveries.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn delete_endpoint(
        &self,
        user: &UserId,
        id: Uuid,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queues a `webhook.test` delivery to this endpoint only, with its job; returns its id.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] when the endpoint is disabled.
    fn queue_test(
        &self,
        user: &UserId,
        id: Uuid,
    ) -> impl Future<Output = Result<Uuid, StoreError>> + Send;

    /// An endpoint's deliveries with their attempts, newest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for the endpoint.
    fn deliveries(
        &self,
        user: &UserId,
        endpoint: Uuid,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<DeliveryRecord>, StoreError>> + Send;
}

/// What the runtime's delivery handler reads and writes.
pub trait DeliveryStore: Clone + Send + Sync + 'static {
    /// The delivery and its endpoint; `None` when it is gone (its endpoint was deleted).
    ///
    /// # Errors
    /// The store's errors.
    fn delivery_target(
        &self,
        delivery: Uuid,
    ) -> impl Future<Output = Result<Option<DeliveryTarget>, StoreError>> + Send;

    /// Ends a delivery's run in ONE transaction: the job's `end` first (fenced by `lease`),
    /// then the attempt (when one was made), the delivery's state, and the endpoint's (healthy
    /// on a success; disabled when `end` fails the delivery and nothing succeeded to it since
    /// the delivery's first attempt). Returns the reason when the endpoint was disabled now.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`]; the store's.
    fn finish_delivery(
        &self,
        lease: Lease,
        job_end: JobEnd,
        delivery: Uuid,
        attempt: Option<WebhookAttempt>,
        end: DeliveryEnd,
    ) -> impl Future<Output = Result<Disabled, StoreError>> + Send;
}
