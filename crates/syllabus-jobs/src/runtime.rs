//! The worker loop: its settings, claims in batches under the concurrency permits, wake-ups,
//! the process's heartbeat task, stale rescue, pruning, and the shutdown drain. It names no job
//! type: each claimed job goes to [`run_job`](crate::run::run_job) with the runtime's
//! [`Dispatch`].

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use syllabus_domain::JobStatus;
use syllabus_domain::backoff::Backoff;
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_domain::usage::PriceTable;
use syllabus_store::records::{JobEvent, Lease, Retention, RetentionReport};
use syllabus_store::{JobEvents, QueueStore};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;

use crate::clock::later;
use crate::context::Context;
use crate::dispatch::{Dispatch, JobHandlers};
use crate::leases::{Leases, heartbeats};
use crate::run::run_job;

/// How a runtime works.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Jobs run at once (`WORKER_CONCURRENCY`).
    pub concurrency: usize,
    /// Backoff base (`JOB_BACKOFF_BASE_MS`).
    pub backoff_base: Duration,
    /// A `processing` job whose heartbeat is older is rescued (`JOB_STALE_AFTER_MS`).
    pub stale_after: Duration,
    /// Longest sleep without a notification.
    pub poll_interval: Duration,
    /// How long running jobs may finish after shutdown is asked before they are released.
    pub shutdown_grace: Duration,
    /// This worker's name in `jobs.locked_by`.
    pub worker_id: String,
    /// Completed and cancelled jobs older than this are deleted.
    pub retain_completed: Duration,
    /// Failed jobs older than this are deleted.
    pub retain_failed: Duration,
    /// How often this process prunes.
    pub prune_every: Duration,
    /// `LLM_PRICES`: each provider call's cost (issue #22).
    pub prices: PriceTable,
    /// Provider calls and module-regeneration attempts older than this many days are folded
    /// into daily aggregates and deleted (`ATTEMPT_RETENTION_DAYS`).
    pub attempt_retention_days: u32,
    /// Daily aggregates older than this many days are deleted
    /// (`USAGE_AGGREGATE_RETENTION_DAYS`).
    pub aggregate_retention_days: u32,
    /// The users' rate-limit window: rate rows older than it are deleted.
    pub rate_window: Duration,
    /// The provider's shared limits (`LLM_REQUESTS_PER_MINUTE`, `LLM_TOKENS_PER_MINUTE`,
    /// `LLM_LIMIT_WINDOW_MS`); unlimited by default.
    pub provider_limits: ProviderLimits,
    /// How webhook deliveries are sent and retried (`WEBHOOK_*`, issue #23).
    pub webhooks: syllabus_domain::webhooks::DeliverySettings,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            concurrency: 256,
            backoff_base: Duration::from_secs(1),
            stale_after: Duration::from_secs(300),
            poll_interval: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(8),
            worker_id: format!("worker-{}", std::process::id()),
            retain_completed: Duration::from_secs(24 * 3_600),
            retain_failed: Duration::from_secs(7 * 24 * 3_600),
            prune_every: Duration::from_secs(600),
            prices: PriceTable::default(),
            attempt_retention_days: DEFAULT_ATTEMPT_RETENTION_DAYS,
            aggregate_retention_days: DEFAULT_AGGREGATE_RETENTION_DAYS,
            rate_window: syllabus_domain::rate_limit::DEFAULT_WINDOW,
            provider_limits: ProviderLimits::default(),
            webhooks: syllabus_domain::webhooks::DeliverySettings::default(),
        }
    }
}

/// `ATTEMPT_RETENTION_DAYS` unless set.
pub const DEFAULT_ATTEMPT_RETENTION_DAYS: u32 = 30;
/// `USAGE_AGGREGATE_RETENTION_DAYS` unless set.
pub const DEFAULT_AGGREGATE_RETENTION_DAYS: u32 = 365;

/// Asks a running [`Runtime`] to stop.
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Sender<bool>);

impl Shutdown {
    /// A trigger and the receiver the runtime watches.
    #[must_use]
    pub fn new() -> (Self, watch::Receiver<bool>) {
        let (tx, rx) = watch::channel(false);
        (Self(tx), rx)
    }

