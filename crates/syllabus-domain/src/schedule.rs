//! The study schedule: a plan's remaining tasks laid out, in order, on the learner's study days
//! within their weekly hours, and how the finish compares with the deadline.
//!
//! Everything is in the learner's local calendar dates: the caller turns "now" into `today` in
//! the learner's time zone, and weeks are calendar weeks, Monday to Sunday, of those dates. A
//! daylight-saving change therefore changes nothing here (a week is seven dates, whatever its
//! length in hours).
//!
//! # The rules
//!
//! - **First day**: the later of `today` and the plan's `start`; nothing is ever scheduled before it.
//! - **Daily allowance** ([`daily_minutes`]): the weekly minutes (`weekly_hours × 60`) spread
//!   evenly over the study days of a week; the remainder of the division goes one minute each to
//!   the earliest study days of the week, so a whole week holds exactly the weekly minutes. A
//!   first week that starts mid-week gets only its remaining days' allowances (it is not
//!   crammed), so **no Monday–Sunday week ever holds more than the weekly minutes**.
//! - **Packing**: tasks are placed in plan order, never reordered and never back-filled into an
//!   earlier day. A task that fits the rest of the current day goes there; one that does not, but
//!   fits a whole day (at most the weekly minutes divided by the study days, rounded down), starts
//!   on the next study day and is not split; only a task longer than that is split, filling the
//!   rest of the current day and the days after it. Each piece is a [`SessionPart`] with its part
//!   number and the number of parts.
//! - **Longer than a week**: a task longer than the weekly minutes is split across weeks like any
//!   other long task (so the weekly cap holds without exception) and flagged
//!   [`SessionPart::over_week`], so that the learner can be told it takes more than a week.
//! - **Progress**: completed tasks are simply not passed in; a task in progress is scheduled whole
//!   (the domain does not know how much of it is done). Minutes already studied this week do not
//!   count against this week's allowance.
//! - **Deadline** ([`DeadlineFit`]): on track when the last session is on or before the deadline;
//!   otherwise the number of days late. `needed_weekly_hours` is the smallest whole number of
//!   weekly hours `h` (1–80) such that `h` and every number of hours above it meet the deadline,
//!   or `None` when even 80 do not (a deadline already past, for one). So `h` meets it and `h - 1`
//!   does not, and a learner who is not on track always needs more hours than they have.
//!   "Every number above" matters because more hours can, rarely, finish a day later: a task
//!   slightly longer than a day is split into the rest of the current day, while with a few
//!   more hours it fits a whole day and waits for the next one (the table test
//!   `more_hours_can_finish_later` shows one); the smallest `h` that merely meets the deadline
//!   could then be below hours that do not.
//! - **No schedule** is a typed answer, not an error: no remaining tasks
//!   ([`ScheduleOutcome::NothingLeft`]), zero weekly hours ([`ScheduleOutcome::NoWeeklyHours`]),
//!   or a finish more than [`HORIZON_DAYS`] after the first day
//!   ([`ScheduleOutcome::BeyondHorizon`], which a plan within the plan rules never reaches: 480
//!   tasks of 120 minutes at one hour a week take about 18 years).

use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

pub use crate::study_days::StudyDays;

use crate::ids::TaskId;
use crate::input::{WEEKLY_HOURS_MAX, WeeklyHours};

/// How far after the first day a schedule may reach: 100 years.
pub const HORIZON_DAYS: u64 = 36_525;

/// A task still to do, as the plan orders it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ScheduleTask {
    /// The task.
    pub id: TaskId,
    /// Its module's position in the plan (1-based).
    pub module_order: u32,
    /// Its position in the module (1-based).
    pub task_order: u32,
    /// Its title.
    pub title: String,
    /// Its estimated effort.
    pub minutes: u32,
}

/// What a schedule is computed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRequest {
    /// The remaining (not completed) tasks, in plan order: by module order, then task order.
    pub tasks: Vec<ScheduleTask>,
    /// The plan's weekly hours.
    pub weekly_hours: WeeklyHours,
    /// The days the learner studies on.
    pub study_days: StudyDays,
    /// The plan's start date, if any.
    pub start: Option<NaiveDate>,
    /// The plan's deadline, if any.
    pub deadline: Option<NaiveDate>,
    /// The learner's local date now (in their time zone).
    pub today: NaiveDate,
}

impl ScheduleRequest {
    /// The first day a session may fall on: the later of `today` and `start`.
    #[must_use]
    pub fn first_day(&self) -> NaiveDate {
        self.start.map_or(self.today, |start| start.max(self.today))
    }
}

