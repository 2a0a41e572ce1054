//! Job events from PostgreSQL `LISTEN/NOTIFY`, fanned out in-process.
//!
//! One dedicated connection per process listens on `syllabus_jobs` (sent by a trigger inside
//! every transaction that creates a job or changes its status) and, in processes that serve the
//! API, on `syllabus_previews` (module previews of attempts in flight). When the connection
//! drops, the listener reconnects and broadcasts [`JobEvent::Resync`], since notifications sent
//! meanwhile are lost: waiters re-read the state and workers poll.
//!
//! Job events go to every subscriber of the process; events about one plan (its jobs and its
//! previews) also go, in the order PostgreSQL delivered them, to that plan's subscribers only
//! ([`JobEvents::subscribe_plan`]): thousands of event streams do not each sift every preview.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::StreamExt;
use serde::Deserialize;
use syllabus_domain::{JobId, JobStatus, JobType, PlanId};
use tokio::sync::{broadcast, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::records::JobEvent;

/// The channel the trigger notifies.
pub const JOBS_CHANNEL: &str = "syllabus_jobs";

/// The channel module previews are notified on.
pub const PREVIEWS_CHANNEL: &str = "syllabus_previews";

/// A process-wide source of job events. Dropping the last clone stops the listener.
#[derive(Clone, Debug)]
pub struct JobEvents {
    tx: broadcast::Sender<JobEvent>,
    hub: Arc<Hub>,
    _task: Arc<AbortOnDrop>,
}

/// What one plan's subscribers hear, in the order PostgreSQL delivered it.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanEvent {
    /// One of the plan's jobs was created or changed status.
    Job(JobStatus),
    /// A module preview committed. `module` is absent when it was too large for a NOTIFY
    /// payload: read it from the store.
    Preview {
        /// Its attempt.
        attempt_number: u32,
        /// Its 0-based index.
        index: u32,
        /// The module, `{order, title, …, tasks}`.
        module: Option<Arc<serde_json::Value>>,
    },
    /// Notifications may have been missed (the listener reconnected): re-read.
    Resync,
}

/// Per-plan senders, created by the first subscriber and removed with the last.
#[derive(Debug, Default)]
struct Hub {
    plans: Mutex<HashMap<PlanId, broadcast::Sender<PlanEvent>>>,
}

impl Hub {
    fn send(&self, plan: PlanId, event: PlanEvent) {
        let plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(tx) = plans.get(&plan) {
            let _ = tx.send(event);
        }
    }

    fn watches(&self, plan: PlanId) -> bool {
        self.plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains_key(&plan)
    }

    fn resync(&self) {
        let plans = self.plans.lock().unwrap_or_else(PoisonError::into_inner);
        for tx in plans.values() {
            let _ = tx.send(PlanEvent::Resync);
        }
    }
}

/// Events about one plan; unsubscribes when dropped.
#[derive(Debug)]
pub struct PlanEvents {
    plan: PlanId,
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
        let mut plans = self
            .hub
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // This receiver is the last one: the plan's sender goes with it.
        if plans
            .get(&self.plan)
            .is_some_and(|tx| tx.receiver_count() == 1)
        {
            plans.remove(&self.plan);
        }
    }
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A preview (`attempt_number`, `index`, `module` when it fitted), or a deleted plan (neither).
#[derive(Deserialize)]
struct PreviewPayload {
    plan_id: Uuid,
    attempt_number: Option<u32>,
    index: Option<u32>,
    module: Option<serde_json::Value>,
}

/// The plan a `syllabus_previews` payload is about, read without parsing its module.
#[derive(Deserialize)]
struct PreviewKey {
    plan_id: Uuid,
}

fn parse_preview(payload: &str) -> Option<(PlanId, PlanEvent)> {
    let p: PreviewPayload = serde_json::from_str(payload).ok()?;
    let event = match (p.attempt_number, p.index) {
        (Some(attempt_number), Some(index)) => PlanEvent::Preview {
            attempt_number,
            index,
            module: p.module.map(Arc::new),
        },
        // The plan was deleted: its streams re-read, find nothing and end.
        _ => PlanEvent::Resync,
    };
    Some((PlanId::from_uuid(p.plan_id), event))
}

#[derive(Deserialize)]
struct Payload {
    id: Uuid,
    plan_id: Option<Uuid>,
    status: String,
    #[serde(rename = "type")]
    job_type: String,
}

fn parse(payload: &str) -> Option<JobEvent> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    Some(JobEvent::Changed {
        id: JobId::from_uuid(p.id),
        plan_id: p.plan_id.map(PlanId::from_uuid),
        status: p.status.parse::<JobStatus>().ok()?,
        job_type: p.job_type.parse::<JobType>().ok()?,
    })
}

impl JobEvents {
    /// Starts listening on `database_url`; waits up to `ready_within` for the first `LISTEN` to
    /// be in place (and keeps retrying in the background if the database is not there yet).
    pub async fn start(database_url: &str, ready_within: Duration) -> Self {
        Self::start_listening(database_url, ready_within, false).await
    }