    /// Stops claiming; running jobs get the grace period.
    pub fn trigger(&self) {
        let _ = self.0.send(true);
    }
}

/// Most jobs one claim statement takes.
const CLAIM_BATCH: usize = 64;

/// A pool of workers over one store and one provider.
pub struct Runtime<S, P, D = JobHandlers> {
    ctx: Context<S, P>,
    events: JobEvents,
    config: RuntimeConfig,
    dispatch: Arc<D>,
}

impl<S, P> Runtime<S, P>
where
    S: QueueStore,
    JobHandlers: Dispatch<S, P>,
{
    /// A runtime running every job type's handler ([`JobHandlers`]); `events` wakes it when jobs
    /// are enqueued.
    pub fn new(store: S, provider: Arc<P>, events: JobEvents, config: RuntimeConfig) -> Self {
        Self {
            ctx: Context::new(
                store,
                provider,
                Backoff::new(config.backoff_base),
                config.prices.clone(),
                config.provider_limits,
                crate::context::Webhooks::new(config.webhooks),
            ),
            events,
            config,
            dispatch: Arc::new(JobHandlers),
        }
    }
}

impl<S, P, D> Runtime<S, P, D> {
    /// The runtime with a fallback provider (or none) and the settings of the primary's
    /// circuit breaker (issue #22 item 3; [`crate::Fallback`]).
    #[must_use]
    pub fn with_fallback(
        self,
        fallback: Option<crate::Fallback<P>>,
        breaker: syllabus_domain::breaker::BreakerSettings,
    ) -> Self {
        Self {
            ctx: self.ctx.with_fallback(fallback, breaker),
            ..self
        }
    }
}

