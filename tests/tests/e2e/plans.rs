//! Plans end to end: the real API and workers in-process, a per-test PostgreSQL database and a
//! fake OpenAI-compatible server over real HTTP.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use syllabus_e2e::{App, Options, plan_body, plan_json};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

fn ok_plan(modules: usize, tasks: usize) -> Reply {
    Reply::stream(&plan_json(modules, tasks, 60), 4, Duration::ZERO)
}

fn attempts_classes(attempts: &Value) -> Vec<String> {
    attempts["items"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|i| i["classification"].as_str().unwrap_or("success").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_is_created_pending_at_once_and_becomes_ready_with_ordered_content() -> TestResult {
    let app = App::start(Options::default()).await?;
    // The first answer is slow: creation must not wait for it.
    app.llm.push(Reply::stream(
        &plan_json(3, 2, 600),
        3,
        Duration::from_millis(300),
    ));
    let long_topic = "abcdefghij".repeat(30); // 300 characters
    let started = Instant::now();
    let res = app
        .send(
            "POST",
            "/api/v1/plans",
            Some("alice"),
            Some(&plan_body(&long_topic)),
            &[("x-request-id", "req-create-1")],
        )
        .await?;
    assert!(
        started.elapsed() < Duration::from_millis(800),
        "creation waited for the provider"
    );
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["status"], "pending");
    assert_eq!(res.body["modules"], json!([]));
    assert_eq!(res.body["attempts_used"], 0);
    assert_eq!(res.body["attempts_cap"], 3);
    assert_eq!(res.body["input"]["topic_truncated"], true);
    assert_eq!(res.body["input"]["topic_original_length"], 300);
    assert_eq!(
        res.body["topic"].as_str().map(|t| t.chars().count()),
        Some(200)
    );
    assert_eq!(res.header("x-request-id"), Some("req-create-1"));
    let id = res.body["id"].as_str().ok_or("id")?.to_owned();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/plans/{id}").as_str())
    );

    let plan = app.settle("alice", &id, SETTLE).await?;
    assert_eq!(plan["status"], "ready", "{plan}");
    let modules = plan["modules"].as_array().ok_or("modules")?;
    assert_eq!(modules.len(), 3);
    for (i, m) in modules.iter().enumerate() {
        assert_eq!(m["order"], i + 1);
        assert_eq!(m["title"], format!("Module {}", i + 1));
        assert_eq!(m["estimated_minutes"], 480, "600 is clamped to 480");
        let tasks = m["tasks"].as_array().ok_or("tasks")?;
        assert_eq!(
            tasks
                .iter()
                .map(|t| t["order"].as_u64())
                .collect::<Vec<_>>(),
            [Some(1), Some(2)]
        );
    }
    assert_eq!(plan["total_minutes"], 3 * 480);
    let attempt = &plan["latest_attempt"];
    assert_eq!(attempt["status"], "success");
    assert_eq!(attempt["number"], 1);
    assert_eq!(attempt["modules_clamped"], 3);
    assert_eq!(attempt["effort_normalized"], true);
    assert_eq!(attempt["topic_truncated"], true);
    assert_eq!(attempt["classification"], Value::Null);
    assert_eq!(attempt["model"], "fake-model");
    assert_eq!(attempt["prompt_hash"].as_str().map(str::len), Some(64));

    // The job that did it carries the request id of the request that created it.
    let jobs = app
        .get("/api/v1/jobs?type=plan_generation", "alice")
        .await?;
    assert_eq!(jobs.body["items"][0]["status"], "completed");
    assert_eq!(jobs.body["items"][0]["result"]["modules_count"], 3);
    let listed = app.get("/api/v1/plans?status=ready", "alice").await?;
    assert_eq!(listed.body["items"][0]["id"], id.as_str());
    assert!(
        listed.body["items"][0].get("modules").is_none(),
        "lists carry no modules"
    );
    assert_eq!(
        app.get("/api/v1/plans?status=pending", "alice").await?.body["items"],
        json!([])
    );
    app.stop().await;
    Ok(())
}

