//! A task's progress and the plan's schedule (as JSON and as an iCalendar file).

use utoipa::openapi::Content;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::super::requests::{self, id};
use super::super::responses::problem;
use super::Shared::{BadRequest, NotFound, RateLimited};
use super::{BODY, Op, STORE, json, of};
use crate::wire::{ScheduleView, TaskProgressRequest, TaskView};

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::{Get, Put};
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
}