impl<S, P, D> Runtime<S, P, D>
where
    S: QueueStore,
    P: Send + Sync + 'static,
    D: Dispatch<S, P>,
{
    /// The same runtime running jobs with `dispatch` instead (a benchmark's no-op handler).
    pub fn with_dispatch<E: Dispatch<S, P>>(self, dispatch: E) -> Runtime<S, P, E> {
        Runtime {
            ctx: self.ctx,
            events: self.events,
            config: self.config,
            dispatch: Arc::new(dispatch),
        }
    }

    /// Works the queue until `shutdown` turns true, then drains: running jobs get
    /// `shutdown_grace` to finish; the rest are released to `pending` without spending a run.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let config = self.config.clone();
        let permits = Arc::new(Semaphore::new(config.concurrency.max(1)));
        let leases = Leases::default();
        // One heartbeat statement per interval for every lease of this process. In a JoinSet,
        // which aborts it when dropped: it must not outlive a runtime whose `run` was dropped (it
        // would keep that runtime's leases fresh for ever).
        let (stop_beats, beats_stopped) = oneshot::channel::<()>();
        let mut beats = JoinSet::new();
        beats.spawn(heartbeats(
            self.ctx.store.clone(),
            leases.clone(),
            config.stale_after,
            beats_stopped,
        ));
        let mut running = JoinSet::new();
        let mut events = self.events.subscribe_queue();
        let rescue_every = (config.stale_after / 2).max(Duration::from_millis(100));
        let mut next_rescue = tokio::time::Instant::now();
        let mut next_prune = tokio::time::Instant::now();
        tracing::info!(worker = %config.worker_id, concurrency = config.concurrency, "workers started");

        while !*shutdown.borrow() {
            if tokio::time::Instant::now() >= next_rescue {
                match self.ctx.store.rescue_stale(config.stale_after).await {
                    Ok(0) => {}
                    Ok(n) => tracing::warn!(jobs = n, "rescued stale jobs"),
                    Err(e) => tracing::warn!(error = %e, "stale rescue failed"),
                }
                next_rescue = later(rescue_every);
            }

            if tokio::time::Instant::now() >= next_prune {
                match self
                    .ctx
                    .store
                    .prune(config.retain_completed, config.retain_failed)
                    .await
                {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(jobs = n, "pruned old jobs"),
                    Err(e) => tracing::warn!(error = %e, "pruning failed"),
                }
                let retention = Retention {
                    calls_days: config.attempt_retention_days,
                    aggregates_days: config.aggregate_retention_days,
                    rate_window: config.rate_window,
                    now: Utc::now(),
                };
                match self.ctx.store.retain_usage(retention).await {
                    Ok(r) if r == RetentionReport::default() => {}
                    Ok(r) => tracing::info!(
                        calls_folded = r.calls_folded,
                        attempts_deleted = r.attempts_deleted,
                        aggregates_deleted = r.aggregates_deleted,
                        leftovers_deleted = r.leftovers_deleted,
                        skipped = r.skipped,
                        "usage retention pass"
                    ),
                    Err(e) => tracing::warn!(error = %e, "usage retention failed"),
                }
                next_prune = later(config.prune_every);
            }

            let mut store_failed = false;
            loop {
                // As many due jobs as there are free permits, at most a batch per statement.
                let want = permits.available_permits().min(CLAIM_BATCH);
                if want == 0 {
                    break;
                }
                let Some(mut batch) = u32::try_from(want)
                    .ok()
                    .and_then(|n| Arc::clone(&permits).try_acquire_many_owned(n).ok())
                else {
                    break;
                };
                match self.ctx.store.claim_many(&config.worker_id, want).await {
                    Ok(jobs) => {
                        let got = jobs.len();
                        for job in jobs {
                            // Only this loop takes permits: the batch holds one per job.
                            let permit = batch.split(1);
                            // Held from the claim on: beaten, and released at shutdown even if
                            // its task never ran.
                            let (lost, finishing) = leases.hold(job.lease);
                            let task = run_job(
                                self.ctx.for_run(finishing),
                                Arc::clone(&self.dispatch),
                                job,
                                (leases.clone(), lost),
                                config.stale_after,
                            );
                            running.spawn(async move {
                                task.await;
                                drop(permit);
                            });
                        }
                        // Permits of jobs that were not there go back.
                        drop(batch);
                        if got < want {
                            break;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "claim failed");
                        store_failed = true;
                        break;
                    }
                }
            }
            while running.try_join_next().is_some() {}

            let mut wait = config.poll_interval;
            if !store_failed
                && permits.available_permits() > 0
                && let Ok(Some(at)) = self.ctx.store.next_run_at().await
            {
                let until = (at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                wait = wait.min(until);
            }
            let deadline = tokio::time::sleep(wait);
            tokio::pin!(deadline);
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    () = &mut deadline => break,
                    Some(_) = running.join_next(), if !running.is_empty() => break,
                    event = events.recv() => match event {
                        Ok(JobEvent::Changed { status: JobStatus::Pending, .. } | JobEvent::Resync)
                        | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => break,
                        Ok(JobEvent::Changed { .. }) => {}
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            (&mut deadline).await;
                            break;
                        }
                    },
                }
            }
        }

        tracing::info!(running = running.len(), "workers stopping");
        let drained = tokio::time::timeout(config.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        drop(stop_beats);
        if drained.is_err() {
            running.abort_all();
            while running.join_next().await.is_some() {}
            release_all(&self.ctx.store, &leases.take_all()).await;
        }
        let _ = beats.join_next().await;
        tracing::info!("workers stopped");
    }
}

/// Gives every lease still held back to `pending` in ONE statement (a process with a thousand
/// stalled runs must be done well inside a container runtime's 10 s stop timeout), retried
/// briefly while the database does not answer; the stale rescue returns what is left.
async fn release_all<S: QueueStore>(store: &S, leases: &[Lease]) {
    if leases.is_empty() {
        return;
    }
    let mut delay = Duration::from_millis(100);
    for tries_left in (0..3).rev() {
        match store.release_many(leases).await {
            Ok(n) => {
                tracing::info!(
                    released = n,
                    held = leases.len(),
                    "released running jobs to pending"
                );
                return;
            }
            Err(e) if tries_left > 0 => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "release failed; retrying");
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            Err(e) => {
                tracing::warn!(held = leases.len(), error = %e, "release failed; the stale rescue will return the jobs");
            }
        }
    }
}
