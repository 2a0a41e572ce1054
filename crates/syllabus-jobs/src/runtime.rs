//! The worker loop: claims, wake-ups, heartbeats, rescue, shutdown.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use syllabus_domain::backoff::Backoff;
use syllabus_domain::{JobId, JobStatus, JobType};
use syllabus_provider::Provider;
use syllabus_store::records::{ClaimedJob, JobEnd, JobError, JobEvent, Lease};
use syllabus_store::{ContentJobStore, GenerationStore, JobEvents, QueueStore, StoreError};
use tokio::sync::{Semaphore, oneshot, watch};
use tokio::task::JoinSet;
use tracing::Instrument;

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
        }
    }
}

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

/// A job given up after this many stale rescues: its runs keep stopping their worker process
/// (out of memory, a native crash), taking every other run of that process down with them.
pub const MAX_RESCUES: u32 = 3;

/// Whether a run has started the write that ends its job. From then on, a heartbeat that finds
/// the lease gone does not cancel the run: the lease may be gone because that very write just
/// committed, and the write is fenced by the lease anyway, so its own answer says whether the
/// run finished or was rescued.
#[derive(Clone, Default)]
struct Finishing(Arc<AtomicBool>);

impl Finishing {
    fn mark(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What a handler needs: the store, the provider, the backoff schedule; and, for one run, the
/// flag its finishing write raises.
pub struct Context<S, P> {
    pub(crate) store: S,
    pub(crate) provider: Arc<P>,
    pub(crate) backoff: Backoff,
    finishing: Finishing,
}

impl<S, P> Clone for Context<S, P>
where
    S: Clone,
{
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            provider: Arc::clone(&self.provider),
            backoff: self.backoff,
            finishing: self.finishing.clone(),
        }
    }
}

impl<S, P> Context<S, P> {
    /// The store the runtime works.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The same context for one run, with that run's finishing flag.
    fn for_run(&self, finishing: Finishing) -> Self
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
        self.finishing(|| self.store.finish(job.lease, end.clone()))
            .await?;
        Ok(end.status())
    }

    /// The end of a failed run: retry after the backoff while runs remain, else fail.
    pub(crate) fn failure_end(
        &self,
        job: &ClaimedJob,
        error: JobError,
        retry_after: Option<Duration>,
        may_retry: bool,
    ) -> JobEnd {
        if may_retry && error.classification.is_retryable() && job.attempts < job.max_attempts {
            let delay = self.backoff.delay(job.attempts, jitter(), retry_after);
            // Never a panic or an immediate retry on an absurd delay: at most a month away.
            let delay = delay.min(Duration::from_secs(30 * 24 * 3_600));
            let at = chrono::Duration::from_std(delay)
                .ok()
                .and_then(|d| Utc::now().checked_add_signed(d))
                .unwrap_or_else(Utc::now);
            JobEnd::Retry { at, error }
        } else {
            JobEnd::Failed { error }
        }
    }
}

/// `now + d`, saturating at a year away instead of panicking on an absurd setting.
fn later(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d.min(Duration::from_secs(365 * 24 * 3_600)))
        .unwrap_or(now)
}

/// A uniform fraction in [0, 1) from the OS's randomness (via a v4 UUID's random bits).
fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    #[expect(
        clippy::cast_precision_loss,
        reason = "53 bits fit an f64 mantissa exactly"
    )]
    let fraction = bits as f64 / (1u64 << 53) as f64;
    fraction
}

/// Most jobs one claim statement takes.
const CLAIM_BATCH: usize = 64;

/// What runs a claimed job. Production uses [`JobHandlers`]; the seam exists so that a
/// benchmark can run the real runtime (claims, leases, heartbeats, drain) around a handler that
/// does nothing but end the run.
pub trait Dispatch<S, P>: Send + Sync + 'static {
    /// Runs `job` and ends its run (fenced by its lease); returns the job's new status.
    fn run(
        &self,
        ctx: &Context<S, P>,
        job: &ClaimedJob,
    ) -> impl Future<Output = Result<JobStatus, StoreError>> + Send;
}

/// The handlers of every [`JobType`]: the exhaustive `match` of `dispatch`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobHandlers;

impl<S, P> Dispatch<S, P> for JobHandlers
where
    S: QueueStore + GenerationStore + ContentJobStore,
    P: Provider,
{
    fn run(
        &self,
        ctx: &Context<S, P>,
        job: &ClaimedJob,
    ) -> impl Future<Output = Result<JobStatus, StoreError>> + Send {
        dispatch(ctx, job)
    }
}

