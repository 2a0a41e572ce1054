//! The scheduler through the crate's public API: table tests for the edge cases, and the
//! properties of issue #20 for random plans, hours, study days, dates and time zones.

use std::collections::BTreeMap;

use chrono::{Datelike, Days, NaiveDate, Weekday};
use proptest::prelude::*;
use syllabus_domain::schedule::{HORIZON_DAYS, daily_minutes, week_start};
use syllabus_domain::{
    Schedule, ScheduleOutcome, ScheduleRequest, ScheduleTask, StudyDays, TaskId, WeeklyHours,
    schedule,
};
use uuid::Uuid;

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
}

fn hours(h: i64) -> WeeklyHours {
    WeeklyHours::new(h).unwrap_or_else(|| panic!("{h} is not a weekly hours value"))
}

fn tasks(minutes: &[u32]) -> Vec<ScheduleTask> {
    minutes
        .iter()
        .enumerate()
        .map(|(i, &minutes)| ScheduleTask {
            id: TaskId::from_uuid(Uuid::from_u128(i as u128 + 1)),
            module_order: 1 + u32::try_from(i / 5).unwrap_or(0),
            task_order: 1 + u32::try_from(i % 5).unwrap_or(0),
            title: format!("task {i}"),
            minutes,
        })
        .collect()
}

/// A request with every day a study day, no start and no deadline.
fn request(minutes: &[u32], weekly_hours: i64, today: NaiveDate) -> ScheduleRequest {
    ScheduleRequest {
        tasks: tasks(minutes),
        weekly_hours: hours(weekly_hours),
        study_days: StudyDays::ALL,
        start: None,
        deadline: None,
        today,
    }
}

fn scheduled(request: &ScheduleRequest) -> Schedule {
    match schedule(request) {
        ScheduleOutcome::Scheduled(s) => s,
        other => panic!("expected a schedule, got {other:?}"),
    }
}

/// (date, task index, minutes, part, parts) of every part, in order.
fn flat(s: &Schedule, request: &ScheduleRequest) -> Vec<(NaiveDate, usize, u32, u32, u32)> {
    s.sessions
        .iter()
        .flat_map(|session| {
            session.parts.iter().map(move |p| {
                let index = request
                    .tasks
                    .iter()
                    .position(|t| t.id == p.task_id)
                    .unwrap_or(usize::MAX);
                (session.date, index, p.minutes, p.part, p.parts)
            })
        })
        .collect()
}

/// (date, minutes) of each session.
fn days(s: &Schedule) -> Vec<(NaiveDate, u32)> {
    s.sessions.iter().map(|x| (x.date, x.minutes)).collect()
}

/// 2027-01-04, a Monday.
fn monday() -> NaiveDate {
    date(2027, 1, 4)
}

#[test]
fn tasks_that_fit_a_day_share_it() {
    let r = request(&[30, 30], 7, monday());
    let s = scheduled(&r);
    assert_eq!(days(&s), [(monday(), 60)]);
    assert_eq!(s.finish_date, monday());
    assert_eq!(s.first_day, monday());
    assert_eq!(s.total_minutes, 60);
    assert!(s.deadline.is_none());
    assert!(
        s.sessions[0]
            .parts
            .iter()
            .all(|p| !p.is_split() && !p.over_week)
    );
}

#[test]
fn a_task_that_does_not_fit_the_rest_of_the_day_waits_whole_for_the_next() {
    // 60 minutes a day: 40 today, the 30 does not fit the 20 left and goes whole to tomorrow.
    let r = request(&[40, 30, 30], 7, monday());
    let s = scheduled(&r);
    assert_eq!(days(&s), [(monday(), 40), (date(2027, 1, 5), 60)]);
    assert!(
        s.sessions
            .iter()
            .flat_map(|x| &x.parts)
            .all(|p| p.parts == 1)
    );
}

#[test]
fn a_task_longer_than_a_day_is_split_from_the_rest_of_the_day() {
    let r = request(&[40, 150], 7, monday());
    let s = scheduled(&r);
    assert_eq!(
        flat(&s, &r),
        [
            (monday(), 0, 40, 1, 1),
            (monday(), 1, 20, 1, 4),
            (date(2027, 1, 5), 1, 60, 2, 4),
            (date(2027, 1, 6), 1, 60, 3, 4),
            (date(2027, 1, 7), 1, 10, 4, 4),
        ]
    );
    assert!(s.sessions[1].parts[0].is_split());
}

