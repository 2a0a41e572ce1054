//! How another Rust service embeds Syllabus's domain rules: no database, no HTTP, no async
//! runtime. It sanitizes a learner's request, validates a model's answer (fixing what the rules
//! fix, refusing what they refuse, each problem with its path), derives a plan's status from its
//! attempts, and lays the remaining tasks out in a study schedule. Run it with
//! `cargo run -p syllabus-domain --example embed`; CI does, and it exits non-zero if a rule no
//! longer gives what it shows.

use std::process::ExitCode;

use chrono::{NaiveDate, Weekday};
use syllabus_domain::{
    AttemptCap, AttemptOutcome, FailureClass, PlanRequest, PlanStatus, RawPlanRequest,
    ScheduleOutcome, ScheduleRequest, ScheduleTask, StudyDays, TaskId, WeeklyHours,
    derive_plan_status, plan::validate_plan_text, schedule,
};

fn main() -> ExitCode {
    let mut failures = Vec::new();
    let mut check = |what: &str, ok: bool| {
        let mark = if ok { "ok  " } else { "FAIL" };
        let _ = say(&format!("{mark} {what}"));
        if !ok {
            failures.push(what.to_owned());
        }
    };

    // 1. A learner's request, as a form or another API gives it: trimmed, truncated at 200
    //    characters without splitting a grapheme, each refusal naming its field.
    let raw = RawPlanRequest {
        topic: format!("  Rust async {}  ", "é".repeat(300)),
        notes: Some("   ".into()),
        skill_level: "beginner".into(),
        weekly_hours: 5,
        learning_style: "practice".into(),
        start_date: Some("2027-01-04".into()),
        deadline_date: Some("2027-03-29".into()),
        study_days: Some(vec!["monday".into(), "thursday".into(), "saturday".into()]),
    };
    match PlanRequest::parse(&raw) {
        Ok(request) => {
            check(
                "the topic is cut to 200 characters and says so",
                request.topic.len_chars() == 200 && request.topic.truncated(),
            );
            check("blank notes are absent", request.notes.is_none());
        }
        Err(e) => check(&format!("a valid request parses ({:?})", e.0), false),
    }
    let bad = RawPlanRequest {
        topic: " x ".into(),
        weekly_hours: 81,
        skill_level: "wizard".into(),
        ..raw
    };
    let fields: Vec<String> = PlanRequest::parse(&bad)
        .err()
        .map(|e| e.0.as_slice().iter().map(|i| i.path.clone()).collect())
        .unwrap_or_default();
    check(
        &format!("a bad request names each field at fault: {fields:?}"),
        ["topic", "skill_level", "weekly_hours"]
            .iter()
            .all(|f| fields.iter().any(|p| p == f)),
    );

    // 2. A model's answer: efforts are clamped and rounded, order is given; a module without
    //    tasks is refused with the path of the problem, which a re-ask can quote.
    let answer = r#"{"modules": [
        {"title": "Futures", "description": null, "estimated_minutes": 600,
         "tasks": [{"title": "Poll a future by hand", "description": null, "estimated_minutes": 30.4}]},
        {"title": "Tokio", "description": "The runtime", "estimated_minutes": 90,
         "tasks": [{"title": "Spawn tasks", "description": null, "estimated_minutes": 2}]}
    ]}"#;
    match validate_plan_text(answer) {
        Ok(plan) => {
            check(
                "module effort is clamped to 480 minutes",
                plan.modules[0].estimated_minutes == 480 && plan.modules[0].clamped,
            );
            check(
                "task effort is rounded, then clamped to at least 5",
                plan.modules[0].tasks[0].estimated_minutes == 30
                    && plan.modules[1].tasks[0].estimated_minutes == 5,
            );
            check(
                "modules are numbered in the model's order",
                plan.modules.iter().map(|m| m.order).eq([1, 2]),
            );
        }
        Err(issues) => check(&format!("a fixable answer validates ({issues:?})"), false),
    }
    let broken = r#"{"modules": [{"title": "Empty", "description": null, "estimated_minutes": 60, "tasks": []}]}"#;
    let paths: Vec<String> = validate_plan_text(broken)
        .err()
        .map(|issues| issues.as_slice().iter().map(|i| i.path.clone()).collect())
        .unwrap_or_default();
    check(
        &format!("a module without tasks is refused at its path: {paths:?}"),
        paths.iter().any(|p| p.starts_with("modules[0].tasks")),
    );

    // 3. A plan's status is derived from what happened to it, never stored.
    let timeout = AttemptOutcome::Failure(FailureClass::Timeout);
    check(
        "two failed attempts leave a plan pending (a third may still succeed)",
        derive_plan_status(false, &[timeout, timeout]) == PlanStatus::Pending,
    );
    check(
        "three failed attempts fail it, and no fourth is allowed",
        derive_plan_status(false, &[timeout, timeout, timeout]) == PlanStatus::Failed
            && AttemptCap::next_attempt(3).is_none(),
    );
    check(
        "modules make it ready, whatever failed before",
        derive_plan_status(true, &[timeout, AttemptOutcome::Success]) == PlanStatus::Ready,
    );

    // 4. The study schedule: the remaining tasks in order on the learner's study days, within
    //    their weekly hours, against the deadline. `today` is the learner's local date.
    let task = |n: u128, minutes| ScheduleTask {
        id: TaskId::from_uuid(uuid::Uuid::from_u128(n)),
        module_order: 1,
        task_order: u32::try_from(n).unwrap_or(0),
        title: format!("Task {n}"),
        minutes,
    };
    let Some(three_hours) = WeeklyHours::new(3) else {
        return ExitCode::FAILURE;
    };
    let mut request = ScheduleRequest {
        tasks: vec![task(1, 90), task(2, 150), task(3, 30)],
        weekly_hours: three_hours,
        study_days: StudyDays::from_weekdays([Weekday::Mon, Weekday::Wed, Weekday::Sat])
            .unwrap_or_default(),
        start: None,
        deadline: NaiveDate::from_ymd_opt(2027, 1, 13),
        today: NaiveDate::from_ymd_opt(2027, 1, 5).unwrap_or_default(), // a Tuesday
    };
    if let ScheduleOutcome::Scheduled(plan) = schedule(&request) {
        let days: Vec<(String, u32)> = plan
            .sessions
            .iter()
            .map(|s| (s.date.to_string(), s.minutes))
            .collect();
        check(
            "3 h on Mon/Wed/Sat is 60 minutes a day from Wednesday; the 150-minute task is split",
            days == [
                ("2027-01-06".to_owned(), 60),
                ("2027-01-09".to_owned(), 60),
                ("2027-01-11".to_owned(), 60),
                ("2027-01-13".to_owned(), 60),
                ("2027-01-16".to_owned(), 30),
            ] && plan.sessions[1].parts.iter().any(|p| p.is_split()),
        );
        check(
            "it ends 3 days after the deadline, which 4 h a week would meet",
            plan.deadline.is_some_and(|fit| {
                !fit.on_track
                    && fit.days_late == 3
                    && fit.needed_weekly_hours == WeeklyHours::new(4)
            }),
        );
    } else {
        check("the request gives a schedule", false);
    }
    request.tasks.clear();
    check(
        "with every task done there is nothing left to schedule, which is no error",
        schedule(&request) == ScheduleOutcome::NothingLeft,
    );

    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// One line on standard output.
fn say(line: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    writeln!(std::io::stdout().lock(), "{line}")
}
