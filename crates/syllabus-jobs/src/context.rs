//! What a handler works with and may call to end its run: the store, the provider, the backoff
//! schedule, the run's finishing flag; the fenced finishing write (retried through outages), the
//! end of a failed run (retry with backoff or fail) and the end of a run whose module was
//! replaced. Handlers depend on this, never on the worker loop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use chrono::Utc;
use syllabus_domain::backoff::Backoff;
use syllabus_domain::breaker::BreakerSettings;
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_domain::usage::PriceTable;
use syllabus_domain::{FailureClass, Issues, JobStatus};
use syllabus_provider::AttemptFacts;
use syllabus_store::records::{ClaimedJob, JobEnd, JobError, ProviderCall};
use syllabus_store::{QueueStore, StoreError};

use crate::clock::jitter;

/// Whether a run has started the write that ends its job. From then on, a heartbeat that finds
/// the lease gone does not cancel the run: the lease may be gone because that very write just
/// committed, and the write is fenced by the lease anyway, so its own answer says whether the
/// run finished or was rescued.
#[derive(Clone, Default)]
pub(crate) struct Finishing(Arc<AtomicBool>);

impl Finishing {
    fn mark(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub(crate) fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// The fallback provider (issue #22 item 3): where the primary's circuit breaker sends calls
/// while it is open, under the fallback's own shared limits.
pub struct Fallback<P> {
    /// The provider (its own endpoint, key and model).
    pub provider: Arc<P>,
    /// Its shared limits (`LLM_FALLBACK_REQUESTS_PER_MINUTE`, `LLM_FALLBACK_TOKENS_PER_MINUTE`).
    pub limits: ProviderLimits,
}

impl<P> Clone for Fallback<P> {
    fn clone(&self) -> Self {
        Self {
            provider: Arc::clone(&self.provider),
            limits: self.limits,
        }
    }
}

/// How webhook deliveries are sent (issue #23): the settings, and the sender built from them
/// (`None` when its HTTP client could not be built).
#[derive(Clone)]
pub(crate) struct Webhooks {
    pub(crate) settings: syllabus_domain::webhooks::DeliverySettings,
    pub(crate) sender: Option<Arc<syllabus_provider::webhook::WebhookSender>>,
}

impl Webhooks {
    /// The sender for `settings`; its failure is logged once, here.
    pub(crate) fn new(settings: syllabus_domain::webhooks::DeliverySettings) -> Self {
        let sender = match syllabus_provider::webhook::WebhookSender::new(settings) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the webhook client; deliveries wait");
                None
            }
        };
        Self { settings, sender }
    }
}

/// What a handler needs: the store, the provider, the backoff schedule; and, for one run, the
/// flag its finishing write raises.
pub struct Context<S, P> {
    pub(crate) store: S,
    /// The primary provider. A handler calls a provider only through [`Context::limited`],
    /// which picks the primary or the fallback.
    pub(crate) provider: Arc<P>,
    /// The fallback, when one is configured ([`crate::gate`]).
    pub(crate) fallback: Option<Fallback<P>>,
    /// The primary's circuit breaker's settings.
    pub(crate) breaker: BreakerSettings,
    pub(crate) backoff: Backoff,
    /// The shared provider limits every call is reserved under ([`crate::gate`]).
    pub(crate) limits: ProviderLimits,
    finishing: Finishing,
    /// `LLM_PRICES`: a call's cost at the price in force when it ends (issue #22).
    prices: Arc<PriceTable>,
    /// Webhook deliveries (issue #23).
    pub(crate) webhooks: Webhooks,
}

impl<S, P> Clone for Context<S, P>
where
    S: Clone,
{
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            provider: Arc::clone(&self.provider),
            fallback: self.fallback.clone(),
            breaker: self.breaker,
            backoff: self.backoff,
            limits: self.limits,
            finishing: self.finishing.clone(),
            prices: Arc::clone(&self.prices),
            webhooks: self.webhooks.clone(),
        }
    }
}

impl<S, P> Context<S, P> {
    /// The runtime's context, before any run: `backoff` schedules the retries of failed runs,
    /// `prices` price the calls; `limits` are the provider's shared limits.
    pub(crate) fn new(
        store: S,
        provider: Arc<P>,
        backoff: Backoff,
        prices: PriceTable,
        limits: ProviderLimits,
        webhooks: Webhooks,
    ) -> Self {
        Self {
            store,
            provider,
            fallback: None,
            breaker: BreakerSettings::default(),
            backoff,
            limits,
            finishing: Finishing::default(),
            prices: Arc::new(prices),
            webhooks,
        }
    }

    /// The same context with a fallback provider (or none) and the breaker's settings.
    pub(crate) fn with_fallback(
        self,
        fallback: Option<Fallback<P>>,
        breaker: BreakerSettings,
    ) -> Self {
        Self {
            fallback,
            breaker,
            ..self
        }
    }

