//! The routes: who hears what. Per-plan stream senders (for each user a stream serves) and
//! per-job or per-plan wake-ups, each created by its first subscriber and removed with its last;
//! and the resync that makes every one of them re-read once after the listener reconnects.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use syllabus_domain::{JobId, JobStatus, PlanId, UserId};
use tokio::sync::{broadcast, mpsc, watch};

/// What one plan's stream hears, in the order PostgreSQL delivered it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanEvent {
    /// One of the plan's jobs was created or changed status.
    Job(JobStatus),
    /// A module preview committed, as read back for the stream's user.
    Preview {
        /// Its attempt.
        attempt_number: u32,
        /// Its 0-based index.
        index: u32,
        /// The module, `{order, title, …, tasks}`.
        module: Arc<serde_json::Value>,
    },
    /// The progress of the plan's tasks changed (issue #20): re-read it.
    Progress,
    /// The draft of a module being regenerated changed (issue #21): re-read the drafts.
    Draft,
    /// Something may have changed that this event does not carry (the listener reconnected,
    /// the plan was deleted, a preview could not be read): re-read.
    Resync,
}

/// What a [`Wakeups`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Watched {
    /// A job.
    Job(JobId),
    /// A plan.
    Plan(PlanId),
}

/// A plan stream's sender, per user it serves (the plan's owner, once the API has checked).
#[derive(Debug)]
struct StreamTx {
    user: UserId,
    tx: broadcast::Sender<PlanEvent>,
}

/// The routes: per-plan stream senders and per-id wake-up senders, each created by its first
/// subscriber and removed with its last.
#[derive(Debug, Default)]
pub(super) struct Hub {
    streams: Mutex<HashMap<PlanId, Vec<StreamTx>>>,
    waits: Mutex<HashMap<Watched, watch::Sender<()>>>,
    /// Events delivered to subscriptions (streams and waits; not the runtime's), for tests and
    /// diagnostics.
    wakeups: AtomicU64,
}

/// Wake-ups sent at once when the listener reconnects; the next group goes after
/// [`RESYNC_PAUSE`], so that thousands of waiters re-read over a second or two rather than all in
/// the same millisecond (their re-reads would queue for the same pooled connections).
pub(super) const RESYNC_GROUP: usize = 64;
/// The pause between two groups of re-read wake-ups.
const RESYNC_PAUSE: Duration = Duration::from_millis(10);

/// Something a resync wakes.
enum Target {
    Stream(broadcast::Sender<PlanEvent>),
    Wait(watch::Sender<()>),
}

impl Hub {
    fn streams(&self) -> MutexGuard<'_, HashMap<PlanId, Vec<StreamTx>>> {
        self.streams.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(super) fn waits(&self) -> MutexGuard<'_, HashMap<Watched, watch::Sender<()>>> {
        self.waits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, delivered: usize) {
        if delivered > 0 {
            self.wakeups.fetch_add(
                u64::try_from(delivered).unwrap_or(u64::MAX),
                Ordering::Relaxed,
            );
        }
    }

    /// Sends `event` to the plan's streams: those of `user` only, or all.
    pub(super) fn send(&self, plan: PlanId, user: Option<&UserId>, event: &PlanEvent) {
        let streams = self.streams();
        let Some(list) = streams.get(&plan) else {
            return;
        };
        for s in list.iter().filter(|s| user.is_none_or(|u| *u == s.user)) {
            self.count(s.tx.receiver_count());
            let _ = s.tx.send(event.clone());
        }
    }

    /// The users this process streams `plan` for (empty when it streams it for nobody).
    pub(super) fn watchers(&self, plan: PlanId) -> Vec<UserId> {
        self.streams()
            .get(&plan)
            .map(|list| list.iter().map(|s| s.user.clone()).collect())
            .unwrap_or_default()
    }

    pub(super) fn streams_plan(&self, plan: PlanId) -> bool {
        self.streams().contains_key(&plan)
    }

    /// Wakes the waits on `what`.
    pub(super) fn wake(&self, what: Watched) {
        let waits = self.waits();
        if let Some(tx) = waits.get(&what) {
            self.count(tx.receiver_count());
            tx.send_replace(());
        }
    }

    /// Subscriptions open: streams and waits.
    pub(super) fn waiting(&self) -> usize {
        let streams: usize = self
            .streams()
            .values()
            .flatten()
            .map(|s| s.tx.receiver_count())
            .sum();
        let waits: usize = self
            .waits()
            .values()
            .map(watch::Sender::receiver_count)
            .sum();
        streams + waits
    }

    /// A new subscription to the plan's events for `user` (sharing the sender of `user`'s other
    /// streams of the plan).
    pub(super) fn subscribe_plan(self: &Arc<Self>, user: &UserId, plan: PlanId) -> PlanEvents {
        let mut streams = self.streams();
        let list = streams.entry(plan).or_default();
        let rx = match list.iter().find(|s| s.user == *user) {
            Some(s) => s.tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(PLAN_EVENTS_CAPACITY);
                list.push(StreamTx {
                    user: user.clone(),
                    tx,
                });
                rx
            }
        };
        PlanEvents {
            plan,
            user: user.clone(),
            rx,
            hub: Arc::clone(self),
        }
    }

    /// A new wait on `what`.
    pub(super) fn watch(self: &Arc<Self>, what: Watched) -> Wakeups {
        let mut waits = self.waits();
        let rx = waits
            .entry(what)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Wakeups {
            what,
            rx,
            hub: Arc::clone(self),
        }
    }

    /// Events delivered to subscriptions so far.
    pub(super) fn delivered(&self) -> u64 {
        self.wakeups.load(Ordering::Relaxed)
    }

    /// Every stream and every wait re-reads once, [`RESYNC_GROUP`] at a time.
    pub(super) fn resync(self: &Arc<Self>) {
        let mut targets: Vec<Target> = self
            .streams()
            .values()
            .flatten()
            .map(|s| Target::Stream(s.tx.clone()))
            .collect();
        targets.extend(self.waits().values().map(|tx| Target::Wait(tx.clone())));
        if targets.is_empty() {
            return;
        }
        let hub = Arc::clone(self);
        tokio::spawn(async move {
            for (i, group) in targets.chunks(RESYNC_GROUP).enumerate() {
                if i > 0 {
                    tokio::time::sleep(RESYNC_PAUSE).await;
                }
                for target in group {
                    match target {
                        Target::Stream(tx) => {
                            hub.count(tx.receiver_count());
                            let _ = tx.send(PlanEvent::Resync);
                        }
                        Target::Wait(tx) => {
                            hub.count(tx.receiver_count());
                            tx.send_replace(());
                        }
                    }
                }
            }
        });
    }
}

