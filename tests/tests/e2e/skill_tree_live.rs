//! Skill trees that grow live (issue #24 item 3): each top-level skill of the answer arrives on
//! the plan's event stream (`skill`) before the job completes, and the skills a failed answer
//! streamed stay readable there after the failure.

use std::time::Duration;

use serde_json::{Value, json};
use syllabus_e2e::{App, Options, SseEvent, plan_json};
use syllabus_testkit::Reply;
use syllabus_testkit::fake_llm::{End, content_events, finish_chunk, usage_chunk};

type TestResult = Result<(), syllabus_e2e::Error>;

const SETTLE: Duration = Duration::from_secs(30);

/// A ready plan for `user`.
async fn ready_plan(app: &App, user: &str) -> Result<String, syllabus_e2e::Error> {
    app.llm
        .push(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let id = app.create_plan(user, "Rust for services").await?;
    let plan = app.settle(user, &id, SETTLE).await?;
    if plan["status"] != "ready" {
        return Err(format!("plan not ready: {plan}").into());
    }
    Ok(id)
}

fn leaf(title: &str) -> Value {
    json!({"title": title, "description": null, "children": []})
}

fn first_root() -> Value {
    json!({"title": "Ownership", "description": "moves } and ]", "children": [
        {"title": "Borrowing", "description": null, "children": [leaf("Reborrows")]},
        leaf("Lifetimes"),
    ]})
}

/// Every event of a stream that ends by itself (a ready plan's, without `?progress=true`).
async fn all_events(
    app: &App,
    plan: &str,
    user: &str,
) -> Result<Vec<SseEvent>, syllabus_e2e::Error> {
    let mut stream = app
        .events(&format!("/api/v1/plans/{plan}/events"), user, None)
        .await?;
    let mut events = Vec::new();
    while let Some(e) = stream.next(SETTLE).await? {
        events.push(e);
    }
    Ok(events)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_skill_trees_top_level_skills_stream_before_the_job_completes() -> TestResult {
    // Deadlines longer than the answer's pause (a skill tree's deadline is not extended).
    let app = App::start(Options {
        timeout: Duration::from_secs(60),
        extended_timeout: Duration::from_secs(90),
        ..Options::default()
    })
    .await?;
    let plan = ready_plan(&app, "tia").await?;
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan}/events?progress=true"),
            "tia",
            None,
        )
        .await?;
    assert_eq!(stream.next(SETTLE).await?.ok_or("ended")?.event, "status");

    // Two skills stream in slowly, then the answer pauses long before the last: both must be
    // shown while the job still runs.
    let text = json!({"skills": [first_root(), leaf("Async"), leaf("Traits")]}).to_string();
    let async_at = text.find(r#""Traits""#).ok_or("cut")?;
    let cut = text[..async_at].rfind('{').ok_or("cut")?;
    let mut events = content_events(&text[..cut], 8, Duration::from_millis(20));
    let rest = content_events(&text[cut..], 2, Duration::ZERO);
    events.push((Duration::from_secs(8), rest[0].1.clone()));
    events.extend(rest.into_iter().skip(1));
    events.push((Duration::ZERO, finish_chunk("stop")));
    events.push((Duration::ZERO, usage_chunk(100, 200)));
    app.llm.push(Reply::Sse {
        events,
        end: End::Done,
    });
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "tia",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = res.body["id"].as_str().ok_or("job id")?.to_owned();

    let first = loop {
        let e = stream.next(SETTLE).await?.ok_or("stream ended")?;
        if e.event == "skill" {
            break e;
        }
    };
    let second = loop {
        let e = stream.next(SETTLE).await?.ok_or("stream ended")?;
        if e.event == "skill" {
            break e;
        }
    };
    let running = app.get(&format!("/api/v1/jobs/{job}"), "tia").await?.body;
    assert_eq!(running["status"], "processing", "{running}");
    assert_eq!(first.data["job_id"], job.as_str());
    assert_eq!(first.data["index"], 0);
    assert_eq!(first.data["skill"]["title"], "Ownership");
    assert_eq!(first.data["skill"]["description"], "moves } and ]");
    assert_eq!(first.data["skill"]["path"], "1");
    assert_eq!(
        first.data["skill"]["children"][0]["children"][0]["path"],
        "1.1.1"
    );
    assert_eq!(second.data["job_id"], job.as_str());
    assert_eq!(second.data["index"], 1);
    assert_eq!(second.data["skill"]["title"], "Async");
    assert_eq!(second.data["skill"]["path"], "2");

    let done = app
        .wait_until(&format!("/api/v1/jobs/{job}"), "tia", SETTLE, |j| {
            j["status"] == "completed" || j["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "completed", "{done}");
    let tree = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "tia")
        .await?
        .body;
    assert_eq!(tree["skills"][0]["title"], "Ownership");
    assert_eq!(tree["skills"][1]["title"], "Async");
    assert_eq!(tree["skills"][2]["title"], "Traits");
    // The saved tree replaces what was streamed: a new stream shows no skill.
    let later = all_events(&app, &plan, "tia").await?;
    assert!(later.iter().all(|e| e.event != "skill"), "{later:?}");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_skills_a_failed_answer_streamed_stay_readable() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "uma").await?;
    // Every run streams two good skills, then one without a title: the job fails (validation).
    let broken = json!({"skills": [first_root(), leaf("Async"), leaf(""), leaf("Traits")]});
    app.llm.set_default(Reply::stream(
        &broken.to_string(),
        12,
        Duration::from_millis(5),
    ));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "uma",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = res.body["id"].as_str().ok_or("job id")?.to_owned();
    let done = app
        .wait_until(&format!("/api/v1/jobs/{job}"), "uma", SETTLE, |j| {
            j["status"] == "completed" || j["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "failed", "{done}");
    assert_eq!(done["error"]["classification"], "validation");
    assert_eq!(
        app.get(&format!("/api/v1/plans/{plan}/skill-tree"), "uma")
            .await?
            .status,
        404
    );

    // A stream opened after the failure still shows the skills that streamed, once each.
    let skills: Vec<Value> = all_events(&app, &plan, "uma")
        .await?
        .into_iter()
        .filter(|e| e.event == "skill")
        .map(|e| e.data)
        .collect();
    let seen: Vec<(Value, Value, Value)> = skills
        .iter()
        .map(|s| {
            (
                s["job_id"].clone(),
                s["index"].clone(),
                s["skill"]["title"].clone(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (json!(job), json!(0), json!("Ownership")),
            (json!(job), json!(1), json!("Async")),
        ]
    );
    // Another user sees nothing of them.
    let other = app
        .get(&format!("/api/v1/plans/{plan}/events"), "vic")
        .await?;
    assert_eq!(other.status, 404);
    app.stop().await;
    Ok(())
}
