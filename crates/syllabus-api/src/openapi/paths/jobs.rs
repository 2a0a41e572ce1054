//! The caller's jobs: queue, list, read, follow, cancel and retry.

use utoipa::openapi::path::HttpMethod;
use utoipa::{PartialSchema, ToSchema};

use super::super::requests::{self, filter, id, last_event_id, paging, prefer_wait};
use super::super::responses::{event_stream, problem};
use super::super::texts;
use super::Shared::{BadRequest, NotFound, RateLimited, TooManyHeld};
use super::{BODY, Op, STORE, json, of, queued};
use crate::wire::fields::reference;
use crate::wire::{JobView, ListView};
use syllabus_domain::{JobStatus, JobType};

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Post};
    add(
        "/api/v1/jobs",
        Post,
        Op::new(
            "createJob",
            "Queue a flashcards, distractors, skill_tree or module_regeneration job",
        )
        .body(reference(requests::JOB_CREATE))
        .idempotent()
        .answer(202, queued())
        .answer(409, problem("INVALID_STATE; or IDEMPOTENCY_KEY_IN_USE"))
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/jobs",
        Get,
        Op::new("listJobs", "List the caller's jobs, newest first")
            .params(paging())
            .params([filter::<JobType>("type"), filter::<JobStatus>("status")])
            .answer(200, json("A page", ListView::<JobView>::schema()).build())
            .errors(&[BadRequest])
            .errors(&STORE),
    );
    add(
        "/api/v1/jobs/{id}",
        Get,
        Op::new("getJob", "A job")
            .params([id(), prefer_wait()])
            .answer(200, json("The job", of::<JobView>()).build())
            .errors(&[NotFound, TooManyHeld])
            .errors(&STORE),
    );
    add(
        "/api/v1/jobs/{id}/events",
        Get,
        Op::new("jobEvents", "The job's live status (server-sent events)")
            .description(&texts::job_events())
            .params([
                id(),
                last_event_id(
                    "Accepted and ignored: a reconnect always starts with the current status.",
                ),
            ])
            .answer(200, event_stream(&[("status", &JobView::name())]))
            .errors(&[NotFound, TooManyHeld])
            .errors(&STORE),
    );
    add(
        "/api/v1/jobs/{id}/cancel",
        Post,
        Op::new("cancelJob", "Cancel a pending job")
            .params([id()])
            .answer(200, json("Cancelled", of::<JobView>()).build())
            .answer(409, problem("INVALID_STATE: the job is not pending"))
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/jobs/{id}/retry",
        Post,
        Op::new(
            "retryJob",
            "A new job with a failed job's type, payload and priority (a regenerate for \
             plan_generation)",
        )
        .params([id()])
        .idempotent()
        .answer(202, queued())
        .answer(
            409,
            problem(
                "INVALID_STATE unless failed; ATTEMPTS_CAPPED for a plan at its cap; \
                 IDEMPOTENCY_KEY_IN_USE",
            ),
        )
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
}
