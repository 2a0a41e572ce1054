//! Sharing and forking (issue #21): a plan made public is readable by anyone at
//! `/public/plans/{id}` without its owner's private fields, a private one is not found exactly as a
//! missing one (enforced by row-level security, checked here with the application's role), and
//! a fork copies a readable plan into a new private plan of the caller.

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use serde_json::{Value, json};
use syllabus_e2e::{Answer, App, Options, plan_body};

use crate::schedule::{complete, ready_plan, task_ids};

type TestResult = Result<(), syllabus_e2e::Error>;

async fn share(
    app: &App,
    user: &str,
    plan: &str,
    visibility: &str,
) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "PATCH",
        &format!("/api/v1/plans/{plan}"),
        Some(user),
        Some(&json!({ "visibility": visibility })),
        &[],
    )
    .await
}

async fn public(app: &App, plan: &str, user: Option<&str>) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "GET",
        &format!("/api/v1/public/plans/{plan}"),
        user,
        None,
        &[],
    )
    .await
}

async fn fork(app: &App, user: &str, plan: &str) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "POST",
        &format!("/api/v1/plans/{plan}/fork"),
        Some(user),
        None,
        &[],
    )
    .await
}

/// A module's title and minutes, and its tasks'.
type ModuleContent = (String, u64, Vec<(String, u64)>);

