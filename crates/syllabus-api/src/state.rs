//! What every handler shares: the store behind its port traits ([`Stores`]), the process's job
//! events, the [`Settings`] and the gates of held requests ([`AppState`]).

use syllabus_store::records::RateLimit;
use syllabus_store::{
    ContentStore, EditStore, JobEvents, JobStore, PlanStore, ProgressStore, SharingStore,
    StudyStore, UsageStore, WebhookStore,
};

use crate::limits::{Gates, Limits};

/// Limits and defaults the handlers apply.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Per user and job type (`RATE_LIMIT_PER_HOUR` per 3,600 s), and the monthly token budget
    /// (`USER_MONTHLY_TOKEN_BUDGET`).
    pub rate_limit: RateLimit,
    /// `LLM_PRICE_CURRENCY`: the label of the usage report's costs.
    pub currency: String,
    /// Runs per job (`JOB_MAX_ATTEMPTS`; plan generation is capped at 3 regardless).
    pub job_max_attempts: u32,
    /// How often an idle event stream sends a keep-alive comment ([`SSE_KEEPALIVE`]).
    pub sse_keepalive: std::time::Duration,
    /// What one client may hold of the process: connections, deadlines, streams, waits.
    pub limits: Limits,
    /// How long an `Idempotency-Key` and its answer are kept (`IDEMPOTENCY_KEY_TTL_HOURS`).
    pub idempotency_ttl: std::time::Duration,
    /// `WEBHOOK_ALLOW_LOOPBACK`: endpoints may be `http` URLs of the loopback interface.
    pub webhooks_allow_loopback: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate_limit: RateLimit {
                limit: syllabus_domain::rate_limit::DEFAULT_LIMIT,
                window: syllabus_domain::rate_limit::DEFAULT_WINDOW,
                monthly_token_budget: None,
            },
            currency: DEFAULT_CURRENCY.to_owned(),
            job_max_attempts: DEFAULT_JOB_MAX_ATTEMPTS,
            sse_keepalive: SSE_KEEPALIVE,
            limits: Limits::default(),
            idempotency_ttl: IDEMPOTENCY_KEY_TTL,
            webhooks_allow_loopback: false,
        }
    }
}

/// How long idempotency keys are kept unless `IDEMPOTENCY_KEY_TTL_HOURS` says otherwise: 24 h.
pub const IDEMPOTENCY_KEY_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// `LLM_PRICE_CURRENCY` unless set.
pub const DEFAULT_CURRENCY: &str = "USD";

/// Runs per job unless `JOB_MAX_ATTEMPTS` says otherwise (SPEC section 4).
pub const DEFAULT_JOB_MAX_ATTEMPTS: u32 = 3;

/// The keep-alive interval of event streams: under the idle timeouts of common proxies (30–60 s).
pub const SSE_KEEPALIVE: std::time::Duration = std::time::Duration::from_secs(15);

/// What every handler shares.
#[derive(Debug)]
pub struct AppState<S> {
    /// The store.
    pub store: S,
    /// Job events, for `Prefer: wait` and the event streams (started with previews).
    pub events: JobEvents,
    /// Limits.
    pub settings: Settings,
    /// Held requests and write turns, counted against `settings.limits`.
    pub(crate) gates: std::sync::Arc<Gates>,
}

impl<S> AppState<S> {
    /// The handlers' state.
    pub fn new(store: S, events: JobEvents, settings: Settings) -> Self {
        Self {
            store,
            events,
            gates: Gates::new(settings.limits),
            settings,
        }
    }

    /// The gates of held requests, to [`Gates::close`] them when the process stops.
    #[must_use]
    pub fn gates(&self) -> std::sync::Arc<Gates> {
        std::sync::Arc::clone(&self.gates)
    }
}

/// Everything the handlers need from the store.
pub trait Stores:
    PlanStore
    + JobStore
    + ContentStore
    + ProgressStore
    + SharingStore
    + EditStore
    + UsageStore
    + StudyStore
    + WebhookStore
{
}
impl<
    T: PlanStore
        + JobStore
        + ContentStore
        + ProgressStore
        + SharingStore
        + EditStore
        + UsageStore
        + StudyStore
        + WebhookStore,
> Stores for T
{
}
