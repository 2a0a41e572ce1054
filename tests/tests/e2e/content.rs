//! Flashcards, distractors and skill trees as background jobs, end to end: real HTTP, real
//! PostgreSQL, the fake provider.

use std::time::Duration;

use serde_json::{Value, json};
use syllabus_domain::{FlashcardId, JobId, PlanId, UserId};
use syllabus_e2e::{App, Options, plan_json};
use syllabus_store::records::JobEnd;
use syllabus_store::{ContentJobStore, ContentStore, QueueStore, StoreError};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

fn stream(v: &Value) -> Reply {
    Reply::stream(&v.to_string(), 3, Duration::ZERO)
}

fn cards(n: usize) -> Value {
    json!({"flashcards": (1..=n).map(|i| json!({"question": format!("Q{i}?"), "answer": format!("A{i}")})).collect::<Vec<_>>()})
}

fn tree() -> Value {
    json!({"skills": [
        {"title": "Ownership", "description": null, "children": [
            {"title": "Borrowing", "description": "refs", "children": []},
            {"title": "Lifetimes", "description": null, "children": [{"title": "Variance", "description": null, "children": []}]}
        ]},
        {"title": "Async", "description": null, "children": []}
    ]})
}

/// A ready plan for `user`.
async fn ready_plan(app: &App, user: &str) -> Result<String, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let id = app.create_plan(user, "Rust for services").await?;
    let plan = app.settle(user, &id, Duration::from_secs(30)).await?;
    if plan["status"] != "ready" {
        return Err(format!("plan not ready: {plan}").into());
    }
    Ok(id)
}

/// Waits (with `Prefer: wait`) until the job is terminal.
async fn finished(app: &App, user: &str, job: &str) -> Result<Value, syllabus_e2e::Error> {
    app.wait_until(
        &format!("/api/v1/jobs/{job}"),
        user,
        Duration::from_secs(30),
        |b| {
            ["completed", "failed", "cancelled"]
                .iter()
                .any(|s| b["status"] == *s)
        },
    )
    .await
}

