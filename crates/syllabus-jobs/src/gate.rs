//! The shared provider limits as a run meets them (issue #22): before its provider call a run
//! reserves one request and the call's token estimate; without capacity (the window is full, or
//! a 429 paused the provider) it gives its job back to `pending`, due when capacity frees,
//! without spending an attempt and holding neither a lease nor a connection while it waits.
//! After the call the reservation is corrected to the reported usage, and a 429 pauses the
//! provider for every process. Every handler calls [`Context::limited`] around its call.

use std::time::Duration;

use chrono::{DateTime, Utc};
use syllabus_domain::fairness::wait_offset;
use syllabus_domain::provider_limits::corrected;
use syllabus_domain::{FailureClass, JobStatus};
use syllabus_provider::{Call, Outcome, Provider};
use syllabus_store::records::{Admission, ClaimedJob};
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
    /// Runs `run` (the provider call that `call` describes) under the shared limits.
    pub(crate) async fn limited<T>(
        &self,
        job: &ClaimedJob,
        call: Call<'_>,
        run: impl Future<Output = Outcome<T>>,
    ) -> Gate<T> {
        let key = self.provider.limit_key();
        let estimate = self.provider.token_estimate(call);
        let id = match self.store.reserve(key, self.limits, estimate).await {
            Ok(Admission::Granted { id }) => id,
            Ok(Admission::Wait { until, cause }) => {
                let at = comes_back(until, job, self.limits.window);
                tracing::info!(
                    cause = cause.as_str(),
                    wait_ms = (at - Utc::now()).num_milliseconds().max(0),
                    "no provider capacity; the job waits without spending an attempt"
                );
                return Gate::Waiting(self.wait(job, at, key).await);
            }
            Err(e) => return Gate::Waiting(Err(e)),
        };
        let outcome = run.await;
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