async fn fails_three_times_as(reply: Reply, class: &str, options: Options) -> TestResult {
    let app = App::start(options).await?;
    app.llm.set_default(reply);
    let id = app.create_plan("bob", "Failing topic").await?;
    let plan = app.settle("bob", &id, SETTLE).await?;
    assert_eq!(plan["status"], "failed", "{plan}");
    assert_eq!(plan["modules"], json!([]));
    assert_eq!(plan["attempts_used"], 3);
    assert_eq!(plan["latest_attempt"]["classification"], class);
    assert!(
        plan["latest_attempt"]["error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    let attempts = app
        .get(&format!("/api/v1/plans/{id}/attempts"), "bob")
        .await?;
    assert_eq!(attempts_classes(&attempts.body), [class, class, class]);
    let numbers: Vec<_> = attempts.body["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .map(|a| a["number"].clone())
        .collect();
    assert_eq!(numbers, [json!(3), json!(2), json!(1)], "newest first");
    let jobs = app.get("/api/v1/jobs", "bob").await?;
    assert_eq!(jobs.body["items"][0]["status"], "failed");
    assert_eq!(jobs.body["items"][0]["error"]["classification"], class);
    assert_eq!(jobs.body["items"][0]["attempts"], 3);

    // A fourth try is capped: 409 and a capped attempt row, no provider call.
    let calls = app.llm.requests().len();
    let res = app
        .post(&format!("/api/v1/plans/{id}/regenerate"), "bob", &json!({}))
        .await?;
    assert_eq!(res.status, 409, "{}", res.body);
    assert_eq!(res.body["code"], "ATTEMPTS_CAPPED");
    assert_eq!(res.header("content-type"), Some("application/problem+json"));
    let attempts = app
        .get(&format!("/api/v1/plans/{id}/attempts"), "bob")
        .await?;
    assert_eq!(attempts_classes(&attempts.body)[0], "capped");
    assert_eq!(attempts.body["items"][0]["number"], Value::Null);
    assert_eq!(app.llm.requests().len(), calls);
    let plan = app.get(&format!("/api/v1/plans/{id}"), "bob").await?;
    assert_eq!(plan.body["status"], "failed");
    assert_eq!(plan.body["attempts_used"], 3, "capped rows do not count");

    // Refused regenerates do not grow the attempts: the plan keeps one capped row.
    for _ in 0..3 {
        let res = app
            .post(&format!("/api/v1/plans/{id}/regenerate"), "bob", &json!({}))
            .await?;
        assert_eq!(res.body["code"], "ATTEMPTS_CAPPED");
    }
    let all = app
        .get(&format!("/api/v1/plans/{id}/attempts"), "bob")
        .await?;
    assert_eq!(
        attempts_classes(&all.body),
        ["capped", class, class, class],
        "{}",
        all.body
    );
    assert_eq!(all.body["next_cursor"], Value::Null);

    // Attempts page like the other lists: limit and an opaque cursor.
    let first = app
        .get(&format!("/api/v1/plans/{id}/attempts?limit=3"), "bob")
        .await?;
    assert_eq!(first.body["items"].as_array().map(Vec::len), Some(3));
    let cursor = first.body["next_cursor"].as_str().ok_or("a next page")?;
    let second = app
        .get(
            &format!("/api/v1/plans/{id}/attempts?limit=3&cursor={cursor}"),
            "bob",
        )
        .await?;
    assert_eq!(second.body["next_cursor"], Value::Null);
    let paged: Vec<Value> = [&first.body, &second.body]
        .iter()
        .flat_map(|b| b["items"].as_array().cloned().unwrap_or_default())
        .collect();
    assert_eq!(Some(&paged), all.body["items"].as_array(), "pages join up");
    let bad = app
        .get(&format!("/api/v1/plans/{id}/attempts?limit=0"), "bob")
        .await?;
    assert_eq!(bad.status, 400, "{}", bad.body);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_errors_fail_the_plan_after_three_attempts_then_regenerate_is_capped() -> TestResult
{
    fails_three_times_as(
        Reply::openai_error(500, "boom"),
        "provider_error",
        Options::default(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limits_are_classified_and_retry_after_is_honoured() -> TestResult {
    let reply = Reply::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "1".into())],
        body: r#"{"error":{"message":"quota","type":"insufficient_quota","code":429}}"#.into(),
    };
    let started = Instant::now();
    fails_three_times_as(reply, "rate_limit", Options::default()).await?;
    // Two retries, each after at least the 1 s Retry-After (the backoff base is 50 ms).
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_provider_times_out() -> TestResult {
    let options = Options {
        timeout: Duration::from_millis(300),
        extended_timeout: Duration::from_millis(600),
        ..Options::default()
    };
    fails_three_times_as(Reply::StallBeforeHeaders, "timeout", options).await
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_output_is_a_validation_failure_and_the_retry_reasks_with_the_errors()
-> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm.push(Reply::stream(
        r#"{"modules": [{"title": "", "estimated_minutes": 0, "tasks": []}]}"#,
        2,
        Duration::ZERO,
    ));
    app.llm.set_default(ok_plan(2, 2));
    let id = app.create_plan("carol", "Validation topic").await?;
    let plan = app.settle("carol", &id, SETTLE).await?;
    assert_eq!(plan["status"], "ready", "{plan}");
    let attempts = app
        .get(&format!("/api/v1/plans/{id}/attempts"), "carol")
        .await?;
    assert_eq!(attempts_classes(&attempts.body), ["success", "validation"]);
    let requests = app.llm.requests();
    assert_eq!(requests.len(), 2);
    let reask = requests[1].body.to_string();
    assert!(
        reask.contains("modules[0].title"),
        "the re-ask names the fields: {reask}"
    );
    assert!(!requests[0].body.to_string().contains("modules[0].title"));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_is_answered_4xx_with_the_field_named() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let with = |k: &str, v: Value| {
        let mut b = plan_body("Valid topic");
        b[k] = v;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (with("topic", json!("  x ")), "topic"),
        (with("topic", json!("Rust\u{0}async")), "topic"),
        (with("notes", json!("a\u{0}b")), "notes"),
        (
            with("topic", json!(format!("ab{}xyz", " ".repeat(198)))),
            "topic",
        ),
        (
            with("topic", json!(format!("e{}", "\u{301}".repeat(300)))),
            "topic",
        ),
        (with("skill_level", json!("guru")), "skill_level"),
        (with("learning_style", json!(3)), "learning_style"),
        (with("weekly_hours", json!(81)), "weekly_hours"),
        (with("weekly_hours", json!("5")), "weekly_hours"),
        (with("start_date", json!("2026-13-01")), "start_date"),
        (
            json!({"topic": "Valid", "skill_level": "beginner", "learning_style": "video"}),
            "weekly_hours",
        ),
        (json!([1, 2]), "body"),
    ];
    for (body, field) in cases {
        let res = app.post("/api/v1/plans", "dave", &body).await?;
        assert_eq!(res.status, 400, "{body}: {}", res.body);
        assert_eq!(res.body["code"], "VALIDATION_ERROR");
        assert_eq!(res.header("content-type"), Some("application/problem+json"));
        let fields: Vec<_> = res.body["errors"]
            .as_array()
            .ok_or("errors")?
            .iter()
            .map(|e| e["field"].clone())
            .collect();
        assert!(fields.contains(&json!(field)), "{body}: {}", res.body);
        assert!(res.body["request_id"].is_string());
    }
    let mut dates = plan_body("Valid topic");
    dates["start_date"] = json!("2026-05-01");
    dates["deadline_date"] = json!("2026-04-01");
    let res = app.post("/api/v1/plans", "dave", &dates).await?;
    assert_eq!(res.body["errors"][0]["field"], "deadline_date");

    let raw = |body: &'static str, ct: &'static str| {
        let http = reqwest::Client::new();
        let url = format!("{}/api/v1/plans", app.base);
        async move {
            let res = http
                .post(url)
                .header(
                    "authorization",
                    format!("Bearer {}", syllabus_e2e::token("dave")),
                )
                .header("content-type", ct)
                .body(body)
                .send()
                .await?;
            let status = res.status().as_u16();
            let body: Value = serde_json::from_slice(&res.bytes().await?).unwrap_or(Value::Null);
            Ok::<_, syllabus_e2e::Error>((status, body))
        }
    };
    let (status, body) = raw("{\"topic\": ", "application/json").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("VALIDATION_ERROR"))
    );
    let (status, body) = raw("{}", "text/plain").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (415, Some("UNSUPPORTED_MEDIA_TYPE"))
    );
    let big = Box::leak(format!("{{\"topic\": \"{}\"}}", "a".repeat(70_000)).into_boxed_str());
    let (status, body) = raw(big, "application/json").await?;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE"))
    );

    let res = app.get("/api/v1/plans/not-a-uuid", "dave").await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    let res = app.get("/api/v1/jobs/42", "dave").await?;
    assert_eq!(res.status, 404);
    let res = app.get("/api/v1/plans?limit=0", "dave").await?;
    assert_eq!(res.body["errors"][0]["field"], "limit");
    let res = app.get("/api/v1/plans?status=done", "dave").await?;
    assert_eq!(res.body["errors"][0]["field"], "status");
    let res = app.send("GET", "/api/v1/plans", None, None, &[]).await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (401, Some("UNAUTHORIZED"))
    );
    let res = app
        .send(
            "GET",
            "/api/v1/plans",
            None,
            None,
            &[("authorization", "Bearer abc.def.ghi")],
        )
        .await?;
    assert_eq!(res.status, 401);
    assert!(
        res.header("x-request-id").is_some(),
        "every response has a request id"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn users_cannot_see_or_touch_each_others_plans_and_jobs() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let id = app.create_plan("erin", "Erin's topic").await?;
    let job = app.get("/api/v1/jobs", "erin").await?.body["items"][0]["id"]
        .as_str()
        .ok_or("job")?
        .to_owned();
    for (method, path) in [
        ("GET", format!("/api/v1/plans/{id}")),
        ("GET", format!("/api/v1/plans/{id}/attempts")),
        ("POST", format!("/api/v1/plans/{id}/regenerate")),
        ("DELETE", format!("/api/v1/plans/{id}")),
        ("GET", format!("/api/v1/jobs/{job}")),
        ("POST", format!("/api/v1/jobs/{job}/cancel")),
    ] {
        let res = app.send(method, &path, Some("mallory"), None, &[]).await?;
        assert_eq!(res.status, 404, "{method} {path}: {}", res.body);
    }
    assert_eq!(
        app.get("/api/v1/plans", "mallory").await?.body["items"],
        json!([])
    );
    assert_eq!(
        app.get("/api/v1/jobs", "mallory").await?.body["items"],
        json!([])
    );
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"), "erin")
            .await?
            .status,
        200
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn regenerate_conflicts_while_queued_cancel_and_delete_follow_the_rules() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let id = app.create_plan("frank", "Queued topic").await?;
    let res = app
        .post(
            &format!("/api/v1/plans/{id}/regenerate"),
            "frank",
            &json!({}),
        )
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );
    let job = app.get("/api/v1/jobs", "frank").await?.body["items"][0]["id"]
        .as_str()
        .ok_or("job")?
        .to_owned();
    let res = app
        .post(&format!("/api/v1/jobs/{job}/cancel"), "frank", &json!({}))
        .await?;
    assert_eq!(
        (res.status, res.body["status"].as_str()),
        (200, Some("cancelled"))
    );
    let res = app
        .post(&format!("/api/v1/jobs/{job}/cancel"), "frank", &json!({}))
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (409, Some("INVALID_STATE"))
    );
    // Nothing queued any more: regenerate is accepted with a Location.
    let res = app
        .post(
            &format!("/api/v1/plans/{id}/regenerate"),
            "frank",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let new_job = res.body["id"].as_str().ok_or("id")?.to_owned();
    assert_eq!(
        res.header("location"),
        Some(format!("/api/v1/jobs/{new_job}").as_str())
    );
    // Deleting the plan cancels its pending job and removes the plan.
    let res = app
        .send(
            "DELETE",
            &format!("/api/v1/plans/{id}"),
            Some("frank"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 204);
    assert_eq!(
        app.get(&format!("/api/v1/plans/{id}"), "frank")
            .await?
            .status,
        404
    );
    let job = app.get(&format!("/api/v1/jobs/{new_job}"), "frank").await?;
    assert_eq!(job.body["status"], "cancelled");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn creating_plans_is_rate_limited_per_user_with_retry_after() -> TestResult {
    let app = App::start(Options {
        workers: false,
        rate_limit: 2,
        ..Options::default()
    })
    .await?;
    app.create_plan("gina", "Topic one").await?;
    app.create_plan("gina", "Topic two").await?;
    let res = app
        .post("/api/v1/plans", "gina", &plan_body("Topic three"))
        .await?;
    assert_eq!(
        (res.status, res.body["code"].as_str()),
        (429, Some("RATE_LIMITED"))
    );
    let retry: u64 = res.header("retry-after").ok_or("retry-after")?.parse()?;
    assert!((3_590..=3_600).contains(&retry), "{retry}");
    // Another user is not affected.
    app.create_plan("hank", "Topic one").await?;
    app.stop().await;
    Ok(())
}

/// One `GET` with `Prefer: wait` of a pending plan, or of a processing job, is held until the
/// change and answers the new state: a server that ignored the header would answer `pending`
/// (or `processing`) at once.
#[tokio::test(flavor = "multi_thread")]
async fn prefer_wait_holds_one_request_until_the_change() -> TestResult {
    let app = App::start(Options::default()).await?;
    // Each plan's answer streams over about 1.4 s.
    app.llm.set_default(Reply::stream(
        &plan_json(1, 1, 60),
        2,
        Duration::from_millis(700),
    ));

    let plan = app.create_plan("ivy", "Waiting topic").await?;
    let started = Instant::now();
    let res = app
        .send(
            "GET",
            &format!("/api/v1/plans/{plan}"),
            Some("ivy"),
            None,
            &[("prefer", "wait=20")],
        )
        .await?;
    let held = started.elapsed();
    assert_eq!(res.header("preference-applied"), Some("wait=20"));
    assert_eq!(
        res.body["status"], "ready",
        "one held request: {}",
        res.body
    );
    assert!(
        held >= Duration::from_millis(500) && held < Duration::from_secs(20),
        "held {held:?}"
    );

    app.create_plan("ivy", "Waiting job topic").await?;
    let job = app.get("/api/v1/jobs?limit=1", "ivy").await?.body["items"][0]["id"]
        .as_str()
        .ok_or("job")?
        .to_owned();
    let path = format!("/api/v1/jobs/{job}");
    let mut tries = 0;
    while app.get(&path, "ivy").await?.body["status"] != "processing" {
        tries += 1;
        assert!(tries < 200, "the job was never picked up");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let res = app
        .send("GET", &path, Some("ivy"), None, &[("prefer", "wait=20")])
        .await?;
    let held = started.elapsed();
    assert_eq!(res.header("preference-applied"), Some("wait=20"));
    assert_eq!(
        res.body["status"], "completed",
        "one held request: {}",
        res.body
    );
    assert!(held < Duration::from_secs(20), "held {held:?}");
    let completed: chrono::DateTime<chrono::Utc> = res.body["completed_at"]
        .as_str()
        .ok_or("completed_at")?
        .parse()?;
    let lag = chrono::Utc::now() - completed;
    assert!(
        lag < chrono::Duration::milliseconds(1_000),
        "answered {lag} after completion"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_plans_from_several_users_all_become_ready_with_their_own_modules() -> TestResult {
    let app = App::start(Options {
        concurrency: 8,
        ..Options::default()
    })
    .await?;
    app.llm.set_default(ok_plan(2, 3));
    let creates = (0..50).map(|i| {
        let app = &app;
        async move {
            let user = format!("user-{}", i % 5);
            let id = app.create_plan(&user, &format!("Topic number {i}")).await?;
            Ok::<_, syllabus_e2e::Error>((user, id))
        }
    });
    let plans = futures::future::try_join_all(creates).await?;
    let mut module_ids = std::collections::HashSet::new();
    for (user, id) in &plans {
        let plan = app.settle(user, id, Duration::from_secs(60)).await?;
        assert_eq!(plan["status"], "ready", "{plan}");
        assert_eq!(
            plan["topic"]
                .as_str()
                .map(|t| t.starts_with("Topic number")),
            Some(true)
        );
        let modules = plan["modules"].as_array().ok_or("modules")?;
        assert_eq!(modules.len(), 2);
        for m in modules {
            assert!(
                module_ids.insert(m["id"].as_str().unwrap_or_default().to_owned()),
                "a module shared by two plans"
            );
        }
        assert_eq!(plan["attempts_used"], 1);
    }
    for u in 0..5 {
        let list = app
            .get("/api/v1/plans?limit=100", &format!("user-{u}"))
            .await?;
        assert_eq!(list.body["items"].as_array().map(Vec::len), Some(10));
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_page_with_an_opaque_cursor() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    for i in 0..5 {
        app.create_plan("kim", &format!("Paged topic {i}")).await?;
    }
    let first = app.get("/api/v1/plans?limit=2", "kim").await?;
    let cursor = first.body["next_cursor"]
        .as_str()
        .ok_or("cursor")?
        .to_owned();
    let second = app
        .get(&format!("/api/v1/plans?limit=2&cursor={cursor}"), "kim")
        .await?;
    let third = app
        .get(
            &format!(
                "/api/v1/plans?limit=2&cursor={}",
                second.body["next_cursor"].as_str().ok_or("c2")?
            ),
            "kim",
        )
        .await?;
    let topics: Vec<_> = [&first, &second, &third]
        .iter()
        .flat_map(|p| p.body["items"].as_array().cloned().unwrap_or_default())
        .map(|p| p["topic"].clone())
        .collect();
    assert_eq!(topics.len(), 5);
    assert_eq!(topics[0], "Paged topic 4", "newest first");
    assert_eq!(topics[4], "Paged topic 0");
    assert_eq!(third.body["next_cursor"], Value::Null);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_openapi_document_describes_every_route_and_health_answers() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let doc = app
        .send("GET", "/api/v1/openapi.json", None, None, &[])
        .await?;
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    for (path, method) in [
        ("/api/v1/plans", "post"),
        ("/api/v1/plans", "get"),
        ("/api/v1/plans/{id}", "get"),
        ("/api/v1/plans/{id}", "delete"),
        ("/api/v1/plans/{id}/attempts", "get"),
        ("/api/v1/plans/{id}/regenerate", "post"),
        ("/api/v1/jobs", "get"),
        ("/api/v1/jobs/{id}", "get"),
        ("/api/v1/jobs/{id}/cancel", "post"),
        ("/api/v1/jobs", "post"),
        ("/api/v1/jobs/{id}/retry", "post"),
        ("/api/v1/plans/{id}/flashcards", "post"),
        ("/api/v1/plans/{id}/flashcards", "get"),
        ("/api/v1/flashcards/{id}/distractors", "post"),
        ("/api/v1/plans/{id}/skill-tree", "post"),
        ("/api/v1/plans/{id}/skill-tree", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/api/v1/session", "get"),
        ("/api/v1/session/dev", "post"),
    ] {
        assert!(
            doc.body["paths"][path][method].is_object(),
            "{method} {path} is undocumented"
        );
    }
    assert_eq!(
        app.send("GET", "/healthz", None, None, &[]).await?.status,
        200
    );
    assert_eq!(
        app.send("GET", "/readyz", None, None, &[]).await?.status,
        200
    );
    app.create_plan("lee", "Metrics topic").await?;
    let http = reqwest::Client::new();
    let text = http
        .get(format!("{}/metrics", app.base))
        .send()
        .await?
        .text()
        .await?;
    assert!(
        text.contains(r#"syllabus_jobs{type="plan_generation",status="pending"} 1"#),
        "{text}"
    );
    assert!(text.contains("syllabus_http_requests_total"), "{text}");
    assert!(text.contains("syllabus_jobs_oldest_ready_age_seconds"));
    assert!(
        text.contains("# TYPE syllabus_job_run_seconds histogram"),
        "{text}"
    );
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    // The queue figures are sampled, not aggregated per scrape: a second scrape within the
    // interval reports the same reading although another job was created.
    app.create_plan("lee", "Metrics topic two").await?;
    let again = http
        .get(format!("{}/metrics", app.base))
        .send()
        .await?
        .text()
        .await?;
    let queue = |t: &str| -> Vec<String> {
        let mut lines: Vec<String> = t
            .lines()
            .filter(|l| l.starts_with("syllabus_jobs{"))
            .map(str::to_owned)
            .collect();
        lines.sort();
        lines
    };
    assert_eq!(queue(&again), queue(&text), "{again}");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn notes_that_truncation_empties_are_reported_not_dropped() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    // One grapheme longer than the 2,000-character limit: the cut leaves nothing.
    let mut body = plan_body("Unicode notes");
    body["notes"] = json!(format!("e{}", "\u{301}".repeat(2_100)));
    let res = app.post("/api/v1/plans", "nora", &body).await?;
    assert_eq!(res.status, 201, "{}", res.body);
    assert_eq!(res.body["input"]["notes_truncated"], true, "{}", res.body);
    assert_eq!(res.body["input"]["notes_original_length"], 2_101);
    assert!(res.body["notes"].is_null(), "{}", res.body);
    app.stop().await;
    Ok(())
}

/// A failed plan whose three attempts are used, for `user`.
async fn capped_plan(app: &App, user: &str) -> Result<String, syllabus_e2e::Error> {
    app.llm.set_default(Reply::openai_error(500, "boom"));
    let id = app.create_plan(user, "Failing topic").await?;
    let plan = app.settle(user, &id, SETTLE).await?;
    assert_eq!(plan["status"], "failed", "{plan}");
    Ok(id)
}

/// A regenerate refused at the cap makes no provider call, but it still locks the plan and
/// writes: it counts toward the user's hourly limit like a job (issue #18).
#[tokio::test(flavor = "multi_thread")]
async fn capped_regenerates_count_toward_the_hourly_limit() -> TestResult {
    let app = App::start(Options {
        rate_limit: 4,
        ..Options::default()
    })
    .await?;
    let id = capped_plan(&app, "bob").await?;
    let path = format!("/api/v1/plans/{id}/regenerate");
    // The plan's creation used one of the four.
    for n in 2..=4 {
        let res = app.post(&path, "bob", &json!({})).await?;
        assert_eq!(
            res.body["code"], "ATTEMPTS_CAPPED",
            "request {n}: {}",
            res.body
        );
    }
    let res = app.post(&path, "bob", &json!({})).await?;
    assert_eq!(res.status, 429, "{}", res.body);
    assert_eq!(res.body["code"], "RATE_LIMITED");
    assert!(res.header("retry-after").is_some());
    // Another user is not affected.
    assert_eq!(
        app.post("/api/v1/plans", "alice", &plan_body("Rust"))
            .await?
            .status,
        201
    );
    app.stop().await;
    Ok(())
}

/// One user flooding writes that contend only with themselves (regenerates of one capped plan)
/// queues in the process, not on pooled connections parked in lock waits: at most one of the
/// pool's connections ever waits on a lock, and another user's reads go on.
#[tokio::test(flavor = "multi_thread")]
async fn one_user_flooding_writes_cannot_park_the_pool_on_locks() -> TestResult {
    use diesel::QueryableByName;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(QueryableByName)]
    struct Waiting {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }

    let app = std::sync::Arc::new(
        App::start(Options {
            pool: syllabus_store::PoolOptions {
                max_size: 8,
                ..syllabus_store::PoolOptions::default()
            },
            ..Options::default()
        })
        .await?,
    );
    let id = capped_plan(&app, "bob").await?;
    let admin = app.admin_url().ok_or("no admin url")?.to_owned();
    let mut conn = AsyncPgConnection::establish(&admin).await?;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut flood = Vec::new();
    for _ in 0..32 {
        let (app, stop, path) = (
            app.clone(),
            stop.clone(),
            format!("/api/v1/plans/{id}/regenerate"),
        );
        flood.push(tokio::spawn(async move {
            let mut answered = 0_u32;
            while !std::sync::atomic::AtomicBool::load(&stop, std::sync::atomic::Ordering::Relaxed)
            {
                let res = app.post(&path, "bob", &json!({})).await?;
                assert!(
                    [409, 429].contains(&res.status),
                    "{} {}",
                    res.status,
                    res.body
                );
                answered += 1;
            }
            Ok::<_, syllabus_e2e::Error>(answered)
        }));
    }
    let mut most_waiting = 0;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        let w: Waiting = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .get_result(&mut conn)
        .await?;
        most_waiting = most_waiting.max(w.n);
        let other = app.get("/api/v1/plans", "alice").await?;
        assert_eq!(other.status, 200, "{}", other.body);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for f in flood {
        answered += f.await??;
    }
    assert!(answered > 32, "the flood ran ({answered} answers)");
    assert!(
        most_waiting <= 1,
        "{most_waiting} connections waited on a lock at once"
    );
    if let Ok(app) = std::sync::Arc::try_unwrap(app) {
        app.stop().await;
    }
    Ok(())
}

/// A change that cannot get its lock in time (here held by another session, as another
/// instance's change of the same user would) is a 429 with `Retry-After`, not a 503; and a change
/// that waits too long for the user's previous one in this process is a 429 too, before it takes
/// a database connection.
#[tokio::test(flavor = "multi_thread")]
async fn a_busy_plan_and_a_long_write_queue_are_429_with_retry_after() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = std::sync::Arc::new(
        App::start(Options {
            workers: false,
            limits: syllabus_api::Limits {
                write_queue_timeout: Duration::from_millis(300),
                ..syllabus_api::Limits::default()
            },
            pool: syllabus_store::PoolOptions {
                lock_timeout: Some(Duration::from_millis(1_500)),
                ..syllabus_store::PoolOptions::default()
            },
            ..Options::default()
        })
        .await?,
    );
    let id = app.create_plan("bob", "Rust ownership").await?;
    let mut admin = AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?;
    admin
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM plans WHERE id = '{id}' FOR UPDATE"
        ))
        .await?;
    let path = format!("/api/v1/plans/{id}/regenerate");
    let first = {
        let (app, path) = (app.clone(), path.clone());
        tokio::spawn(async move { app.post(&path, "bob", &json!({})).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let queued = app.post(&path, "bob", &json!({})).await?;
    assert_eq!(queued.status, 429, "{}", queued.body);
    assert_eq!(queued.body["code"], "RATE_LIMITED");
    assert_eq!(queued.header("retry-after"), Some("1"));
    let busy = tokio::time::timeout(Duration::from_secs(20), first).await???;
    assert_eq!(busy.status, 429, "{}", busy.body);
    assert_eq!(busy.header("retry-after"), Some("1"));
    admin.batch_execute("ROLLBACK").await?;
    // Free again: the regenerate is refused for what it is (a generation is queued).
    let res = app.post(&path, "bob", &json!({})).await?;
    assert_eq!(res.status, 409, "{}", res.body);
    if let Ok(app) = std::sync::Arc::try_unwrap(app) {
        app.stop().await;
    }
    Ok(())
}
