//! Results of a call: the generated value or a classified failure, both with the attempt's facts.

use std::time::Duration;

use serde::Serialize;
use syllabus_domain::{FailureClass, Issues};

/// Token usage, when the provider sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Usage {
    /// Tokens in the prompt.
    pub prompt_tokens: u32,
    /// Tokens generated.
    pub completion_tokens: u32,
    /// Their sum as reported.
    pub total_tokens: u32,
}

/// What an attempt record stores about the call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptFacts {
    /// The provider's host.
    pub provider: String,
    /// The model asked.
    pub model: String,
    /// Monotonic duration of the call.
    pub duration_ms: u64,
    /// Usage from the stream's last chunk, if sent.
    pub usage: Option<Usage>,
    /// Whether the deadline was extended after a complete first module.
    pub timeout_extended: bool,
    /// For plans: when the first module was complete and valid, from the start of the call
    /// (logged, for the time-to-first-module figures; not stored).
    pub first_module_ms: Option<u64>,
    /// SHA-256 (hex) of the prompt: messages and schema name.
    pub prompt_hash: String,
}

/// A successful call.
#[derive(Debug, Clone)]
pub struct Generated<T> {
    /// The validated output.
    pub output: T,
    /// The attempt's facts.
    pub facts: AttemptFacts,
}

/// A failed call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{class}: {detail}")]
pub struct Failure {
    /// The failure class (never `capped`: the provider is not called at the cap).
    pub class: FailureClass,
    /// A short sentence safe to show a user: no provider body, no model output.
    pub message: String,
    /// For operators' logs: what happened, without prompts, bodies or output.
    pub detail: String,
    /// The provider's `Retry-After`, when it sent one.
    pub retry_after: Option<Duration>,
    /// For `validation`: what was wrong, to re-ask with.
    pub issues: Option<Issues>,
    /// The attempt's facts.
    pub facts: AttemptFacts,
}

/// The result of one provider call.
pub type Outcome<T> = Result<Generated<T>, Failure>;
