//! The port of the shared provider limits (issue #22), beside [`crate::ports`]: a run reserves
//! its call before making it, corrects the reservation after it, and pauses the provider on a
//! 429; all processes share them through PostgreSQL.

use std::future::Future;
use std::time::Duration;

use syllabus_domain::breaker::{BreakerSettings, Change};
use syllabus_domain::provider_limits::ProviderLimits;

use crate::error::StoreError;
use crate::records::{Admission, ProviderStats, RouteRequest, Routed};

/// What a run asks of the shared limits. Each call is ONE short transaction; none is held
/// across a provider call.
pub trait LimiterStore: Clone + Send + Sync + 'static {
    /// Reserves one request and `tokens` (the call's estimate) for `provider` under `limits`:
    /// granted when the provider is not paused and the window has room, else when to try again.
    /// With no limit set only the pause is checked and nothing is reserved.
    ///
    /// # Errors
    /// The store's errors.
    fn reserve(
        &self,
        provider: &str,
        limits: ProviderLimits,
        tokens: u64,
    ) -> impl Future<Output = Result<Admission, StoreError>> + Send;

    /// Sets a reservation's tokens to what the call used (a reservation already out of the
    /// window is gone: nothing to correct).
    ///
    /// # Errors
    /// The store's errors.
    fn correct(&self, id: i64, tokens: u64) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Pauses every call to `provider` after its 429: until `Retry-After` (capped at 60 s) or
    /// `fallback` from now, never shortening a pause under way. Returns how long the new pause
    /// runs from now when this started one (the provider was not paused), for the log.
    ///
    /// # Errors
    /// The store's errors.
    fn pause(
        &self,
        provider: &str,
        retry_after: Option<Duration>,
        fallback: Duration,
    ) -> impl Future<Output = Result<Option<Duration>, StoreError>> + Send;

    /// Where the primary's circuit breaker sends a call (issue #22 item 3), and a reservation
    /// on that provider, as [`LimiterStore::reserve`] — in ONE transaction under the primary's
    /// row lock. A probe is claimed only when its reservation is granted; a probe the primary
    /// has no capacity for goes to the fallback instead (or waits, without one).
    ///
    /// # Errors
    /// The store's errors.
    fn route(
        &self,
        request: RouteRequest,
    ) -> impl Future<Output = Result<Routed, StoreError>> + Send;

    /// Records the end of a call that went to `primary`: `failed` a counted failure, `probe`
    /// whether it was the recovery's probe. Returns the breaker's phase changes (for the log).
    ///
    /// # Errors
    /// The store's errors.
    fn breaker_outcome(
        &self,
        primary: &str,
        settings: BreakerSettings,
        failed: bool,
        probe: bool,
    ) -> impl Future<Output = Result<Vec<Change>, StoreError>> + Send;

    /// Every provider's shared figures (`window` is the limits' window).
    ///
    /// # Errors
    /// The store's errors.
    fn provider_stats(
        &self,
        window: Duration,
    ) -> impl Future<Output = Result<Vec<ProviderStats>, StoreError>> + Send;
}
