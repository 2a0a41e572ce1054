//! The handle through which every run of the process shows its module previews: a queue that
//! the preview writers ([`crate::previews`]) drain, many previews per statement. It names no
//! database, so that [`Database`](crate::pool::Database) can hold it.

use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::error::StoreError;

/// A module to show, and the run that shows it.
#[derive(Debug, Clone)]
pub(crate) struct NewPreview {
    pub job: Uuid,
    pub lease: Uuid,
    pub plan: Uuid,
    pub attempt_number: i32,
    pub position: i32,
    pub module: serde_json::Value,
}

/// A preview waiting for its batch, and who awaits its commit.
pub(crate) struct Pending {
    pub(crate) preview: NewPreview,
    pub(crate) shown: oneshot::Sender<Result<(), StoreError>>,
}

/// Writes the previews of every run of the process, many per statement.
///
/// Thousands of streams in flight finish modules in the same milliseconds; one statement (one
/// commit, one turn at PostgreSQL's notify queue lock) each is what made module events slow at
/// scale. A writer takes everything queued when it starts, so a lone preview goes out at once
/// and a burst goes out in a few statements. Each run awaits its preview before sending the
/// next, so a plan never has two previews in flight and they commit in order.
#[derive(Debug, Clone)]
pub(crate) struct Publisher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl Publisher {
    /// A publisher and the queue its writers drain.
    pub(crate) fn channel() -> (Self, mpsc::UnboundedReceiver<Pending>) {
        let (queue, rx) = mpsc::unbounded_channel();
        (Self { queue }, rx)
    }

    /// Shows `preview` (written only while its run holds its lease), once its batch commits.
    ///
    /// # Errors
    /// The store's errors.
    pub(crate) async fn publish(&self, preview: NewPreview) -> Result<(), StoreError> {
        let (shown, answer) = oneshot::channel();
        match self.queue.send(Pending { preview, shown }) {
            Ok(()) => answer.await.unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the preview writer stopped".to_owned(),
                ))
            }),
            Err(rejected) => Err(StoreError::Unavailable(format!(
                "the preview writer stopped (module {} not shown)",
                rejected.0.preview.position
            ))),
        }
    }
}
