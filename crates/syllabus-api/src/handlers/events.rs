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
//! Likewise `skill` (issue #24): each top-level skill of the plan's latest skill-tree job as it
//! streams in, sent once per (job, run, index) unless it changed; a stream opened later starts
//! with the skills already streamed (also a failed job's).
//!
//! Event ids are cursors, not counters: a plan's `A.P` says "the attempt events of attempts
//! 1..=A and the first P previews of attempt A+1 were seen". A client that reconnects with
//! `Last-Event-ID` gets the attempts that ended meanwhile, the current status, then the previews
//! of the attempt in flight after those it saw: never one twice.
//!
//! `sse` is the writing end of a stream, `plan_stream` a plan stream's cursor and what it
//! sends; this module holds the handlers and the loops that wait for changes.

mod plan_stream;
mod sse;

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use syllabus_domain::{JobId, PlanId, UserId};
use syllabus_store::records::{JobRecord, PlanStreamState};
use syllabus_store::{PlanEvents, Wakeups};

use self::plan_stream::{Cursor, PlanStream, Triage};
use self::sse::{Gone, Sse, read_again, respond};
use crate::auth::Caller;
use crate::input::path_id;
use crate::problem::ApiError;
use crate::state::{AppState, Stores};
use crate::wire::JobView;

type State<S> = web::Data<AppState<S>>;

fn last_event_id(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get("Last-Event-ID")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
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
