//! Server-sent event streams (issue #11): `GET /plans/{id}/events` and `GET /jobs/{id}/events`.
//!
//! Each stream is a task of its own that writes frames into a small channel the response body
//! reads; it ends when the resource reaches a terminal state, when nothing can change it any more
//! (a pending plan with no generation job queued or running: its job was cancelled or gave up),
//! when the client goes away (the channel closes), or when the resource is deleted. Wake-ups come from PostgreSQL's
//! `LISTEN/NOTIFY` (the job trigger and the preview trigger), so the process that streams need not
//! be the one that generates.
//!
//! A plan's stream opened with `?progress=true` (issue #20) does not end at the final status: it
//! stays open, sending `progress` when a task's progress changes, until the plan is deleted or
//! the client leaves (another tab of the learner stays in step), and `module_draft` as a module
//! being regenerated streams in (issue #21). A draft is the whole module so far, so it needs no
//! cursor of its own: a stream sends each draft newer than the last it sent for its job, and a
//! resumed one starts with the newest.
//!
//! Event ids are cursors, not counters: a plan's `A.P` says "the attempt events of attempts
//! 1..=A and the first P previews of attempt A+1 were seen". A client that reconnects with
//! `Last-Event-ID` gets the attempts that ended meanwhile, the current status, then the previews
//! of the attempt in flight after those it saw: never one twice.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use syllabus_domain::{JobId, PlanId, PlanStatus, UserId};
use syllabus_store::records::{JobRecord, PlanStreamState, ProgressRecord};
use syllabus_store::{PlanEvent, PlanEvents, StoreError, Wakeups};
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::auth::Caller;
use crate::input::path_id;
use crate::limits::HeldSlot;
use crate::problem::ApiError;
use crate::state::{AppState, Stores};
use crate::wire::{
    AttemptView, JobView, ModuleDraftEventView, ModuleEventView, PlanView, ProgressView,
    SkillEventView,
};

type State<S> = web::Data<AppState<S>>;

/// Frames a stream may hold unsent before its writer waits for the client.
const FRAMES_BUFFERED: usize = 32;

/// How long a stream waits before reading again after the store failed.
const REREAD_AFTER_ERROR: Duration = Duration::from_secs(2);

/// One SSE frame; `data` is one line of JSON, written straight into the frame.
fn frame(event: &str, id: &str, data: &impl Serialize) -> Bytes {
    let mut out = format!("event: {event}\nid: {id}\ndata: ").into_bytes();
    let head = out.len();
    if serde_json::to_writer(&mut out, data).is_err() {
        out.truncate(head);
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The writing end of a stream. Every method fails once the client has gone.
struct Sse {
    tx: mpsc::Sender<Bytes>,
    keepalive: tokio::time::Interval,
}

/// The client went away.
struct Gone;

impl Sse {
    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        self.tx.send(bytes).await.map_err(|_| Gone)
    }

    async fn event(&self, event: &str, id: &str, data: &impl Serialize) -> Result<(), Gone> {
        self.send(frame(event, id, data)).await
    }

    /// Waits for the next keep-alive tick and sends a comment, or for the client to leave.
    async fn idle(&mut self) -> Result<(), Gone> {
        tokio::select! {
            () = self.tx.closed() => Err(Gone),
            _ = self.keepalive.tick() => self.send(Bytes::from_static(b": keep-alive\n\n")).await,
        }
    }
}

/// Reads a stream's resource again with `read` until the store answers, waiting
/// [`REREAD_AFTER_ERROR`] after each failure (or until the client leaves); `None` when the
/// resource is gone.
async fn read_again<T>(
    sse: &Sse,
    read: impl AsyncFn() -> Result<T, StoreError>,
) -> Result<Option<T>, Gone> {
    loop {
        match read().await {
            Ok(now) => return Ok(Some(now)),
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "an event stream could not read its resource; retrying");
                tokio::select! {
                    () = tokio::time::sleep(REREAD_AFTER_ERROR) => {}
                    () = sse.tx.closed() => return Err(Gone),
                }
            }
        }
    }
}