/// The titles and minutes of a plan's modules and tasks, in order.
fn content(plan: &Value) -> Vec<ModuleContent> {
    plan["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["title"].as_str().unwrap_or_default().to_owned(),
                m["estimated_minutes"].as_u64().unwrap_or_default(),
                m["tasks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|t| {
                        (
                            t["title"].as_str().unwrap_or_default().to_owned(),
                            t["estimated_minutes"].as_u64().unwrap_or_default(),
                        )
                    })
                    .collect(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_plan_is_readable_by_anyone_without_its_owners_fields() -> TestResult {
    let app = App::start(Options::default()).await?;
    let mut body = plan_body("Shared plan");
    body["notes"] = json!("my private notes");
    body["start_date"] = json!("2030-01-01");
    let (plan, detail) = ready_plan(&app, "ann", &body).await?;
    assert_eq!(detail["visibility"], "private");
    assert_eq!(detail["origin"], "ai");
    assert_eq!(detail["forked_from"], Value::Null);

    // Private: not found, signed out or as someone else, exactly like a missing plan.
    let missing = public(&app, "0190a8b2-0000-7000-8000-000000000000", None).await?;
    assert_eq!(missing.status, 404);
    for user in [None, Some("bob"), Some("ann")] {
        let res = public(&app, &plan, user).await?;
        assert_eq!(res.status, 404, "{user:?}: {}", res.body);
        assert_eq!(res.body["code"], missing.body["code"]);
        assert_eq!(res.body["detail"], missing.body["detail"]);
    }

    let res = share(&app, "ann", &plan, "public").await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["visibility"], "public");
    // Another user cannot share or unshare it.
    assert_eq!(share(&app, "bob", &plan, "private").await?.status, 404);

    for user in [None, Some("bob")] {
        let res = public(&app, &plan, user).await?;
        assert_eq!(res.status, 200, "{}", res.body);
        let p = &res.body;
        let mut keys: Vec<&str> = p
            .as_object()
            .ok_or("object")?
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "created_at",
                "id",
                "learning_style",
                "modules",
                "origin",
                "skill_level",
                "topic",
                "total_minutes",
                "updated_at",
                "weekly_hours"
            ]
        );
        assert_eq!(p["topic"], "Shared plan");
        assert_eq!(content(p), content(&detail));
        let text = p.to_string();
        for private in [
            "my private notes",
            "2030-01-01",
            "ann",
            "completed",
            "attempt",
        ] {
            assert!(!text.contains(private), "{private} leaked: {text}");
        }
    }
    // Made private again: not found again.
    assert_eq!(share(&app, "ann", &plan, "private").await?.status, 200);
    assert_eq!(public(&app, &plan, None).await?.status, 404);
    // Bob's own endpoints never show Ann's plan, public or not.
    assert_eq!(share(&app, "ann", &plan, "public").await?.status, 200);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}"), "bob")
            .await?
            .status,
        404
    );
    let list = app.get("/api/v1/plans", "bob").await?;
    assert_eq!(list.body["items"], json!([]));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fork_copies_a_readable_plan_into_a_private_plan_of_the_caller() -> TestResult {
    let app = App::start(Options::default()).await?;
    let mut body = plan_body("Forkable plan");
    body["notes"] = json!("ann's notes");
    body["deadline_date"] = json!("2031-01-01");
    body["study_days"] = json!(["monday"]);
    let (plan, detail) = ready_plan(&app, "ann", &body).await?;
    complete(&app, "ann", &task_ids(&detail)[0]).await?;

    // Ann's private plan: not for Bob.
    let res = fork(&app, "bob", &plan).await?;
    assert_eq!(res.status, 404, "{}", res.body);
    assert_eq!(
        app.get("/api/v1/plans", "bob").await?.body["items"],
        json!([])
    );

    assert_eq!(share(&app, "ann", &plan, "public").await?.status, 200);
    let res = fork(&app, "bob", &plan).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    let copy = &res.body;
    let id = copy["id"].as_str().ok_or("id")?;
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/plans/{id}").as_str())
    );
    assert_ne!(id, plan);
    assert_eq!(copy["status"], "ready");
    assert_eq!(copy["visibility"], "private");
    assert_eq!(copy["origin"], "template");
    assert_eq!(copy["forked_from"], plan.as_str());
    assert_eq!(copy["topic"], "Forkable plan");
    assert_eq!(content(copy), content(&detail));
    assert_eq!(copy["attempts_used"], 0);
    assert_eq!(copy["latest_attempt"], Value::Null);
    assert_eq!(copy["progress"]["completed_tasks"], 0);
    // Ann's notes, dates and days stay hers.
    assert_eq!(copy["notes"], Value::Null);
    assert_eq!(copy["deadline_date"], Value::Null);
    assert_eq!(copy["study_days"].as_array().map(Vec::len), Some(7));
    // New ids: ticking the copy off leaves Ann's plan as it was.
    let copy_tasks = task_ids(copy);
    assert!(copy_tasks.iter().all(|t| !task_ids(&detail).contains(t)));
    complete(&app, "bob", &copy_tasks[1]).await?;
    let ann = app.get(&format!("/api/v1/plans/{plan}"), "ann").await?.body;
    assert_eq!(ann["progress"]["completed_tasks"], 1);
    // The copy is Bob's alone.
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"), "ann").await?.status,
        404
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"), "bob").await?.status,
        200
    );

    // Ann may copy her own plan, private or not, keeping her notes, dates and days.
    assert_eq!(share(&app, "ann", &plan, "private").await?.status, 200);
    let own = fork(&app, "ann", &plan).await?;
    assert_eq!(own.status, 201, "{}", own.body);
    assert_eq!(own.body["notes"], "ann's notes");
    assert_eq!(own.body["deadline_date"], "2031-01-01");
    assert_eq!(own.body["study_days"], json!(["monday"]));

    // A plan without modules has nothing to copy.
    let pending = app
        .post("/api/v1/plans", "ann", &plan_body("Not yet"))
        .await?;
    let pending = pending.body["id"].as_str().ok_or("id")?.to_owned();
    let res = fork(&app, "ann", &pending).await?;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.body["code"], "INVALID_STATE");
    app.stop().await;
    Ok(())
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[tokio::test(flavor = "multi_thread")]
async fn row_level_security_shows_the_public_scope_public_plans_only() -> TestResult {
    let app = App::start(Options::default()).await?;
    let (shared, detail) = ready_plan(&app, "ann", &plan_body("Public one")).await?;
    let (_hidden, other) = ready_plan(&app, "ann", &plan_body("Private one")).await?;
    complete(&app, "ann", &task_ids(&detail)[0]).await?;
    assert_eq!(share(&app, "ann", &shared, "public").await?.status, 200);
    let tasks = |p: &Value| i64::try_from(task_ids(p).len()).unwrap_or(i64::MAX);
    let modules =
        |p: &Value| i64::try_from(p["modules"].as_array().map_or(0, Vec::len)).unwrap_or(0);

    // As the application role, in the public scope with no user: a query that forgets every
    // filter sees the public plan's rows and nothing else.
    let mut conn = AsyncPgConnection::establish(&app.url).await?;
    conn.batch_execute(
        "SELECT set_config('syllabus.scope', 'public', false), set_config('syllabus.user_id', '', false)",
    )
    .await?;
    let count = async |conn: &mut AsyncPgConnection, table: &str| {
        let c: Count = diesel::sql_query(format!("SELECT count(*) AS n FROM {table}"))
            .get_result(conn)
            .await?;
        Ok::<i64, syllabus_e2e::Error>(c.n)
    };
    assert_eq!(count(&mut conn, "plans").await?, 1);
    assert_eq!(count(&mut conn, "modules").await?, modules(&detail));
    assert_eq!(count(&mut conn, "tasks").await?, tasks(&detail));
    for table in [
        "task_progress",
        "generation_attempts",
        "jobs",
        "users",
        "flashcards",
    ] {
        assert_eq!(count(&mut conn, table).await?, 0, "{table}");
    }
    // Nothing can be changed in that scope.
    let update = conn
        .batch_execute("UPDATE plans SET topic = 'defaced'")
        .await;
    assert!(update.is_ok());
    assert_eq!(
        app.get(&format!("/api/v1/public/plans/{shared}"), "bob")
            .await?
            .body["topic"],
        "Public one"
    );
    // The owner's scope is as before: both plans, all their rows.
    conn.batch_execute(
        "SELECT set_config('syllabus.scope', '', false), set_config('syllabus.user_id', 'ann', false)",
    )
    .await?;
    assert_eq!(count(&mut conn, "plans").await?, 2);
    assert_eq!(
        count(&mut conn, "tasks").await?,
        tasks(&detail) + tasks(&other)
    );
    app.stop().await;
    Ok(())
}
