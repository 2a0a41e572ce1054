//! Regenerating one module (issue #21 item 3): success changes only that module's rows (every
//! other module, task, progress row and card compared before and after), the module keeps its id
//! and position, drafts stream on the plan's event stream before the job completes, a degenerate
//! answer is re-asked with its reasons, attempts are recorded outside the plan's cap, and the
//! 400 / 404 / 409 / 429 answers.

use std::time::Duration;

use diesel::QueryableByName;
use diesel::sql_types::Jsonb;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::{Value, json};
use syllabus_e2e::{App, Options, plan_body, plan_json};
use syllabus_testkit::fake_llm::module_json;
use syllabus_testkit::{FakeLlm, Reply};

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

/// A ready generated plan of 3 modules × 3 tasks (30 minutes each) for `user`.
async fn ready_plan(app: &App, user: &str, topic: &str) -> Result<Value, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(3, 3, 90), 4, Duration::ZERO));
    let plan = app.create_plan(user, topic).await?;
    let body = app.settle(user, &plan, SETTLE).await?;
    assert_eq!(body["status"], "ready", "{body}");
    Ok(body)
}

/// A ready imported plan (no job) of two modules, for the apps without workers.
async fn imported_plan(app: &App, user: &str) -> Result<Value, syllabus_e2e::Error> {
    let mut body = plan_body("Imported curriculum");
    body["modules"] = json!([
        {"title": "Foundations", "description": null, "estimated_minutes": 60,
         "tasks": [{"title": "Read", "description": null, "estimated_minutes": 60}]},
        {"title": "Practice", "description": null, "estimated_minutes": 60,
         "tasks": [{"title": "Build", "description": null, "estimated_minutes": 60}]},
    ]);
    let res = app.post("/api/v1/plans", user, &body).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    Ok(res.body)
}

fn id_of(v: &Value) -> Result<String, syllabus_e2e::Error> {
    Ok(v["id"].as_str().ok_or("no id")?.to_owned())
}

fn regenerate_path(plan: &str, module: &str) -> String {
    format!("/api/v1/plans/{plan}/modules/{module}/regenerate")
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = Jsonb)]
    rows: Value,
}

/// Every row of `table` in the database (all users, all plans), by id, as JSON objects.
async fn rows(
    conn: &mut AsyncPgConnection,
    table: &str,
    key: &str,
) -> Result<Vec<Value>, syllabus_e2e::Error> {
    let r: Rows = diesel::sql_query(format!(
        "SELECT coalesce(jsonb_agg(to_jsonb(t) ORDER BY t.{key}), '[]'::jsonb) AS rows FROM {table} t"
    ))
    .get_result(conn)
    .await?;
    Ok(r.rows.as_array().cloned().unwrap_or_default())
}

/// The content rows of the whole database: modules, tasks, task progress, flashcards.
struct Snapshot {
    modules: Vec<Value>,
    tasks: Vec<Value>,
    progress: Vec<Value>,
    cards: Vec<Value>,
}

async fn snapshot(admin: &str) -> Result<Snapshot, syllabus_e2e::Error> {
    let mut conn = AsyncPgConnection::establish(admin).await?;
    Ok(Snapshot {
        modules: rows(&mut conn, "modules", "id").await?,
        tasks: rows(&mut conn, "tasks", "id").await?,
        progress: rows(&mut conn, "task_progress", "task_id").await?,
        cards: rows(&mut conn, "flashcards", "id").await?,
    })
}

