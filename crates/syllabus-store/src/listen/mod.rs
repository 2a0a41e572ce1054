//! Job events from PostgreSQL `LISTEN/NOTIFY`, routed in-process to whoever they concern.
//!
//! One dedicated connection per process listens on `syllabus_jobs` (sent by a trigger inside
//! every transaction that creates a job or changes its status) and, in processes that serve the
//! API, on `syllabus_previews` (the keys of module previews of attempts in flight, and of deleted
//! plans). When the connection drops, the listener reconnects and tells every subscriber to
//! re-read, since notifications sent meanwhile are lost.
//!
//! Nothing is broadcast to everyone (issue #18): every subscription names what it is about, and
//! an event goes only to the subscriptions it concerns.
//! - the job runtime hears only "a job became `pending`" ([`JobEvents::subscribe_queue`]);
//! - a `Prefer: wait` on a job or a job's event stream hears only that job
//!   ([`JobEvents::watch_job`]), a `Prefer: wait` on a plan only that plan's jobs and its
//!   deletion ([`JobEvents::watch_plan`]): a wake-up is a "re-read", and wake-ups that arrive
//!   before the waiter looks are one;
//! - a plan's event stream hears that plan's job changes, previews, progress changes and
//!   deletion, in the order
//!   PostgreSQL delivered them ([`JobEvents::subscribe_plan`]).
//!
//! Preview notifications carry keys only (plan, attempt, index): a `NOTIFY` payload is visible to
//! any role that may connect and `LISTEN`, outside row-level security. The module itself is read
//! back from `plan_previews` by one reader per process, for the plans this process streams, in
//! batches, in a transaction acting for the user each stream serves (row-level security applies),
//! and handed to that plan's streams: one read per preview per process, however many streams.
//! Everything for streams goes through that reader in the order PostgreSQL delivered it (a job's
//! change never overtakes the preview committed before it), and a preview whose row the attempt's
//! finishing transaction already deleted is read from the modules that attempt stored.
//!
//! Here: the listener (one connection, `LISTEN`, parsing and dispatching notifications) and
//! [`JobEvents`], the handle subscribers hold. The routes live in `routes`, the preview reader
//! in `reader`.

mod reader;
mod routes;

use std::sync::Arc;
use std::time::Duration;

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use futures::StreamExt;
use serde::Deserialize;
use syllabus_domain::{JobId, JobStatus, JobType, PlanId, UserId};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use uuid::Uuid;

use self::reader::{READ_QUEUE, read_previews};
use self::routes::{Hub, PreviewKey, Routed, Watched, route};
pub use self::routes::{PlanEvent, PlanEvents, Wakeups};
use crate::records::JobEvent;

/// The channel the trigger notifies.
pub const JOBS_CHANNEL: &str = "syllabus_jobs";

/// The channel module previews are notified on.
pub const PREVIEWS_CHANNEL: &str = "syllabus_previews";

/// A process-wide source of job events. Dropping the last clone stops the listener.
#[derive(Clone, Debug)]
pub struct JobEvents {
    queue: broadcast::Sender<JobEvent>,
    hub: Arc<Hub>,
    _tasks: Arc<[AbortOnDrop]>,
}

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A `syllabus_previews` payload: a preview's key (`attempt_number` and `index`), a change of
/// the plan's progress (`progress`), or a deleted plan (none of these). Payloads of older
/// versions also carried the module: it is ignored.
#[derive(Deserialize)]
struct PreviewPayload {
    plan_id: Uuid,
    attempt_number: Option<u32>,
    index: Option<u32>,
    #[serde(default)]
    progress: bool,
    #[serde(default)]
    draft: bool,
}

/// What a `syllabus_previews` notification says about its plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PlanNotice {
    /// A preview committed.
    Preview(PreviewKey),
    /// Its tasks' progress changed.
    Progress(PlanId),
    /// The draft of one of its modules being regenerated changed (issue #21).
    Draft(PlanId),
    /// It was deleted.
    Deleted(PlanId),
}