/// The answer: a schedule, or why there is none.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleOutcome {
    /// The remaining tasks laid out in sessions.
    Scheduled(Schedule),
    /// No task is left to schedule: every task is completed, or the plan has none yet.
    NothingLeft,
    /// The plan's weekly hours are zero, so nothing can be scheduled.
    NoWeeklyHours {
        /// Minutes of the remaining tasks.
        remaining_minutes: u64,
        /// The weekly hours that would meet the deadline, as [`DeadlineFit::needed_weekly_hours`]
        /// (`None` without a deadline or when 80 would not).
        needed_weekly_hours: Option<WeeklyHours>,
    },
    /// The schedule would end more than [`HORIZON_DAYS`] after the first day.
    BeyondHorizon {
        /// Minutes of the remaining tasks.
        remaining_minutes: u64,
        /// As for [`ScheduleOutcome::NoWeeklyHours`].
        needed_weekly_hours: Option<WeeklyHours>,
    },
}

/// Dated study sessions for the remaining tasks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The first day a session could fall on (see [`ScheduleRequest::first_day`]).
    pub first_day: NaiveDate,
    /// The date of the last session.
    pub finish_date: NaiveDate,
    /// Minutes of the remaining tasks (the sum of every session's minutes).
    pub total_minutes: u64,
    /// The sessions, one per study date used, in date order.
    pub sessions: Vec<Session>,
    /// How the finish compares with the deadline, when the plan has one.
    pub deadline: Option<DeadlineFit>,
}

/// One day's study.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Session {
    /// The learner's local date.
    pub date: NaiveDate,
    /// The sum of the parts' minutes; at most [`daily_minutes`] for that date.
    pub minutes: u32,
    /// The tasks (or parts of tasks) to do that day, in plan order.
    pub parts: Vec<SessionPart>,
}

/// A task, or one part of a task split across days, within a session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionPart {
    /// The task.
    pub task_id: TaskId,
    /// Its module's position in the plan.
    pub module_order: u32,
    /// Its position in the module.
    pub task_order: u32,
    /// Its title.
    pub title: String,
    /// Minutes of this part (the task's whole effort when it is not split).
    pub minutes: u32,
    /// Which part this is: 1..=`parts`.
    pub part: u32,
    /// How many parts the task was split into (1 when it was not split).
    pub parts: u32,
    /// Whether the whole task is longer than the weekly minutes.
    pub over_week: bool,
}

impl SessionPart {
    /// Whether the task was split across days.
    #[must_use]
    pub const fn is_split(&self) -> bool {
        self.parts > 1
    }
}

/// The schedule against the deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DeadlineFit {
    /// The deadline.
    pub deadline: NaiveDate,
    /// Whether the last session is on or before the deadline.
    pub on_track: bool,
    /// Days from the deadline to the last session; 0 when on track.
    pub days_late: u32,
    /// The smallest weekly hours (1–80) from which on every whole number of hours meets the
    /// deadline; `None` when 80 would not. Greater than the plan's hours when not on track.
    pub needed_weekly_hours: Option<WeeklyHours>,
}

/// The Monday of `date`'s calendar week.
#[must_use]
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Days::new(u64::from(date.weekday().num_days_from_monday()))
}

/// The minutes a learner with these hours and days may study on `date`: 0 on a day they do not
/// study, else the weekly minutes divided by the study days, plus one for each of the first
/// `remainder` study days of the week, so that a whole week adds up to exactly the weekly minutes.
#[must_use]
pub fn daily_minutes(weekly_hours: WeeklyHours, study_days: StudyDays, date: NaiveDate) -> u32 {
    let day = date.weekday();
    if !study_days.contains(day) {
        return 0;
    }
    let weekly = u32::from(weekly_hours.get()) * 60;
    let count = study_days.count();
    weekly / count + u32::from(study_days.rank(day) < weekly % count)
}

/// Lays the remaining tasks out in dated sessions (see the module documentation for the rules).
#[must_use]
pub fn schedule(request: &ScheduleRequest) -> ScheduleOutcome {
    let tasks = &request.tasks;
    if tasks.is_empty() {
        return ScheduleOutcome::NothingLeft;
    }
    let first_day = request.first_day();
    let remaining_minutes: u64 = tasks.iter().map(|t| u64::from(t.minutes)).sum();
    let needed = || {
        request.deadline.and_then(|deadline| {
            needed_weekly_hours(tasks, request.study_days, first_day, deadline)
        })
    };
    let hours = request.weekly_hours;
    if hours.get() == 0 {
        return ScheduleOutcome::NoWeeklyHours {
            remaining_minutes,
            needed_weekly_hours: needed(),
        };
    }
    let horizon = first_day.checked_add_days(Days::new(HORIZON_DAYS));
    let mut placements: Vec<(usize, NaiveDate, u32)> = Vec::new();
    let packed = horizon.and_then(|limit| {
        pack(
            tasks,
            hours,
            request.study_days,
            first_day,
            limit,
            |task, date, minutes| {
                placements.push((task, date, minutes));
            },
        )
    });
    let Some(finish_date) = packed else {
        return ScheduleOutcome::BeyondHorizon {
            remaining_minutes,
            needed_weekly_hours: needed(),
        };
    };

    let mut parts_of = vec![0u32; tasks.len()];
    for &(task, _, _) in &placements {
        parts_of[task] += 1;
    }
    let weekly = u32::from(hours.get()) * 60;
    let mut part_no = vec![0u32; tasks.len()];
    let mut sessions: Vec<Session> = Vec::new();
    for (task, date, minutes) in placements {
        let t = &tasks[task];
        part_no[task] += 1;
        let part = SessionPart {
            task_id: t.id,
            module_order: t.module_order,
            task_order: t.task_order,
            title: t.title.clone(),
            minutes,
            part: part_no[task],
            parts: parts_of[task],
            over_week: t.minutes > weekly,
        };
        match sessions.last_mut() {
            Some(session) if session.date == date => {
                session.minutes += minutes;
                session.parts.push(part);
            }
            _ => sessions.push(Session {
                date,
                minutes,
                parts: vec![part],
            }),
        }
    }

    let deadline = request.deadline.map(|deadline| {
        let late = (finish_date - deadline).num_days().max(0);
        DeadlineFit {
            deadline,
            on_track: late == 0,
            days_late: u32::try_from(late).unwrap_or(u32::MAX),
            needed_weekly_hours: needed(),
        }
    });
    ScheduleOutcome::Scheduled(Schedule {
        first_day,
        finish_date,
        total_minutes: remaining_minutes,
        sessions,
        deadline,
    })
}

