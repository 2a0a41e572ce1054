//! The leases this process holds and the batched heartbeat that keeps them: one statement per
//! interval for all of them; a run whose lease it finds lost is cancelled, unless that run has
//! started its finishing write.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use syllabus_domain::JobId;
use syllabus_store::QueueStore;
use syllabus_store::records::Lease;
use tokio::sync::oneshot;

use crate::context::Finishing;

/// The leases this process holds, each with the signal that cancels its run when the heartbeat
/// finds it lost.
#[derive(Clone, Default)]
pub(crate) struct Leases(Arc<Mutex<HashMap<JobId, Held>>>);

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
    pub(crate) fn hold(&self, lease: Lease) -> (oneshot::Receiver<()>, Finishing) {
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

    pub(crate) fn forget(&self, job: JobId) {
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

    pub(crate) fn take_all(&self) -> Vec<Lease> {
        self.map().drain().map(|(_, h)| h.lease).collect()
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
pub(crate) async fn heartbeats<S: QueueStore>(
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