/// Starts `task` writing into a new stream and answers with its body.
fn respond<F, Fut>(keepalive: Duration, slot: HeldSlot, task: F) -> HttpResponse
where
    F: FnOnce(Sse) -> Fut,
    Fut: Future<Output = Result<(), Gone>> + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(FRAMES_BUFFERED);
    let gone = tx.clone();
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sse = Sse { tx, keepalive };
    let writer = task(sse);
    // Under the request's span: the stream's log lines carry its request id and path.
    actix_web::rt::spawn(
        async move {
            // Either way the stream is over: ended by the resource, or by the client as soon as
            // its connection closes (not at the next keep-alive). Its place is then given back.
            tokio::select! {
                _ = writer => {}
                () = gone.closed() => {}
                // The process is stopping: the client reconnects (elsewhere) and resumes.
                () = slot.closing() => {}
            }
            drop(slot);
        }
        .in_current_span(),
    );
    // The client's reconnection delay, then the frames as they come.
    let first = futures::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 2000\n\n"))
    });
    let frames = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|b| b.map(Ok)));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures::StreamExt::chain(first, frames))
}

fn last_event_id(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// What a plan stream's client has seen: the attempt events of attempts `1..=attempts`, and the
/// first `previews` previews of attempt `attempts + 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    attempts: u32,
    previews: u32,
}

impl Cursor {
    fn id(self) -> String {
        format!("{}.{}", self.attempts, self.previews)
    }

    /// A `Last-Event-ID` this server issued; anything else is ignored (a fresh start).
    fn parse(raw: &str) -> Option<Self> {
        let (a, p) = raw.split_once('.')?;
        let attempts: u32 = a.parse().ok()?;
        let previews: u32 = p.parse().ok()?;
        (attempts <= syllabus_domain::AttemptCap::MAX
            && previews <= u32::try_from(syllabus_domain::plan::MAX_MODULES).unwrap_or(u32::MAX))
        .then_some(Self { attempts, previews })
    }
}

fn is_final(status: PlanStatus) -> bool {
    matches!(status, PlanStatus::Ready | PlanStatus::Failed)
}

/// Whether nothing will change `state` by itself: a final status, or a pending plan with no
/// generation job queued or running (until the user regenerates it, which a new stream follows).
fn is_settled(state: &PlanStreamState) -> bool {
    is_final(state.plan.status) || !state.generating
}

/// A plan's stream: its cursor and the last status sent.
struct PlanStream {
    cursor: Cursor,
    status: Option<PlanStatus>,
    /// `?progress=true`: the stream stays open after the final status, for `progress` events,
    /// until the plan is deleted or the client leaves.
    follow: bool,
    /// The progress last shown (in the first `status`, or by a `progress` event).
    progress: Option<ProgressRecord>,
    /// The newest draft sent of each module regeneration in flight (issue #21), by job.
    drafts: HashMap<JobId, u32>,
    /// The streamed skills sent (issue #24), by job, run and index: one is sent again only
    /// changed (a new run's are new).
    skills: HashMap<(JobId, u32, u32), serde_json::Value>,
}