#[test]
fn the_remainder_of_the_weekly_minutes_goes_to_the_first_study_days() {
    // 5 h = 300 min over 7 days: 43 Monday to Saturday, 42 on Sunday.
    let allowances: Vec<u32> = (0..7)
        .map(|i| daily_minutes(hours(5), StudyDays::ALL, monday() + Days::new(i)))
        .collect();
    assert_eq!(allowances, [43, 43, 43, 43, 43, 43, 42]);
    assert_eq!(allowances.iter().sum::<u32>(), 300);
    let weekend = StudyDays::from_weekdays([Weekday::Sat, Weekday::Sun]).unwrap_or_default();
    assert_eq!(daily_minutes(hours(1), weekend, monday()), 0);
    assert_eq!(daily_minutes(hours(1), weekend, date(2027, 1, 9)), 30);
}

#[test]
fn only_study_days_are_used_from_the_first_one_on_or_after_today() {
    let mut r = request(&[60, 60, 60], 4, date(2027, 1, 5)); // a Tuesday
    r.study_days = StudyDays::from_weekdays([Weekday::Mon, Weekday::Wed]).unwrap_or_default();
    let s = scheduled(&r); // 120 minutes on each study day
    assert_eq!(days(&s), [(date(2027, 1, 6), 120), (date(2027, 1, 11), 60)]);
}

#[test]
fn a_week_that_starts_late_is_not_crammed() {
    // Starting on Sunday with 7 h a week: Sunday gets its 60 minutes, not the week's 420.
    let r = request(&[60, 60], 7, date(2027, 1, 10));
    let s = scheduled(&r);
    assert_eq!(days(&s), [(date(2027, 1, 10), 60), (date(2027, 1, 11), 60)]);
}

#[test]
fn the_start_date_wins_over_today_only_when_it_is_later() {
    let mut r = request(&[30], 7, monday());
    r.start = Some(date(2027, 2, 1));
    assert_eq!(scheduled(&r).first_day, date(2027, 2, 1));
    assert_eq!(scheduled(&r).sessions[0].date, date(2027, 2, 1));
    r.start = Some(date(2026, 12, 1));
    assert_eq!(scheduled(&r).sessions[0].date, monday());
}

#[test]
fn a_task_longer_than_a_week_spans_weeks_and_is_flagged() {
    // 1 h a week on Mondays only, a 120-minute task: two Mondays, never more than 60 a week.
    let mut r = request(&[120, 30], 1, monday());
    r.study_days = StudyDays::from_weekdays([Weekday::Mon]).unwrap_or_default();
    let s = scheduled(&r);
    assert_eq!(
        days(&s),
        [
            (monday(), 60),
            (date(2027, 1, 11), 60),
            (date(2027, 1, 18), 30)
        ]
    );
    let parts: Vec<_> = s.sessions.iter().flat_map(|x| &x.parts).collect();
    assert!(parts[0].over_week && parts[1].over_week && !parts[2].over_week);
    assert_eq!((parts[1].part, parts[1].parts), (2, 2));
}

#[test]
fn against_the_deadline() {
    // 10 one-hour tasks at 7 h a week (60 minutes a day) end on the 10th day, 2027-01-13.
    let mut r = request(&[60; 10], 7, monday());
    r.deadline = Some(date(2027, 1, 13));
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert!(fit.on_track);
    assert_eq!(fit.days_late, 0);
    assert_eq!(fit.needed_weekly_hours, Some(hours(7)));

    r.deadline = Some(date(2027, 1, 10));
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert!(!fit.on_track);
    assert_eq!(fit.days_late, 3);
    // Up to 13 h (111 minutes a day) one task a day still ends on the 13th; 14 h fits two a day.
    assert_eq!(fit.needed_weekly_hours, Some(hours(14)));

    r.deadline = Some(date(2027, 1, 3)); // already past
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert_eq!((fit.on_track, fit.days_late), (false, 10));
    assert_eq!(fit.needed_weekly_hours, None);

    r.deadline = Some(monday()); // 600 minutes today would need 70 h
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert_eq!(fit.needed_weekly_hours, Some(hours(70)));
}

