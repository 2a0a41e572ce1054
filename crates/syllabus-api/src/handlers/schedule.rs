//! `/plans/{id}/schedule` and `/plans/{id}/schedule.ics`: the plan's remaining tasks laid out in
//! dated study sessions by the domain's scheduler, in the learner's time zone (issue #20), as
//! JSON or as an iCalendar file (RFC 5545) with one all-day event per session.

use actix_web::{HttpResponse, web};
use chrono::{Days, NaiveDate, Utc};
use chrono_tz::Tz;
use icalendar::{Calendar, Component as _, Event, EventLike as _};
use syllabus_domain::PlanId;
use syllabus_domain::schedule::{ScheduleOutcome, ScheduleRequest, schedule};
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
    let study_days = source.study_days;
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

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use syllabus_domain::schedule::{ScheduleRequest, ScheduleTask, StudyDays, schedule};
    use syllabus_domain::{PlanId, TaskId, WeeklyHours};

    use super::calendar;

    fn task(module_order: u32, task_order: u32, minutes: u32) -> ScheduleTask {
        ScheduleTask {
            id: TaskId::new(),
            module_order,
            task_order,
            title: format!("Task {module_order}.{task_order}; with, commas"),
            minutes,
        }
    }

    fn hours(h: i64) -> WeeklyHours {
        WeeklyHours::new(h).unwrap_or_else(|| panic!("{h} hours is in range"))
    }

    /// The lines of the calendar with RFC 5545's folding undone.
    fn unfolded(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        for line in text.split("\r\n") {
            match (line.strip_prefix(' '), lines.last_mut()) {
                (Some(rest), Some(last)) => last.push_str(rest),
                _ => lines.push(line.to_owned()),
            }
        }
        lines
    }

    #[test]
    fn one_all_day_event_per_session_with_a_stable_uid_and_the_tasks_described() {
        // 60 minutes on Mondays from Monday 7 December 2026: the 90-minute task is split.
        let outcome = schedule(&ScheduleRequest {
            tasks: vec![task(1, 1, 30), task(1, 2, 90)],
            weekly_hours: WeeklyHours::new(1)
                .unwrap_or(WeeklyHours::new(0).unwrap_or_else(|| unreachable!())),
            study_days: StudyDays::from_weekdays([chrono::Weekday::Mon]).unwrap_or_default(),
            start: None,
            deadline: None,
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default(),
        });
        let plan = PlanId::new();
        let text = calendar(plan, &outcome).to_string();
        let lines = unfolded(&text);
        let has = |l: &str| lines.iter().filter(|x| x.as_str() == l).count();
        assert_eq!(has("BEGIN:VCALENDAR"), 1, "{text}");
        assert_eq!(has("BEGIN:VEVENT"), 2, "{text}");
        assert_eq!(has("DTSTART;VALUE=DATE:20261207"), 1, "{text}");
        assert_eq!(has("DTEND;VALUE=DATE:20261208"), 1, "{text}");
        assert_eq!(has("DTSTART;VALUE=DATE:20261214"), 1, "{text}");
        assert_eq!(
            has(&format!("UID:{}-2026-12-07@syllabus", plan.as_uuid())),
            1,
            "{text}"
        );
        assert_eq!(
            has(&format!("UID:{}-2026-12-14@syllabus", plan.as_uuid())),
            1,
            "{text}"
        );
        assert_eq!(has("SUMMARY:Study 60 min (2 tasks)"), 1, "{text}");
        // TEXT values escape commas, semicolons and line breaks (RFC 5545 §3.3.11).
        assert_eq!(
            has(
                "DESCRIPTION:1.1 Task 1.1\\; with\\, commas (30 min)\\n1.2 Task 1.2\\; with\\, commas (30 min\\, part 1 of 2)"
            ),
            1,
            "{text}"
        );
        assert!(
            text.split("\r\n").all(|l| l.len() <= 75),
            "folded at 75 octets: {:?}",
            text.split("\r\n")
                .filter(|l| l.len() > 75)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn no_schedule_is_an_empty_calendar() {
        let outcome = schedule(&ScheduleRequest {
            tasks: Vec::new(),
            weekly_hours: hours(5),
            study_days: StudyDays::ALL,
            start: None,
            deadline: None,
            today: NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default(),
        });
        let text = calendar(PlanId::new(), &outcome).to_string();
        assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
        assert!(!text.contains("BEGIN:VEVENT"), "{text}");
    }
}