impl PlanStream {
    /// Sends what `state` shows beyond the cursor: attempts that ended, then the status when it
    /// changed (always on the first call: none was sent, and always when the stream ends), then
    /// the previews of the attempt in flight. `true` once nothing can change the plan by itself
    /// (the stream ends).
    async fn catch_up(&mut self, sse: &Sse, state: PlanStreamState) -> Result<bool, Gone> {
        let settled = is_settled(&state);
        for attempt in state.attempts {
            let Some(number) = attempt.number else {
                continue;
            };
            if number <= self.cursor.attempts {
                continue;
            }
            self.cursor = Cursor {
                attempts: number,
                previews: 0,
            };
            sse.event("attempt", &self.cursor.id(), &AttemptView::from(attempt))
                .await?;
        }
        let status = state.plan.status;
        let progress = state.plan.progress;
        if self.status != Some(status) || (settled && !self.follow) {
            self.status = Some(status);
            self.progress = Some(progress);
            sse.event("status", &self.cursor.id(), &PlanView::summary(state.plan))
                .await?;
        } else if self.progress != Some(progress) {
            self.progress = Some(progress);
            sse.event("progress", &self.cursor.id(), &ProgressView::from(progress))
                .await?;
        }
        for draft in state.drafts {
            if self
                .drafts
                .get(&draft.job_id)
                .is_some_and(|&seq| seq >= draft.seq)
            {
                continue;
            }
            self.drafts.insert(draft.job_id, draft.seq);
            if let Some(view) = ModuleDraftEventView::from_record(draft) {
                sse.event("module_draft", &self.cursor.id(), &view).await?;
            }
        }
        for skill in state.skills {
            let key = (skill.job_id, skill.run, skill.index);
            if self.skills.get(&key) == Some(&skill.skill) {
                continue;
            }
            self.skills.insert(key, skill.skill.clone());
            if let Some(view) = SkillEventView::from_record(skill) {
                sse.event("skill", &self.cursor.id(), &view).await?;
            }
        }
        if settled {
            return Ok(!self.follow);
        }
        for preview in state.previews {
            // A preview that failed to publish leaves a gap: the next ones are still shown.
            if preview.attempt_number == self.cursor.attempts + 1
                && preview.index >= self.cursor.previews
            {
                self.preview(sse, preview.attempt_number, preview.index, &preview.module)
                    .await?;
            }
        }
        Ok(false)
    }

    async fn preview(
        &mut self,
        sse: &Sse,
        attempt_number: u32,
        index: u32,
        module: &serde_json::Value,
    ) -> Result<(), Gone> {
        self.cursor.previews = index + 1;
        let data = ModuleEventView {
            attempt_number,
            index,
            module,
        };
        sse.event("module", &self.cursor.id(), &data).await
    }

    /// Whether `event` can be sent as it is (the next preview of the attempt in flight), needs a
    /// re-read (anything else that may change what the client sees), or is old news.
    fn triage(event: &PlanEvent, cursor: Cursor) -> Triage<'_> {
        match event {
            PlanEvent::Preview {
                attempt_number,
                index,
                module,
            } if *attempt_number == cursor.attempts + 1 => {
                // In commit order (a lag is a re-read first), so an index past the next one is
                // a gap left by a preview that failed to publish, not one still to come.
                if *index < cursor.previews {
                    Triage::Seen
                } else {
                    Triage::Send(*attempt_number, *index, module)
                }
            }
            PlanEvent::Preview { attempt_number, .. } if *attempt_number <= cursor.attempts => {
                Triage::Seen
            }
            _ => Triage::Reread,
        }
    }
}

enum Triage<'a> {
    /// The next preview: attempt number, index, module.
    Send(u32, u32, &'a serde_json::Value),
    Reread,
    Seen,
}

/// `GET /api/v1/plans/{id}/events`.
/// `?progress=`: `true` keeps a plan's stream open after its final status, for `progress` events
/// (issue #20); `false` or absent is the stream of SPEC §3.
fn follow_progress(query: &HashMap<String, String>) -> Result<bool, ApiError> {
    match query.get("progress").map(String::as_str) {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::field("progress", "must be true or false")),
    }
}

pub(crate) async fn plan_events<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<HashMap<String, String>>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let id = PlanId::from_uuid(path_id(&path)?);
    let follow = follow_progress(&query)?;
    let slot = state.gates.hold(&caller.0)?;
    // Subscribe before reading: nothing committed after the read is missed.
    let events = state.events.subscribe_plan(&caller.0, id);
    let first = state.store.plan_stream(&caller.0, id).await?;
    let resume = last_event_id(&req).and_then(Cursor::parse);
    let keepalive = state.settings.sse_keepalive;
    tracing::info!(plan.id = %id, resumed = resume.is_some(), follow, "plan event stream opened");
    Ok(respond(keepalive, slot, move |sse| {
        run_plan_stream(state, caller.0, id, events, first, (resume, follow), sse)
    }))
}