async fn set_progress(app: &App, user: &str, task: &Value, status: &str) -> TestResult {
    let res = app
        .send(
            "PUT",
            &format!("/api/v1/tasks/{}/progress", id_of(task)?),
            Some(user),
            Some(&json!({ "status": status })),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    Ok(())
}

async fn job_done(app: &App, user: &str, location: &str) -> Result<Value, syllabus_e2e::Error> {
    app.wait_until(location, user, SETTLE, |j| {
        j["status"] == "completed" || j["status"] == "failed"
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_regeneration_replaces_only_its_module_in_place_and_streams_drafts() -> TestResult {
    let app = App::start(Options::default()).await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();
    let plan = ready_plan(&app, "ann", "Regenerated topic").await?;
    let other_plan = ready_plan(&app, "ann", "Another plan").await?;
    let plan_id = id_of(&plan)?;
    let modules = plan["modules"].as_array().ok_or("modules")?.clone();
    let target = id_of(&modules[1])?;
    // Progress in the target module and in the others, and cards on the target module.
    set_progress(&app, "ann", &modules[0]["tasks"][0], "completed").await?;
    set_progress(&app, "ann", &modules[1]["tasks"][0], "in_progress").await?;
    set_progress(&app, "ann", &modules[2]["tasks"][2], "in_progress").await?;
    set_progress(
        &app,
        "ann",
        &other_plan["modules"][1]["tasks"][0],
        "completed",
    )
    .await?;
    app.llm.push(Reply::stream(
        &json!({"flashcards": [{"question": "What is module two about?", "answer": "Its tasks."}]})
            .to_string(),
        2,
        Duration::ZERO,
    ));
    let cards = app
        .post(
            &format!("/api/v1/plans/{plan_id}/flashcards"),
            "ann",
            &json!({"module_id": target, "max_cards": 1}),
        )
        .await?;
    assert_eq!(cards.status, 202, "{}", cards.body);
    let cards_job = cards.header("location").ok_or("location")?.to_owned();
    assert_eq!(
        job_done(&app, "ann", &cards_job).await?["status"],
        "completed"
    );
    let before = snapshot(&admin).await?;
    assert_eq!(before.cards.len(), 1);
    let old_target_tasks: Vec<String> = modules[1]["tasks"]
        .as_array()
        .ok_or("tasks")?
        .iter()
        .filter_map(|t| t["id"].as_str().map(str::to_owned))
        .collect();

    // A ready plan's stream that stays open, then the regeneration, streamed slowly.
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan_id}/events?progress=true"),
            "ann",
            None,
        )
        .await?;
    let first = stream.next(SETTLE).await?.ok_or("stream ended")?;
    assert_eq!(first.event, "status");
    app.llm.set_recording(true);
    app.llm.push(Reply::stream(
        &module_json("Borrowing in depth", 4, 120),
        24,
        Duration::from_millis(20),
    ));
    let res = app
        .post(
            &regenerate_path(&plan_id, &target),
            "ann",
            &json!({"instruction": "  more hands-on  "}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(res.body["type"], "module_regeneration");
    assert_eq!(
        res.body["payload"],
        json!({"plan_id": plan_id, "module_id": target, "instruction": "more hands-on"})
    );
    let location = res.header("location").ok_or("location")?.to_owned();
    assert_eq!(location, format!("/api/v1/jobs/{}", id_of(&res.body)?));

    // Drafts arrive, growing, before the change commits (its progress event).
    let mut drafts = Vec::new();
    loop {
        let e = stream.next(SETTLE).await?.ok_or("stream ended")?;
        match e.event.as_str() {
            "module_draft" => drafts.push(e.data),
            "progress" => break,
            _ => {}
        }
    }
    assert!(
        !drafts.is_empty(),
        "no module_draft before the job completed"
    );
    let counts: Vec<usize> = drafts
        .iter()
        .map(|d| d["module"]["tasks"].as_array().map_or(0, Vec::len))
        .collect();
    assert!(counts.windows(2).all(|w| w[0] < w[1]), "{counts:?}");
    let last = drafts.last().ok_or("no draft")?;
    assert_eq!(last["module_id"], target.as_str());
    assert_eq!(last["order"], 2);
    assert_eq!(last["job_id"], id_of(&res.body)?.as_str());
    assert_eq!(last["module"]["title"], "Borrowing in depth");

    let job = job_done(&app, "ann", &location).await?;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["result"],
        json!({"module_id": target, "tasks_count": 4})
    );

    // The model saw the plan's other titles, the module as it is and the instruction.
    let asked = app
        .llm
        .requests()
        .into_iter()
        .filter(|r| FakeLlm::schema_name(r) == Some("learning_module"))
        .map(|r| {
            r.body["messages"][1]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect::<Vec<_>>();
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains("- Module 1\n- Module 3\n"),
        "{}",
        asked[0]
    );
    assert!(
        asked[0].contains("The module now: Module 2"),
        "{}",
        asked[0]
    );
    assert!(
        asked[0].contains("The learner asks: more hands-on"),
        "{}",
        asked[0]
    );
    assert!(
        asked[0].contains("Topic: Regenerated topic"),
        "{}",
        asked[0]
    );

    // Only that module's rows changed: compare every other row of the database.
    let after = snapshot(&admin).await?;
    let not_target = |rows: &[Value], key: &str| -> Vec<Value> {
        rows.iter()
            .filter(|r| r[key] != target.as_str())
            .cloned()
            .collect()
    };
    assert_eq!(
        not_target(&after.modules, "id"),
        not_target(&before.modules, "id")
    );
    assert_eq!(
        not_target(&after.tasks, "module_id"),
        not_target(&before.tasks, "module_id")
    );
    let old_tasks = |p: &Value| old_target_tasks.iter().any(|t| p["task_id"] == t.as_str());
    let kept: Vec<Value> = before
        .progress
        .iter()
        .filter(|p| !old_tasks(p))
        .cloned()
        .collect();
    assert_eq!(
        after.progress, kept,
        "only the replaced tasks' progress goes"
    );
    assert_eq!(before.progress.len() - kept.len(), 1);
    assert_eq!(after.cards, before.cards, "cards untouched");
    // The module kept its id and position; its content and tasks are new.
    let module_before = before
        .modules
        .iter()
        .find(|m| m["id"] == target.as_str())
        .ok_or("target")?;
    let module_after = after
        .modules
        .iter()
        .find(|m| m["id"] == target.as_str())
        .ok_or("target gone")?;
    assert_eq!(module_after["position"], module_before["position"]);
    assert_eq!(module_after["plan_id"], module_before["plan_id"]);
    assert_eq!(module_after["title"], "Borrowing in depth");
    assert_eq!(module_after["estimated_minutes"], 120);
    let new_tasks: Vec<&Value> = after
        .tasks
        .iter()
        .filter(|t| t["module_id"] == target.as_str())
        .collect();
    assert_eq!(new_tasks.len(), 4);
    assert!(
        new_tasks
            .iter()
            .all(|t| !old_tasks(&json!({"task_id": t["id"]})))
    );

    // The plan as read: same modules in order, updated, attempts_used unchanged.
    let now = app
        .get(&format!("/api/v1/plans/{plan_id}"), "ann")
        .await?
        .body;
    assert_eq!(now["attempts_used"], plan["attempts_used"]);
    assert_eq!(now["status"], "ready");
    let at = |v: &Value| {
        chrono::DateTime::parse_from_rfc3339(v["updated_at"].as_str().unwrap_or_default())
    };
    assert!(at(&now)? > at(&plan)?, "the plan is dated anew");
    assert_eq!(now["modules"][1]["id"], target.as_str());
    assert_eq!(now["modules"][1]["order"], 2);
    assert_eq!(now["modules"][1]["tasks"][3]["order"], 4);
    assert_eq!(
        now["latest_attempt"], plan["latest_attempt"],
        "the plan's own attempt"
    );
    // The module's attempt is listed, with its module, unnumbered.
    let attempts = app
        .get(&format!("/api/v1/plans/{plan_id}/attempts"), "ann")
        .await?
        .body;
    let items = attempts["items"].as_array().ok_or("items")?;
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["module_id"], target.as_str());
    assert_eq!(items[0]["number"], Value::Null);
    assert_eq!(items[0]["status"], "success");
    assert_eq!(items[0]["tasks_count"], 4);
    assert_eq!(items[1]["module_id"], Value::Null);
    assert_eq!(items[1]["number"], 1);
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_degenerate_module_is_re_asked_with_its_reasons_and_each_call_is_recorded() -> TestResult
{
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "bob", "Photosynthesis").await?;
    let plan_id = id_of(&plan)?;
    let target = id_of(&plan["modules"][0])?;
    // Sixteen tasks titled alike; then a module titled as another module; then a good one.
    let same: Vec<Value> = (0..4)
        .map(|_| json!({"title": "The first task in the list.", "estimated_minutes": 10, "description": null}))
        .collect();
    let degenerate = json!({"title": "Light reactions", "estimated_minutes": 40, "description": null, "tasks": same});
    app.llm.set_recording(true);
    app.llm
        .push(Reply::stream(&degenerate.to_string(), 3, Duration::ZERO));
    app.llm.push(Reply::stream(
        &module_json("module 2!", 2, 60),
        3,
        Duration::ZERO,
    ));
    app.llm.push(Reply::stream(
        &module_json("Light reactions", 2, 60),
        3,
        Duration::ZERO,
    ));
    let res = app
        .post(&regenerate_path(&plan_id, &target), "bob", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let location = res.header("location").ok_or("location")?.to_owned();
    let job = job_done(&app, "bob", &location).await?;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(job["attempts"], 3);
    let asked: Vec<String> = app
        .llm
        .requests()
        .into_iter()
        .filter(|r| FakeLlm::schema_name(r) == Some("learning_module"))
        .map(|r| {
            r.body["messages"][1]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(asked.len(), 3);
    assert!(!asked[0].contains("previous answer"), "{}", asked[0]);
    assert!(
        asked[1].contains("Your previous answer was rejected"),
        "{}",
        asked[1]
    );
    assert!(
        asked[1].contains("- tasks[1].title: is the same title as tasks[0].title"),
        "{}",
        asked[1]
    );
    assert!(
        asked[2].contains("- title: is the same title as another module"),
        "{}",
        asked[2]
    );
    let attempts = app
        .get(&format!("/api/v1/plans/{plan_id}/attempts"), "bob")
        .await?
        .body;
    let items = attempts["items"].as_array().ok_or("items")?;
    let mine: Vec<&Value> = items
        .iter()
        .filter(|a| a["module_id"] == target.as_str())
        .collect();
    assert_eq!(mine.len(), 3);
    assert_eq!(
        mine.iter()
            .map(|a| a["classification"].clone())
            .collect::<Vec<_>>(),
        [Value::Null, json!("validation"), json!("validation")]
    );
    assert!(
        mine.iter()
            .all(|a| a["number"].is_null() && a["provider"].is_string())
    );
    let now = app
        .get(&format!("/api/v1/plans/{plan_id}"), "bob")
        .await?
        .body;
    assert_eq!(now["attempts_used"], 1);
    assert_eq!(now["attempts_cap"], 3);
    assert_eq!(now["modules"][0]["title"], "Light reactions");
    assert_eq!(now["modules"][0]["id"], target.as_str());
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_re_asked_runs_drafts_replace_the_refused_runs_on_an_open_stream() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "hal", "Photosynthesis").await?;
    let plan_id = id_of(&plan)?;
    let target = id_of(&plan["modules"][0])?;
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan_id}/events?progress=true"),
            "hal",
            None,
        )
        .await?;
    assert_eq!(
        stream.next(SETTLE).await?.ok_or("stream ended")?.event,
        "status"
    );
    // Four tasks titled alike (refused once complete), then a good module of two tasks: fewer
    // tasks than the refused run's last draft, which must not hide the new run's drafts.
    let same: Vec<Value> = (0..4)
        .map(|_| json!({"title": "The first task in the list.", "estimated_minutes": 10, "description": null}))
        .collect();
    let degenerate = json!({"title": "Light reactions", "estimated_minutes": 40, "description": null, "tasks": same});
    app.llm.push(Reply::stream(
        &degenerate.to_string(),
        24,
        Duration::from_millis(20),
    ));
    app.llm.push(Reply::stream(
        &module_json("Light reactions", 2, 60),
        24,
        Duration::from_millis(20),
    ));
    let res = app
        .post(&regenerate_path(&plan_id, &target), "hal", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let mut drafts = Vec::new();
    loop {
        let e = stream.next(SETTLE).await?.ok_or("stream ended")?;
        match e.event.as_str() {
            "module_draft" => drafts.push(e.data),
            "progress" => break,
            _ => {}
        }
    }
    let titles = |d: &Value| -> Vec<String> {
        d["module"]["tasks"]
            .as_array()
            .map(|t| {
                t.iter()
                    .filter_map(|x| x["title"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let refused = drafts
        .iter()
        .rposition(|d| titles(d).iter().any(|t| t == "The first task in the list."))
        .ok_or("no draft of the refused run")?;
    // After the refused run's last draft, the second run's (the final one may be stored before
    // a stream reads it: the commit's `progress` event then tells the rest).
    let after = &drafts[refused + 1..];
    assert!(
        !after.is_empty(),
        "the second run's drafts were not sent: {drafts:?}"
    );
    assert!(
        after.iter().all(|d| titles(d)
            .iter()
            .all(|t| t.starts_with("Light reactions, step"))),
        "{drafts:?}"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_module_must_be_the_callers_the_instruction_bounded_and_one_run_at_a_time() -> TestResult
{
    let app = App::start(Options {
        workers: false,
        rate_limit: 3,
        ..Options::default()
    })
    .await?;
    let plan = imported_plan(&app, "cy").await?;
    let other = imported_plan(&app, "cy").await?;
    let plan_id = id_of(&plan)?;
    let (first, second) = (id_of(&plan["modules"][0])?, id_of(&plan["modules"][1])?);
    // 404: another user's plan, a module of another plan, an unknown module.
    for (user, module) in [
        ("dee", first.clone()),
        ("cy", id_of(&other["modules"][0])?),
        ("cy", uuid::Uuid::now_v7().to_string()),
    ] {
        let res = app
            .post(&regenerate_path(&plan_id, &module), user, &json!({}))
            .await?;
        assert_eq!(res.status, 404, "{user} {module}: {}", res.body);
    }
    // 400 naming instruction: too long once trimmed (refused, not cut), or not a string.
    let long = format!("  {}  ", "é".repeat(501));
    for bad in [json!({"instruction": long}), json!({"instruction": 5})] {
        let res = app
            .post(&regenerate_path(&plan_id, &first), "cy", &bad)
            .await?;
        assert_eq!(res.status, 400, "{}", res.body);
        assert_eq!(
            res.body["errors"][0]["field"], "instruction",
            "{}",
            res.body
        );
    }
    // No body at all is `{}`; exactly 500 characters is accepted.
    let res = app
        .send(
            "POST",
            &regenerate_path(&plan_id, &first),
            Some("cy"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(
        res.body["payload"],
        json!({"plan_id": plan_id, "module_id": first})
    );
    // 409: the same module is already queued.
    let again = app
        .post(&regenerate_path(&plan_id, &first), "cy", &json!({}))
        .await?;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );
    // Via POST /jobs too.
    let via_jobs = app
        .post(
            "/api/v1/jobs",
            "cy",
            &json!({"type": "module_regeneration", "payload": {"plan_id": plan_id, "module_id": first}}),
        )
        .await?;
    assert_eq!(via_jobs.status, 409, "{}", via_jobs.body);
    let at_max = json!({"instruction": "é".repeat(500)});
    let res = app
        .post(&regenerate_path(&plan_id, &second), "cy", &at_max)
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    // 409: the other plan's generation is queued.
    let other_id = id_of(&other)?;
    let regen = app
        .post(
            &format!("/api/v1/plans/{other_id}/regenerate"),
            "cy",
            &json!({}),
        )
        .await?;
    assert_eq!(regen.status, 202, "{}", regen.body);
    let res = app
        .post(
            &regenerate_path(&other_id, &id_of(&other["modules"][1])?),
            "cy",
            &json!({}),
        )
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (409, Some("INVALID_STATE")),
        "{}",
        res.body
    );
    // 429: the third module regeneration within the window (rate_limit 3; the refused ones
    // above did not count).
    let third = app
        .post(
            "/api/v1/jobs",
            "cy",
            &json!({"type": "module_regeneration", "payload": {"plan_id": other_id, "module_id": id_of(&other["modules"][0])?}}),
        )
        .await?;
    assert_eq!(third.status, 409, "{}", third.body);
    let imported = imported_plan(&app, "cy").await?;
    let res = app
        .post(
            &regenerate_path(&id_of(&imported)?, &id_of(&imported["modules"][0])?),
            "cy",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let res = app
        .post(
            &regenerate_path(&id_of(&imported)?, &id_of(&imported["modules"][1])?),
            "cy",
            &json!({}),
        )
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (429, Some("RATE_LIMITED")),
        "{}",
        res.body
    );
    // Nothing of this counted toward any plan's attempts.
    let now = app
        .get(&format!("/api/v1/plans/{plan_id}"), "cy")
        .await?
        .body;
    assert_eq!(now["attempts_used"], 0);
    // The job type is in the job metrics like the others, and the list filters on it.
    let metrics = app.send("GET", "/metrics", None, None, &[]).await?.text;
    assert!(
        metrics.contains(r#"syllabus_jobs{type="module_regeneration",status="pending"}"#),
        "{metrics}"
    );
    let listed = app
        .get("/api/v1/jobs?type=module_regeneration", "cy")
        .await?;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().map(Vec::len), Some(3));
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_resumed_stream_gets_the_newest_draft_of_a_regeneration_in_flight() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "eli", "Resumed drafts").await?;
    let plan_id = id_of(&plan)?;
    let target = id_of(&plan["modules"][2])?;
    let path = format!("/api/v1/plans/{plan_id}/events?progress=true");
    let mut stream = app.events(&path, "eli", None).await?;
    assert_eq!(stream.next(SETTLE).await?.ok_or("ended")?.event, "status");
    app.llm.push(Reply::stream(
        &module_json("Resumed module", 5, 100),
        40,
        Duration::from_millis(60),
    ));
    let res = app
        .post(&regenerate_path(&plan_id, &target), "eli", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let first = loop {
        let e = stream.next(SETTLE).await?.ok_or("ended")?;
        if e.event == "module_draft" {
            break e;
        }
    };
    drop(stream);
    let seen = first.data["module"]["tasks"].as_array().map_or(0, Vec::len);
    let cursor = first.id.ok_or("no id")?;
    assert_eq!(cursor, "1.0", "a draft carries the stream's cursor");
    // Reconnect with the draft's id: the status, then the newest draft (never an older one).
    let mut resumed = app.events(&path, "eli", Some(&cursor)).await?;
    assert_eq!(resumed.next(SETTLE).await?.ok_or("ended")?.event, "status");
    let next = resumed.next(SETTLE).await?.ok_or("ended")?;
    assert_eq!(next.event, "module_draft", "{:?}", next.data);
    assert_eq!(next.data["module_id"], target.as_str());
    assert!(next.data["module"]["tasks"].as_array().map_or(0, Vec::len) >= seen);
    let location = res.header("location").ok_or("location")?.to_owned();
    assert_eq!(
        job_done(&app, "eli", &location).await?["status"],
        "completed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_deleted_while_it_is_regenerated_fails_the_job_without_retry() -> TestResult {
    let app = App::start(Options::default()).await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();
    let plan = ready_plan(&app, "fay", "Deleted meanwhile").await?;
    let plan_id = id_of(&plan)?;
    let target = id_of(&plan["modules"][0])?;
    app.llm.push(Reply::stream(
        &module_json("Never stored", 3, 90),
        30,
        Duration::from_millis(50),
    ));
    let res = app
        .post(&regenerate_path(&plan_id, &target), "fay", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let location = res.header("location").ok_or("location")?.to_owned();
    // Delete the module while the run streams (its answer takes 1.5 s).
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        let status = app.get(&location, "fay").await?.body["status"].clone();
        if status == "processing" {
            break;
        }
        assert_eq!(
            status, "pending",
            "the run ended before the module was deleted"
        );
        assert!(tokio::time::Instant::now() < deadline, "the job never ran");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut conn = AsyncPgConnection::establish(&admin).await?;
    let deleted = diesel::sql_query(format!("DELETE FROM modules WHERE id = '{target}'"))
        .execute(&mut conn)
        .await?;
    assert_eq!(deleted, 1);
    let job = job_done(&app, "fay", &location).await?;
    assert_eq!(job["status"], "failed", "{job}");
    assert_eq!(job["attempts"], 1, "not retried: {job}");
    assert_eq!(
        job["error"]["message"],
        "The module was deleted before its regeneration was saved."
    );
    let now = app
        .get(&format!("/api/v1/plans/{plan_id}"), "fay")
        .await?
        .body;
    let titles: Vec<&str> = now["modules"]
        .as_array()
        .ok_or("modules")?
        .iter()
        .filter_map(|m| m["title"].as_str())
        .collect();
    assert_eq!(titles, ["Module 2", "Module 3"]);
    let attempts = app
        .get(&format!("/api/v1/plans/{plan_id}/attempts"), "fay")
        .await?
        .body;
    assert_eq!(attempts["items"][0]["module_id"], target.as_str());
    assert_eq!(attempts["items"][0]["status"], "failure");
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_module_being_regenerated_is_not_edited_and_the_plan_not_regenerated_meanwhile()
-> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let plan = imported_plan(&app, "gus").await?;
    let plan_id = id_of(&plan)?;
    let (first, second) = (id_of(&plan["modules"][0])?, id_of(&plan["modules"][1])?);
    let (first_task, second_task) = (
        id_of(&plan["modules"][0]["tasks"][0])?,
        id_of(&plan["modules"][1]["tasks"][0])?,
    );
    let res = app
        .post(&regenerate_path(&plan_id, &first), "gus", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = id_of(&res.body)?;
    let title = json!({"title": "Changed by hand"});
    // Its success would replace the module's texts and tasks: no hand edit of them meanwhile.
    let refused = [
        (
            "PATCH",
            format!("/api/v1/modules/{first}"),
            Some(title.clone()),
        ),
        ("DELETE", format!("/api/v1/modules/{first}"), None),
        (
            "PATCH",
            format!("/api/v1/tasks/{first_task}"),
            Some(title.clone()),
        ),
        ("DELETE", format!("/api/v1/tasks/{first_task}"), None),
        (
            "POST",
            format!("/api/v1/modules/{first}/tasks"),
            Some(json!({"title": "Another", "estimated_minutes": 20})),
        ),
        (
            "PATCH",
            format!("/api/v1/tasks/{second_task}"),
            Some(json!({"module_id": first})),
        ),
        (
            "POST",
            format!("/api/v1/plans/{plan_id}/regenerate"),
            Some(json!({})),
        ),
        // Progress on a task about to be replaced would be lost with it.
        (
            "PUT",
            format!("/api/v1/tasks/{first_task}/progress"),
            Some(json!({"status": "completed"})),
        ),
    ];
    for (method, path, body) in &refused {
        let res = app
            .send(method, path, Some("gus"), body.as_ref(), &[])
            .await?;
        assert_eq!(
            (res.status, res.body["code"].as_str()),
            (409, Some("INVALID_STATE")),
            "{method} {path}: {}",
            res.body
        );
    }
    // The other module stays editable, and its tasks can be ticked off.
    let res = app
        .send(
            "PUT",
            &format!("/api/v1/tasks/{second_task}/progress"),
            Some("gus"),
            Some(&json!({"status": "completed"})),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app
        .send(
            "PATCH",
            &format!("/api/v1/modules/{second}"),
            Some("gus"),
            Some(&title),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    // Once the regeneration is cancelled, the module is editable again.
    let res = app
        .post(&format!("/api/v1/jobs/{job}/cancel"), "gus", &json!({}))
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    let res = app
        .send(
            "PATCH",
            &format!("/api/v1/modules/{first}"),
            Some("gus"),
            Some(&title),
            &[],
        )
        .await?;
    assert_eq!(res.status, 200, "{}", res.body);
    let now = app
        .get(&format!("/api/v1/plans/{plan_id}"), "gus")
        .await?
        .body;
    assert_eq!(now["modules"][0]["title"], "Changed by hand");
    assert_eq!(
        now["modules"][0]["tasks"].as_array().map(Vec::len),
        Some(plan["modules"][0]["tasks"].as_array().map_or(0, Vec::len))
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retried_module_regeneration_is_re_asked_with_the_failed_jobs_reasons() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ivy", "Photosynthesis").await?;
    let plan_id = id_of(&plan)?;
    let target = id_of(&plan["modules"][0])?;
    let same: Vec<Value> = (0..3)
        .map(|_| json!({"title": "The first task in the list.", "estimated_minutes": 10, "description": null}))
        .collect();
    let degenerate = json!({"title": "Light reactions", "estimated_minutes": 30, "description": null, "tasks": same});
    // Every run gets the same refused answer: the job fails for good as `validation`.
    app.llm
        .set_default(Reply::stream(&degenerate.to_string(), 3, Duration::ZERO));
    let res = app
        .post(&regenerate_path(&plan_id, &target), "ivy", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let location = res.header("location").ok_or("location")?.to_owned();
    let failed = job_done(&app, "ivy", &location).await?;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert_eq!(failed["error"]["classification"], "validation", "{failed}");

    let before = app.llm.requests().len();
    app.llm.set_default(Reply::stream(
        &module_json("Light reactions", 2, 60),
        3,
        Duration::ZERO,
    ));
    let retry = app
        .post(
            &format!("/api/v1/jobs/{}/retry", id_of(&failed)?),
            "ivy",
            &json!({}),
        )
        .await?;
    assert_eq!(retry.status, 202, "{}", retry.body);
    let done = job_done(
        &app,
        "ivy",
        &format!("/api/v1/jobs/{}", id_of(&retry.body)?),
    )
    .await?;
    assert_eq!(done["status"], "completed", "{done}");
    let asked: Vec<String> = app
        .llm
        .requests()
        .into_iter()
        .skip(before)
        .filter(|r| FakeLlm::schema_name(r) == Some("learning_module"))
        .map(|r| {
            r.body["messages"][1]["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    // The retry's first (and only) ask already names what the failed job's answer broke.
    assert_eq!(asked.len(), 1);
    assert!(
        asked[0].contains("- tasks[1].title: is the same title as tasks[0].title"),
        "{}",
        asked[0]
    );
    app.stop().await;
    Ok(())
}
