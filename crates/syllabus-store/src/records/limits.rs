//! Shared provider limits as records: a reservation's answer and a provider's figures.

use chrono::{DateTime, Utc};
use syllabus_domain::breaker::{BreakerSettings, Change, Phase, Route};
use syllabus_domain::provider_limits::ProviderLimits;

/// Why a reservation was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitCause {
    /// A 429 paused the provider.
    Paused,
    /// The window holds the provider's requests or tokens per window.
    Window,
}

impl WaitCause {
    /// Its name in logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Paused => "paused",
            Self::Window => "window_full",
        }
    }
}

/// A reservation's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The call may start now. `id` is the reservation to correct after the call (`None` when
    /// no limit is set: nothing was reserved).
    Granted {
        /// The reservation's row.
        id: Option<i64>,
    },
    /// No capacity now: try again at `until`.
    Wait {
        /// When capacity frees (or the pause ends).
        until: DateTime<Utc>,
        /// Why.
        cause: WaitCause,
    },
}

/// One provider's shared figures, for /metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderStats {
    /// The provider key.
    pub provider: String,
    /// Reservations granted since the row was created (all processes).
    pub granted: u64,
    /// Reservations refused.
    pub refused: u64,
    /// Calls in the current window.
    pub window_requests: u64,
    /// Tokens in the current window.
    pub window_tokens: u64,
    /// Milliseconds paused by 429s, in all.
    pub paused_ms: u64,
    /// Whether it is paused now.
    pub paused: bool,
    /// Its circuit breaker's phase as it stands now (a fallback's, which has no breaker of its
    /// own, is always healthy).
    pub breaker: Phase,
    /// How many times its breaker opened, in all.
    pub failovers: u64,
}

/// One provider a call may go to, for [`RouteRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// Its limit key.
    pub key: String,
    /// Its shared limits.
    pub limits: ProviderLimits,
    /// The call's token estimate at this provider.
    pub tokens: u64,
}

/// What a run asks before its call (issue #22 item 3): where the breaker sends it, and a
/// reservation there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRequest {
    /// The primary (its row keeps the breaker).
    pub primary: Endpoint,
    /// The fallback, when one is configured.
    pub fallback: Option<Endpoint>,
    /// The breaker's settings.
    pub breaker: BreakerSettings,
    /// The job's virtual time (`fair_at`): without capacity it waits behind the waiters
    /// before it in fair order only.
    pub fair_at: Option<DateTime<Utc>>,
}

/// The breaker's decision and the reservation made on the chosen provider's key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routed {
    /// Where the call goes.
    pub route: Route,
    /// The reservation's answer on that provider.
    pub admission: Admission,
    /// The breaker's phase changes this decision took (for the log).
    pub changes: Vec<Change>,
}
