//! Task progress (issue #20): the owner ticks tasks off, counts are exact, a regeneration does
//! not discard progress silently, the plan's stream sends `progress`, and row-level security
//! hides other users' progress.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use syllabus_e2e::{Answer, App, Options, plan_json};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

/// A ready plan of 2 modules × 3 tasks (30 minutes each) for `user`.
async fn ready_plan(app: &App, user: &str) -> Result<(String, Value), syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(2, 3, 90), 4, Duration::ZERO));
    let plan = app.create_plan(user, "Progress topic").await?;
    let body = app.settle(user, &plan, SETTLE).await?;
    assert_eq!(body["status"], "ready", "{body}");
    Ok((plan, body))
}

fn task_ids(plan: &Value) -> Vec<String> {
    plan["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["tasks"].as_array().into_iter().flatten())
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect()
}

async fn set(
    app: &App,
    user: &str,
    task: &str,
    status: &str,
) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "PUT",
        &format!("/api/v1/tasks/{task}/progress"),
        Some(user),
        Some(&json!({ "status": status })),
        &[],
    )
    .await
}

fn progress(completed_tasks: u32, completed_minutes: u32, completed_modules: u32) -> Value {
    json!({
        "completion": f64::from(completed_minutes) / 180.0,
        "completed_tasks": completed_tasks,
        "total_tasks": 6,
        "completed_minutes": completed_minutes,
        "total_minutes": 180,
        "completed_modules": completed_modules,
        "total_modules": 2,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_owner_ticks_tasks_off_and_the_counts_are_exact() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (plan, body) = ready_plan(&app, "ann").await?;
    assert_eq!(body["progress"], progress(0, 0, 0));
    for module in body["modules"].as_array().ok_or("modules")? {
        assert_eq!(module["completed_tasks"], 0);
        assert_eq!(module["total_tasks"], 3);
        for task in module["tasks"].as_array().ok_or("tasks")? {
            assert_eq!(task["status"], "not_started");
            assert_eq!(task["completed_at"], Value::Null);
        }
    }
    let tasks = task_ids(&body);
    assert_eq!(tasks.len(), 6);

    // The first module completed, one task of the second in progress.
    for task in &tasks[..3] {
        let res = set(&app, "ann", task, "completed").await?;
        assert_eq!(res.status, 200, "{}", res.body);
        assert_eq!(res.body["id"], json!(task));
        assert_eq!(res.body["status"], "completed");
        assert!(res.body["completed_at"].is_string(), "{}", res.body);
    }
    let res = set(&app, "ann", &tasks[3], "in_progress").await?;
    assert_eq!(res.body["status"], "in_progress");
    assert_eq!(res.body["completed_at"], Value::Null);

    let detail = app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body;
    assert_eq!(detail["progress"], progress(3, 90, 1));
    assert_eq!(detail["modules"][0]["completed_tasks"], 3);
    assert_eq!(detail["modules"][1]["completed_tasks"], 0);
    assert_eq!(detail["modules"][1]["tasks"][0]["status"], "in_progress");
    let listed = app.get("/api/v1/plans", "ann").await?.body;
    assert_eq!(listed["items"][0]["progress"], progress(3, 90, 1));

    // Completing again keeps the date; un-completing clears it.
    let first = detail["modules"][0]["tasks"][0]["completed_at"].clone();
    let again = set(&app, "ann", &tasks[0], "completed").await?;
    assert_eq!(again.body["completed_at"], first);
    let undone = set(&app, "ann", &tasks[0], "not_started").await?;
    assert_eq!(undone.body["completed_at"], Value::Null);
    let detail = app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body;
    assert_eq!(detail["progress"], progress(2, 60, 0));

    // Another user: 404 on the task, nothing of ann's to see.
    let res = set(&app, "bob", &tasks[1], "not_started").await?;
    assert_eq!(res.status, 404, "{}", res.body);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), "bob")
            .await?
            .status,
        404
    );
    assert_eq!(
        app.get("/api/v1/plans", "bob").await?.body["items"],
        json!([])
    );
    let still = app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body;
    assert_eq!(still["modules"][0]["tasks"][1]["status"], "completed");

    // A bad status names the field; an unknown task is 404.
    let res = set(&app, "ann", &tasks[1], "done").await?;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.body["errors"][0]["field"], "status", "{}", res.body);
    let res = app
        .send(
            "PUT",
            &format!("/api/v1/tasks/{}/progress", tasks[1]),
            Some("ann"),
            Some(&json!({})),
            &[],
        )
        .await?;
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.body["errors"][0]["field"], "status", "{}", res.body);
    let res = set(&app, "ann", &uuid::Uuid::now_v7().to_string(), "completed").await?;
    assert_eq!(res.status, 404);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_regeneration_needs_discard_progress_once_a_task_has_progress() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (plan, body) = ready_plan(&app, "cy").await?;
    let tasks = task_ids(&body);
    let regenerate = format!("/api/v1/plans/{plan}/regenerate");

    // In progress counts as progress.
    assert_eq!(set(&app, "cy", &tasks[2], "in_progress").await?.status, 200);
    let res = app.send("POST", &regenerate, Some("cy"), None, &[]).await?;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.body["code"], "INVALID_STATE");
    let detail = res.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains("progress") && detail.contains("discard_progress"),
        "{detail}"
    );
    let res = app
        .post(&regenerate, "cy", &json!({"discard_progress": false}))
        .await?;
    assert_eq!(res.status, 409, "{}", res.body);
    // Nothing was queued or lost.
    let detail = app.get(&format!("/api/v1/plans/{plan}"), "cy").await?.body;
    assert_eq!(detail["modules"][0]["tasks"][2]["status"], "in_progress");
    assert_eq!(detail["attempts_used"], 1);

    // With the flag: queued, and the progress is gone at once.
    app.llm
        .push(Reply::stream(&plan_json(2, 3, 90), 4, Duration::ZERO));
    let res = app
        .post(&regenerate, "cy", &json!({"discard_progress": true}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let now = app.get(&format!("/api/v1/plans/{plan}"), "cy").await?.body;
    assert_eq!(now["progress"]["completed_tasks"], 0);
    let done = app
        .wait_until(
            &format!("/api/v1/plans/{plan}/attempts"),
            "cy",
            SETTLE,
            |b| b["items"].as_array().is_some_and(|a| a.len() == 2),
        )
        .await?;
    assert_eq!(done["items"][0]["status"], "success", "{done}");
    let after = app.get(&format!("/api/v1/plans/{plan}"), "cy").await?.body;
    assert!(
        task_ids(&after).iter().all(|t| !tasks.contains(t)),
        "new tasks"
    );
    assert_eq!(after["progress"], progress(0, 0, 0));

    // Without progress no flag is needed.
    app.llm
        .push(Reply::stream(&plan_json(2, 3, 90), 4, Duration::ZERO));
    let res = app.send("POST", &regenerate, Some("cy"), None, &[]).await?;
    assert_eq!(res.status, 202, "{}", res.body);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_following_plan_stream_sends_progress_to_another_tab() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (plan, body) = ready_plan(&app, "di").await?;
    let tasks = task_ids(&body);
    // Without ?progress the stream ends at the final status, as before.
    let mut plain = app
        .events(&format!("/api/v1/plans/{plan}/events"), "di", None)
        .await?;
    let rest = plain.rest(SETTLE).await?;
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].event, "status");

    let mut tab = app
        .events(
            &format!("/api/v1/plans/{plan}/events?progress=true"),
            "di",
            None,
        )
        .await?;
    let first = tab.next(SETTLE).await?.ok_or("no first event")?;
    assert_eq!(first.event, "status");
    assert_eq!(first.data["progress"]["completed_tasks"], 0);
    assert_eq!(set(&app, "di", &tasks[0], "completed").await?.status, 200);
    let event = tab.next(SETTLE).await?.ok_or("the stream ended")?;
    assert_eq!(event.event, "progress", "{event:?}");
    assert_eq!(event.data["completed_tasks"], 1);
    assert_eq!(event.data["completed_minutes"], 30);
    assert_eq!(set(&app, "di", &tasks[0], "not_started").await?.status, 200);
    let event = tab.next(SETTLE).await?.ok_or("the stream ended")?;
    assert_eq!(event.event, "progress", "{event:?}");
    assert_eq!(event.data["completed_tasks"], 0);

    // Deleting the plan ends the stream.
    let res = app
        .send(
            "DELETE",
            &format!("/api/v1/plans/{plan}"),
            Some("di"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 204);
    assert!(tab.rest(SETTLE).await?.iter().all(|e| e.event != "module"));

    let res = app
        .send(
            "GET",
            &format!("/api/v1/plans/{plan}/events?progress=maybe"),
            Some("di"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 400);
    app.stop().await;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_hides_other_users_progress() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (_, body) = ready_plan(&app, "eve").await?;
    for task in task_ids(&body).iter().take(2) {
        assert_eq!(set(&app, "eve", task, "completed").await?.status, 200);
    }
    // As the application role, a query that forgets the user filter sees only its user's rows.
    let mut conn = AsyncPgConnection::establish(&app.url).await?;
    let count = async |conn: &mut AsyncPgConnection, user: &str| {
        conn.batch_execute(&format!(
            "SELECT set_config('syllabus.user_id', '{user}', false)"
        ))
        .await?;
        let c: Count = diesel::sql_query("SELECT count(*) AS n FROM task_progress")
            .get_result(conn)
            .await?;
        Ok::<i64, syllabus_e2e::Error>(c.n)
    };
    assert_eq!(count(&mut conn, "eve").await?, 2);
    assert_eq!(count(&mut conn, "mallory").await?, 0);
    // Nor can another user write a row for eve's task.
    conn.batch_execute("SELECT set_config('syllabus.user_id', 'mallory', false)")
        .await?;
    let task = task_ids(&body)[3].clone();
    let plan = body["id"].as_str().ok_or("id")?;
    let insert = conn
        .batch_execute(&format!(
            "INSERT INTO task_progress (task_id, plan_id, user_id, status)
             VALUES ('{task}', '{plan}', 'eve', 'in_progress')"
        ))
        .await;
    assert!(insert.is_err(), "a row for another user was written");
    app.stop().await;
    Ok(())
}