    /// The ledger's record of a provider call (issue #22): what it used, as `facts` report it,
    /// its class (`None` for a success) and its cost at the model's current price (`None`
    /// without a price or without reported usage). Written by the run's finishing write.
    pub(crate) fn call_record(
        &self,
        facts: &AttemptFacts,
        class: Option<FailureClass>,
    ) -> ProviderCall {
        let price = self.prices.price(&facts.model);
        ProviderCall {
            provider: facts.provider.clone(),
            model: facts.model.clone(),
            classification: class,
            prompt_tokens: facts.usage.map(|u| u.prompt_tokens),
            completion_tokens: facts.usage.map(|u| u.completion_tokens),
            priced: price.is_some(),
            cost_nanos: price.zip(facts.usage).map(|(p, u)| {
                p.cost_nanos(u64::from(u.prompt_tokens), u64::from(u.completion_tokens))
            }),
            duration_ms: facts.duration_ms,
        }
    }

    /// The store the runtime works.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The same context for one run, with that run's finishing flag.
    pub(crate) fn for_run(&self, finishing: Finishing) -> Self
    where
        S: Clone,
    {
        Self {
            finishing,
            ..self.clone()
        }
    }

    /// Runs the write that ends the run's job (fenced by its lease), retried through outages as
    /// [`finish_with_retry`]. The run is marked as finishing first: a heartbeat that then finds
    /// the lease gone no longer cancels the run, which learns from this write's own answer
    /// whether it finished the job ([`StoreError::LeaseLost`] if it was rescued meanwhile).
    pub(crate) async fn finishing<T, F, Fut>(&self, write: F) -> Result<T, StoreError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, StoreError>>,
    {
        self.finishing.mark();
        finish_with_retry(write).await
    }

    /// Ends a run that writes nothing but the job's state, and returns that state. The run is
    /// marked as finishing first: a heartbeat that then finds the lease gone (because this write
    /// just committed) no longer cancels the run, which learns from this write's own answer
    /// whether it finished the job. A handler must end its run through this (or the handlers'
    /// own finishing writes), never with the store's `finish` directly.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when the job was rescued meanwhile; the store's errors after
    /// the retry window.
    pub async fn end_run(&self, job: &ClaimedJob, end: JobEnd) -> Result<JobStatus, StoreError>
    where
        S: QueueStore,
    {
        self.end_run_with(job, end, None).await
    }

    /// [`Context::end_run`] for a run that called the provider: `call` is recorded in the
    /// ledger by the same write.
    pub(crate) async fn end_run_with(
        &self,
        job: &ClaimedJob,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> Result<JobStatus, StoreError>
    where
        S: QueueStore,
    {
        self.finishing(|| self.store.finish(job.lease, end.clone(), call.clone()))
            .await?;
        Ok(end.status())
    }

    /// The end of a failed run: retry after the backoff while runs remain, else fail. `reask`
    /// (what a `validation` failure's answer broke) is kept on the job for the next run's (or a
    /// retry's) re-ask.
    pub(crate) fn failure_end(
        &self,
        job: &ClaimedJob,
        error: JobError,
        retry_after: Option<Duration>,
        may_retry: bool,
        reask: Option<Issues>,
    ) -> JobEnd {
        if may_retry && error.classification.is_retryable() && job.attempts < job.max_attempts {
            let delay = self.backoff.delay(job.attempts, jitter(), retry_after);
            // Never a panic or an immediate retry on an absurd delay: at most a month away.
            let delay = delay.min(Duration::from_secs(30 * 24 * 3_600));
            let at = chrono::Duration::from_std(delay)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d))
                .unwrap_or_else(Utc::now);
            JobEnd::Retry { at, error, reask }
        } else {
            JobEnd::Failed { error, reask }
        }
    }
}

/// The end of a flashcards run whose module a regeneration replaced before its cards were
/// saved: cancelled at once, saying why (retrying could only find the module gone).
pub(crate) fn module_replaced() -> JobEnd {
    JobEnd::Superseded {
        error: JobError {
            message: "The module was replaced by a regeneration before the flashcards were saved."
                .to_owned(),
            classification: FailureClass::ProviderError,
        },
    }
}

/// How long a finishing write is retried through an outage or contention.
const FINISH_RETRY_WINDOW: Duration = Duration::from_secs(30);

/// Retries a finishing write while the database is unavailable (a restart) or the transaction
/// lost a deadlock: the run's outcome is kept rather than thrown away; a lost lease or another
/// error ends at once.
pub(crate) async fn finish_with_retry<T, F, Fut>(mut write: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut delay = Duration::from_millis(200);
    let mut waited = Duration::ZERO;
    loop {
        match write().await {
            Err(e) if e.is_transient() && waited < FINISH_RETRY_WINDOW => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "database unavailable while finishing a job");
                tokio::time::sleep(delay).await;
                waited += delay;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            other => return other,
        }
    }
}