    /// [`Self::start`], also listening to module previews for [`Self::subscribe_plan`] (processes
    /// that serve plans' event streams; workers do not need them).
    pub async fn start_with_previews(database_url: &str, ready_within: Duration) -> Self {
        Self::start_listening(database_url, ready_within, true).await
    }

    async fn start_listening(database_url: &str, ready_within: Duration, previews: bool) -> Self {
        let (tx, _) = broadcast::channel(1024);
        let hub = Arc::new(Hub::default());
        let (ready_tx, ready_rx) = oneshot::channel();
        let task = tokio::spawn(listen_forever(
            database_url.to_owned(),
            previews,
            tx.clone(),
            Arc::clone(&hub),
            ready_tx,
        ));
        let _ready = tokio::time::timeout(ready_within, ready_rx).await;
        Self {
            tx,
            hub,
            _task: Arc::new(AbortOnDrop(task)),
        }
    }

    /// A receiver of every event from now on.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<JobEvent> {
        self.tx.subscribe()
    }

    /// The events about one plan from now on: its jobs' changes and (when started
    /// [`with previews`](Self::start_with_previews)) its module previews, in commit order.
    #[must_use]
    pub fn subscribe_plan(&self, plan: PlanId) -> PlanEvents {
        let mut plans = self
            .hub
            .plans
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let rx = plans
            .entry(plan)
            .or_insert_with(|| broadcast::channel(PLAN_EVENTS_CAPACITY).0)
            .subscribe();
        PlanEvents {
            plan,
            rx,
            hub: Arc::clone(&self.hub),
        }
    }
}

async fn listen_forever(
    url: String,
    previews: bool,
    tx: broadcast::Sender<JobEvent>,
    hub: Arc<Hub>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(100);
    let listen = if previews {
        format!("LISTEN {JOBS_CHANNEL}; LISTEN {PREVIEWS_CHANNEL}")
    } else {
        format!("LISTEN {JOBS_CHANNEL}")
    };
    loop {
        match AsyncPgConnection::establish(&url).await {
            Ok(mut conn) => {
                let listened = conn.batch_execute(&listen).await;
                if let Err(e) = listened {
                    tracing::warn!(error = %e, "LISTEN failed; retrying");
                } else {
                    delay = Duration::from_millis(100);
                    if let Some(r) = ready.take() {
                        let _ = r.send(());
                    }
                    let _ = tx.send(JobEvent::Resync);
                    hub.resync();
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(n) if n.channel == PREVIEWS_CHANNEL => {
                                // The module is parsed only for a plan streamed in this process.
                                let watched = serde_json::from_str::<PreviewKey>(&n.payload)
                                    .is_ok_and(|k| hub.watches(PlanId::from_uuid(k.plan_id)));
                                if watched && let Some((plan, event)) = parse_preview(&n.payload) {
                                    hub.send(plan, event);
                                }
                            }
                            Ok(n) => {
                                if let Some(event) = parse(&n.payload) {
                                    if let JobEvent::Changed {
                                        plan_id: Some(plan),
                                        status,
                                        ..
                                    } = event
                                    {
                                        hub.send(plan, PlanEvent::Job(status));
                                    }
                                    let _ = tx.send(event);
                                }
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "job event listener lost its connection");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "job event listener cannot connect; retrying"),
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_trigger_payload() {
        let id = Uuid::now_v7();
        let text = format!(
            r#"{{"id" : "{id}", "plan_id" : null, "status" : "pending", "type" : "plan_generation"}}"#
        );
        assert_eq!(
            parse(&text),
            Some(JobEvent::Changed {
                id: JobId::from_uuid(id),
                plan_id: None,
                status: JobStatus::Pending,
                job_type: JobType::PlanGeneration,
            })
        );
        assert_eq!(parse(r#"{"id":"x"}"#), None);
    }

    #[test]
    fn parses_preview_and_deletion_payloads() {
        let id = Uuid::now_v7();
        let plan = PlanId::from_uuid(id);
        let text = format!(
            r#"{{"plan_id": "{id}", "attempt_number": 2, "index": 3, "module": {{"order": 4}}}}"#
        );
        assert_eq!(
            parse_preview(&text),
            Some((
                plan,
                PlanEvent::Preview {
                    attempt_number: 2,
                    index: 3,
                    module: Some(Arc::new(serde_json::json!({"order": 4}))),
                }
            ))
        );
        let large = format!(r#"{{"plan_id": "{id}", "attempt_number": 1, "index": 0}}"#);
        assert!(matches!(
            parse_preview(&large),
            Some((_, PlanEvent::Preview { module: None, .. }))
        ));
        let deleted = format!(r#"{{"plan_id": "{id}", "deleted": true}}"#);
        assert_eq!(parse_preview(&deleted), Some((plan, PlanEvent::Resync)));
        assert_eq!(parse_preview("{}"), None);
    }
}
