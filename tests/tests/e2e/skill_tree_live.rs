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

/// The `skill` events of `stream` until one titled `last` arrives: (job, run, index, title).
async fn skills_until(
    stream: &mut syllabus_e2e::EventStream,
    last: &str,
) -> Result<Vec<(Value, u64, u64, String)>, syllabus_e2e::Error> {
    let mut seen = Vec::new();
    loop {
        let e = stream.next(SETTLE).await?.ok_or("stream ended")?;
        if e.event != "skill" {
            continue;
        }
        let title = e.data["skill"]["title"].as_str().unwrap_or("").to_owned();
        seen.push((
            e.data["job_id"].clone(),
            e.data["run"].as_u64().ok_or("run")?,
            e.data["index"].as_u64().ok_or("index")?,
            title.clone(),
        ));
        if title == last {
            return Ok(seen);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reruns_skills_carry_its_run_and_replace_the_earlier_runs() -> TestResult {
    let app = App::start(Options::default()).await?;
    let plan = ready_plan(&app, "wes").await?;
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan}/events?progress=true"),
            "wes",
            None,
        )
        .await?;
    // The first run streams three good skills and fails on the fourth; every later run streams
    // another first skill and fails on its second.
    let first = json!({"skills": [first_root(), leaf("Async"), leaf("Traits"), leaf("")]});
    app.llm.push(Reply::stream(
        &first.to_string(),
        12,
        Duration::from_millis(5),
    ));
    let later = json!({"skills": [leaf("Macros"), leaf("")]});
    app.llm.set_default(Reply::stream(
        &later.to_string(),
        6,
        Duration::from_millis(5),
    ));
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/skill-tree"),
            "wes",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let job = json!(res.body["id"].as_str().ok_or("job id")?);
    let seen = skills_until(&mut stream, "Macros").await?;
    let Some((last_job, last_run, last_index, _)) = seen.last().cloned() else {
        return Err("no skill".into());
    };
    assert_eq!((last_job, last_index), (job.clone(), 0));
    assert!(last_run >= 2, "{seen:?}");
    // Whatever the stream saw of the first run was marked run 1, before the later run's.
    for (j, run, _, title) in &seen[..seen.len() - 1] {
        assert_eq!(j, &job);
        if ["Ownership", "Async", "Traits"].contains(&title.as_str()) {
            assert_eq!(*run, 1, "{seen:?}");
        }
    }
    let done = app
        .wait_until(
            &format!("/api/v1/jobs/{}", job.as_str().unwrap_or("")),
            "wes",
            SETTLE,
            |j| j["status"] == "completed" || j["status"] == "failed",
        )
        .await?;
    assert_eq!(done["status"], "failed", "{done}");
    // A stream opened now shows the last run's skill only, with that run's number.
    let now: Vec<(Value, Value, Value)> = all_events(&app, &plan, "wes")
        .await?
        .into_iter()
        .filter(|e| e.event == "skill")
        .map(|e| {
            (
                e.data["run"].clone(),
                e.data["index"].clone(),
                e.data["skill"]["title"].clone(),
            )
        })
        .collect();
    assert_eq!(now, [(done["attempts"].clone(), json!(0), json!("Macros"))]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_saved_tree_leaves_a_newer_jobs_streaming_skills_alone() -> TestResult {
    let app = App::start(Options {
        timeout: Duration::from_secs(60),
        extended_timeout: Duration::from_secs(90),
        ..Options::default()
    })
    .await?;
    let plan = ready_plan(&app, "xia").await?;
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan}/events?progress=true"),
            "xia",
            None,
        )
        .await?;
    // Job A: two skills, a pause of 4 s, a third, done. Job B (started while A pauses): one
    // skill, a pause of 15 s, a second, done. A saves its tree while B is still streaming.
    let paused = |skills: Value, last: &str, pause: u64| -> Result<Reply, syllabus_e2e::Error> {
        let text = json!({ "skills": skills }).to_string();
        let at = text.find(&format!("\"{last}\"")).ok_or("cut")?;
        let cut = text[..at].rfind('{').ok_or("cut")?;
        let mut events = content_events(&text[..cut], 4, Duration::from_millis(10));
        let rest = content_events(&text[cut..], 2, Duration::ZERO);
        events.push((Duration::from_secs(pause), rest[0].1.clone()));
        events.extend(rest.into_iter().skip(1));
        events.push((Duration::ZERO, finish_chunk("stop")));
        events.push((Duration::ZERO, usage_chunk(100, 200)));
        Ok(Reply::Sse {
            events,
            end: End::Done,
        })
    };
    app.llm.push(paused(
        json!([first_root(), leaf("Async"), leaf("Traits")]),
        "Traits",
        4,
    )?);
    let (path, empty) = (format!("/api/v1/plans/{plan}/skill-tree"), json!({}));
    let post = || app.post(&path, "xia", &empty);
    let a = post().await?;
    assert_eq!(a.status, 202, "{}", a.body);
    let a = a.body["id"].as_str().ok_or("job id")?.to_owned();
    skills_until(&mut stream, "Async").await?;
    app.llm.push(paused(
        json!([leaf("Macros"), leaf("Generics")]),
        "Generics",
        15,
    )?);
    let b = post().await?;
    assert_eq!(b.status, 202, "{}", b.body);
    let b = b.body["id"].as_str().ok_or("job id")?.to_owned();
    skills_until(&mut stream, "Macros").await?;

    let done = app
        .wait_until(&format!("/api/v1/jobs/{a}"), "xia", SETTLE, |j| {
            j["status"] == "completed" || j["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "completed", "{done}");
    let running = app.get(&format!("/api/v1/jobs/{b}"), "xia").await?.body;
    assert_eq!(
        running["status"], "processing",
        "B still streams: {running}"
    );
    // A's tree is saved, and B's skill is still what a new stream shows as streaming.
    let tree = app
        .get(&format!("/api/v1/plans/{plan}/skill-tree"), "xia")
        .await?
        .body;
    assert_eq!(tree["skills"][2]["title"], "Traits");
    let now: Vec<(Value, Value)> = all_events(&app, &plan, "xia")
        .await?
        .into_iter()
        .filter(|e| e.event == "skill")
        .map(|e| (e.data["job_id"].clone(), e.data["skill"]["title"].clone()))
        .collect();
    assert_eq!(now, [(json!(b), json!("Macros"))]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_older_job_streams_nothing_over_a_newer_saved_tree() -> TestResult {
    let app = App::start(Options {
        timeout: Duration::from_secs(60),
        extended_timeout: Duration::from_secs(90),
        ..Options::default()
    })
    .await?;
    let plan = ready_plan(&app, "yan").await?;
    let mut stream = app
        .events(
            &format!("/api/v1/plans/{plan}/events?progress=true"),
            "yan",
            None,
        )
        .await?;
    // Job A: two skills, a pause of 5 s, a third, another pause of 5 s, done. Job B, started
    // during A's first pause, answers at once and saves its tree.
    let text = json!({"skills": [first_root(), leaf("Async"), leaf("Traits")]}).to_string();
    let at = text.find("\"Traits\"").ok_or("cut")?;
    let cut = text[..at].rfind('{').ok_or("cut")?;
    let mut events = content_events(&text[..cut], 4, Duration::from_millis(10));
    let rest = content_events(&text[cut..], 1, Duration::ZERO);
    events.push((Duration::from_secs(5), rest[0].1.clone()));
    events.push((Duration::from_secs(5), finish_chunk("stop")));
    events.push((Duration::ZERO, usage_chunk(100, 200)));
    app.llm.push(Reply::Sse {
        events,
        end: End::Done,
    });
    let (path, empty) = (format!("/api/v1/plans/{plan}/skill-tree"), json!({}));
    let a = app.post(&path, "yan", &empty).await?;
    assert_eq!(a.status, 202, "{}", a.body);
    let a = a.body["id"].as_str().ok_or("job id")?.to_owned();
    skills_until(&mut stream, "Async").await?;
    app.llm.push(Reply::stream(
        &json!({"skills": [leaf("Macros")]}).to_string(),
        2,
        Duration::ZERO,
    ));
    let b = app.post(&path, "yan", &empty).await?;
    assert_eq!(b.status, 202, "{}", b.body);
    let b = b.body["id"].as_str().ok_or("job id")?.to_owned();
    let done = app
        .wait_until(&format!("/api/v1/jobs/{b}"), "yan", SETTLE, |j| {
            j["status"] == "completed" || j["status"] == "failed"
        })
        .await?;
    assert_eq!(done["status"], "completed", "{done}");
    let running = app.get(&format!("/api/v1/jobs/{a}"), "yan").await?.body;
    assert_eq!(
        running["status"], "processing",
        "A still streams: {running}"
    );
    // Until A ends, the stream shows nothing of A's third skill, streamed after B's tree was
    // saved (it is A's answer, older than the tree shown).
    loop {
        let state = app.get(&format!("/api/v1/jobs/{a}"), "yan").await?.body;
        if state["status"] != "processing" {
            break;
        }
        if let Some(e) = stream.next(Duration::from_millis(500)).await.ok().flatten() {
            assert!(
                !(e.event == "skill" && e.data["skill"]["title"] == "Traits"),
                "an older job's skill over a newer saved tree: {}",
                e.data
            );
        }
    }
    app.stop().await;
    Ok(())
}
