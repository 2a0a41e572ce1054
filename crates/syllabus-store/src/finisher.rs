//! The handle through which every run of the process ends (issue #22): a queue that the run-end
//! writer ([`crate::finishes`]) drains, many ends per statement. It names no database, so that
//! [`Database`](crate::pool::Database) can hold it.

use tokio::sync::{mpsc, oneshot};

use crate::error::StoreError;
use crate::records::{JobEnd, Lease};

/// An end waiting for its batch, and who awaits its commit.
pub(crate) struct PendingEnd {
    pub(crate) lease: Lease,
    pub(crate) end: JobEnd,
    pub(crate) done: oneshot::Sender<Result<(), StoreError>>,
}

/// The handle every run of the process ends through.
#[derive(Debug, Clone)]
pub(crate) struct Finisher {
    queue: mpsc::UnboundedSender<PendingEnd>,
}

impl Finisher {
    /// A finisher and the queue its writer drains.
    pub(crate) fn channel() -> (Self, mpsc::UnboundedReceiver<PendingEnd>) {
        let (queue, rx) = mpsc::unbounded_channel();
        (Self { queue }, rx)
    }

    /// Ends the run of `lease` with `end` once its batch commits.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] when the lease no longer holds the job; the store's errors.
    pub(crate) async fn finish(&self, lease: Lease, end: JobEnd) -> Result<(), StoreError> {
        let (done, answer) = oneshot::channel();
        let stopped = || StoreError::Unavailable("the finish writer stopped".to_owned());
        self.queue
            .send(PendingEnd { lease, end, done })
            .map_err(|_| stopped())?;
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}