async fn run_plan_stream<S: Stores>(
    state: State<S>,
    user: UserId,
    id: PlanId,
    mut events: PlanEvents,
    first: PlanStreamState,
    (resume, follow): (Option<Cursor>, bool),
    mut sse: Sse,
) -> Result<(), Gone> {
    // A fresh client starts at the attempt in flight (its previews so far included); history is
    // in the status's `latest_attempt` and at `/attempts`.
    let fresh = Cursor {
        attempts: u32::try_from(first.attempts.len()).unwrap_or(u32::MAX),
        previews: 0,
    };
    let mut stream = PlanStream {
        cursor: resume.unwrap_or(fresh),
        status: None,
        follow,
        progress: None,
        drafts: HashMap::new(),
        skills: HashMap::new(),
    };
    if stream.catch_up(&sse, first).await? {
        return Ok(());
    }
    let mut reread = false;
    loop {
        if reread {
            // Deleted: nothing more will happen to it.
            let Some(now) =
                read_again(&sse, async || state.store.plan_stream(&user, id).await).await?
            else {
                return Ok(());
            };
            reread = false;
            if stream.catch_up(&sse, now).await? {
                return Ok(());
            }
        }
        tokio::select! {
            event = events.recv() => match PlanStream::triage(&event, stream.cursor) {
                Triage::Seen => {}
                Triage::Reread => reread = true,
                Triage::Send(attempt_number, index, module) => {
                    stream.preview(&sse, attempt_number, index, module).await?;
                }
            },
            idle = sse.idle() => idle?,
        }
    }
}

/// `GET /api/v1/jobs/{id}/events`.
pub(crate) async fn job_events<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = JobId::from_uuid(path_id(&path)?);
    let slot = state.gates.hold(&caller.0)?;
    // Subscribed before the read: a change committed after it wakes the stream.
    let wakeups = state.events.watch_job(id);
    let first = state.store.job(&caller.0, id).await?;
    let keepalive = state.settings.sse_keepalive;
    Ok(respond(keepalive, slot, move |sse| {
        run_job_stream(state, caller.0, id, wakeups, first, sse)
    }))
}

/// A job event's id: when the job last changed.
fn job_event_id(job: &JobRecord) -> String {
    job.updated_at.timestamp_micros().to_string()
}

async fn run_job_stream<S: Stores>(
    state: State<S>,
    user: UserId,
    id: JobId,
    mut wakeups: Wakeups,
    first: JobRecord,
    mut sse: Sse,
) -> Result<(), Gone> {
    let mut sent = (first.status, first.attempts);
    let terminal = first.status.is_terminal();
    sse.event("status", &job_event_id(&first), &JobView::from(first))
        .await?;
    if terminal {
        return Ok(());
    }
    loop {
        // Woken for this job only (its changes, or a resync after the listener reconnected).
        tokio::select! {
            () = wakeups.changed() => {
                // Pruned: it was terminal long ago.
                let Some(job) = read_again(&sse, async || state.store.job(&user, id).await).await?
                else {
                    return Ok(());
                };
                if (job.status, job.attempts) == sent {
                    continue;
                }
                sent = (job.status, job.attempts);
                let terminal = job.status.is_terminal();
                sse.event("status", &job_event_id(&job), &JobView::from(job))
                    .await?;
                if terminal {
                    return Ok(());
                }
            }
            idle = sse.idle() => idle?,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cursors_round_trip_and_foreign_ids_are_ignored() {
        let c = Cursor {
            attempts: 2,
            previews: 5,
        };
        assert_eq!(Cursor::parse(&c.id()), Some(c));
        for bad in [
            "",
            "3",
            "a.b",
            "1.-1",
            "4.0",
            "0.25",
            "1.2.3",
            "1700000000000000",
        ] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_frame_is_one_event_with_one_data_line() {
        let f = frame("module", "0.1", &json!({"text": "two\nlines"}));
        assert_eq!(
            f,
            Bytes::from_static(b"event: module\nid: 0.1\ndata: {\"text\":\"two\\nlines\"}\n\n")
        );
    }
}