#[test]
fn more_hours_can_finish_later() {
    // Five study days. At 38 h (456 minutes a day) the 473-minute task is longer than a day: it
    // is split into the rest of Monday, and everything ends on Tuesday. At 40 h (480 a day) it
    // fits a whole day, so it waits for Tuesday whole and the last tasks go to Wednesday.
    let mut r = request(&[20, 473, 54, 78, 76, 60, 5, 5, 5], 38, date(2024, 1, 1));
    r.study_days = StudyDays::from_weekdays([
        Weekday::Mon,
        Weekday::Tue,
        Weekday::Wed,
        Weekday::Thu,
        Weekday::Sun,
    ])
    .unwrap_or_default();
    assert_eq!(scheduled(&r).finish_date, date(2024, 1, 2));
    r.weekly_hours = hours(40);
    assert_eq!(scheduled(&r).finish_date, date(2024, 1, 3));
    // So with the deadline on Tuesday, 38 h meet it and 40 h do not: the hours needed are the
    // fewest from which on every number of hours meets it.
    r.deadline = Some(date(2024, 1, 2));
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert!(!fit.on_track);
    let needed = fit.needed_weekly_hours.map_or(0, WeeklyHours::get);
    assert!(needed > 40, "{needed}");
    r.weekly_hours = hours(38);
    let fit = scheduled(&r)
        .deadline
        .unwrap_or_else(|| panic!("a deadline"));
    assert!(fit.on_track);
    assert_eq!(fit.needed_weekly_hours.map(WeeklyHours::get), Some(needed));
}

#[test]
fn no_tasks_and_no_hours_are_answers_not_errors() {
    let mut r = request(&[], 5, monday());
    assert_eq!(schedule(&r), ScheduleOutcome::NothingLeft);
    r.weekly_hours = hours(0);
    assert_eq!(schedule(&r), ScheduleOutcome::NothingLeft);
    r.tasks = tasks(&[60, 60]);
    r.deadline = Some(monday() + Days::new(1));
    assert_eq!(
        schedule(&r),
        ScheduleOutcome::NoWeeklyHours {
            remaining_minutes: 120,
            needed_weekly_hours: Some(hours(7)),
        }
    );
}

#[test]
fn a_schedule_beyond_the_horizon_is_an_answer() {
    let r = request(&[u32::MAX], 1, monday());
    assert_eq!(
        schedule(&r),
        ScheduleOutcome::BeyondHorizon {
            remaining_minutes: u64::from(u32::MAX),
            needed_weekly_hours: None,
        }
    );
    // 100 years at 60 minutes a week is about 313,000 minutes: this one just fits.
    let within = u32::try_from(HORIZON_DAYS / 7 * 60).unwrap_or(0);
    assert!(matches!(
        schedule(&request(&[within], 1, monday())),
        ScheduleOutcome::Scheduled(_)
    ));
}

#[test]
fn the_outcome_serializes_with_a_kind() {
    let json = |o: &ScheduleOutcome| serde_json::to_value(o).unwrap_or_default();
    assert_eq!(
        json(&ScheduleOutcome::NothingLeft),
        serde_json::json!({"kind": "nothing_left"})
    );
    let r = request(&[30], 7, monday());
    let value = json(&schedule(&r));
    assert_eq!(value["kind"], "scheduled");
    assert_eq!(value["finish_date"], "2027-01-04");
    assert_eq!(
        value["sessions"][0]["parts"][0]["task_id"],
        Uuid::from_u128(1).to_string()
    );
    assert_eq!(value["sessions"][0]["parts"][0]["part"], 1);
}

// ---- properties ----

prop_compose! {
    fn any_request()(
        minutes in prop::collection::vec(prop_oneof![4 => 5u32..=120, 1 => 0u32..=600], 0..30),
        weekly_hours in prop_oneof![3 => 1i64..=10, 1 => 0i64..=80],
        bits in 1u8..=127,
        today in 0u64..4_000,
        start in prop::option::of(-30i64..60),
        deadline in prop::option::of(-10i64..400),
    ) -> ScheduleRequest {
        let today = date(2024, 1, 1) + Days::new(today);
        ScheduleRequest {
            tasks: tasks(&minutes),
            weekly_hours: hours(weekly_hours),
            study_days: StudyDays::from_bits(bits).unwrap_or_default(),
            start: start.map(|d| shift(today, d)),
            deadline: deadline.map(|d| shift(today, d)),
            today,
        }
    }
}

fn shift(day: NaiveDate, by: i64) -> NaiveDate {
    if by >= 0 {
        day + Days::new(by.unsigned_abs())
    } else {
        day - Days::new(by.unsigned_abs())
    }
}