fn id_of(v: &Value) -> Result<String, syllabus_e2e::Error> {
    Ok(v["id"].as_str().ok_or("no id")?.to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn flashcards_distractors_and_skill_trees_are_generated_in_the_background() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "ana").await?;

    // Flashcards: at most max_cards are kept, 202 + Location, the deck grows per job.
    app.llm.push(stream(&cards(3)));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "ana",
            &json!({"max_cards": 2}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = id_of(&res.body)?;
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/jobs/{job}").as_str())
    );
    assert_eq!(res.body["type"], "flashcards");
    assert_eq!(
        res.body["payload"],
        json!({"plan_id": plan, "module_id": null, "max_cards": 2})
    );
    let done = finished(&app, "ana", &job).await?;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["count"], 2);
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "ana")
        .await?;
    let items = deck.body["items"].as_array().ok_or("items")?.clone();
    assert_eq!(items.len(), 2);
    assert_eq!(
        done["result"]["flashcard_ids"],
        json!([items[0]["id"], items[1]["id"]])
    );
    assert_eq!(items[0]["mode"], "question_answer");
    assert_eq!(items[0]["distractors"], json!([]));
    assert_eq!(items[0]["question"], "Q1?");
    let request = app
        .llm
        .requests()
        .last()
        .map(|r| r.body.to_string())
        .unwrap_or_default();
    assert!(
        request.contains("Module 1") && request.contains("Rust for services"),
        "{request}"
    );

    app.llm.push(stream(&cards(1)));
    let job = id_of(
        &app.post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "ana",
            &json!({}),
        )
        .await?
        .body,
    )?;
    finished(&app, "ana", &job).await?;
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "ana")
        .await?;
    assert_eq!(
        deck.body["items"].as_array().map(Vec::len),
        Some(3),
        "a job adds to the deck"
    );

    // Distractors: three, stored in order; the card switches to multiple choice.
    let card = items[0]["id"].as_str().ok_or("card")?.to_owned();
    app.llm
        .push(stream(&json!({"distractors": ["B1", "C1", "D1"]})));
    let res = app
        .post(
            &format!("/api/v1/flashcards/{card}/distractors"),
            "ana",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let done = finished(&app, "ana", &id_of(&res.body)?).await?;
    assert_eq!(done["status"], "completed", "{done}");
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "ana")
        .await?;
    assert_eq!(deck.body["items"][0]["mode"], "multiple_choice");
    assert_eq!(
        deck.body["items"][0]["distractors"],
        json!(["B1", "C1", "D1"])
    );
    assert_eq!(deck.body["items"][1]["mode"], "question_answer");

    // Skill tree: none yet (404), then a nested tree with materialized paths; a second one
    // replaces it.
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}/skill-tree"), "ana")
            .await?
            .status,
        404
    );
    app.llm.push(stream(&tree()));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "ana",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202);
    finished(&app, "ana", &id_of(&res.body)?).await?;
    let t = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "ana")
        .await?
        .body;
    assert_eq!(
        (t["node_count"].as_u64(), t["depth"].as_u64()),
        (Some(5), Some(3)),
        "{t}"
    );
    assert_eq!(t["skills"][0]["path"], "1");
    assert_eq!(t["skills"][0]["children"][1]["path"], "1.2");
    assert_eq!(
        t["skills"][0]["children"][1]["children"][0]["path"],
        "1.2.1"
    );
    assert_eq!(t["skills"][0]["children"][1]["children"][0]["depth"], 3);
    assert_eq!(t["skills"][1]["title"], "Async");
    app.llm.push(stream(
        &json!({"skills": [{"title": "Only", "description": null, "children": []}]}),
    ));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "ana",
            &json!({}),
        )
        .await?;
    finished(&app, "ana", &id_of(&res.body)?).await?;
    let t = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "ana")
        .await?
        .body;
    assert_eq!(t["node_count"], 1, "the new tree replaced the old one: {t}");

    // The generic endpoint creates the same jobs.
    app.llm.push(stream(&cards(1)));
    let res = app
        .post("/api/v1/jobs", "ana", &json!({"type": "flashcards", "payload": {"plan_id": plan, "max_cards": 1}, "priority": 5}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_eq!(res.body["priority"], 5);
    assert_eq!(
        finished(&app, "ana", &id_of(&res.body)?).await?["status"],
        "completed"
    );
    app.stop().await;
    Ok(())
}

async fn fails_as(reply: Reply, class: &str, kind: &str, options: Options) -> TestResult {
    let app = App::start(options).await?;
    let plan = ready_plan(&app, "ben").await?;
    app.llm.push(stream(&cards(1)));
    let job = id_of(
        &app.post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "ben",
            &json!({}),
        )
        .await?
        .body,
    )?;
    finished(&app, "ben", &job).await?;
    let card = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "ben")
        .await?
        .body["items"][0]["id"]
        .as_str()
        .ok_or("card")?
        .to_owned();
    app.llm.set_default(reply);
    let path = match kind {
        "flashcards" => format!("/api/v1/plans/{plan}/flashcards"),
        "distractors" => format!("/api/v1/flashcards/{card}/distractors"),
        _ => format!("/api/v1/plans/{plan}/skill-tree"),
    };
    let res = app.post(&path, "ben", &json!({})).await?;
    let job = id_of(&res.body)?;
    let done = finished(&app, "ben", &job).await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["attempts"], 3);
    assert_eq!(done["error"]["classification"], class);
    assert!(
        done["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    // Nothing was written by the failed job.
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "ben")
        .await?
        .body;
    assert_eq!(deck["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        deck["items"][0]["mode"], "question_answer",
        "a failed distractor job leaves the card usable"
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}/skill-tree"), "ben")
            .await?
            .status,
        404
    );
    // A manual retry is a new job with the same type and payload; only failed jobs retry.
    let res = app
        .post(&format!("/api/v1/jobs/{job}/retry"), "ben", &json!({}))
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    assert_ne!(res.body["id"], json!(job));
    assert_eq!(res.body["type"], done["type"]);
    assert_eq!(res.body["payload"], done["payload"]);
    let again = app
        .post(
            &format!("/api/v1/jobs/{}/retry", id_of(&res.body)?),
            "ben",
            &json!({}),
        )
        .await?;
    assert_eq!(
        (again.status, again.body["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_distractor_job_with_invalid_output_fails_as_validation_after_its_runs() -> TestResult {
    fails_as(
        stream(&json!({"distractors": ["A1", "x", "x"]})),
        "validation",
        "distractors",
        Options::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flashcards_job_fails_as_provider_error_on_5xx() -> TestResult {
    fails_as(
        Reply::openai_error(503, "down"),
        "provider_error",
        "flashcards",
        Options::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skill_tree_job_fails_as_rate_limit_on_429() -> TestResult {
    fails_as(
        Reply::openai_error(429, "slow down"),
        "rate_limit",
        "skill_tree",
        Options::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_skill_tree_job_times_out() -> TestResult {
    let options = Options {
        timeout: Duration::from_millis(300),
        extended_timeout: Duration::from_millis(600),
        ..Options::default()
    };
    fails_as(Reply::StallBeforeHeaders, "timeout", "skill_tree", options).await
}

#[tokio::test(flavor = "multi_thread")]
async fn retries_wait_for_a_doubling_backoff() -> TestResult {
    let app = App::start(Options {
        backoff_base: Duration::from_secs(1),
        ..Options::default()
    })
    .await?;
    let plan = ready_plan(&app, "cat").await?;
    let before = app.llm.requests().len();
    app.llm.set_default(Reply::openai_error(500, "boom"));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "cat",
            &json!({}),
        )
        .await?;
    let done = finished(&app, "cat", &id_of(&res.body)?).await?;
    assert_eq!(done["attempts"], 3);
    let calls: Vec<_> = app.llm.requests()[before..].iter().map(|r| r.at).collect();
    assert_eq!(calls.len(), 3, "one provider call per run");
    let first = calls[1] - calls[0];
    let second = calls[2] - calls[1];
    // 1 s after run 1, 2 s after run 2 (each + up to 25 % jitter, + the run's own time): a
    // constant delay cannot be both under 1.9 s and over 2 s.
    assert!(
        first >= Duration::from_secs(1) && first < Duration::from_millis(1_900),
        "first gap {first:?}"
    );
    assert!(second >= Duration::from_secs(2), "second gap {second:?}");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_job_requests_are_4xx_naming_the_field() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let plan = app.create_plan("dan", "Pending plan").await?;
    let cases = [
        (json!({"payload": {}}), "type"),
        (
            json!({"type": "plan_generation", "payload": {"plan_id": plan}}),
            "type",
        ),
        (
            json!({"type": "flashcards", "payload": {}}),
            "payload.plan_id",
        ),
        (
            json!({"type": "flashcards", "payload": {"plan_id": plan, "max_cards": 0}}),
            "payload.max_cards",
        ),
        (
            json!({"type": "flashcards", "payload": {"plan_id": plan, "max_cards": "5"}}),
            "payload.max_cards",
        ),
        (
            json!({"type": "distractors", "payload": {"flashcard_id": "card-1"}}),
            "payload.flashcard_id",
        ),
        (json!({"type": "skill_tree", "payload": [plan]}), "payload"),
        (
            json!({"type": "skill_tree", "payload": {"plan_id": plan}, "priority": 1000}),
            "priority",
        ),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/jobs", "dan", &body).await?;
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        assert_eq!(
            res.body["errors"][0]["field"], field,
            "{body}: {}",
            res.body
        );
    }
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "dan",
            &json!({"max_cards": 51}),
        )
        .await?;
    assert_eq!(res.body["errors"][0]["field"], "max_cards");
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "dan",
            &json!({}),
        )
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (409, Some("INVALID_STATE")),
        "no modules yet"
    );
    let unknown = uuid_like();
    let res = app
        .post(
            "/api/v1/jobs",
            "dan",
            &json!({"type": "skill_tree", "payload": {"plan_id": unknown}}),
        )
        .await?;
    assert_eq!(res.status, 404);
    let res = app
        .post(
            &format!("/api/v1/flashcards/{unknown}/distractors"),
            "dan",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 404);
    app.stop().await;
    Ok(())
}

fn uuid_like() -> String {
    JobId::new().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rate_limit_is_exact_under_concurrent_requests() -> TestResult {
    let app = App::start(Options {
        workers: false,
        rate_limit: 20,
        ..Options::default()
    })
    .await?;
    let plan = app.create_plan("eve", "Rate limited plan").await?;
    let body = json!({"type": "skill_tree", "payload": {"plan_id": plan}});
    for _ in 0..5 {
        assert_eq!(app.post("/api/v1/jobs", "eve", &body).await?.status, 202);
    }
    let answers =
        futures::future::try_join_all((0..20).map(|_| app.post("/api/v1/jobs", "eve", &body)))
            .await?;
    let accepted = answers.iter().filter(|a| a.status == 202).count();
    let limited: Vec<_> = answers.iter().filter(|a| a.status == 429).collect();
    assert_eq!((accepted, limited.len()), (15, 5));
    for a in limited {
        assert_eq!(a.body["code"], "RATE_LIMITED");
        let retry: u64 = a.header("retry-after").ok_or("retry-after")?.parse()?;
        assert!((3_590..=3_600).contains(&retry), "{retry}");
    }
    // Other types have their own window; retries count toward theirs.
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/regenerate"),
            "eve",
            &json!({}),
        )
        .await?;
    assert_eq!(
        res.status, 409,
        "a generation is still queued: {}",
        res.body
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_content_is_not_found_on_every_endpoint() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "fay").await?;
    app.llm.push(stream(&cards(1)));
    let job = id_of(
        &app.post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "fay",
            &json!({}),
        )
        .await?
        .body,
    )?;
    finished(&app, "fay", &job).await?;
    let card = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "fay")
        .await?
        .body["items"][0]["id"]
        .as_str()
        .ok_or("card")?
        .to_owned();
    let checks: Vec<(&str, String, Value)> = vec![
        (
            "POST",
            format!("/api/v1/plans/{plan}/flashcards"),
            json!({}),
        ),
        (
            "GET",
            format!("/api/v1/plans/{plan}/flashcards"),
            Value::Null,
        ),
        (
            "POST",
            format!("/api/v1/flashcards/{card}/distractors"),
            json!({}),
        ),
        (
            "POST",
            format!("/api/v1/plans/{plan}/skill-tree"),
            json!({}),
        ),
        (
            "GET",
            format!("/api/v1/plans/{plan}/skill-tree"),
            Value::Null,
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            json!({"type": "skill_tree", "payload": {"plan_id": plan}}),
        ),
        (
            "POST",
            "/api/v1/jobs".to_owned(),
            json!({"type": "distractors", "payload": {"flashcard_id": card}}),
        ),
        ("POST", format!("/api/v1/jobs/{job}/retry"), json!({})),
        ("POST", format!("/api/v1/jobs/{job}/cancel"), json!({})),
        ("GET", format!("/api/v1/jobs/{job}"), Value::Null),
    ];
    for (method, path, body) in checks {
        let body = (!body.is_null()).then_some(&body);
        let res = app.send(method, &path, Some("gus"), body, &[]).await?;
        assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_forced_rescue_never_duplicates_cards() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let hal = UserId::parse("hal").ok_or("user")?;
    // A ready plan without workers: generate it through the store's own path.
    let plan = app.create_plan("hal", "Rescue topic").await?;
    let plan_id = PlanId::from_uuid(plan.parse()?);
    let gen_job = app.store.claim("w").await?.ok_or("no generation job")?;
    let content = syllabus_domain::validate_plan(&serde_json::from_str(&plan_json(1, 1, 60))?)
        .map_err(|e| e.to_string())?;
    syllabus_store::GenerationStore::finish_generation(
        &app.store,
        gen_job.lease,
        &hal,
        plan_id,
        syllabus_store::records::NewAttempt::default(),
        Some(content),
        JobEnd::Completed { result: json!({}) },
        None,
    )
    .await?;

    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "hal",
            &json!({"max_cards": 2}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let first = app.store.claim("w1").await?.ok_or("nothing claimed")?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.store.rescue_stale(Duration::from_millis(1)).await?, 1);
    let second = app.store.claim("w2").await?.ok_or("not reclaimable")?;
    let two = |q: &str| {
        vec![
            (
                FlashcardId::new(),
                syllabus_domain::content::Flashcard {
                    question: format!("{q}1"),
                    answer: "a".into(),
                },
            ),
            (
                FlashcardId::new(),
                syllabus_domain::content::Flashcard {
                    question: format!("{q}2"),
                    answer: "b".into(),
                },
            ),
        ]
    };
    let end = JobEnd::Completed { result: json!({}) };
    app.store
        .finish_flashcards(
            second.lease,
            &hal,
            plan_id,
            None,
            two("new"),
            end.clone(),
            None,
        )
        .await?;
    let stale = app
        .store
        .finish_flashcards(first.lease, &hal, plan_id, None, two("old"), end, None)
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    let deck = app.store.flashcards(&hal, plan_id).await?;
    let questions: Vec<_> = deck.iter().map(|c| c.question.as_str()).collect();
    assert_eq!(questions, ["new1", "new2"]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn cancelling_and_pruning_jobs() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let plan = app.create_plan("ida", "Prune topic").await?;
    let body = json!({"type": "skill_tree", "payload": {"plan_id": plan}});
    let mut ids = Vec::new();
    for _ in 0..4 {
        ids.push(id_of(&app.post("/api/v1/jobs", "ida", &body).await?.body)?);
    }
    let res = app
        .post(
            &format!("/api/v1/jobs/{}/cancel", ids[0]),
            "ida",
            &json!({}),
        )
        .await?;
    assert_eq!(res.body["status"], "cancelled");
    // Age the jobs: completed 25 h ago, failed 2 days and 8 days ago, one still pending.
    let mut conn =
        <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&app.url)
            .await?;
    use diesel_async::SimpleAsyncConnection;
    for (id, status, age) in [
        (&ids[1], "completed", "25 hours"),
        (&ids[2], "failed", "2 days"),
        (&ids[3], "failed", "8 days"),
    ] {
        conn.batch_execute(&format!(
            "SELECT set_config('syllabus.scope', 'system', false); UPDATE jobs SET status = '{status}', completed_at = now() - interval '{age}', error_message = 'x', error_classification = 'provider_error' WHERE id = '{id}'"
        ))
        .await?;
    }
    let pruned = app
        .store
        .prune(
            Duration::from_secs(24 * 3_600),
            Duration::from_secs(7 * 24 * 3_600),
        )
        .await?;
    assert_eq!(pruned, 2);
    let left: Vec<String> = app.get("/api/v1/jobs?type=skill_tree", "ida").await?.body["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .map(|j| j["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(
        left.contains(&ids[0]) && left.contains(&ids[2]),
        "the fresh cancelled and the 2-day-old failed job stay"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn prefer_wait_answers_within_100_ms_of_completion() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "jon").await?;
    app.llm.push(Reply::stream(
        &tree().to_string(),
        2,
        Duration::from_millis(600),
    ));
    let job = id_of(
        &app.post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "jon",
            &json!({}),
        )
        .await?
        .body,
    )?;
    let mut body = app.get(&format!("/api/v1/jobs/{job}"), "jon").await?.body;
    while body["status"] == "pending" {
        tokio::time::sleep(Duration::from_millis(20)).await;
        body = app.get(&format!("/api/v1/jobs/{job}"), "jon").await?.body;
    }
    assert_eq!(body["status"], "processing");
    let res = app
        .send(
            "GET",
            &format!("/api/v1/jobs/{job}"),
            Some("jon"),
            None,
            &[("prefer", "wait=30")],
        )
        .await?;
    let answered = chrono::Utc::now();
    assert_eq!(res.body["status"], "completed", "{}", res.body);
    let completed: chrono::DateTime<chrono::Utc> = res.body["completed_at"]
        .as_str()
        .ok_or("completed_at")?
        .parse()?;
    let lag = answered - completed;
    assert!(
        lag < chrono::Duration::milliseconds(100),
        "answered {} ms after completion",
        lag.num_milliseconds()
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_tree_and_distractor_jobs_for_one_subject_all_complete_and_replace() -> TestResult
{
    let app = App::start(Options {
        concurrency: 8,
        rate_limit: 100,
        ..Options::default()
    })
    .await?;
    let plan = ready_plan(&app, "kai").await?;
    app.llm.push(stream(&cards(1)));
    let job = id_of(
        &app.post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "kai",
            &json!({}),
        )
        .await?
        .body,
    )?;
    finished(&app, "kai", &job).await?;
    let card = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "kai")
        .await?
        .body["items"][0]["id"]
        .as_str()
        .ok_or("card")?
        .to_owned();
    app.llm.set_default(stream(&tree()));
    let empty = json!({});
    let tree_path = format!("/api/v1/plans/{plan}/skill-tree");
    let card_path = format!("/api/v1/flashcards/{card}/distractors");
    let trees =
        futures::future::try_join_all((0..6).map(|_| app.post(&tree_path, "kai", &empty))).await?;
    let mut jobs: Vec<String> = trees
        .iter()
        .map(|r| id_of(&r.body))
        .collect::<Result<_, _>>()?;
    for j in &jobs {
        assert_eq!(finished(&app, "kai", j).await?["status"], "completed");
    }
    let t = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "kai")
        .await?
        .body;
    assert_eq!(t["node_count"], 5, "one whole tree: {t}");
    app.llm
        .set_default(stream(&json!({"distractors": ["X", "Y", "Z"]})));
    let answers =
        futures::future::try_join_all((0..6).map(|_| app.post(&card_path, "kai", &empty))).await?;
    jobs = answers
        .iter()
        .map(|r| id_of(&r.body))
        .collect::<Result<_, _>>()?;
    for j in &jobs {
        assert_eq!(finished(&app, "kai", j).await?["status"], "completed");
    }
    let deck = app
        .get(&format!("/api/v1/plans/{plan}/flashcards"), "kai")
        .await?
        .body;
    assert_eq!(deck["items"][0]["distractors"], json!(["X", "Y", "Z"]));
    app.stop().await;
    Ok(())
}