/// The smallest weekly hours `h` (1–80) such that the schedule of `tasks` from `first_day` with
/// `h` and with every number of hours above it ends on or before `deadline`; `None` when 80 does
/// not.
fn needed_weekly_hours(
    tasks: &[ScheduleTask],
    study_days: StudyDays,
    first_day: NaiveDate,
    deadline: NaiveDate,
) -> Option<WeeklyHours> {
    let meets = |hours| pack(tasks, hours, study_days, first_day, deadline, |_, _, _| {}).is_some();
    (1..=WEEKLY_HOURS_MAX)
        .rev()
        .filter_map(WeeklyHours::new)
        .take_while(|&hours| meets(hours))
        .last()
}

/// The study day being filled.
struct Cursor {
    date: NaiveDate,
    used: u32,
    allowance: u32,
    hours: WeeklyHours,
    days: StudyDays,
    limit: NaiveDate,
}

impl Cursor {
    /// The first study day on or after `first_day`; `None` past `limit`.
    fn start(
        hours: WeeklyHours,
        days: StudyDays,
        first_day: NaiveDate,
        limit: NaiveDate,
    ) -> Option<Self> {
        let mut cursor = Self {
            date: first_day,
            used: 0,
            allowance: 0,
            hours,
            days,
            limit,
        };
        if days.contains(first_day.weekday()) && first_day <= limit {
            cursor.allowance = daily_minutes(hours, days, first_day);
            Some(cursor)
        } else {
            cursor.advance().map(|()| cursor)
        }
    }

    /// Minutes left on the current day.
    const fn rest(&self) -> u32 {
        self.allowance - self.used
    }

    /// Moves to the next study day; `None` past `limit`.
    fn advance(&mut self) -> Option<()> {
        loop {
            self.date = self.date.succ_opt().filter(|d| *d <= self.limit)?;
            if self.days.contains(self.date.weekday()) {
                break;
            }
        }
        self.used = 0;
        self.allowance = daily_minutes(self.hours, self.days, self.date);
        Some(())
    }

    /// Takes `minutes` (at most [`Self::rest`]) of the current day.
    fn take(&mut self, minutes: u32, place: &mut impl FnMut(NaiveDate, u32)) {
        self.used += minutes;
        place(self.date, minutes);
    }
}

/// Packs `tasks` in order from `first_day` (hours > 0), calling `place(task index, date,
/// minutes)` for each part; the date of the last part, or `None` when a part would fall after
/// `limit`.
fn pack(
    tasks: &[ScheduleTask],
    hours: WeeklyHours,
    days: StudyDays,
    first_day: NaiveDate,
    limit: NaiveDate,
    mut place: impl FnMut(usize, NaiveDate, u32),
) -> Option<NaiveDate> {
    let whole_day = u32::from(hours.get()) * 60 / days.count();
    if whole_day == 0 {
        return None;
    }
    let mut cursor = Cursor::start(hours, days, first_day, limit)?;
    for (index, task) in tasks.iter().enumerate() {
        let mut place = |date, minutes| place(index, date, minutes);
        let minutes = task.minutes;
        if minutes <= cursor.rest() {
            cursor.take(minutes, &mut place);
        } else if minutes <= whole_day {
            cursor.advance()?;
            cursor.take(minutes, &mut place);
        } else {
            let mut left = minutes;
            while left > 0 {
                if cursor.rest() == 0 {
                    cursor.advance()?;
                }
                let part = left.min(cursor.rest());
                cursor.take(part, &mut place);
                left -= part;
            }
        }
    }
    Some(cursor.date)
}