/// A pool of workers over one store and one provider.
pub struct Runtime<S, P, D = JobHandlers> {
    ctx: Context<S, P>,
    events: JobEvents,
    config: RuntimeConfig,
    dispatch: Arc<D>,
}

/// The leases this process holds, each with the signal that cancels its run when the heartbeat
/// finds it lost.
#[derive(Clone, Default)]
struct Leases(Arc<Mutex<HashMap<JobId, Held>>>);

struct Held {
    lease: Lease,
    lost: Option<oneshot::Sender<()>>,
    finishing: Finishing,
}

impl Leases {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<JobId, Held>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds `lease` until [`Self::forget`]; the receiver fires if it is found lost before its
    /// run raises the returned flag (starts its finishing write).
    fn hold(&self, lease: Lease) -> (oneshot::Receiver<()>, Finishing) {
        let (tx, rx) = oneshot::channel();
        let finishing = Finishing::default();
        let held = Held {
            lease,
            lost: Some(tx),
            finishing: finishing.clone(),
        };
        self.map().insert(lease.job, held);
        (rx, finishing)
    }

    fn forget(&self, job: JobId) {
        self.map().remove(&job);
    }

    fn snapshot(&self) -> Vec<Lease> {
        self.map().values().map(|h| h.lease).collect()
    }

    /// Tells the run holding `lease` (if it still does) that it was lost, unless that run has
    /// started its finishing write: then the lease may be gone because that write committed,
    /// and the write's own answer tells the run (it is fenced by the lease).
    fn lose(&self, lease: Lease) {
        let mut map = self.map();
        let Some(held) = map.get_mut(&lease.job).filter(|h| h.lease == lease) else {
            return;
        };
        if held.finishing.is_set() {
            tracing::debug!(job.id = %lease.job, "lease gone while its run finishes; the run's own write tells");
            return;
        }
        if let Some(tx) = held.lost.take() {
            let _ = tx.send(());
        }
    }

    fn take_all(&self) -> Vec<Lease> {
        self.map().drain().map(|(_, h)| h.lease).collect()
    }
}

impl<S, P> Runtime<S, P>
where
    S: QueueStore + GenerationStore + ContentJobStore,
    P: Provider,
{
    /// A runtime; `events` wakes it when jobs are enqueued.
    pub fn new(store: S, provider: Arc<P>, events: JobEvents, config: RuntimeConfig) -> Self {
        Self {
            ctx: Context {
                store,
                provider,
                backoff: Backoff::new(config.backoff_base),
                finishing: Finishing::default(),
            },
            events,
            config,
            dispatch: Arc::new(JobHandlers),
        }
    }
}

impl<S, P, D> Runtime<S, P, D>
where
    S: QueueStore + GenerationStore + ContentJobStore,
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

/// How a run ended, seen from the runtime.
enum Run {
    /// The handler returned.
    Returned(Result<JobStatus, StoreError>),
    /// The handler panicked (its message is not kept: it may quote the text being handled, and
    /// model output stays out of logs; the binary's panic hook logs where it happened).
    Panicked,
    /// The heartbeat found the lease lost: the handler was dropped at once.
    LeaseLost,
}

