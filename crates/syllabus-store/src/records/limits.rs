//! Shared provider limits as records: a reservation's answer and a provider's figures.

use chrono::{DateTime, Utc};

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
}
