//! A plan edited by hand (issue #21 item 2): modules and tasks changed, added, moved, reordered
//! and deleted keep their order 1..N and the domain's bounds; every rejected field is named and
//! changes nothing; progress of untouched tasks stays; another user's module or task is not
//! found; an edit is refused while the plan is not ready or its generation is queued, and at
//! the count limits. Plans are imported (`POST /plans` with `modules`): no model, no workers.

use serde_json::{Value, json};
use syllabus_e2e::{Answer, App, Options, plan_body};

use crate::schedule::complete;

type TestResult = Result<(), syllabus_e2e::Error>;

fn no_workers() -> Options {
    Options {
        workers: false,
        ..Options::default()
    }
}

/// An imported plan of `shape.len()` modules, module `i` holding `shape[i]` tasks titled
/// `M{i+1}T{j+1}`.
async fn import(app: &App, user: &str, shape: &[usize]) -> Result<Value, syllabus_e2e::Error> {
    let modules: Vec<Value> = shape
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            json!({
                "title": format!("M{}", i + 1),
                "estimated_minutes": 60,
                "tasks": (0..n).map(|j| json!({
                    "title": format!("M{}T{}", i + 1, j + 1),
                    "estimated_minutes": 30,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let mut body = plan_body("Hand-edited plan");
    body["modules"] = json!(modules);
    let res = app.post("/api/v1/plans", user, &body).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    Ok(res.body)
}

async fn call(
    app: &App,
    method: &str,
    path: &str,
    user: &str,
    body: Option<&Value>,
) -> Result<Answer, syllabus_e2e::Error> {
    app.send(method, &format!("/api/v1{path}"), Some(user), body, &[])
        .await
}

async fn read(app: &App, user: &str, plan: &Value) -> Result<Value, syllabus_e2e::Error> {
    let res = app
        .get(
            &format!("/api/v1/plans/{}", plan["id"].as_str().unwrap_or("")),
            user,
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    Ok(res.body)
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap_or_default()
}

/// The plan's titles, module by module: `[["M1", "M1T1", …], …]`; and asserts that every
/// `order` is its place, 1..N, in the plan and in each module.
fn outline(plan: &Value) -> Vec<Vec<String>> {
    let modules = plan["modules"].as_array().cloned().unwrap_or_default();
    modules
        .iter()
        .enumerate()
        .map(|(i, m)| {
            assert_eq!(m["order"], i + 1, "{plan}");
            let tasks = m["tasks"].as_array().cloned().unwrap_or_default();
            let mut titles = vec![m["title"].as_str().unwrap_or_default().to_owned()];
            for (j, t) in tasks.iter().enumerate() {
                assert_eq!(t["order"], j + 1, "{plan}");
                titles.push(t["title"].as_str().unwrap_or_default().to_owned());
            }
            titles
        })
        .collect()
}

fn strs(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter()
        .map(|r| r.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

/// The fields a 400 names.
fn fields(res: &Answer) -> Vec<String> {
    assert_eq!(res.status, 400, "{}", res.body);
    assert_eq!(res.body["code"], "VALIDATION_ERROR");
    res.body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["field"].as_str().map(str::to_owned))
        .collect()
}

fn module(plan: &Value, i: usize) -> &Value {
    &plan["modules"][i]
}

fn task(plan: &Value, i: usize, j: usize) -> &Value {
    &plan["modules"][i]["tasks"][j]
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_moves_additions_and_deletions_keep_order_one_to_n_and_progress() -> TestResult {
    let app = App::start(no_workers()).await?;
    let plan = import(&app, "ann", &[2, 3, 2]).await?;
    let kept = id(task(&plan, 1, 0)).to_owned();
    complete(&app, "ann", &kept).await?;
    let before = read(&app, "ann", &plan).await?;

    // A module renamed, its description cleared, its minutes changed, moved last.
    let m1 = id(module(&plan, 0)).to_owned();
    let res = call(
        &app,
        "PATCH",
        &format!("/modules/{m1}"),
        "ann",
        Some(&json!({"title": "  Basics  ", "description": null, "estimated_minutes": 90, "order": 3})),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (
            &res.body["title"],
            &res.body["order"],
            &res.body["estimated_minutes"]
        ),
        (&json!("Basics"), &json!(3), &json!(90))
    );
    assert_eq!(res.body["tasks"].as_array().map(Vec::len), Some(2));
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(
        outline(&p),
        strs(&[
            &["M2", "M2T1", "M2T2", "M2T3"],
            &["M3", "M3T1", "M3T2"],
            &["Basics", "M1T1", "M1T2"],
        ])
    );
    assert_eq!(p["origin"], "manual", "an edit keeps the origin");
    assert!(p["updated_at"].as_str() > before["updated_at"].as_str());

    // A task reordered within its module, with new minutes.
    let m2t3 = id(task(&plan, 1, 2)).to_owned();
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{m2t3}"),
        "ann",
        Some(&json!({"order": 1, "estimated_minutes": 120})),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(
        (&res.body["order"], &res.body["estimated_minutes"]),
        (&json!(1), &json!(120))
    );

    // A task moved to another module of the plan, at a position; and one moved last.
    let (m2, m3) = (
        id(module(&plan, 1)).to_owned(),
        id(module(&plan, 2)).to_owned(),
    );
    let m3t1 = id(task(&plan, 2, 0)).to_owned();
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{m3t1}"),
        "ann",
        Some(&json!({"module_id": m2, "order": 2})),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["order"], 2);
    let m1t1 = id(task(&plan, 0, 0)).to_owned();
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{m1t1}"),
        "ann",
        Some(&json!({"module_id": m3})),
    )
    .await?;
    assert_eq!(
        (res.status, &res.body["order"]),
        (200, &json!(2)),
        "{}",
        res.body
    );
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(
        outline(&p),
        strs(&[
            &["M2", "M2T3", "M3T1", "M2T1", "M2T2"],
            &["M3", "M3T2", "M1T1"],
            &["Basics", "M1T2"],
        ])
    );

    // A module added first, with its tasks; a task added in the middle and one last.
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&plan)),
        "ann",
        Some(&json!({
            "title": "Warm-up", "description": "Before anything", "estimated_minutes": 15,
            "order": 1,
            "tasks": [{"title": "Stretch", "estimated_minutes": 5}, {"title": "Breathe", "estimated_minutes": 10}],
        })),
    )
    .await?;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(
        (&res.body["order"], &res.body["total_tasks"]),
        (&json!(1), &json!(2))
    );
    let res = call(
        &app,
        "POST",
        &format!("/modules/{m3}/tasks"),
        "ann",
        Some(&json!({"title": "Middle", "estimated_minutes": 20, "order": 2})),
    )
    .await?;
    assert_eq!(
        (res.status, &res.body["order"]),
        (201, &json!(2)),
        "{}",
        res.body
    );
    let res = call(
        &app,
        "POST",
        &format!("/modules/{m3}/tasks"),
        "ann",
        Some(&json!({"title": "Last", "estimated_minutes": 20})),
    )
    .await?;
    assert_eq!(
        (res.status, &res.body["order"]),
        (201, &json!(4)),
        "{}",
        res.body
    );
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(
        outline(&p),
        strs(&[
            &["Warm-up", "Stretch", "Breathe"],
            &["M2", "M2T3", "M3T1", "M2T1", "M2T2"],
            &["M3", "M3T2", "Middle", "M1T1", "Last"],
            &["Basics", "M1T2"],
        ])
    );

    // A task and a module deleted: the others close the gap.
    let res = call(&app, "DELETE", &format!("/tasks/{m3t1}"), "ann", None).await?;
    assert_eq!(res.status, 204, "{}", res.body);
    let res = call(&app, "DELETE", &format!("/modules/{m3}"), "ann", None).await?;
    assert_eq!(res.status, 204, "{}", res.body);
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(
        outline(&p),
        strs(&[
            &["Warm-up", "Stretch", "Breathe"],
            &["M2", "M2T3", "M2T1", "M2T2"],
            &["Basics", "M1T2"],
        ])
    );
    // The completed task (M2T1), never touched, kept its progress through every edit.
    let done: Vec<&Value> = p["modules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["tasks"].as_array().into_iter().flatten())
        .filter(|t| t["status"] == "completed")
        .collect();
    assert_eq!(done.len(), 1, "{p}");
    assert_eq!(id(done[0]), kept);
    assert_eq!(p["progress"]["completed_tasks"], 1);
    // A deleted task's progress went with it: its id is unknown now.
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{m3t1}"),
        "ann",
        Some(&json!({"title": "x"})),
    )
    .await?;
    assert_eq!(res.status, 404);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_rejected_field_is_named_and_changes_nothing() -> TestResult {
    let app = App::start(no_workers()).await?;
    let plan = import(&app, "ann", &[2, 1, 1]).await?;
    let other = import(&app, "ann", &[1]).await?;
    let before = read(&app, "ann", &plan).await?;
    let m1 = id(module(&plan, 0)).to_owned();
    let t1 = id(task(&plan, 0, 0)).to_owned();

    let module_cases = [
        (json!({"estimated_minutes": 14}), "estimated_minutes"),
        (json!({"estimated_minutes": 481}), "estimated_minutes"),
        (json!({"estimated_minutes": 30.5}), "estimated_minutes"),
        (json!({"title": "   "}), "title"),
        (json!({"title": "x".repeat(201)}), "title"),
        (json!({"description": "d".repeat(2_001)}), "description"),
        (json!({"order": 0}), "order"),
        (json!({"order": 4}), "order"),
        (json!({"title": "Fine", "colour": "red"}), "colour"),
    ];
    for (body, field) in module_cases {
        let res = call(&app, "PATCH", &format!("/modules/{m1}"), "ann", Some(&body)).await?;
        assert_eq!(fields(&res), [field], "{body}");
    }
    let foreign = id(module(&other, 0)).to_owned();
    let task_cases = [
        (json!({"estimated_minutes": 4}), "estimated_minutes"),
        (json!({"estimated_minutes": 121}), "estimated_minutes"),
        (json!({"order": 3}), "order"),
        (json!({"module_id": foreign}), "module_id"),
        (json!({"module_id": "not-an-id"}), "module_id"),
        (json!({"title": null}), "title"),
    ];
    for (body, field) in task_cases {
        let res = call(&app, "PATCH", &format!("/tasks/{t1}"), "ann", Some(&body)).await?;
        assert_eq!(fields(&res), [field], "{body}");
    }
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&plan)),
        "ann",
        Some(&json!({
            "title": "New", "estimated_minutes": 60, "order": 5,
            "tasks": [
                {"title": "ok", "estimated_minutes": 5},
                {"title": "ok", "estimated_minutes": 5},
                {"title": " ", "estimated_minutes": 5},
            ],
        })),
    )
    .await?;
    assert_eq!(fields(&res), ["tasks[2].title"]);
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&plan)),
        "ann",
        Some(&json!({"title": "New", "estimated_minutes": 60, "order": 5, "tasks": [{"title": "ok", "estimated_minutes": 5}]})),
    )
    .await?;
    assert_eq!(fields(&res), ["order"], "N + 1 = 4 is the last place");
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&plan)),
        "ann",
        Some(&json!({"title": "New", "estimated_minutes": 60, "tasks": []})),
    )
    .await?;
    assert_eq!(fields(&res), ["tasks"]);
    let res = call(
        &app,
        "POST",
        &format!("/modules/{m1}/tasks"),
        "ann",
        Some(&json!({"title": "New", "estimated_minutes": 5, "order": 4})),
    )
    .await?;
    assert_eq!(fields(&res), ["order"]);
    let res = call(
        &app,
        "POST",
        &format!("/modules/{m1}/tasks"),
        "ann",
        Some(&json!({"title": "New", "estimated_minutes": 5.5})),
    )
    .await?;
    assert_eq!(fields(&res), ["estimated_minutes"]);

    let after = read(&app, "ann", &plan).await?;
    assert_eq!(after, before, "a refused edit changes nothing");
    // `{}` changes nothing, not even the plan's date.
    let res = call(
        &app,
        "PATCH",
        &format!("/modules/{m1}"),
        "ann",
        Some(&json!({})),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(read(&app, "ann", &plan).await?, before);
    // The merge-patch media type is JSON too.
    let res = app
        .send_bytes(
            "PATCH",
            &format!("/api/v1/tasks/{t1}"),
            Some("ann"),
            Some(br#"{"description": "Read it twice"}"#.to_vec()),
            Some("application/merge-patch+json"),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    assert_eq!(res.body["description"], "Read it twice");
    // The same module with its minutes given as 60.0 (a JSON Schema integer) is accepted.
    let res = call(
        &app,
        "PATCH",
        &format!("/modules/{m1}"),
        "ann",
        Some(&json!({"estimated_minutes": 60.0})),
    )
    .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_modules_and_tasks_are_not_found() -> TestResult {
    let app = App::start(no_workers()).await?;
    let plan = import(&app, "ann", &[2, 1]).await?;
    let before = read(&app, "ann", &plan).await?;
    let (m, t) = (
        id(module(&plan, 0)).to_owned(),
        id(task(&plan, 0, 0)).to_owned(),
    );
    let missing = "0190a0a0-0000-7000-8000-000000000000";
    let new_task = json!({"title": "Mine now", "estimated_minutes": 5});
    let new_module = json!({"title": "Mine", "estimated_minutes": 15, "tasks": [new_task]});
    for (method, path, body) in [
        (
            "PATCH",
            format!("/modules/{m}"),
            Some(json!({"title": "Mine"})),
        ),
        ("DELETE", format!("/modules/{m}"), None),
        (
            "POST",
            format!("/modules/{m}/tasks"),
            Some(new_task.clone()),
        ),
        (
            "PATCH",
            format!("/tasks/{t}"),
            Some(json!({"title": "Mine"})),
        ),
        ("DELETE", format!("/tasks/{t}"), None),
        (
            "POST",
            format!("/plans/{}/modules", id(&plan)),
            Some(new_module.clone()),
        ),
        (
            "PATCH",
            format!("/modules/{missing}"),
            Some(json!({"title": "Mine"})),
        ),
        ("DELETE", format!("/tasks/{missing}"), None),
    ] {
        let res = call(&app, method, &path, "bob", body.as_ref()).await?;
        assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
        assert_eq!(res.body["code"], "NOT_FOUND");
    }
    // Bob's own task cannot be moved into Ann's module either: not a module of its plan.
    let bobs = import(&app, "bob", &[1]).await?;
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{}", id(task(&bobs, 0, 0))),
        "bob",
        Some(&json!({"module_id": m})),
    )
    .await?;
    assert_eq!(fields(&res), ["module_id"]);
    assert_eq!(read(&app, "ann", &plan).await?, before);
    Ok(())
}

/// The 409 of a refused edit, with its reason in `detail`.
fn invalid_state(res: &Answer, reason: &str) {
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.body["code"], "INVALID_STATE");
    let detail = res.body["detail"].as_str().unwrap_or_default();
    assert!(
        detail.contains(reason),
        "{detail:?} does not say {reason:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn edits_wait_for_a_ready_plan_without_a_generation_in_flight() -> TestResult {
    let app = App::start(no_workers()).await?;
    // Pending: no modules yet (no worker runs its generation).
    let pending = app
        .post("/api/v1/plans", "ann", &plan_body("Not generated yet"))
        .await?;
    assert_eq!(pending.status, 201);
    let extra = json!({"title": "Early", "estimated_minutes": 15, "tasks": [{"title": "t", "estimated_minutes": 5}]});
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&pending.body)),
        "ann",
        Some(&extra),
    )
    .await?;
    invalid_state(&res, "no modules yet");

    // Ready, then a regeneration queued (no worker takes it): its success would replace the
    // modules, so no edit is taken meanwhile.
    let plan = import(&app, "ann", &[2, 1]).await?;
    let res = app
        .post(
            &format!("/api/v1/plans/{}/regenerate", id(&plan)),
            "ann",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let before = read(&app, "ann", &plan).await?;
    let (m, t) = (
        id(module(&plan, 0)).to_owned(),
        id(task(&plan, 0, 0)).to_owned(),
    );
    for (method, path, body) in [
        (
            "PATCH",
            format!("/modules/{m}"),
            Some(json!({"title": "Late"})),
        ),
        ("DELETE", format!("/modules/{m}"), None),
        (
            "POST",
            format!("/modules/{m}/tasks"),
            Some(json!({"title": "Late", "estimated_minutes": 5})),
        ),
        ("PATCH", format!("/tasks/{t}"), Some(json!({"order": 2}))),
        ("DELETE", format!("/tasks/{t}"), None),
        (
            "POST",
            format!("/plans/{}/modules", id(&plan)),
            Some(extra.clone()),
        ),
    ] {
        let res = call(&app, method, &path, "ann", body.as_ref()).await?;
        invalid_state(&res, "queued or running");
    }
    assert_eq!(
        read(&app, "ann", &plan).await?["modules"],
        before["modules"]
    );

    // A plan keeps one module, a module one task.
    let single = import(&app, "ann", &[1]).await?;
    let res = call(
        &app,
        "DELETE",
        &format!("/modules/{}", id(module(&single, 0))),
        "ann",
        None,
    )
    .await?;
    invalid_state(&res, "only one");
    let res = call(
        &app,
        "DELETE",
        &format!("/tasks/{}", id(task(&single, 0, 0))),
        "ann",
        None,
    )
    .await?;
    invalid_state(&res, "only one");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_holds_at_most_24_modules_and_a_module_20_tasks() -> TestResult {
    let app = App::start(no_workers()).await?;
    let mut shape = vec![1; 24];
    shape[0] = 20;
    let plan = import(&app, "ann", &shape).await?;
    let extra = json!({"title": "One more", "estimated_minutes": 15, "tasks": [{"title": "t", "estimated_minutes": 5}]});
    let res = call(
        &app,
        "POST",
        &format!("/plans/{}/modules", id(&plan)),
        "ann",
        Some(&extra),
    )
    .await?;
    invalid_state(&res, "at most 24 modules");
    let full = id(module(&plan, 0)).to_owned();
    let res = call(
        &app,
        "POST",
        &format!("/modules/{full}/tasks"),
        "ann",
        Some(&json!({"title": "t", "estimated_minutes": 5})),
    )
    .await?;
    invalid_state(&res, "at most 20 tasks");
    // Moving a task into the full module is refused too (and would empty its own module).
    let small = import(&app, "ann", &[20, 2]).await?;
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{}", id(task(&small, 1, 0))),
        "ann",
        Some(&json!({"module_id": id(module(&small, 0))})),
    )
    .await?;
    invalid_state(&res, "at most 20 tasks");
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{}", id(task(&plan, 1, 0))),
        "ann",
        Some(&json!({"module_id": id(module(&plan, 2))})),
    )
    .await?;
    invalid_state(&res, "only one");
    // Below the limits the same requests pass.
    let res = call(
        &app,
        "DELETE",
        &format!("/tasks/{}", id(task(&small, 0, 0))),
        "ann",
        None,
    )
    .await?;
    assert_eq!(res.status, 204);
    let res = call(
        &app,
        "PATCH",
        &format!("/tasks/{}", id(task(&small, 1, 0))),
        "ann",
        Some(&json!({"module_id": id(module(&small, 0))})),
    )
    .await?;
    assert_eq!(
        (res.status, &res.body["order"]),
        (200, &json!(20)),
        "{}",
        res.body
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_modules_flashcards_stay_in_the_deck_without_a_module() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = import(&app, "ann", &[1, 1]).await?;
    let doomed = id(module(&plan, 0)).to_owned();
    let cards = json!({"flashcards": [{"question": "Q1?", "answer": "A1"}, {"question": "Q2?", "answer": "A2"}]});
    app.llm.push(syllabus_testkit::Reply::stream(
        &cards.to_string(),
        3,
        std::time::Duration::ZERO,
    ));
    let res = app
        .post(
            &format!("/api/v1/plans/{}/flashcards", id(&plan)),
            "ann",
            &json!({"module_id": doomed, "max_cards": 2}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = format!("/api/v1/jobs/{}", id(&res.body));
    let done = app
        .wait_until(&job, "ann", std::time::Duration::from_secs(60), |j| {
            j["status"] == "completed" || j["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "completed", "{done}");
    let deck = format!("/api/v1/plans/{}/flashcards", id(&plan));
    let before = app.get(&deck, "ann").await?.body;
    assert_eq!(before["items"][0]["module_id"], json!(doomed), "{before}");

    let res = call(&app, "DELETE", &format!("/modules/{doomed}"), "ann", None).await?;
    assert_eq!(res.status, 204, "{}", res.body);
    let after = app.get(&deck, "ann").await?.body;
    let items = after["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{after}");
    assert!(items.iter().all(|c| c["module_id"].is_null()), "{after}");
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(outline(&p), strs(&[&["M2", "M2T1"]]));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn progress_set_on_a_task_deleted_meanwhile_is_not_found() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = App::start(no_workers()).await?;
    let plan = import(&app, "ann", &[2]).await?;
    let doomed = id(task(&plan, 0, 0)).to_owned();
    let mut admin = AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?;
    // A task deletion in flight, as `DELETE /tasks/{id}` holds it until it commits.
    admin
        .batch_execute(&format!("BEGIN; DELETE FROM tasks WHERE id = '{doomed}'"))
        .await?;
    let body = json!({"status": "completed"});
    let path = format!("/tasks/{doomed}/progress");
    let put = call(&app, "PUT", &path, "ann", Some(&body));
    let commit = async {
        // The progress write waits on the deleted row's lock, then the deletion commits.
        crate::faults::until_waiting(&mut admin, 1).await?;
        admin.batch_execute("COMMIT").await?;
        TestResult::Ok(())
    };
    let (res, committed) = tokio::join!(put, commit);
    committed?;
    let res = res?;
    assert_eq!(res.status, 404, "{}", res.body);
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(p["progress"]["completed_tasks"], 0);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_finds_its_task_where_a_concurrent_edit_moved_it() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = App::start(no_workers()).await?;
    let plan = import(&app, "ann", &[2, 1]).await?;
    let (moved, there) = (
        id(task(&plan, 0, 0)).to_owned(),
        id(module(&plan, 1)).to_owned(),
    );
    let mut admin = AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?;
    // Another edit holds the plan's row lock, as every edit does.
    admin
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM plans WHERE id = '{}' FOR NO KEY UPDATE",
            id(&plan)
        ))
        .await?;
    let path = format!("/tasks/{moved}");
    let delete = call(&app, "DELETE", &path, "ann", None);
    let other_edit = async {
        // The deletion waits for the plan; meanwhile the other edit moves the task to the
        // second module, and commits.
        crate::faults::until_waiting(&mut admin, 1).await?;
        admin
            .batch_execute(&format!(
                "UPDATE tasks SET module_id = '{there}', position = 2 WHERE id = '{moved}';
                 UPDATE tasks SET position = 1 WHERE module_id = (SELECT id FROM modules
                     WHERE plan_id = '{}' AND position = 1); COMMIT",
                id(&plan)
            ))
            .await?;
        TestResult::Ok(())
    };
    let (res, edited) = tokio::join!(delete, other_edit);
    edited?;
    let res = res?;
    assert_eq!(res.status, 204, "{}", res.body);
    let p = read(&app, "ann", &plan).await?;
    assert_eq!(outline(&p), strs(&[&["M1", "M1T2"], &["M2", "M2T1"]]));
    Ok(())
}