async fn run_job<S, P, D>(
    ctx: Context<S, P>,
    dispatch: Arc<D>,
    job: ClaimedJob,
    (leases, mut lost): (Leases, oneshot::Receiver<()>),
    stale_after: Duration,
) where
    S: QueueStore + GenerationStore + ContentJobStore,
    P: Send + Sync + 'static,
    D: Dispatch<S, P>,
{
    use futures::FutureExt as _;

    let lease = job.lease;
    let span = tracing::info_span!(
        "job",
        job.id = %lease.job,
        job.r#type = job.job_type.as_str(),
        job.attempt = job.attempts,
        user.id = %job.user,
        request_id = job.request_id.as_deref().unwrap_or(""),
    );
    async move {
        let picked_ms = (Utc::now() - job.created_at).num_milliseconds();
        if job.rescues >= MAX_RESCUES {
            // Each of its last runs stopped its worker process: running it again would take this
            // process (and every run in it) down too.
            tracing::warn!(rescues = job.rescues, "job stopped its worker too many times; giving it up");
            give_up(&ctx, &job, stale_after).await;
            leases.forget(lease.job);
            return;
        }
        tracing::info!(since_created_ms = picked_ms, "job started");
        // The process's heartbeat task beats this lease with all the others and fires `lost`
        // when it finds it gone: the handler is dropped at once (its provider call cancelled).
        let started = std::time::Instant::now();
        let handler = std::panic::AssertUnwindSafe(dispatch.run(&ctx, &job)).catch_unwind();
        let run = tokio::select! {
            // A handler that finished wins over a heartbeat that, in the same poll, found the
            // lease gone because that very handler's finishing write just committed.
            biased;
            result = handler => match result {
                Ok(returned) => Run::Returned(returned),
                Err(_) => Run::Panicked,
            },
            Ok(()) = &mut lost => Run::LeaseLost,
        };
        let ms = started.elapsed().as_millis();
        match run {
            Run::Returned(Ok(status)) => {
                tracing::info!(status = status.as_str(), duration_ms = ms, "job finished");
            }
            Run::Returned(Err(StoreError::LeaseLost)) | Run::LeaseLost => {
                tracing::warn!(duration_ms = ms, "job lost its lease (rescued); run cancelled, result discarded");
            }
            Run::Returned(Err(StoreError::NotFound)) => {
                // What the job works on was deleted while it ran.
                tracing::info!(duration_ms = ms, "the job's subject is gone; job cancelled");
                settle(&ctx, lease, JobEnd::Cancelled, stale_after).await;
            }
            Run::Returned(Err(StoreError::ModuleReplaced)) => {
                // A handler that meets this ends its run itself; one that lets it through gets
                // the same end here.
                tracing::info!(duration_ms = ms, "the job's module was replaced; job cancelled");
                settle(&ctx, lease, module_replaced(), stale_after).await;
            }
            Run::Returned(Err(e)) if e.is_transient() => {
                tracing::error!(error = %e, duration_ms = ms, "job could not be finished while the database was unavailable");
                release_when_back(&ctx.store, lease, stale_after).await;
            }
            Run::Returned(Err(e)) => {
                // A bug or an unexpected database state: end the run as a retryable failure now
                // rather than leaving the job to the stale rescue.
                tracing::error!(error = %e, duration_ms = ms, "job failed on an internal error");
                interrupted(&ctx, &job, stale_after).await;
            }
            Run::Panicked => {
                tracing::error!(duration_ms = ms, "job handler panicked");
                interrupted(&ctx, &job, stale_after).await;
            }
        }
        leases.forget(lease.job);
    }
    .instrument(span)
    .await;
}

fn internal_error() -> JobError {
    JobError {
        message: "An internal error interrupted the job.".to_owned(),
        classification: syllabus_domain::FailureClass::ProviderError,
    }
}

/// The end of a flashcards run whose module a regeneration replaced before its cards were
/// saved: cancelled at once, saying why (retrying could only find the module gone).
pub(crate) fn module_replaced() -> JobEnd {
    JobEnd::Superseded {
        error: JobError {
            message: "The module was replaced by a regeneration before the flashcards were saved."
                .to_owned(),
            classification: syllabus_domain::FailureClass::ProviderError,
        },
    }
}

/// Ends a run its handler could not end (a panic, an unexpected error) as a retryable
/// `provider_error`; a plan generation records the failed attempt with it.
async fn interrupted<S, P>(ctx: &Context<S, P>, job: &ClaimedJob, stale_after: Duration)
where
    S: QueueStore + GenerationStore,
{
    let error = internal_error();
    let end = ctx.failure_end(job, error.clone(), None, true);
    end_unfinished(ctx, job, &error, end, stale_after).await;
}

/// Fails a job whose runs stopped their worker [`MAX_RESCUES`] times, for good, as a
/// `provider_error`; a plan generation records the failed attempt with it.
async fn give_up<S, P>(ctx: &Context<S, P>, job: &ClaimedJob, stale_after: Duration)
where
    S: QueueStore + GenerationStore,
{
    let error = JobError {
        message: format!("The job stopped its worker {MAX_RESCUES} times and was given up."),
        classification: syllabus_domain::FailureClass::ProviderError,
    };
    let end = JobEnd::Failed {
        error: error.clone(),
    };
    end_unfinished(ctx, job, &error, end, stale_after).await;
}

