//! How another Rust service embeds Syllabus's domain rules: no database, no HTTP, no async
//! runtime. It sanitizes a learner's request, validates a model's answer (fixing what the rules
//! fix, refusing what they refuse, each problem with its path), and derives a plan's status from
//! its attempts. Run it with `cargo run -p syllabus-domain --example embed`; CI does, and it
//! exits non-zero if a rule no longer gives what it shows.

use std::process::ExitCode;

use syllabus_domain::{
    AttemptCap, AttemptOutcome, FailureClass, PlanRequest, PlanStatus, RawPlanRequest,
    derive_plan_status, plan::validate_plan_text,
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
