//! The loop behind the process-wide batch writers (module previews, run ends): what every run of
//! the process queues goes to the database in few statements, not one per item.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};

/// Takes the items queued on `rx` in batches: when one of `max_writers` writers is free, the
/// first item to come and every other one already queued (at most `max_batch`), written by
/// `write` on a task of its own, with a clone of `db` (the writers' handle on the database: the
/// loop names none). While every writer is busy, items queue up into one batch. Returns when
/// every sender is dropped.
pub(crate) async fn write_batches<D, T, F, Fut>(
    db: D,
    mut rx: mpsc::UnboundedReceiver<T>,
    max_writers: usize,
    max_batch: usize,
    write: F,
) where
    D: Clone + Send + 'static,
    T: Send + 'static,
    F: Fn(D, Vec<T>) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let writers = Arc::new(Semaphore::new(max_writers));
    loop {
        let Ok(writer) = Arc::clone(&writers).acquire_owned().await else {
            return;
        };
        let Some(first) = rx.recv().await else {
            return;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match rx.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let written = write(db.clone(), batch);
        tokio::spawn(async move {
            written.await;
            drop(writer);
        });
    }
}
