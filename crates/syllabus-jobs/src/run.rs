//! One claimed run, as the worker loop sees it: the job's span, the handler raced against the
//! lease-lost signal, a panic caught; then what the loop does with each outcome (log it, settle
//! an end the handler could not write, release the job through an outage). A job that stopped
//! its worker [`MAX_RESCUES`] times is given up instead of run. No job type is named here: a
//! run the handler could not end goes through the dispatch's hook.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use syllabus_store::records::{ClaimedJob, JobEnd, JobError, Lease};
use syllabus_store::{QueueStore, StoreError};
use tokio::sync::oneshot;
use tracing::Instrument;

use crate::clock::later;
use crate::context::{Context, finish_with_retry, module_replaced};
use crate::dispatch::Dispatch;
use crate::leases::Leases;

/// A job given up after this many stale rescues: its runs keep stopping their worker process
/// (out of memory, a native crash), taking every other run of that process down with them.
pub(crate) const MAX_RESCUES: u32 = 3;

/// How a run ended, seen from the runtime.
enum Run {
    /// The handler returned.
    Returned(Result<syllabus_domain::JobStatus, StoreError>),
    /// The handler panicked (its message is not kept: it may quote the text being handled, and
    /// model output stays out of logs; the binary's panic hook logs where it happened).
    Panicked,
    /// The heartbeat found the lease lost: the handler was dropped at once.
    LeaseLost,
}

/// Runs `job` with `dispatch` inside the job's span, then ends what the handler left unended;
/// forgets the lease when done. `lost` fires when the heartbeat finds the lease gone.
pub(crate) async fn run_job<S, P, D>(
    ctx: Context<S, P>,
    dispatch: Arc<D>,
    job: ClaimedJob,
    (leases, mut lost): (Leases, oneshot::Receiver<()>),
    stale_after: Duration,
) where
    S: QueueStore,
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
            give_up(&ctx, &*dispatch, &job, stale_after).await;
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
                interrupted(&ctx, &*dispatch, &job, stale_after).await;
            }
            Run::Panicked => {
                tracing::error!(duration_ms = ms, "job handler panicked");
                interrupted(&ctx, &*dispatch, &job, stale_after).await;
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

/// Ends a run its handler could not end (a panic, an unexpected error) as a retryable
/// `provider_error`, with what the job's type records of it ([`Dispatch::end_unfinished`]).
async fn interrupted<S, P, D>(
    ctx: &Context<S, P>,
    dispatch: &D,
    job: &ClaimedJob,
    stale_after: Duration,
) where
    S: QueueStore,
    D: Dispatch<S, P>,
{
    let error = internal_error();
    let end = ctx.failure_end(job, error.clone(), None, true, None);
    end_unfinished(ctx, dispatch, job, &error, end, stale_after).await;
}

/// Fails a job whose runs stopped their worker [`MAX_RESCUES`] times, for good, as a
/// `provider_error`, with what the job's type records of it ([`Dispatch::end_unfinished`]).
async fn give_up<S, P, D>(
    ctx: &Context<S, P>,
    dispatch: &D,
    job: &ClaimedJob,
    stale_after: Duration,
) where
    S: QueueStore,
    D: Dispatch<S, P>,
{
    let error = JobError {
        message: format!("The job stopped its worker {MAX_RESCUES} times and was given up."),
        classification: syllabus_domain::FailureClass::ProviderError,
    };
    let end = JobEnd::Failed {
        error: error.clone(),
        reask: None,
    };
    end_unfinished(ctx, dispatch, job, &error, end, stale_after).await;
}

/// Ends a run with `end`, which `error` describes, for a handler that did not: first through
/// the dispatch's hook, which writes it with what the job's type records of it, else with `end`
/// alone.
async fn end_unfinished<S, P, D>(
    ctx: &Context<S, P>,
    dispatch: &D,
    job: &ClaimedJob,
    error: &JobError,
    end: JobEnd,
    stale_after: Duration,
) where
    S: QueueStore,
    D: Dispatch<S, P>,
{
    match dispatch.end_unfinished(ctx, job, error, end.clone()).await {
        Ok(true) | Err(StoreError::LeaseLost) => return,
        // The job's type records nothing of it.
        Ok(false) => {}
        // Its subject was deleted meanwhile.
        Err(StoreError::NotFound) => {
            return settle(ctx, job.lease, JobEnd::Cancelled, stale_after).await;
        }
        Err(e) if e.is_transient() => {
            return release_when_back(&ctx.store, job.lease, stale_after).await;
        }
        // The hook could not record it (e.g. a plan at its attempt cap): `end` alone.
        Err(e) => tracing::warn!(error = %e, "could not record the interrupted attempt"),
    }
    settle(ctx, job.lease, end, stale_after).await;
}

/// Writes a run's end that the handler could not write, through outages; when the store stays
/// down, gives the lease back as soon as it returns.
async fn settle<S, P>(ctx: &Context<S, P>, lease: Lease, end: JobEnd, stale_after: Duration)
where
    S: QueueStore,
{
    match finish_with_retry(|| ctx.store.finish(lease, end.clone(), None)).await {
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
