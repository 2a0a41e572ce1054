//! A plan's operations: create, list, read, change and delete, its attempts, its live events,
//! its regenerations (whole or one module), its fork and its public read.

use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::Response;
use utoipa::{PartialSchema, ToSchema};

use super::super::requests::{self, filter, id, last_event_id, paging, prefer_wait};
use super::super::responses::{event_stream, location, problem};
use super::super::texts;
use super::Shared::{BadRequest, Internal, NotFound, RateLimited, TooManyHeld, Unavailable};
use super::{BODY, Op, STORE, json, of, queued};
use crate::wire::fields::reference;
use crate::wire::{
    AttemptView, ListView, ModuleDraftEventView, ModuleEventView, ModuleRegenerateRequest,
    PlanView, ProgressView, PublicPlanView, RegenerateRequest, SkillEventView,
};
use syllabus_domain::PlanStatus;

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Delete, Get, Patch, Post};
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
}
