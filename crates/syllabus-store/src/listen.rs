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
//! - a plan's event stream hears that plan's job changes, previews and deletion, in the order
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

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::{Array, Integer, Jsonb, Text, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use futures::StreamExt;
use serde::Deserialize;
use syllabus_domain::{JobId, JobStatus, JobType, PlanId, UserId};
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::StoreError;
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
    /// Something may have changed that this event does not carry (the listener reconnected,
    /// the plan was deleted, a preview could not be read): re-read.
    Resync,
}

/// What a [`Wakeups`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Watched {
    Job(JobId),
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
struct Hub {
    streams: Mutex<HashMap<PlanId, Vec<StreamTx>>>,
    waits: Mutex<HashMap<Watched, watch::Sender<()>>>,
    /// Events delivered to subscriptions (streams and waits; not the runtime's), for tests and
    /// diagnostics.
    wakeups: AtomicU64,
}

/// Wake-ups sent at once when the listener reconnects; the next group goes after
/// [`RESYNC_PAUSE`], so that thousands of waiters re-read over a second or two rather than all in
/// the same millisecond (their re-reads would queue for the same pooled connections).
const RESYNC_GROUP: usize = 64;
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

    fn waits(&self) -> MutexGuard<'_, HashMap<Watched, watch::Sender<()>>> {
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
    fn send(&self, plan: PlanId, user: Option<&UserId>, event: &PlanEvent) {
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
    fn watchers(&self, plan: PlanId) -> Vec<UserId> {
        self.streams()
            .get(&plan)
            .map(|list| list.iter().map(|s| s.user.clone()).collect())
            .unwrap_or_default()
    }

    fn streams_plan(&self, plan: PlanId) -> bool {
        self.streams().contains_key(&plan)
    }

    /// Wakes the waits on `what`.
    fn wake(&self, what: Watched) {
        let waits = self.waits();
        if let Some(tx) = waits.get(&what) {
            self.count(tx.receiver_count());
            tx.send_replace(());
        }
    }

    /// Subscriptions open: streams and waits.
    fn waiting(&self) -> usize {
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

    /// Every stream and every wait re-reads once, [`RESYNC_GROUP`] at a time.
    fn resync(self: &Arc<Self>) {
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

#[derive(Debug)]
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A `syllabus_previews` payload: a preview's key (`attempt_number` and `index`), or a deleted
/// plan (neither). Payloads of older versions also carried the module: it is ignored.
#[derive(Deserialize)]
struct PreviewPayload {
    plan_id: Uuid,
    attempt_number: Option<u32>,
    index: Option<u32>,
}

/// What a preview notification names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct PreviewKey {
    plan: PlanId,
    attempt_number: u32,
    index: u32,
}

/// A preview notification: `Ok` a preview's key, `Err` the id of a deleted plan.
fn parse_preview(payload: &str) -> Option<Result<PreviewKey, PlanId>> {
    let p: PreviewPayload = serde_json::from_str(payload).ok()?;
    let plan = PlanId::from_uuid(p.plan_id);
    Some(match (p.attempt_number, p.index) {
        (Some(attempt_number), Some(index)) => Ok(PreviewKey {
            plan,
            attempt_number,
            index,
        }),
        _ => Err(plan),
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

fn parse(payload: &str) -> Option<JobEvent> {
    let p: Payload = serde_json::from_str(payload).ok()?;
    Some(JobEvent::Changed {
        id: JobId::from_uuid(p.id),
        plan_id: p.plan_id.map(PlanId::from_uuid),
        status: p.status.parse::<JobStatus>().ok()?,
        job_type: p.job_type.parse::<JobType>().ok()?,
    })
}

/// What the reader hands to a plan's streams, in the order the listener heard it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Routed {
    /// A preview to read.
    Preview(PreviewKey),
    /// One of the plan's jobs changed.
    Job(PlanId, JobStatus),
    /// The plan was deleted.
    Deleted(PlanId),
}

impl Routed {
    fn plan(self) -> PlanId {
        match self {
            Self::Preview(key) => key.plan,
            Self::Job(plan, _) | Self::Deleted(plan) => plan,
        }
    }
}

/// Sends `item` to the plan's streams through the reader (in order with the previews); without
/// a reader, or when it cannot keep up, the streams re-read by themselves.
fn route(hub: &Hub, reader: Option<&mpsc::Sender<Routed>>, item: Routed) {
    if reader.is_none_or(|r| r.try_send(item).is_err()) {
        let event = match item {
            Routed::Job(_, status) => PlanEvent::Job(status),
            Routed::Preview(_) | Routed::Deleted(_) => PlanEvent::Resync,
        };
        hub.send(item.plan(), None, &event);
    }
}

/// Items waiting for the reader before new ones make their streams re-read instead.
const READ_QUEUE: usize = 4_096;
/// Most previews read by one transaction.
const READ_BATCH: usize = 512;
/// How long a read may take before its connection is dropped (and its streams re-read).
const READ_TIMEOUT: Duration = Duration::from_secs(5);

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
        let mut streams = self.hub.streams();
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
            hub: Arc::clone(&self.hub),
        }
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
        let mut waits = self.hub.waits();
        let rx = waits
            .entry(what)
            .or_insert_with(|| watch::channel(()).0)
            .subscribe();
        Wakeups {
            what,
            rx,
            hub: Arc::clone(&self.hub),
        }
    }

    /// Events delivered to streams and waits so far (one per subscription an event reached;
    /// the job runtime's not counted): what tests and diagnostics read to see who was woken.
    #[must_use]
    pub fn wakeups(&self) -> u64 {
        AtomicU64::load(&self.hub.wakeups, Ordering::Relaxed)
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
    let Some(event) = parse(payload) else {
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

/// Routes one `syllabus_previews` notification: a preview of a plan this process streams goes to
/// the reader; a deletion wakes the plan's streams and waits.
fn on_preview(hub: &Hub, reader: Option<&mpsc::Sender<Routed>>, payload: &str) {
    match parse_preview(payload) {
        Some(Ok(key)) if hub.streams_plan(key.plan) => route(hub, reader, Routed::Preview(key)),
        Some(Err(plan)) => {
            hub.wake(Watched::Plan(plan));
            if hub.streams_plan(plan) {
                route(hub, reader, Routed::Deleted(plan));
            }
        }
        Some(Ok(_)) | None => {}
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

#[derive(QueryableByName)]
struct KeyedPreviewRow {
    #[diesel(sql_type = SqlUuid)]
    plan_id: Uuid,
    #[diesel(sql_type = Integer)]
    attempt_number: i32,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = Jsonb)]
    module: serde_json::Value,
}

impl KeyedPreviewRow {
    fn into_entry(self) -> (PreviewKey, Arc<serde_json::Value>) {
        let key = PreviewKey {
            plan: PlanId::from_uuid(self.plan_id),
            attempt_number: u32::try_from(self.attempt_number).unwrap_or(0),
            index: u32::try_from(self.position).unwrap_or(0),
        };
        (key, Arc::new(self.module))
    }
}

/// The stored modules at the previews' indexes, for previews of the plan's latest successful
/// attempt (whose finishing transaction replaced the previews with them), in the previews' form
/// (`PreviewRecord::module_json`: a Module without ids).
const STORED_MODULES: &str = "
    SELECT k.plan_id, k.attempt_number, k.position,
           jsonb_build_object(
               'order', m.position, 'title', m.title, 'description', m.description,
               'estimated_minutes', m.estimated_minutes,
               'tasks', coalesce((SELECT jsonb_agg(jsonb_build_object(
                                      'order', t.position, 'title', t.title,
                                      'description', t.description,
                                      'estimated_minutes', t.estimated_minutes)
                                  ORDER BY t.position)
                                  FROM tasks t WHERE t.module_id = m.id), '[]'::jsonb)) AS module
    FROM unnest($1::uuid[], $2::int[], $3::int[]) AS k(plan_id, attempt_number, position)
    JOIN modules m ON m.plan_id = k.plan_id AND m.position = k.position + 1
    WHERE k.attempt_number = (SELECT max(a.number) FROM generation_attempts a
                              WHERE a.plan_id = k.plan_id AND a.status = 'success')";

/// The previews a batch asks for, per user.
type Wanted = Vec<(UserId, Vec<PreviewKey>)>;
/// What was found, in the same order as [`Wanted`].
type Found = Vec<HashMap<PreviewKey, Arc<serde_json::Value>>>;

/// Hands the listener's items to the plans' streams in order, reading the previews among them
/// a batch per transaction, each for the user its stream serves. A preview that cannot be read
/// (its attempt failed and took it; the database failing) makes those streams re-read instead.
async fn read_previews(url: String, hub: Arc<Hub>, mut items: mpsc::Receiver<Routed>) {
    let mut conn: Option<AsyncPgConnection> = None;
    let mut batch = Vec::with_capacity(READ_BATCH);
    while items.recv_many(&mut batch, READ_BATCH).await > 0 {
        let mut by_user: HashMap<UserId, Vec<PreviewKey>> = HashMap::new();
        for item in &batch {
            if let Routed::Preview(key) = *item {
                for user in hub.watchers(key.plan) {
                    by_user.entry(user).or_default().push(key);
                }
            }
        }
        let wanted: Wanted = by_user.into_iter().collect();
        let found = if wanted.is_empty() {
            Some(Vec::new())
        } else {
            match tokio::time::timeout(READ_TIMEOUT, read_batch(&url, &mut conn, &wanted)).await {
                Ok(Ok(found)) => Some(found),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "module previews could not be read; streams re-read");
                    conn = None;
                    None
                }
                Err(_) => {
                    tracing::warn!("reading module previews timed out; streams re-read");
                    conn = None;
                    None
                }
            }
        };
        for item in batch.drain(..) {
            match item {
                Routed::Job(plan, status) => hub.send(plan, None, &PlanEvent::Job(status)),
                Routed::Deleted(plan) => hub.send(plan, None, &PlanEvent::Resync),
                Routed::Preview(key) => {
                    for (i, (user, keys)) in wanted.iter().enumerate() {
                        if !keys.contains(&key) {
                            continue;
                        }
                        let event = match found.as_ref().and_then(|f| f.get(i)?.get(&key)) {
                            Some(module) => PlanEvent::Preview {
                                attempt_number: key.attempt_number,
                                index: key.index,
                                module: Arc::clone(module),
                            },
                            None => PlanEvent::Resync,
                        };
                        hub.send(key.plan, Some(user), &event);
                    }
                }
            }
        }
    }
}

/// One transaction: for each user, the previews named, read as that user (row-level security
/// shows a user only the previews of their own plans).
async fn read_batch(
    url: &str,
    conn: &mut Option<AsyncPgConnection>,
    wanted: &Wanted,
) -> Result<Found, StoreError> {
    let conn = match conn {
        Some(c) => c,
        None => conn.insert(
            AsyncPgConnection::establish(url)
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        ),
    };
    conn.transaction::<Found, StoreError, _>(async move |conn| {
        let mut found = Vec::with_capacity(wanted.len());
        for (user, keys) in wanted {
            diesel::sql_query("SELECT set_config('syllabus.user_id', $1, true)")
                .bind::<Text, _>(user.as_str())
                .execute(conn)
                .await?;
            let plans: Vec<Uuid> = keys.iter().map(|k| k.plan.as_uuid()).collect();
            let attempts: Vec<i32> = keys
                .iter()
                .map(|k| i32::try_from(k.attempt_number).unwrap_or(i32::MAX))
                .collect();
            let positions: Vec<i32> = keys
                .iter()
                .map(|k| i32::try_from(k.index).unwrap_or(i32::MAX))
                .collect();
            let rows: Vec<KeyedPreviewRow> = diesel::sql_query(
                "SELECT p.plan_id, p.attempt_number, p.position, p.module
                 FROM plan_previews p
                 JOIN unnest($1::uuid[], $2::int[], $3::int[]) AS k(plan_id, attempt_number, position)
                   ON p.plan_id = k.plan_id AND p.attempt_number = k.attempt_number
                  AND p.position = k.position",
            )
            .bind::<Array<SqlUuid>, _>(&plans)
            .bind::<Array<Integer>, _>(&attempts)
            .bind::<Array<Integer>, _>(&positions)
            .load(conn)
            .await?;
            let mut these: HashMap<PreviewKey, Arc<serde_json::Value>> =
                rows.into_iter().map(KeyedPreviewRow::into_entry).collect();
            if these.len() < keys.len() {
                // Gone: the attempt ended meanwhile. When it succeeded, its modules are stored,
                // and each is what its preview showed.
                let stored: Vec<KeyedPreviewRow> = diesel::sql_query(STORED_MODULES)
                    .bind::<Array<SqlUuid>, _>(&plans)
                    .bind::<Array<Integer>, _>(&attempts)
                    .bind::<Array<Integer>, _>(&positions)
                    .load(conn)
                    .await?;
                for (key, module) in stored.into_iter().map(KeyedPreviewRow::into_entry) {
                    these.entry(key).or_insert(module);
                }
            }
            found.push(these);
        }
        Ok(found)
    })
    .await
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
    fn parses_preview_keys_and_deletion_payloads() {
        let id = Uuid::now_v7();
        let plan = PlanId::from_uuid(id);
        let key = Ok(PreviewKey {
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
        assert_eq!(parse_preview(&deleted), Some(Err(plan)));
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