/// Ends a run with `end`, which `error` describes, for a handler that did not; a plan generation
/// records the failed attempt in the same transaction (below the plan's cap).
async fn end_unfinished<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    error: &JobError,
    end: JobEnd,
    stale_after: Duration,
) where
    S: QueueStore + GenerationStore,
{
    if let (JobType::PlanGeneration, Some(plan)) = (job.job_type, job.plan_id) {
        match crate::generation::end_interrupted(&ctx.store, job, plan, error, end.clone()).await {
            Ok(()) | Err(StoreError::LeaseLost) => return,
            // The plan was deleted meanwhile.
            Err(StoreError::NotFound) => {
                return settle(ctx, job.lease, JobEnd::Cancelled, stale_after).await;
            }
            Err(e) if e.is_transient() => {
                return release_when_back(&ctx.store, job.lease, stale_after).await;
            }
            // At the cap (or another surprise): end the job without an attempt row.
            Err(e) => tracing::warn!(error = %e, "could not record the interrupted attempt"),
        }
    }
    settle(ctx, job.lease, end, stale_after).await;
}

/// Writes a run's end that the handler could not write, through outages; when the store stays
/// down, gives the lease back as soon as it returns.
async fn settle<S, P>(ctx: &Context<S, P>, lease: Lease, end: JobEnd, stale_after: Duration)
where
    S: QueueStore,
{
    match finish_with_retry(|| ctx.store.finish(lease, end.clone())).await {
        Ok(()) | Err(StoreError::LeaseLost) => {}
        Err(e) => {
            tracing::error!(error = %e, "could not end the run; releasing the job");
            release_when_back(&ctx.store, lease, stale_after).await;
        }
    }
}

/// Releases the lease (back to `pending`, the run not counted) once the store answers again,
/// instead of leaving the job to the stale rescue; gives up when the rescue would have taken it.
async fn release_when_back<S: QueueStore>(store: &S, lease: Lease, stale_after: Duration) {
    let until = later(stale_after);
    let mut delay = Duration::from_millis(200);
    loop {
        match store.release(lease).await {
            Ok(true) => {
                tracing::info!("released the job to pending");
                return;
            }
            Ok(false) => return,
            Err(e) if later(delay) < until => {
                tracing::warn!(error = %e, retry_in_ms = delay.as_millis(), "release failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                tracing::error!(error = %e, "release failed; the stale rescue will return the job");
                return;
            }
        }
    }
}

/// Runs the handler of the job's type. The match is exhaustive: a new [`JobType`] does not
/// compile until it has a handler.
async fn dispatch<S, P>(ctx: &Context<S, P>, job: &ClaimedJob) -> Result<JobStatus, StoreError>
where
    S: QueueStore + GenerationStore + ContentJobStore,
    P: Provider,
{
    match job.job_type {
        JobType::PlanGeneration => crate::generation::run(ctx, job).await,
        JobType::Flashcards | JobType::Distractors | JobType::SkillTree => {
            crate::content::run(ctx, job).await
        }
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

/// How often the process's leases are beaten: (stale_after / 3), and at most 5 s apart, so a
/// lost lease is noticed within 5 s (a generation lasts up to 20 s), whatever
/// JOB_STALE_AFTER_MS is.
fn beat_interval(stale_after: Duration) -> Duration {
    (stale_after / 3).clamp(Duration::from_millis(50), Duration::from_secs(5))
}

/// The process's heartbeat: every interval, ONE statement refreshes every lease the process
/// holds; the runs whose lease it finds lost are cancelled at once. A failed beat (the database
/// restarting) is not a lost lease. Returns when `stop` fires or its sender is dropped.
async fn heartbeats<S: QueueStore>(
    store: S,
    leases: Leases,
    stale_after: Duration,
    mut stop: oneshot::Receiver<()>,
) {
    let mut tick = tokio::time::interval(beat_interval(stale_after));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let held = leases.snapshot();
        if held.is_empty() {
            continue;
        }
        match store.heartbeat_many(&held).await {
            Ok(lost) => {
                for lease in lost {
                    // A run whose handler has just ended its job is reported too; its signal
                    // is no longer listened to.
                    tracing::debug!(job.id = %lease.job, "heartbeat found the lease lost");
                    leases.lose(lease);
                }
            }
            Err(e) => tracing::warn!(leases = held.len(), error = %e, "heartbeat failed"),
        }
    }
}