/// A `syllabus_previews` notification (`None` when it is not one this version knows).
fn parse_preview(payload: &str) -> Option<PlanNotice> {
    let p: PreviewPayload = serde_json::from_str(payload).ok()?;
    let plan = PlanId::from_uuid(p.plan_id);
    Some(match (p.attempt_number, p.index) {
        (Some(attempt_number), Some(index)) => PlanNotice::Preview(PreviewKey {
            plan,
            attempt_number,
            index,
        }),
        _ if p.progress => PlanNotice::Progress(plan),
        _ if p.draft => PlanNotice::Draft(plan),
        _ => PlanNotice::Deleted(plan),
    })
}

#[derive(Deserialize)]
struct Payload {
    id: Uuid,
    plan_id: Option<Uuid>,
    status: String,
    #[serde(rename = "type")]
    job_type: String,
}

/// A `syllabus_jobs` notification as an event (`None` when it is not one this version knows).
fn parse_job(payload: &str) -> Option<JobEvent> {
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
    /// that serve plans' event streams; workers do not need them). Such a process holds a
    /// second connection of its own, to read the previews it streams.
    pub async fn start_with_previews(database_url: &str, ready_within: Duration) -> Self {
        Self::start_listening(database_url, ready_within, true).await
    }

    async fn start_listening(database_url: &str, ready_within: Duration, previews: bool) -> Self {
        let (queue, _) = broadcast::channel(1024);
        let hub = Arc::new(Hub::default());
        let mut tasks = Vec::new();
        let reader = if previews {
            let (tx, rx) = mpsc::channel::<Routed>(READ_QUEUE);
            tasks.push(AbortOnDrop(tokio::spawn(read_previews(
                database_url.to_owned(),
                Arc::clone(&hub),
                rx,
            ))));
            Some(tx)
        } else {
            None
        };
        let (ready_tx, ready_rx) = oneshot::channel();
        tasks.push(AbortOnDrop(tokio::spawn(listen_forever(
            database_url.to_owned(),
            reader,
            queue.clone(),
            Arc::clone(&hub),
            ready_tx,
        ))));
        let _ready = tokio::time::timeout(ready_within, ready_rx).await;
        Self {
            queue,
            hub,
            _tasks: tasks.into(),
        }
    }

    /// The job runtime's wake-ups: a job became `pending` (created, retried, rescued, released),
    /// or [`JobEvent::Resync`] after the listener reconnected. Nothing else is sent here.
    #[must_use]
    pub fn subscribe_queue(&self) -> broadcast::Receiver<JobEvent> {
        self.queue.subscribe()
    }

    /// The events about one plan from now on, for `user`: its jobs' changes and (when started
    /// [`with previews`](Self::start_with_previews)) its module previews as `user` may read
    /// them, in commit order. Subscribe before reading the plan, so that nothing committed after
    /// the read is missed.
    #[must_use]
    pub fn subscribe_plan(&self, user: &UserId, plan: PlanId) -> PlanEvents {
        self.hub.subscribe_plan(user, plan)
    }

    /// Wake-ups when `job` is created or changes status (or the listener reconnected).
    #[must_use]
    pub fn watch_job(&self, job: JobId) -> Wakeups {
        self.watch(Watched::Job(job))
    }

    /// Wake-ups when a job of `plan` is created or changes status, when the plan is deleted
    /// (in processes started [`with previews`](Self::start_with_previews)), or when the listener
    /// reconnected.
    #[must_use]
    pub fn watch_plan(&self, plan: PlanId) -> Wakeups {
        self.watch(Watched::Plan(plan))
    }

    fn watch(&self, what: Watched) -> Wakeups {
        self.hub.watch(what)
    }

    /// Events delivered to streams and waits so far (one per subscription an event reached;
    /// the job runtime's not counted): what tests and diagnostics read to see who was woken.
    #[must_use]
    pub fn wakeups(&self) -> u64 {
        self.hub.delivered()
    }

    /// Streams and waits subscribed now (the job runtime's subscription not counted).
    #[must_use]
    pub fn waiting(&self) -> usize {
        self.hub.waiting()
    }
}