/// Events about one plan for one user; unsubscribes when dropped.
#[derive(Debug)]
pub struct PlanEvents {
    plan: PlanId,
    user: UserId,
    rx: broadcast::Receiver<PlanEvent>,
    hub: Arc<Hub>,
}

/// Events a plan's subscriber can hold unread before it lags (and re-reads instead): more than
/// an attempt's 24 previews and its job changes.
const PLAN_EVENTS_CAPACITY: usize = 64;

impl PlanEvents {
    /// The next event; [`PlanEvent::Resync`] when this subscriber fell behind.
    pub async fn recv(&mut self) -> PlanEvent {
        match self.rx.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(_)) => PlanEvent::Resync,
            Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
        }
    }
}

impl Drop for PlanEvents {
    fn drop(&mut self) {
        let mut streams = self.hub.streams();
        let Some(list) = streams.get_mut(&self.plan) else {
            return;
        };
        // This receiver is the last one of its user: the sender goes with it.
        if let Some(at) = list
            .iter()
            .position(|s| s.user == self.user && s.tx.receiver_count() == 1)
        {
            list.swap_remove(at);
        }
        if list.is_empty() {
            streams.remove(&self.plan);
        }
    }
}

/// Wake-ups about one job or one plan: each means "it may have changed: re-read it". Wake-ups
/// that arrive before [`Wakeups::changed`] is awaited count as one. Unsubscribes when dropped.
#[derive(Debug)]
pub struct Wakeups {
    what: Watched,
    rx: watch::Receiver<()>,
    hub: Arc<Hub>,
}

impl Wakeups {
    /// Returns at the next wake-up since this subscription was made or this method last
    /// returned.
    pub async fn changed(&mut self) {
        if self.rx.changed().await.is_err() {
            // The sender lives as long as this receiver (the hub holds it): never reached.
            std::future::pending::<()>().await;
        }
    }
}

impl Drop for Wakeups {
    fn drop(&mut self) {
        let mut waits = self.hub.waits();
        if waits
            .get(&self.what)
            .is_some_and(|tx| tx.receiver_count() == 1)
        {
            waits.remove(&self.what);
        }
    }
}

/// What a preview notification names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct PreviewKey {
    pub(super) plan: PlanId,
    pub(super) attempt_number: u32,
    pub(super) index: u32,
}

/// What the reader hands to a plan's streams, in the order the listener heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Routed {
    /// A preview to read.
    Preview(PreviewKey),
    /// One of the plan's jobs changed.
    Job(PlanId, JobStatus),
    /// The plan was deleted.
    Deleted(PlanId),
    /// The progress of the plan's tasks changed.
    Progress(PlanId),
    /// A module draft of the plan changed.
    Draft(PlanId),
}

impl Routed {
    fn plan(self) -> PlanId {
        match self {
            Self::Preview(key) => key.plan,
            Self::Job(plan, _) | Self::Deleted(plan) | Self::Progress(plan) | Self::Draft(plan) => {
                plan
            }
        }
    }
}

/// Sends `item` to the plan's streams through the reader (in order with the previews); without
/// a reader, or when it cannot keep up, the streams re-read by themselves.
pub(super) fn route(hub: &Hub, reader: Option<&mpsc::Sender<Routed>>, item: Routed) {
    if reader.is_none_or(|r| r.try_send(item).is_err()) {
        let event = match item {
            Routed::Job(_, status) => PlanEvent::Job(status),
            Routed::Progress(_) => PlanEvent::Progress,
            Routed::Draft(_) => PlanEvent::Draft,
            Routed::Preview(_) | Routed::Deleted(_) => PlanEvent::Resync,
        };
        hub.send(item.plan(), None, &event);
    }
}
