//! The shared provider limits as a run meets them (issue #22): before its provider call a run
//! reserves one request and the call's token estimate; without capacity (the window is full, or
//! a 429 paused the provider) it gives its job back to `pending`, due when capacity frees,
//! without spending an attempt and holding neither a lease nor a connection while it waits.
//! After the call the reservation is corrected to the reported usage, and a 429 pauses the
//! provider for every process. Every handler calls [`Context::limited`] around its call.
//!
//! The same round trip asks the primary's circuit breaker (issue #22 item 3) where the call
//! goes — the primary, the recovery's one probe of the primary, or the fallback — and reserves
//! on that provider's key; after a call to the primary, a counted failure or the probe's end is
//! recorded on the breaker. Every phase change is logged (from, to, cause).

use std::time::Duration;

use chrono::{DateTime, Utc};
use syllabus_domain::breaker::{Change, Phase, Route, counts};
use syllabus_domain::fairness::wait_offset;
use syllabus_domain::provider_limits::corrected;
use syllabus_domain::{FailureClass, JobStatus};
use syllabus_provider::{Call, Outcome, Provider};
use syllabus_store::records::{Admission, ClaimedJob, Endpoint, RouteRequest};
use syllabus_store::{LimiterStore, QueueStore, StoreError};

use crate::clock::jitter;
use crate::context::Context;

/// What became of a limited call.
pub(crate) enum Gate<T> {
    /// The call ran.
    Ran(Outcome<T>),
    /// No capacity: the run gave its job back to wait for it (no attempt spent); the handler
    /// returns this at once.
    Waiting(Result<JobStatus, StoreError>),
}

impl<S, P> Context<S, P>
where
    S: QueueStore + LimiterStore,
    P: Provider,
{
    /// Runs `run` (the provider call that `call` describes) on the provider the breaker picks,
    /// under that provider's shared limits.
    pub(crate) async fn limited<'a, T, F, Fut>(
        &'a self,
        job: &ClaimedJob,
        call: Call<'_>,
        run: F,
    ) -> Gate<T>
    where
        F: FnOnce(&'a P) -> Fut,
        Fut: Future<Output = Outcome<T>>,
    {
        let primary = self.provider.as_ref();
        let endpoint = |p: &P, limits| Endpoint {
            key: p.limit_key().to_owned(),
            limits,
            tokens: p.token_estimate(call),
        };
        let request = RouteRequest {
            primary: endpoint(primary, self.limits),
            fallback: self
                .fallback
                .as_ref()
                .map(|f| endpoint(f.provider.as_ref(), f.limits)),
            breaker: self.breaker,
            fair_at: Some(job.fair_at),
        };
        let routed = match self.store.route(request.clone()).await {
            Ok(routed) => routed,
            Err(e) => return Gate::Waiting(Err(e)),
        };
        log_changes(primary.limit_key(), &routed.changes);
        let (provider, chosen) = match (routed.route, &self.fallback, request.fallback) {
            (Route::Fallback, Some(f), Some(endpoint)) => (f.provider.as_ref(), endpoint),
            _ => (primary, request.primary),
        };
        let (key, estimate) = (chosen.key.as_str(), chosen.tokens);
        let id = match routed.admission {
            Admission::Granted { id } => id,
            Admission::Wait { until, cause } => {
                let at = comes_back(until, job, self.limits.window);
                tracing::info!(
                    cause = cause.as_str(),
                    route = routed.route.as_str(),
                    wait_ms = (at - Utc::now()).num_milliseconds().max(0),
                    "no provider capacity; the job waits without spending an attempt"
                );
                return Gate::Waiting(self.wait(job, at, key).await);
            }
        };
        if routed.route != Route::Primary {
            tracing::debug!(
                route = routed.route.as_str(),
                "provider call routed by the breaker"
            );
        }
        let outcome = run(provider).await;
        let facts = match &outcome {
            Ok(generated) => &generated.facts,
            Err(failure) => &failure.facts,
        };
        let used = facts.usage.map(|u| u64::from(u.total_tokens));
        if let Some(id) = id
            && used.is_some()
            && let Err(e) = self.store.correct(id, corrected(estimate, used)).await
        {
            // The estimate stays: at worst the window holds more than was used.
            tracing::warn!(error = %e, "could not correct the provider reservation");
        }
        if let Err(failure) = &outcome
            && failure.class == FailureClass::RateLimit
        {
            let fallback = self.backoff.delay(job.attempts, 0.0, None);
            match self.store.pause(key, failure.retry_after, fallback).await {
                Ok(Some(pause)) => tracing::warn!(
                    pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                    retry_after_ms = failure
                        .retry_after
                        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                    "provider answered 429: every process pauses its calls"
                ),
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "could not pause the provider"),
            }
        }
        if routed.route.is_primary() {
            let failed = counts(outcome.as_ref().err().map(|f| f.class));
            let probe = routed.route == Route::Probe;
            if failed || probe {
                let key = primary.limit_key();
                match self
                    .store
                    .breaker_outcome(key, self.breaker, failed, probe)
                    .await
                {
                    Ok(changes) => log_changes(key, &changes),
                    Err(e) => {
                        tracing::warn!(error = %e, "could not record the call on the breaker")
                    }
                }
            }
        }
        Gate::Ran(outcome)
    }

    /// Gives the job back, due at `at`, without spending the run (the lease is fenced; the run
    /// is marked finishing so its own release does not read as a lost lease).
    /// It waits for `provider`: a correction that frees capacity early makes it due at once.
    async fn wait(
        &self,
        job: &ClaimedJob,
        at: DateTime<Utc>,
        provider: &str,
    ) -> Result<JobStatus, StoreError> {
        match self
            .finishing(|| self.store.defer(job.lease, at, provider))
            .await?
        {
            true => Ok(JobStatus::Pending),
            false => Err(StoreError::LeaseLost),
        }
    }
}

/// Logs each phase change of the primary's breaker: a warning when it degrades or opens, an
/// info line when it recovers (never any model output).
fn log_changes(provider: &str, changes: &[Change]) {
    for c in changes {
        let (from, to, cause) = (c.from.as_str(), c.to.as_str(), c.cause.as_str());
        match c.to {
            Phase::Degraded | Phase::Failover => {
                tracing::warn!(
                    provider,
                    from,
                    to,
                    cause,
                    "provider circuit breaker changed state"
                );
            }
            Phase::Healthy | Phase::Recovery => {
                tracing::info!(
                    provider,
                    from,
                    to,
                    cause,
                    "provider circuit breaker changed state"
                );
            }
        }
    }
}

/// When a job that waits for capacity freeing at `until` comes back: later by its lead in fair
/// order (waiters return in fair order, a user's first job before another's backlog), and a
/// little at random ([`wait_offset`]).
fn comes_back(until: DateTime<Utc>, job: &ClaimedJob, window: Duration) -> DateTime<Utc> {
    let extra = wait_offset(until, job.fair_at, window, jitter());
    chrono::Duration::from_std(extra)
        .ok()
        .and_then(|d| until.checked_add_signed(d))
        .unwrap_or(until)
}
