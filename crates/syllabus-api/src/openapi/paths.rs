//! Every operation of the API, as `crate::configure` routes it: its method and path, parameters,
//! body and answers. The bodies are the wire types' schemas (referenced by the names they derive)
//! and the request schemas of [`super::requests`]; the shared error answers are
//! [`super::responses::Shared`].
//!
//! Listed here rather than on the handlers: the handlers stay free of documentation attributes,
//! and one list shows the whole API.

use utoipa::openapi::path::{HttpMethod, OperationBuilder, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, RefOr, Required};
use utoipa::{PartialSchema, ToSchema};

use super::requests::{self, filter, id, last_event_id, paging, prefer_wait};
use super::responses::{self, Shared, event_stream, location, no_store, problem, status_object};
use super::texts;
use crate::wire::fields::reference;
use crate::wire::{
    AttemptView, DevSignInRequest, FlashcardView, ItemsView, JobView, ListView, MintedView,
    ModuleDraftEventView, ModuleEventView, ModuleRegenerateRequest, PlanView, ProgressView,
    PublicPlanView, RegenerateRequest, ScheduleView, SessionView, SkillEventView, SkillTreeView,
    TaskProgressRequest, TaskView, UsageReportView,
};
use syllabus_domain::{JobStatus, JobType, PlanStatus};

pub(super) mod edits;
pub(super) mod study;
pub(super) mod webhooks;

use Shared::{
    BadRequest, IdempotencyKeyInUse, IdempotencyKeyReused, Internal, NotFound, PayloadTooLarge,
    RateLimited, RequestTimeout, TooManyHeld, Unauthorized, Unavailable, UnsupportedMediaType,
};

/// The errors of an operation that reads a JSON body, besides its own.
const BODY: [Shared; 4] = [
    BadRequest,
    RequestTimeout,
    PayloadTooLarge,
    UnsupportedMediaType,
];

/// The errors of an operation that reads the store for a signed-in user.
const STORE: [Shared; 3] = [Unauthorized, Internal, Unavailable];

/// One operation being described.
struct Op(OperationBuilder);

impl Op {
    fn new(id: &str, summary: &str) -> Self {
        Self(
            OperationBuilder::new()
                .operation_id(Some(id))
                .summary(Some(summary)),
        )
    }

    fn description(self, text: &str) -> Self {
        Self(self.0.description(Some(text)))
    }

    fn params(self, params: impl IntoIterator<Item = utoipa::openapi::path::Parameter>) -> Self {
        let op = params.into_iter().fold(self.0, OperationBuilder::parameter);
        Self(op)
    }

    /// A required JSON body.
    fn body(self, schema: impl Into<RefOr<Schema>>) -> Self {
        Self(
            self.0.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/json", Content::new(Some(schema)))
                    .build(),
            )),
        )
    }

    /// An optional JSON body (no body is `{}`).
    fn optional_body(self, schema: impl Into<RefOr<Schema>>) -> Self {
        Self(
            self.0.request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::False))
                    .content("application/json", Content::new(Some(schema)))
                    .build(),
            )),
        )
    }

    /// Open to anyone, without a token: `security: []`.
    fn public(self) -> Self {
        Self(self.0.securities(Some(Vec::new())))
    }

    /// Open to anyone without a token, and checking one when sent: `security: [{}, {bearer}]`.
    fn token_optional(self) -> Self {
        Self(
            self.0
                .securities(Some([SecurityRequirement::default(), responses::bearer()])),
        )
    }

    /// A create that takes an `Idempotency-Key` (issue #23): the header, and its 409 and 422.
    /// Before an operation's own 409, which then names `IDEMPOTENCY_KEY_IN_USE` too.
    fn idempotent(self) -> Self {
        self.params([requests::idempotency_key()]).errors(&[
            BadRequest,
            IdempotencyKeyInUse,
            IdempotencyKeyReused,
        ])
    }

    fn answer(self, status: u16, response: Response) -> Self {
        Self(self.0.response(status.to_string(), response))
    }

    fn errors<'a>(self, shared: impl IntoIterator<Item = &'a Shared>) -> Self {
        let op = shared.into_iter().fold(self.0, |op, s| {
            op.response(s.status().to_string(), s.reference())
        });
        Self(op)
    }
}

fn json(description: &str, schema: impl Into<RefOr<Schema>>) -> ResponseBuilder {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
}