/// Every property of a schedule that can be checked on its own.
fn check(r: &ScheduleRequest, s: &Schedule) -> Result<(), TestCaseError> {
    let weekly = u32::from(r.weekly_hours.get()) * 60;
    let whole_day = weekly / r.study_days.count();
    let parts = flat(s, r);

    // Order kept, every task exactly once: the parts run through the tasks in order, each task's
    // parts numbered 1..=n and adding up to its minutes.
    let mut next = 0usize;
    let mut i = 0usize;
    while i < parts.len() {
        let (_, task, _, _, n) = parts[i];
        prop_assert_eq!(task, next, "tasks out of order");
        prop_assert!(n >= 1);
        let run = &parts[i..(i + n as usize).min(parts.len())];
        prop_assert!(
            run.len() == n as usize
                && run
                    .iter()
                    .enumerate()
                    .all(|(k, p)| p.1 == task && p.3 == k as u32 + 1 && p.4 == n),
            "parts of task {} not numbered 1..={}",
            task,
            n
        );
        prop_assert_eq!(run.iter().map(|p| p.2).sum::<u32>(), r.tasks[task].minutes);
        // Split only when it does not fit a whole day; split parts are never empty.
        prop_assert!(n == 1 || (r.tasks[task].minutes > whole_day && run.iter().all(|p| p.2 > 0)));
        i += n as usize;
        next += 1;
    }
    prop_assert_eq!(next, r.tasks.len(), "a task is missing");

    // Sessions: in date order, on study days, never before today or the start, each within its
    // day's allowance and adding up its parts.
    for pair in s.sessions.windows(2) {
        prop_assert!(pair[0].date < pair[1].date);
    }
    for session in &s.sessions {
        prop_assert!(session.date >= r.today && r.start.is_none_or(|st| session.date >= st));
        prop_assert!(r.study_days.contains(session.date.weekday()));
        prop_assert_eq!(
            session.minutes,
            session.parts.iter().map(|p| p.minutes).sum::<u32>()
        );
        prop_assert!(session.minutes <= daily_minutes(r.weekly_hours, r.study_days, session.date));
        for p in &session.parts {
            let task = r.tasks.iter().find(|t| t.id == p.task_id);
            prop_assert_eq!(p.over_week, task.is_some_and(|t| t.minutes > weekly));
        }
    }

    // No Monday–Sunday week holds more than the weekly hours.
    let mut weeks: BTreeMap<NaiveDate, u32> = BTreeMap::new();
    for session in &s.sessions {
        *weeks.entry(week_start(session.date)).or_default() += session.minutes;
    }
    for (monday, minutes) in &weeks {
        prop_assert!(
            *minutes <= weekly,
            "week of {} holds {} > {}",
            monday,
            minutes,
            weekly
        );
    }

    // Packed tight: the first task starts on the first study day, and a task starts on a later
    // day than the previous one ended only on the next study day, and only when it did not fit
    // (or, split, when nothing was left) that day.
    let first = first_study_day(r, r.first_day());
    prop_assert_eq!(parts.first().map(|p| p.0), Some(first));
    for pair in parts.windows(2) {
        let ((d0, t0, ..), (d1, t1, _, part1, n1)) = (pair[0], pair[1]);
        if d1 > d0 {
            prop_assert_eq!(d1, first_study_day(r, d0 + Days::new(1)));
            let used = s
                .sessions
                .iter()
                .find(|x| x.date == d0)
                .map_or(0, |x| x.minutes);
            let rest = daily_minutes(r.weekly_hours, r.study_days, d0) - used;
            if t1 != t0 && part1 == 1 && n1 == 1 {
                prop_assert!(r.tasks[t1].minutes > rest, "room left for task {}", t1);
            } else {
                prop_assert_eq!(rest, 0, "a split task left room on {}", d0);
            }
        }
    }

    prop_assert_eq!(Some(s.finish_date), s.sessions.last().map(|x| x.date));
    prop_assert_eq!(
        s.total_minutes,
        r.tasks.iter().map(|t| u64::from(t.minutes)).sum::<u64>()
    );
    prop_assert_eq!(s.first_day, r.first_day());
    match (r.deadline, s.deadline) {
        (None, None) => {}
        (Some(deadline), Some(fit)) => {
            prop_assert_eq!(fit.deadline, deadline);
            prop_assert_eq!(fit.on_track, s.finish_date <= deadline);
            prop_assert_eq!(
                i64::from(fit.days_late),
                (s.finish_date - deadline).num_days().max(0)
            );
        }
        _ => prop_assert!(false, "deadline fit missing or invented"),
    }
    Ok(())
}

fn first_study_day(r: &ScheduleRequest, mut day: NaiveDate) -> NaiveDate {
    while !r.study_days.contains(day.weekday()) {
        day = day + Days::new(1);
    }
    day
}