/// Routes one `syllabus_jobs` notification.
fn on_job(
    hub: &Hub,
    queue: &broadcast::Sender<JobEvent>,
    reader: Option<&mpsc::Sender<Routed>>,
    payload: &str,
) {
    let Some(event) = parse_job(payload) else {
        return;
    };
    if let JobEvent::Changed {
        id,
        plan_id,
        status,
        ..
    } = &event
    {
        hub.wake(Watched::Job(*id));
        if let Some(plan) = *plan_id {
            hub.wake(Watched::Plan(plan));
            if hub.streams_plan(plan) {
                route(hub, reader, Routed::Job(plan, *status));
            }
        }
        if *status == JobStatus::Pending {
            let _ = queue.send(event);
        }
    }
}

/// Routes one `syllabus_previews` notification: a preview or a progress change of a plan this
/// process streams goes to the reader (in order with the rest); a deletion wakes the plan's
/// streams and waits.
fn on_preview(hub: &Hub, reader: Option<&mpsc::Sender<Routed>>, payload: &str) {
    match parse_preview(payload) {
        Some(PlanNotice::Preview(key)) if hub.streams_plan(key.plan) => {
            route(hub, reader, Routed::Preview(key));
        }
        Some(PlanNotice::Progress(plan)) if hub.streams_plan(plan) => {
            route(hub, reader, Routed::Progress(plan));
        }
        Some(PlanNotice::Draft(plan)) if hub.streams_plan(plan) => {
            route(hub, reader, Routed::Draft(plan));
        }
        Some(PlanNotice::Deleted(plan)) => {
            hub.wake(Watched::Plan(plan));
            if hub.streams_plan(plan) {
                route(hub, reader, Routed::Deleted(plan));
            }
        }
        Some(PlanNotice::Preview(_) | PlanNotice::Progress(_) | PlanNotice::Draft(_)) | None => {}
    }
}

