//! [`JobStore`] and [`QueueStore`]: jobs as their owner sees them, the database's health, and
//! the queue as the job runtime drives it.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use syllabus_domain::{JobId, UserId};

use crate::error::StoreError;
use crate::records::{
    ClaimedJob, JobEnd, JobFilter, JobRecord, Lease, Page, PageRequest, ProviderCall, QueueStats,
    Retention, RetentionReport, RunTimes,
};

/// Jobs as their owner sees them, and the database's health.
pub trait JobStore: Clone + Send + Sync + 'static {
    /// One job.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn job(
        &self,
        user: &UserId,
        id: JobId,
    ) -> impl Future<Output = Result<JobRecord, StoreError>> + Send;

    /// The user's jobs, newest first.
    ///
    /// # Errors
    /// The store's errors.
    fn jobs(
        &self,
        user: &UserId,
        filter: JobFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<JobRecord>, StoreError>> + Send;

    /// Cancels a pending job.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] when it is not pending.
    fn cancel_job(
        &self,
        user: &UserId,
        id: JobId,
    ) -> impl Future<Output = Result<JobRecord, StoreError>> + Send;

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queue depth and attempt counts, across users (for `/metrics`).
    ///
    /// # Errors
    /// The store's errors.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats, StoreError>> + Send;

    /// Run times (first start → end) of the finished jobs still stored, bucketed.
    ///
    /// # Errors
    /// The store's errors.
    fn run_times(&self) -> impl Future<Output = Result<RunTimes, StoreError>> + Send;
}

/// The queue as the job runtime drives it.
pub trait QueueStore: Clone + Send + Sync + 'static {
    /// Claims the next due job (highest priority, then oldest due) with a fresh lease.
    ///
    /// # Errors
    /// The store's errors.
    fn claim(
        &self,
        worker: &str,
    ) -> impl Future<Output = Result<Option<ClaimedJob>, StoreError>> + Send {
        async move { Ok(self.claim_many(worker, 1).await?.into_iter().next()) }
    }

    /// Claims up to `limit` due jobs in one statement, in claim order (highest priority, then
    /// fairly between users: `syllabus_domain::fairness::claim_key`, every user's first job before
    /// anyone's second; then id), each with its own fresh lease; rows other workers hold are
    /// skipped.
    ///
    /// # Errors
    /// The store's errors.
    fn claim_many(
        &self,
        worker: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>, StoreError>> + Send;

    /// Records in ONE statement that the runs holding `leases` are alive; returns the leases
    /// that were lost (their job was rescued, released or ended meanwhile), in no given order.
    /// An error (the database unreachable) says nothing about any lease.
    ///
    /// # Errors
    /// The store's errors.
    fn heartbeat_many(
        &self,
        leases: &[Lease],
    ) -> impl Future<Output = Result<Vec<Lease>, StoreError>> + Send;

    /// Returns a run's job to `pending` without spending an attempt (graceful shutdown).
    ///
    /// # Errors
    /// The store's errors.
    fn release(&self, lease: Lease) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Returns a run's job to `pending` due at `at`, without spending an attempt: the run found
    /// no provider capacity (issue #22) and waits for it holding neither a lease nor a
    /// connection, as a waiter for `provider` (whose corrections may make it due sooner).
    /// Returns whether the lease was still held.
    ///
    /// # Errors
    /// The store's errors.
    fn defer(
        &self,
        lease: Lease,
        at: DateTime<Utc>,
        provider: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Returns the jobs of all `leases` still held to `pending` in ONE statement, without
    /// spending their runs (a process shutting down gives back every run it could not finish);
    /// returns how many were given back (a lease already lost or ended changes nothing).
    ///
    /// # Errors
    /// The store's errors.
    fn release_many(
        &self,
        leases: &[Lease],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Rescues `processing` jobs whose heartbeat is older than `stale_after` back to `pending`,
    /// without counting the run that stopped (it recorded nothing) but adding 1 to the job's
    /// `rescues` (the job runtime gives a job up after 3); returns how many.
    ///
    /// # Errors
    /// The store's errors.
    fn rescue_stale(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// When the next pending job is due.
    ///
    /// # Errors
    /// The store's errors.
    fn next_run_at(&self)
    -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// Deletes completed and cancelled jobs older than `completed`, failed ones older than
    /// `failed`, in small batches (no long locks); returns how many.
    ///
    /// # Errors
    /// The store's errors.
    fn prune(
        &self,
        completed: Duration,
        failed: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// One retention pass (issue #22), in short batches, by one process at a time (an
    /// advisory lock per batch; a pass that finds it taken stops): provider calls older than
    /// `retention.calls_days` folded into daily aggregates (whole user-days) and deleted;
    /// module-regeneration attempts as old deleted; aggregates older than
    /// `retention.aggregates_days` deleted; expired rate-limit rows and the previews and
    /// drafts of ended runs deleted.
    ///
    /// # Errors
    /// The store's errors.
    fn retain_usage(
        &self,
        retention: Retention,
    ) -> impl Future<Output = Result<RetentionReport, StoreError>> + Send;

    /// Ends a run that writes nothing else, fenced by its lease.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`].
    fn finish(
        &self,
        lease: Lease,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
