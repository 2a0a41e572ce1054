//! `/plans/{id}/schedule` and `/plans/{id}/schedule.ics`: the plan's remaining tasks laid out in
//! dated study sessions by the domain's scheduler, in the learner's time zone (issue #20), as
//! JSON or as an iCalendar file (RFC 5545) with one all-day event per session.

use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, Component as _, Event, EventLike as _};
use syllabus_domain::PlanId;
use syllabus_domain::schedule::{ScheduleOutcome, ScheduleRequest, StudyDays, schedule};
use syllabus_store::records::ScheduleSource;

use super::support::{Query, Result, State};
use crate::auth::Caller;
use crate::input::path_id;
use crate::problem::ApiError;
use crate::state::Stores;
use crate::wire::ScheduleView;

/// The learner's time zone (`?tz=`, an IANA name; UTC when absent) and their date now in it.
///
/// # Errors
/// 400 naming `tz` for a name the time-zone database does not know.
fn local_today(query: &Query) -> Result<(String, NaiveDate)> {
    let name = query.get("tz").map_or("UTC", String::as_str);
    let tz: Tz = name.parse().map_err(|_| {
        ApiError::field("tz", "an IANA time zone name, such as Europe/Paris or UTC")
    })?;
    Ok((
        tz.name().to_owned(),
        Utc::now().with_timezone(&tz).date_naive(),
    ))
}

/// The plan's schedule: what the store holds, laid out by the domain.
async fn read<S: Stores>(
    state: &State<S>,
    caller: &Caller,
    path: &str,
    query: &Query,
) -> Result<(
    PlanId,
    String,
    ScheduleSource,
    ScheduleView,
    ScheduleOutcome,
)> {
    let id = PlanId::from_uuid(path_id(path)?);
    let (tz, today) = local_today(query)?;
    let source = state.store.schedule_source(&caller.0, id).await?;
    // Study days are not stored yet: every day.
    let study_days = StudyDays::ALL;
    let outcome = schedule(&ScheduleRequest {
        tasks: source.tasks.clone(),
        weekly_hours: source.weekly_hours,
        study_days,
        start: source.start_date,
        deadline: source.deadline_date,
        today,
    });
    let view = ScheduleView::new(id.as_uuid(), &tz, today, study_days, &source, &outcome);
    Ok((id, tz, source, view, outcome))
}

/// `GET /api/v1/plans/{id}/schedule?tz=` → 200 with the schedule, or with why there is none.
pub(crate) async fn get_schedule<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse> {
    let (_, _, _, view, _) = read(&state, &caller, &path, &query).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// `GET /api/v1/plans/{id}/schedule.ics?tz=` → `text/calendar`, one all-day event per session
/// (none when there is no schedule).
pub(crate) async fn get_schedule_ics<S: Stores>(
    state: State<S>,
    caller: Caller,
    path: web::Path<String>,
    query: Query,
) -> Result<HttpResponse> {
    let (id, _, _, _, outcome) = read(&state, &caller, &path, &query).await?;
    let body = calendar(id, &outcome).to_string();
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            format!("attachment; filename=\"syllabus-{id}.ics\""),
        ))
        .body(body))
}

/// The iCalendar form of a schedule. Each session is an all-day event (sessions have a date and
/// a length, no time of day): `DTSTART;VALUE=DATE` its date, `DTEND` the next (RFC 5545's end is
/// exclusive). Its `UID` is the plan's id and the date, so a calendar re-importing the file
/// updates a day's event rather than adding another.
pub(crate) fn calendar(id: PlanId, outcome: &ScheduleOutcome) -> Calendar {
    let mut cal = Calendar::new();
    cal.name("Syllabus study schedule");
    let ScheduleOutcome::Scheduled(schedule) = outcome else {
        return cal.done();
    };
    let stamp = Utc::now();
    for session in &schedule.sessions {
        let description = session
            .parts
            .iter()
            .map(|p| {
                let part = if p.parts > 1 {
                    format!(", part {} of {}", p.part, p.parts)
                } else {
                    String::new()
                };
                format!(
                    "{}.{} {} ({} min{part})",
                    p.module_order, p.task_order, p.title, p.minutes
                )
            })
            .collect::<Vec<_>>()
            .join("\n");
        let end = session
            .date
            .checked_add_days(Days::new(1))
            .unwrap_or(session.date);
        cal.push(
            Event::new()
                .uid(&format!("{}-{}@syllabus", id.as_uuid(), session.date))
                .timestamp(stamp)
                .summary(&format!(
                    "Study {} min ({} task{})",
                    session.minutes,
                    session.parts.len(),
                    if session.parts.len() == 1 { "" } else { "s" }
                ))
                .description(&description)
                .starts(session.date)
                .ends(end)
                .done(),
        );
    }
    cal.done()
}
