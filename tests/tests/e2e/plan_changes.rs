//! `PATCH /plans/{id}` (issue #20): the owner changes a plan's weekly hours, study days, dates
//! and notes without a regeneration, and the schedule follows; every bad field is named, a
//! refused change changes nothing, and another user's plan is not found.

use chrono::{Datelike, Days, Utc, Weekday};
use serde_json::{Value, json};
use syllabus_e2e::{Answer, App, Options, plan_body};

use crate::schedule::{complete, date, ready_plan, scheduled, task_ids};

type TestResult = Result<(), syllabus_e2e::Error>;

async fn patch(
    app: &App,
    user: &str,
    plan: &str,
    body: &Value,
) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "PATCH",
        &format!("/api/v1/plans/{plan}"),
        Some(user),
        Some(body),
        &[],
    )
    .await
}

/// The fields a 400 names.
fn fields(res: &Answer) -> Vec<String> {
    res.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn study_days_chosen_on_create_place_every_session_on_them() -> TestResult {
    let app = App::start(Options::default()).await?;
    let mut body = plan_body("Weekend learner");
    body["study_days"] = json!(["sunday", "saturday", "saturday"]);
    let (plan, detail) = ready_plan(&app, "ann", &body).await?;
    assert_eq!(detail["study_days"], json!(["saturday", "sunday"]));
    let list = app.get("/api/v1/plans", "ann").await?;
    assert_eq!(
        list.body["items"][0]["study_days"],
        json!(["saturday", "sunday"])
    );

    let s = app
        .get(&format!("/api/v1/plans/{plan}/schedule"), "ann")
        .await?
        .body;
    assert_eq!(s["kind"], "scheduled", "{s}");
    assert_eq!(s["study_days"], json!(["saturday", "sunday"]));
    let sessions = s["sessions"].as_array().ok_or("sessions")?;
    assert!(!sessions.is_empty());
    for session in sessions {
        let day = date(&session["date"])?.weekday();
        assert!(matches!(day, Weekday::Sat | Weekday::Sun), "{session}");
    }
    // 300 minutes a week over 2 days: 150 a day, so 5 of the 30-minute tasks a day.
    assert_eq!(
        sessions[0]["parts"].as_array().map(Vec::len),
        Some(5),
        "{s}"
    );

    let mut bad = plan_body("Never studied");
    bad["study_days"] = json!([]);
    let res = app.post("/api/v1/plans", "ann", &bad).await?;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(fields(&res), ["study_days"]);
    bad["study_days"] = json!(["Mon"]);
    let res = app.post("/api/v1/plans", "ann", &bad).await?;
    assert_eq!(fields(&res), ["study_days"]);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_changes_hours_days_dates_and_notes_without_a_regeneration() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (plan, detail) = ready_plan(&app, "ann", &plan_body("Patched plan")).await?;
    let tasks = task_ids(&detail);
    complete(&app, "ann", &tasks[0]).await?;
    let jobs_before = app.get("/api/v1/jobs", "ann").await?.body["items"].clone();

    let today = Utc::now().date_naive();
    let start = today.checked_add_days(Days::new(3)).ok_or("date")?;
    let deadline = today.checked_add_days(Days::new(60)).ok_or("date")?;
    let res = patch(
        &app,
        "ann",
        &plan,
        &json!({
            "weekly_hours": 1,
            "study_days": ["wednesday"],
            "start_date": start.to_string(),
            "deadline_date": deadline.to_string(),
            "notes": "  Focus on exercises  ",
        }),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    let p = &res.body;
    assert_eq!(p["weekly_hours"], 1);
    assert_eq!(p["study_days"], json!(["wednesday"]));
    assert_eq!(p["start_date"], start.to_string());
    assert_eq!(p["deadline_date"], deadline.to_string());
    assert_eq!(p["notes"], "Focus on exercises");
    // The same modules and tasks, with their progress: nothing was regenerated.
    assert_eq!(task_ids(p), tasks);
    assert_eq!(p["progress"]["completed_tasks"], 1);
    assert_eq!(p["attempts_used"], detail["attempts_used"]);
    assert_eq!(
        app.get("/api/v1/jobs", "ann").await?.body["items"],
        jobs_before
    );

    // The schedule follows: 60 minutes on Wednesdays from the start, two tasks a session.
    let s = app
        .get(&format!("/api/v1/plans/{plan}/schedule"), "ann")
        .await?
        .body;
    assert_eq!(s["weekly_hours"], 1);
    assert_eq!(scheduled(&s), tasks[1..]);
    let sessions = s["sessions"].as_array().ok_or("sessions")?;
    assert_eq!(sessions.len(), 3, "{s}");
    for session in sessions {
        let day = date(&session["date"])?;
        assert_eq!(day.weekday(), Weekday::Wed, "{session}");
        assert!(day >= start, "{session}");
    }
    let minutes: Vec<&Value> = sessions.iter().map(|s| &s["minutes"]).collect();
    assert_eq!(minutes, [&json!(60), &json!(60), &json!(30)], "{s}");
    assert_eq!(s["on_track"], true, "{s}");

    // null clears a date and the notes; a field left out is kept.
    let res = patch(
        &app,
        "ann",
        &plan,
        &json!({"deadline_date": null, "notes": null}),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["deadline_date"], Value::Null);
    assert_eq!(res.body["notes"], Value::Null);
    assert_eq!(res.body["start_date"], start.to_string());
    assert_eq!(res.body["weekly_hours"], 1);
    // null study days are every day again; {} changes nothing.
    let res = patch(&app, "ann", &plan, &json!({"study_days": null})).await?;
    assert_eq!(res.body["study_days"].as_array().map(Vec::len), Some(7));
    let res = patch(&app, "ann", &plan, &json!({})).await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["start_date"], start.to_string());
    // The merge-patch media type is JSON too.
    let res = app
        .send_bytes(
            "PATCH",
            &format!("/api/v1/plans/{plan}"),
            Some("ann"),
            Some(br#"{"weekly_hours": 2}"#.to_vec()),
            Some("application/merge-patch+json"),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["weekly_hours"], 2);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_change_names_each_field_and_changes_nothing() -> TestResult {
    let app = App::start(Options::default()).await?;
    let mut body = plan_body("Guarded plan");
    body["start_date"] = json!("2030-01-10");
    body["deadline_date"] = json!("2030-03-01");
    let plan = app.post("/api/v1/plans", "ann", &body).await?.body["id"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    // What a change could touch (the generation goes on meanwhile, so not the whole plan).
    let settings = |p: &Value| {
        [
            "weekly_hours",
            "study_days",
            "start_date",
            "deadline_date",
            "notes",
            "updated_at",
        ]
        .map(|f| p[f].clone())
    };
    let before = settings(&app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body);

    let cases = [
        (json!({"weekly_hours": 81}), vec!["weekly_hours"]),
        (json!({"weekly_hours": null}), vec!["weekly_hours"]),
        (json!({"weekly_hours": "3"}), vec!["weekly_hours"]),
        (json!({"study_days": []}), vec!["study_days"]),
        (json!({"study_days": ["someday"]}), vec!["study_days"]),
        (json!({"start_date": "2030-1-5"}), vec!["start_date"]),
        (json!({"deadline_date": ""}), vec!["deadline_date"]),
        (json!({"notes": "a\u{0}b"}), vec!["notes"]),
        // Against each other, and against the dates the plan keeps.
        (
            json!({"start_date": "2030-02-02", "deadline_date": "2030-02-01"}),
            vec!["deadline_date"],
        ),
        (json!({"start_date": "2030-04-01"}), vec!["deadline_date"]),
        (
            json!({"deadline_date": "2030-01-09"}),
            vec!["deadline_date"],
        ),
        // What a change cannot touch is named, not ignored.
        (
            json!({"topic": "Something else", "weekly_hour": 3}),
            vec!["topic", "weekly_hour"],
        ),
        (
            json!({"weekly_hours": 2, "status": "ready"}),
            vec!["status"],
        ),
    ];
    for (change, named) in cases {
        let res = patch(&app, "ann", &plan, &change).await?;
        assert_eq!(res.status, 400, "{change}: {}", res.body);
        assert_eq!(res.body["code"], "VALIDATION_ERROR", "{change}");
        let mut got = fields(&res);
        got.sort();
        assert_eq!(got, named, "{change}: {}", res.body);
    }
    let res = app
        .send_bytes(
            "PATCH",
            &format!("/api/v1/plans/{plan}"),
            Some("ann"),
            Some(b"[1]".to_vec()),
            Some("application/json"),
            &[],
        )
        .await?;
    assert_eq!(res.status, 400, "{}", res.body);
    let after = settings(&app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body);
    assert_eq!(after, before);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_plan_is_not_found_and_unchanged() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = app
        .post("/api/v1/plans", "ann", &plan_body("Ann's plan"))
        .await?
        .body["id"]
        .as_str()
        .ok_or("no id")?
        .to_owned();
    let res = patch(&app, "bob", &plan, &json!({"weekly_hours": 9})).await?;
    assert_eq!(res.status, 404, "{}", res.body);
    let res = patch(&app, "bob", "not-a-uuid", &json!({"weekly_hours": 9})).await?;
    assert_eq!(res.status, 404, "{}", res.body);
    let p = app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body;
    assert_eq!(p["weekly_hours"], 5);
    let res = app
        .send(
            "PATCH",
            &format!("/api/v1/plans/{plan}"),
            None,
            Some(&json!({})),
            &[],
        )
        .await?;
    assert_eq!(res.status, 401, "{}", res.body);
    Ok(())
}

fn imported(title: &str, minutes: u32, tasks: &[(&str, u32)]) -> Value {
    json!({
        "title": title,
        "description": "Imported",
        "estimated_minutes": minutes,
        "tasks": tasks
            .iter()
            .map(|(t, m)| json!({"title": t, "description": null, "estimated_minutes": m}))
            .collect::<Vec<_>>(),
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_imported_with_its_own_modules_is_ready_at_once_without_a_job() -> TestResult {
    let app = App::start(Options::default()).await?;
    let mut body = plan_body("My own curriculum");
    body["modules"] = json!([
        imported(
            "Foundations",
            90,
            &[("Read chapter 1", 45), ("Exercises", 45)]
        ),
        imported("Practice", 60, &[("Build a toy project", 60)]),
    ]);
    let res = app.post("/api/v1/plans", "ann", &body).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    let p = &res.body;
    assert_eq!(p["status"], "ready");
    assert_eq!(p["origin"], "manual");
    assert_eq!(p["attempts_used"], 0);
    assert_eq!(p["total_minutes"], 150);
    assert_eq!(p["modules"][1]["order"], 2);
    assert_eq!(p["modules"][0]["tasks"][1]["title"], "Exercises");
    assert_eq!(p["modules"][0]["tasks"][1]["order"], 2);
    // No generation job was queued, and the schedule works at once.
    assert_eq!(
        app.get("/api/v1/jobs", "ann").await?.body["items"],
        json!([])
    );
    let plan = p["id"].as_str().ok_or("id")?;
    let s = app
        .get(&format!("/api/v1/plans/{plan}/schedule"), "ann")
        .await?
        .body;
    assert_eq!(s["kind"], "scheduled", "{s}");
    assert_eq!(s["remaining_minutes"], 150);

    // Efforts are the client's: out of bounds or fractional is refused, never clamped; every
    // field at fault is named, the request's own fields too.
    body["weekly_hours"] = json!(99);
    body["modules"] = json!([
        imported("Too long", 500, &[("Fine", 30), ("Too short", 1)]),
        imported("", 60, &[]),
        { "title": "Half minutes", "estimated_minutes": 30.5, "tasks": [{"title": "x", "estimated_minutes": 30}] },
    ]);
    let res = app.post("/api/v1/plans", "ann", &body).await?;
    assert_eq!(res.status, 400, "{}", res.body);
    let mut named = fields(&res);
    named.sort();
    assert_eq!(
        named,
        ["modules[1].tasks", "modules[1].title", "weekly_hours"],
        "{}",
        res.body
    );
    body["weekly_hours"] = json!(5);
    body["modules"] = json!([
        imported("Too long", 500, &[("Fine", 30), ("Too short", 1)]),
        { "title": "Half minutes", "estimated_minutes": 30.5, "tasks": [{"title": "x", "estimated_minutes": 30}] },
    ]);
    let res = app.post("/api/v1/plans", "ann", &body).await?;
    assert_eq!(res.status, 400, "{}", res.body);
    let mut named = fields(&res);
    named.sort();
    assert_eq!(
        named,
        [
            "modules[0].estimated_minutes",
            "modules[0].tasks[1].estimated_minutes",
            "modules[1].estimated_minutes"
        ],
        "{}",
        res.body
    );
    assert_eq!(
        app.get("/api/v1/plans", "ann").await?.body["items"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    Ok(())
}