/// The finish date with other weekly hours, if the schedule has one.
fn finish_with(r: &ScheduleRequest, weekly_hours: i64) -> Option<NaiveDate> {
    let mut other = r.clone();
    other.weekly_hours = hours(weekly_hours);
    match schedule(&other) {
        ScheduleOutcome::Scheduled(s) => Some(s.finish_date),
        _ => None,
    }
}

/// Each task's (first date, last date).
fn spans(s: &Schedule) -> BTreeMap<TaskId, (NaiveDate, NaiveDate)> {
    let mut spans = BTreeMap::new();
    for session in &s.sessions {
        for p in &session.parts {
            spans
                .entry(p.task_id)
                .and_modify(|span: &mut (NaiveDate, NaiveDate)| span.1 = session.date)
                .or_insert((session.date, session.date));
        }
    }
    spans
}

fn scheduled_or_fail(r: &ScheduleRequest) -> Result<Schedule, TestCaseError> {
    match schedule(r) {
        ScheduleOutcome::Scheduled(s) => Ok(s),
        other => Err(TestCaseError::fail(format!(
            "expected a schedule: {other:?}"
        ))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_schedule_keeps_the_rules(r in any_request()) {
        match schedule(&r) {
            ScheduleOutcome::Scheduled(s) => check(&r, &s)?,
            ScheduleOutcome::NothingLeft => prop_assert!(r.tasks.is_empty()),
            ScheduleOutcome::NoWeeklyHours { remaining_minutes, .. } => {
                prop_assert!(!r.tasks.is_empty() && r.weekly_hours.get() == 0);
                prop_assert_eq!(
                    remaining_minutes,
                    r.tasks.iter().map(|t| u64::from(t.minutes)).sum::<u64>()
                );
            }
            ScheduleOutcome::BeyondHorizon { .. } => prop_assert!(false, "no random plan is that long"),
        }
    }

    #[test]
    fn needed_weekly_hours_is_the_smallest_from_which_on_every_hour_meets_the_deadline(
        mut r in any_request(),
        deadline in 0i64..200,
        extra in 5u32..=120,
    ) {
        // Never empty, always a deadline.
        r.tasks.extend(tasks(&[extra]).into_iter().map(|t| ScheduleTask {
            id: TaskId::from_uuid(Uuid::from_u128(10_000)),
            ..t
        }));
        r.deadline = Some(r.deadline.unwrap_or_else(|| shift(r.today, deadline)));
        let deadline = r.deadline.unwrap_or_default();
        let (needed, on_track) = match schedule(&r) {
            ScheduleOutcome::Scheduled(s) => {
                let fit = s.deadline.ok_or_else(|| TestCaseError::fail("no fit"))?;
                (fit.needed_weekly_hours, fit.on_track)
            }
            ScheduleOutcome::NoWeeklyHours { needed_weekly_hours, .. } => (needed_weekly_hours, false),
            other => return Err(TestCaseError::fail(format!("{other:?}"))),
        };
        let meets = |h: i64| finish_with(&r, h).is_some_and(|f| f <= deadline);
        match needed {
            Some(h) => {
                let h = i64::from(h.get());
                prop_assert!((h..=80).all(meets), "some hours from {} on miss the deadline", h);
                prop_assert!(h == 1 || !meets(h - 1), "{} h would meet it too", h - 1);
                prop_assert!(on_track || h > i64::from(r.weekly_hours.get()));
                r.weekly_hours = hours(h);
                let fit = scheduled_or_fail(&r)?.deadline;
                prop_assert!(fit.is_some_and(|f| f.on_track));
            }
            None => prop_assert!(!meets(80)),
        }
    }

    #[test]
    fn ticking_a_task_off_never_moves_the_rest_later(
        r in any_request(),
        pick in any::<prop::sample::Index>(),
    ) {
        prop_assume!(!r.tasks.is_empty() && r.weekly_hours.get() > 0);
        let before = spans(&scheduled_or_fail(&r)?);
        let mut fewer = r.clone();
        fewer.tasks.remove(pick.index(r.tasks.len()));
        if fewer.tasks.is_empty() {
            prop_assert_eq!(schedule(&fewer), ScheduleOutcome::NothingLeft);
        } else {
            for (id, (first, last)) in spans(&scheduled_or_fail(&fewer)?) {
                let (was_first, was_last) = before[&id];
                prop_assert!(first <= was_first && last <= was_last, "task {} moved later", id);
            }
        }
    }

    #[test]
    fn falling_behind_never_moves_a_task_earlier(r in any_request(), days_later in 1u64..30) {
        prop_assume!(!r.tasks.is_empty() && r.weekly_hours.get() > 0);
        let mut later = r.clone();
        later.today = r.today + Days::new(days_later);
        let (a, b) = (spans(&scheduled_or_fail(&r)?), spans(&scheduled_or_fail(&later)?));
        for (id, (first, last)) in b {
            prop_assert!(first >= a[&id].0 && last >= a[&id].1, "task {} moved earlier", id);
        }
    }
}

// ---- time zones ----

/// Zones with daylight saving (some with a 30-minute change, or a change at midnight, so that a
/// local date is skipped or doubled in hours).
const DST_ZONES: &[chrono_tz::Tz] = &[
    chrono_tz::Europe::Berlin,
    chrono_tz::Europe::London,
    chrono_tz::America::New_York,
    chrono_tz::America::Santiago,
    chrono_tz::America::Havana,
    chrono_tz::Australia::Sydney,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Pacific::Auckland,
    chrono_tz::Pacific::Chatham,
];

/// The first instant of `year` (to the hour) at which `tz` changes its UTC offset.
fn first_switch(tz: chrono_tz::Tz, year: i32) -> Option<chrono::DateTime<chrono::Utc>> {
    use chrono::{Offset, TimeZone};
    let start = chrono::Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).single()?;
    let offset =
        |t: chrono::DateTime<chrono::Utc>| tz.offset_from_utc_datetime(&t.naive_utc()).fix();
    let first = offset(start);
    (1..366 * 24)
        .map(|h| start + chrono::Duration::hours(h))
        .find(|t| offset(*t) != first)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// `today` is the learner's local date of an instant within a week of a daylight-saving
    /// change, in a random zone: the schedule keeps every rule, and the week of the change is
    /// like any other: the same request four weeks later gives the same sessions four weeks later.
    #[test]
    fn a_daylight_saving_change_changes_nothing(
        r in any_request(),
        zone in prop::sample::select(DST_ZONES),
        year in 2024i32..2031,
        seconds in -7 * 86_400i64..7 * 86_400,
    ) {
        prop_assume!(!r.tasks.is_empty() && r.weekly_hours.get() > 0);
        let switch = first_switch(zone, year);
        prop_assert!(switch.is_some(), "{} has no change in {}", zone, year);
        let instant = switch.unwrap_or_default() + chrono::Duration::seconds(seconds);
        let today = instant.with_timezone(&zone).date_naive();
        let moved = |d: NaiveDate| shift(d, i64::from(today.num_days_from_ce()) - i64::from(r.today.num_days_from_ce()));
        let r = ScheduleRequest {
            start: r.start.map(moved),
            deadline: r.deadline.map(moved),
            today,
            ..r
        };
        let s = scheduled_or_fail(&r)?;
        check(&r, &s)?;

        let weeks = Days::new(28);
        let later = ScheduleRequest {
            today: r.today + weeks,
            start: r.start.map(|d| d + weeks),
            deadline: r.deadline.map(|d| d + weeks),
            ..r.clone()
        };
        let l = scheduled_or_fail(&later)?;
        prop_assert_eq!(l.finish_date, s.finish_date + weeks);
        prop_assert_eq!(l.deadline.map(|f| (f.on_track, f.days_late, f.needed_weekly_hours)),
                        s.deadline.map(|f| (f.on_track, f.days_late, f.needed_weekly_hours)));
        let shifted: Vec<_> = s.sessions.iter().map(|x| (x.date + weeks, x.minutes, x.parts.clone())).collect();
        let sessions: Vec<_> = l.sessions.iter().map(|x| (x.date, x.minutes, x.parts.clone())).collect();
        prop_assert_eq!(sessions, shifted);
    }
}

#[test]
fn the_week_of_a_daylight_saving_change_holds_a_whole_week() {
    // Berlin moves its clocks on Sunday 2027-03-28: that week has 167 hours, and still seven
    // study days of 60 minutes each at 7 hours a week.
    let r = request(&[60; 14], 7, date(2027, 3, 22));
    let s = scheduled(&r);
    let week: u32 = s
        .sessions
        .iter()
        .filter(|x| week_start(x.date) == date(2027, 3, 22))
        .map(|x| x.minutes)
        .sum();
    assert_eq!(week, 420);
    assert_eq!(s.finish_date, date(2027, 4, 4));
}