/// A reference to `T`'s component schema.
fn of<T: ToSchema>() -> RefOr<Schema> {
    reference(&T::name()).into()
}

/// `202` with the queued job and its `Location`.
fn queued() -> Response {
    json("Queued", of::<JobView>())
        .header("Location", location())
        .build()
}

/// The documented operations, by path.
pub(super) fn paths() -> Paths {
    let mut paths = Paths::new();
    let mut add = |path: &str, method: HttpMethod, op: Op| {
        paths.add_path_operation(path, vec![method], op.0.build());
    };
    use HttpMethod::{Delete, Get, Patch, Post, Put};

    add(
        "/api/v1/plans",
        Post,
        Op::new(
            "createPlan",
            "Create a plan; its generation runs as a background job",
        )
        .body(reference(requests::PLAN_CREATE))
        .idempotent()
        .answer(
            201,
            json("Created, status pending", of::<PlanView>())
                .header("Location", location())
                .build(),
        )
        .errors(&BODY)
        .errors(&[RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans",
        Get,
        Op::new(
            "listPlans",
            "List the caller's plans, newest first (no modules)",
        )
        .params(paging())
        .params([filter::<PlanStatus>("status")])
        .answer(200, json("A page", ListView::<PlanView>::schema()).build())
        .errors(&[BadRequest])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}",
        Get,
        Op::new("getPlan", "A plan with modules and tasks in order")
            .params([id(), prefer_wait()])
            .answer(200, json("The plan", of::<PlanView>()).build())
            .errors(&[NotFound, TooManyHeld])
            .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}",
        Patch,
        Op::new(
            "updatePlan",
            "Change a plan's weekly hours, study days, dates or notes",
        )
        .description(
            "A JSON merge patch (RFC 7396): a field left out is kept, null clears it (null \
             study_days is every day). Nothing is regenerated: the schedule follows at once, \
             and the notes inform the next generation. The deadline is checked against the start \
             the plan will have (given or kept); any other field is refused by name.",
        )
        .params([id()])
        .body(reference(requests::PLAN_CHANGES))
        .answer(200, json("The plan as changed", of::<PlanView>()).build())
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}",
        Delete,
        Op::new(
            "deletePlan",
            "Delete a plan (cascades; its pending jobs are cancelled)",
        )
        .params([id()])
        .answer(204, Response::new("Deleted"))
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/attempts",
        Get,
        Op::new("listAttempts", "Generation attempts, newest first")
            .params([id()])
            .params(paging())
            .answer(
                200,
                json("A page of attempts", ListView::<AttemptView>::schema()).build(),
            )
            .errors(&[BadRequest, NotFound])
            .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/events",
        Get,
        Op::new("planEvents", "The plan's live events (server-sent events)")
            .description(&texts::plan_events())
            .params([
                id(),
                last_event_id(
                    "The id of the last event received; another value is ignored (a fresh start).",
                ),
                requests::follow_progress(),
            ])
            .answer(
                200,
                event_stream(&[
                    ("status", &PlanView::name()),
                    ("module", &ModuleEventView::name()),
                    ("attempt", &AttemptView::name()),
                    ("progress", &ProgressView::name()),
                    ("module_draft", &ModuleDraftEventView::name()),
                    ("skill", &SkillEventView::name()),
                ]),
            )
            .errors(&[BadRequest, NotFound, TooManyHeld])
            .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/regenerate",
        Post,
        Op::new("regeneratePlan", "Queue a new generation attempt")
            .description(
                "A regeneration replaces the plan's modules and tasks. When any task has \
                 progress, the body must say `{\"discard_progress\": true}` (the progress is \
                 then deleted at once); without it the answer is 409 INVALID_STATE.",
            )
            .params([id()])
            .optional_body(of::<RegenerateRequest>())
            .idempotent()
            .answer(202, queued())
            .answer(
                409,
                problem(
                    "ATTEMPTS_CAPPED (a capped attempt is recorded) or INVALID_STATE (a \
                     generation is queued or running, or the plan has progress and \
                     discard_progress is not true), or IDEMPOTENCY_KEY_IN_USE",
                ),
            )
            .errors(&BODY)
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    // Issue #21 item 3.
    add(
        "/api/v1/plans/{id}/modules/{module_id}/regenerate",
        Post,
        Op::new(
            "regenerateModule",
            "Queue a regeneration of one module (job module_regeneration)",
        )
        .description(&texts::regenerate_module())
        .params([id(), requests::module_id()])
        .optional_body(of::<ModuleRegenerateRequest>())
        .idempotent()
        .answer(202, queued())
        .answer(
            409,
            problem(
                "INVALID_STATE: the plan's generation is queued or running, or a regeneration \
                 of this module already is; or IDEMPOTENCY_KEY_IN_USE",
            ),
        )
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/fork",
        Post,
        Op::new(
            "forkPlan",
            "Copy a plan (your own, or a public one) into a new private plan of yours",
        )
        .description(
            "The copy has `origin: template`, `forked_from` the source, the source's modules \
             and tasks with new ids, no progress and no attempts. Another user's notes, dates \
             and study days are not copied. A private plan of someone else is 404, exactly as a \
             missing one.",
        )
        .params([id()])
        .idempotent()
        .answer(
            201,
            json("The copy", of::<PlanView>())
                .header("Location", location())
                .build(),
        )
        .answer(
            409,
            problem(
                "INVALID_STATE: the plan has no modules yet (pending or failed); or \
                 IDEMPOTENCY_KEY_IN_USE",
            ),
        )
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/public/plans/{id}",
        Get,
        Op::new(
            "getPublicPlan",
            "A public plan, readable by anyone (no token needed)",
        )
        .description(
            "Its topic, parameters, origin, modules and tasks; never its owner, notes, dates, \
             attempts or progress. Read under row-level security's public scope: a private plan \
             is 404, exactly as a missing one.",
        )
        .public()
        .params([id()])
        .answer(200, json("The public plan", of::<PublicPlanView>()).build())
        .errors(&[NotFound, Internal, Unavailable]),
    );
    add(
        "/api/v1/tasks/{id}/progress",
        Put,
        Op::new("setTaskProgress", "Set a task's progress")
            .description(
                "completed_at is set when the task becomes completed (kept when it already was) \
                 and cleared otherwise; the plan's event streams send `progress`.",
            )
            .params([id()])
            .body(of::<TaskProgressRequest>())
            .answer(200, json("The task", of::<TaskView>()).build())
            .answer(
                409,
                problem("INVALID_STATE: a generation of the plan is queued or running"),
            )
            .errors(&BODY)
            .errors(&[NotFound, RateLimited])
            .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/schedule",
        Get,
        Op::new(
            "getSchedule",
            "The plan's remaining tasks in dated study sessions, and the deadline fit",
        )
        .description(
            "Completed tasks are left out; sessions start on the later of the learner's date \
             today (in `tz`) and the plan's start date and fill each study day with its share \
             of the weekly hours. A plan without tasks yet, with nothing left or with 0 weekly \
             hours is a 200 whose `kind` says so, without sessions.",
        )
        .params([id(), requests::time_zone()])
        .answer(200, json("The schedule", of::<ScheduleView>()).build())
        .errors(&[BadRequest, NotFound])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/schedule.ics",
        Get,
        Op::new(
            "getScheduleCalendar",
            "The plan's schedule as an iCalendar file (RFC 5545)",
        )
        .description(
            "One all-day event per session (DTSTART;VALUE=DATE the session's date, DTEND the \
             next day), its tasks in DESCRIPTION. UIDs are `{plan id}-{date}@syllabus`, so a \
             calendar re-importing the file updates events instead of duplicating them. No \
             events when there is no schedule.",
        )
        .params([id(), requests::time_zone()])
        .answer(
            200,
            ResponseBuilder::new()
                .description("The calendar")
                .content(
                    "text/calendar",
                    Content::new(Some(ObjectBuilder::new().schema_type(Type::String).build())),
                )
                .build(),
        )
        .errors(&[BadRequest, NotFound])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/flashcards",
        Post,
        Op::new(
            "createFlashcards",
            "Queue a job that adds up to max_cards cards to the plan's deck",
        )
        .params([id()])
        .body(requests::flashcards_create())
        .idempotent()
        .answer(202, queued())
        .answer(
            409,
            problem("INVALID_STATE: the plan has no modules yet; or IDEMPOTENCY_KEY_IN_USE"),
        )
        .errors(&BODY)
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/flashcards",
        Get,
        Op::new("listFlashcards", "The plan's deck, oldest first")
            .params([id()])
            .answer(
                200,
                json("Cards", ItemsView::<FlashcardView>::schema()).build(),
            )
            .errors(&[NotFound])
            .errors(&STORE),
    );
    add(
        "/api/v1/flashcards/{id}/distractors",
        Post,
        Op::new(
            "createDistractors",
            "Queue a job that replaces the card's distractors",
        )
        .params([id()])
        .idempotent()
        .answer(202, queued())
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/skill-tree",
        Post,
        Op::new(
            "createSkillTree",
            "Queue a job that replaces the plan's skill tree",
        )
        .params([id()])
        .idempotent()
        .answer(202, queued())
        .errors(&[NotFound, RateLimited])
        .errors(&STORE),
    );
    add(
        "/api/v1/plans/{id}/skill-tree",
        Get,
        Op::new("getSkillTree", "The plan's skill tree")
            .params([id()])
            .answer(200, json("The tree", of::<SkillTreeView>()).build())
            .answer(404, problem("No such plan, or no tree yet"))
            .errors(&STORE),
    );
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
    add(
        "/api/v1/usage",
        Get,
        Op::new(
            "getUsage",
            "The caller's provider calls, tokens and cost over a range of UTC days",
        )
        .description(
            "Every provider call of the caller's jobs (every job type, failures included), \
             summed in total, by job type and by UTC day (days without calls are left out). \
             Calls older than ATTEMPT_RETENTION_DAYS are answered from daily aggregates, \
             those older than USAGE_AGGREGATE_RETENTION_DAYS are gone. `cost` is in \
             `currency` units at the prices in force at each call, null when any call counted \
             was of a model without a price. `to` before `from`, or a range over 366 days, is \
             a 400 naming `to`; a malformed date a 400 naming it.",
        )
        .params([
            requests::usage_day("from", "First UTC day (default: the 1st of this month)"),
            requests::usage_day("to", "Last UTC day, included (default: today)"),
        ])
        .answer(
            200,
            json("The usage report", of::<UsageReportView>()).build(),
        )
        .errors(&[BadRequest])
        .errors(&STORE),
    );
    add(
        "/api/v1/session",
        Get,
        Op::new(
            "getSession",
            "Who the request is signed in as, and whether development sign-in is offered",
        )
        .description(texts::SESSION)
        .token_optional()
        .answer(
            200,
            json("The session", of::<SessionView<'static>>())
                .header("Cache-Control", no_store())
                .build(),
        )
        .errors(&[Unauthorized, Internal]),
    );
    add(
        "/api/v1/session/dev",
        Post,
        Op::new(
            "devSignIn",
            "Development sign-in: mint a token for a chosen name",
        )
        .description(&texts::dev_sign_in())
        .public()
        .body(of::<DevSignInRequest>())
        .answer(
            201,
            json("A token for the user", of::<MintedView<'static>>())
                .header("Cache-Control", no_store())
                .build(),
        )
        .answer(
            404,
            problem("NOT_FOUND: development sign-in is off (DEV_SIGN_IN is not set)"),
        )
        .errors(&BODY)
        .errors(&[Internal]),
    );
    add(
        "/healthz",
        Get,
        Op::new("healthz", "Liveness")
            .public()
            .answer(200, json("Alive", status_object("ok")).build()),
    );
    add(
        "/readyz",
        Get,
        Op::new("readyz", "Readiness (checks the database)")
            .public()
            .answer(200, json("Ready", status_object("ready")).build())
            .errors(&[Internal, Unavailable]),
    );
    add(
        "/metrics",
        Get,
        Op::new("metrics", "Prometheus metrics")
            .public()
            .answer(
                200,
                ResponseBuilder::new()
                    .description(
                        "OpenMetrics text: requests, latencies, jobs by type and status, \
                         attempts by class",
                    )
                    .content(
                        "application/openmetrics-text",
                        Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
                    )
                    .build(),
            )
            .errors(&[Internal, Unavailable]),
    );
    add(
        "/api/v1/openapi.json",
        Get,
        Op::new("openapi", "This document").public().answer(
            200,
            json(
                "OpenAPI 3.1",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .required("openapi")
                    .required("paths"),
            )
            .build(),
        ),
    );
    // A plan edited by hand (issue #21 item 2).
    edits::add(&mut add);
    // Spaced review and the Anki export (issue #24).
    study::add(&mut add);
    // Signed webhooks (issue #23).
    webhooks::add(&mut add);
    paths
}