async fn listen_forever(
    url: String,
    reader: Option<mpsc::Sender<Routed>>,
    queue: broadcast::Sender<JobEvent>,
    hub: Arc<Hub>,
    ready: oneshot::Sender<()>,
) {
    let mut ready = Some(ready);
    let mut delay = Duration::from_millis(100);
    let listen = if reader.is_some() {
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
                    let _ = queue.send(JobEvent::Resync);
                    hub.resync();
                    let mut stream = std::pin::pin!(conn.notifications_stream());
                    while let Some(item) = stream.next().await {
                        match item {
                            Ok(n) if n.channel == PREVIEWS_CHANNEL => {
                                on_preview(&hub, reader.as_ref(), &n.payload);
                            }
                            Ok(n) => on_job(&hub, &queue, reader.as_ref(), &n.payload),
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
    use super::routes::RESYNC_GROUP;
    use super::*;

    #[test]
    fn parses_the_trigger_payload() {
        let id = Uuid::now_v7();
        let text = format!(
            r#"{{"id" : "{id}", "plan_id" : null, "status" : "pending", "type" : "plan_generation"}}"#
        );
        assert_eq!(
            parse_job(&text),
            Some(JobEvent::Changed {
                id: JobId::from_uuid(id),
                plan_id: None,
                status: JobStatus::Pending,
                job_type: JobType::PlanGeneration,
            })
        );
        assert_eq!(parse_job(r#"{"id":"x"}"#), None);
    }

    #[test]
    fn parses_preview_keys_and_deletion_payloads() {
        let id = Uuid::now_v7();
        let plan = PlanId::from_uuid(id);
        let key = PlanNotice::Preview(PreviewKey {
            plan,
            attempt_number: 2,
            index: 3,
        });
        let text = format!(r#"{{"plan_id": "{id}", "attempt_number": 2, "index": 3}}"#);
        assert_eq!(parse_preview(&text), Some(key));
        // An older server's payload with the module: the module is not used.
        let old = format!(
            r#"{{"plan_id": "{id}", "attempt_number": 2, "index": 3, "module": {{"order": 4}}}}"#
        );
        assert_eq!(parse_preview(&old), Some(key));
        let deleted = format!(r#"{{"plan_id": "{id}", "deleted": true}}"#);
        assert_eq!(parse_preview(&deleted), Some(PlanNotice::Deleted(plan)));
        let progress = format!(r#"{{"plan_id": "{id}", "progress": true}}"#);
        assert_eq!(parse_preview(&progress), Some(PlanNotice::Progress(plan)));
        let draft = format!(r#"{{"plan_id": "{id}", "draft": true}}"#);
        assert_eq!(parse_preview(&draft), Some(PlanNotice::Draft(plan)));
        assert_eq!(parse_preview("{}"), None);
    }

    fn hub_events() -> (JobEvents, broadcast::Sender<JobEvent>) {
        let (queue, _) = broadcast::channel(16);
        (
            JobEvents {
                queue: queue.clone(),
                hub: Arc::new(Hub::default()),
                _tasks: Vec::new().into(),
            },
            queue,
        )
    }

    fn job_payload(job: JobId, plan: Option<PlanId>, status: &str) -> String {
        serde_json::json!({
            "id": job.as_uuid(),
            "plan_id": plan.as_ref().map(PlanId::as_uuid),
            "status": status,
            "type": "plan_generation",
        })
        .to_string()
    }

    #[tokio::test]
    async fn job_events_go_only_to_their_own_waiters_and_pending_ones_to_the_queue() {
        let (events, queue) = hub_events();
        let (a, b) = (
            JobId::from_uuid(Uuid::now_v7()),
            JobId::from_uuid(Uuid::now_v7()),
        );
        let plan = PlanId::from_uuid(Uuid::now_v7());
        let mut on_a = events.watch_job(a);
        let mut on_plan = events.watch_plan(plan);
        let mut runtime = events.subscribe_queue();
        assert_eq!(events.waiting(), 2);

        on_job(
            &events.hub,
            &queue,
            None,
            &job_payload(b, None, "processing"),
        );
        assert_eq!(events.wakeups(), 0, "nobody waits on b");
        assert!(runtime.try_recv().is_err(), "not a pending job");

        on_job(
            &events.hub,
            &queue,
            None,
            &job_payload(a, Some(plan), "pending"),
        );
        assert_eq!(events.wakeups(), 2);
        tokio::time::timeout(Duration::from_secs(5), on_a.changed())
            .await
            .unwrap_or_else(|_| panic!("a's waiter was not woken"));
        tokio::time::timeout(Duration::from_secs(5), on_plan.changed())
            .await
            .unwrap_or_else(|_| panic!("the plan's waiter was not woken"));
        assert!(matches!(
            runtime.try_recv(),
            Ok(JobEvent::Changed { id, status: JobStatus::Pending, .. }) if id == a
        ));

        // The routes go with their last subscriber.
        drop((on_a, on_plan));
        assert_eq!(events.waiting(), 0);
        assert!(events.hub.waits().is_empty());
    }

    #[tokio::test]
    async fn a_resync_wakes_every_stream_and_wait_once() {
        let (events, _queue) = hub_events();
        let user = UserId::parse("ann").unwrap_or_else(|| panic!("user id"));
        let waits: Vec<Wakeups> = (0..(RESYNC_GROUP * 2 + 3))
            .map(|_| events.watch_job(JobId::from_uuid(Uuid::now_v7())))
            .collect();
        let mut stream = events.subscribe_plan(&user, PlanId::from_uuid(Uuid::now_v7()));
        events.hub.resync();
        let mut waits = waits;
        for w in &mut waits {
            tokio::time::timeout(Duration::from_secs(5), w.changed())
                .await
                .unwrap_or_else(|_| panic!("a waiter was not woken"));
        }
        assert_eq!(
            tokio::time::timeout(Duration::from_secs(5), stream.recv()).await,
            Ok(PlanEvent::Resync)
        );
        assert_eq!(
            events.wakeups(),
            u64::try_from(waits.len() + 1).unwrap_or(0)
        );
    }
}
