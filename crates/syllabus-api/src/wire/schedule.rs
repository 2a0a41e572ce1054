//! The shape of `GET /plans/{id}/schedule` (issue #20): the domain's study schedule of a plan's
//! remaining tasks, or why there is none (`kind`), in the learner's time zone.

use chrono::NaiveDate;
use serde::Serialize;
use syllabus_domain::PlanStatus;
use syllabus_domain::schedule::{ScheduleOutcome, Session, SessionPart, StudyDays};
use syllabus_store::records::ScheduleSource;
use utoipa::ToSchema;
use uuid::Uuid;

/// Which answer a schedule is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleKind {
    /// The remaining tasks laid out in `sessions`.
    Scheduled,
    /// The plan has no modules yet (pending) or its generation failed.
    NotGenerated,
    /// Every task is completed.
    NothingLeft,
    /// The plan's weekly hours are 0.
    NoWeeklyHours,
    /// The finish would be more than 100 years away.
    BeyondHorizon,
}

/// A plan's study schedule in the learner's time zone. Only `kind = scheduled` has sessions and
/// a `finish_date`; the deadline fields are null without a deadline (and `needed_weekly_hours`
/// also when even 80 hours a week would not meet it).
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Schedule)]
pub struct ScheduleView {
    #[schema(inline)]
    kind: ScheduleKind,
    /// What `kind` means for this plan, in a sentence for the learner.
    message: String,
    plan_id: Uuid,
    /// The IANA time zone the dates are in (`?tz=`, default UTC).
    time_zone: String,
    /// The learner's date now in `time_zone`.
    today: NaiveDate,
    weekly_hours: u8,
    /// The days sessions may fall on: the plan's study days.
    #[schema(schema_with = super::fields::study_days)]
    study_days: Vec<&'static str>,
    #[schema(required)]
    start_date: Option<NaiveDate>,
    #[schema(required)]
    deadline_date: Option<NaiveDate>,
    /// Minutes of the tasks not completed.
    remaining_minutes: u64,
    /// The day of the last session (`scheduled` only).
    #[schema(required)]
    finish_date: Option<NaiveDate>,
    /// Whether the last session is on or before the deadline (null without a deadline or a
    /// schedule).
    #[schema(required)]
    on_track: Option<bool>,
    /// Days the last session falls after the deadline; 0 when on track.
    #[schema(required)]
    days_late: Option<u32>,
    /// The smallest whole weekly hours (1–80) from which on every number of hours meets the
    /// deadline; null without a deadline or when 80 would not.
    #[schema(required)]
    needed_weekly_hours: Option<u8>,
    /// One per study date used, in date order.
    sessions: Vec<StudySessionView>,
}

/// One day's study.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleSession)]
pub struct StudySessionView {
    date: NaiveDate,
    /// The parts' minutes; at most the day's share of the weekly hours.
    minutes: u32,
    /// The tasks, or parts of tasks, in plan order.
    parts: Vec<StudySessionPartView>,
}

/// A task, or one part of a task split across days.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ScheduleSessionPart)]
pub struct StudySessionPartView {
    task_id: Uuid,
    module_order: u32,
    task_order: u32,
    title: String,
    /// Minutes of this part (the task's whole effort when not split).
    minutes: u32,
    /// Which part: 1..=parts.
    part: u32,
    /// How many parts the task is split into (1: not split).
    parts: u32,
    /// The whole task is longer than the weekly hours.
    over_week: bool,
}

impl From<&SessionPart> for StudySessionPartView {
    fn from(p: &SessionPart) -> Self {
        Self {
            task_id: p.task_id.as_uuid(),
            module_order: p.module_order,
            task_order: p.task_order,
            title: p.title.clone(),
            minutes: p.minutes,
            part: p.part,
            parts: p.parts,
            over_week: p.over_week,
        }
    }
}

impl From<&Session> for StudySessionView {
    fn from(s: &Session) -> Self {
        Self {
            date: s.date,
            minutes: s.minutes,
            parts: s.parts.iter().map(StudySessionPartView::from).collect(),
        }
    }
}

impl ScheduleView {
    /// The answer for `source`, whose schedule (when it has tasks) is `outcome`.
    pub(crate) fn new(
        plan_id: Uuid,
        time_zone: &str,
        today: NaiveDate,
        study_days: StudyDays,
        source: &ScheduleSource,
        outcome: &ScheduleOutcome,
    ) -> Self {
        let mut view = Self {
            kind: ScheduleKind::NothingLeft,
            message: String::new(),
            plan_id,
            time_zone: time_zone.to_owned(),
            today,
            weekly_hours: source.weekly_hours.get(),
            study_days: study_days.names().collect(),
            start_date: source.start_date,
            deadline_date: source.deadline_date,
            remaining_minutes: source.tasks.iter().map(|t| u64::from(t.minutes)).sum(),
            finish_date: None,
            on_track: None,
            days_late: None,
            needed_weekly_hours: None,
            sessions: Vec::new(),
        };
        if source.status != PlanStatus::Ready {
            view.kind = ScheduleKind::NotGenerated;
            view.message = if source.status == PlanStatus::Pending {
                "The plan is still being generated: it has no tasks to schedule yet.".into()
            } else {
                "The plan's generation failed: it has no tasks to schedule.".into()
            };
            return view;
        }
        match outcome {
            ScheduleOutcome::Scheduled(s) => {
                view.kind = ScheduleKind::Scheduled;
                view.finish_date = Some(s.finish_date);
                view.sessions = s.sessions.iter().map(StudySessionView::from).collect();
                if let Some(fit) = s.deadline {
                    view.on_track = Some(fit.on_track);
                    view.days_late = Some(fit.days_late);
                    view.needed_weekly_hours = fit.needed_weekly_hours.map(|h| h.get());
                }
                view.message = match (view.on_track, view.days_late) {
                    (Some(false), Some(days)) => format!(
                        "At {} hours a week the plan finishes {days} day(s) after the deadline.",
                        view.weekly_hours
                    ),
                    _ => format!("The remaining tasks finish on {}.", s.finish_date),
                };
            }
            ScheduleOutcome::NothingLeft => {
                view.message = "Every task is completed: nothing is left to schedule.".into();
            }
            ScheduleOutcome::NoWeeklyHours {
                needed_weekly_hours,
                ..
            } => {
                view.kind = ScheduleKind::NoWeeklyHours;
                view.needed_weekly_hours = needed_weekly_hours.map(|h| h.get());
                view.message =
                    "The plan has 0 weekly hours: give it some hours to get a schedule.".into();
            }
            ScheduleOutcome::BeyondHorizon {
                needed_weekly_hours,
                ..
            } => {
                view.kind = ScheduleKind::BeyondHorizon;
                view.needed_weekly_hours = needed_weekly_hours.map(|h| h.get());
                view.message = "At these hours the plan would take more than 100 years.".into();
            }
        }
        view
    }
}
