//! Live events (issue #11): a plan's stream shows each module of the attempt in flight as it
//! streams in, attempts as they end and the status until it is final; a job's stream shows its
//! status until it is terminal. Across processes, with `Last-Event-ID`, and owner-only.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use syllabus_e2e::{App, EventStream, Options, SECRET, SseEvent, events_at, plan_json};
use syllabus_testkit::{FakeLlm, Reply, TestDb};

type TestResult = Result<(), syllabus_e2e::Error>;

const LONG: Duration = Duration::from_secs(30);

fn names(events: &[SseEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e.event.as_str() {
            "module" => format!("module {}.{}", e.data["attempt_number"], e.data["index"]),
            "attempt" => format!(
                "attempt {} {}",
                e.data["number"],
                e.data["classification"].as_str().unwrap_or("success")
            ),
            "status" => format!("status {}", e.data["status"].as_str().unwrap_or("?")),
            other => other.to_owned(),
        })
        .collect()
}

/// A stored module as it was streamed: without ids and the learner's progress (issue #20).
fn as_streamed(stored: &Value) -> Result<Value, syllabus_e2e::Error> {
    let mut module = stored.clone();
    let object = module.as_object_mut().ok_or("module")?;
    for field in ["id", "completed_tasks", "total_tasks"] {
        object.remove(field);
    }
    for task in module["tasks"].as_array_mut().ok_or("tasks")? {
        let task = task.as_object_mut().ok_or("task")?;
        for field in ["id", "status", "completed_at"] {
            task.remove(field);
        }
    }
    Ok(module)
}

/// Every event until the stream ends, the first one included.
async fn all(stream: &mut EventStream) -> Result<Vec<SseEvent>, syllabus_e2e::Error> {
    stream.rest(LONG).await
}

/// Creates a plan as `user`, opens its event stream at once and follows it to the end.
async fn create_and_follow(
    app: &App,
    user: &str,
    topic: &str,
) -> Result<(String, Vec<SseEvent>), syllabus_e2e::Error> {
    let plan = app.create_plan(user, topic).await?;
    let mut stream = app
        .events(&format!("/api/v1/plans/{plan}/events"), user, None)
        .await?;
    Ok((plan, all(&mut stream).await?))
}

/// A plan whose third module breaks a rule (no minutes): the first two stream in valid.
fn plan_with_bad_third_module() -> String {
    let mut doc: Value = serde_json::from_str(&plan_json(4, 2, 60)).unwrap_or(Value::Null);
    doc["modules"][2]["estimated_minutes"] = json!(0);
    doc.to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn module_previews_arrive_in_order_before_ready() -> TestResult {
    let app = App::start(Options::default()).await?;
    // About 1.5 s of streaming: the client is connected long before the answer completes.
    app.llm.set_default(Reply::stream(
        &plan_json(4, 2, 60),
        30,
        Duration::from_millis(50),
    ));
    let (plan, events) = create_and_follow(&app, "ada", "Live plans").await?;
    assert_eq!(
        names(&events),
        [
            "status pending",
            "module 1.0",
            "module 1.1",
            "module 1.2",
            "module 1.3",
            "attempt 1 success",
            "status ready"
        ]
    );
    // Each preview is the module that was then stored (ids aside), and ids are cursors.
    let stored = app.get(&format!("/api/v1/plans/{plan}"), "ada").await?.body;
    for (i, e) in events[1..5].iter().enumerate() {
        let module = as_streamed(&stored["modules"][i])?;
        assert_eq!(e.data["module"], module, "preview {i}");
        assert_eq!(e.id.as_deref(), Some(format!("0.{}", i + 1).as_str()));
    }
    assert_eq!(events[5].id.as_deref(), Some("1.0"));
    assert_eq!(events[6].data["id"], stored["id"]);
    assert_eq!(events[6].data["status"], "ready");
    // Previews are gone once the attempt is recorded.
    assert_eq!(previews_left(&app).await?, 0);
    app.stop().await;
    Ok(())
}

async fn previews_left(app: &App) -> Result<i64, syllabus_e2e::Error> {
    use diesel::QueryableByName;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let admin = app.admin_url().ok_or("no admin url")?;
    let mut conn = AsyncPgConnection::establish(admin).await?;
    let n: N = diesel::sql_query("SELECT count(*) AS n FROM plan_previews")
        .get_result(&mut conn)
        .await?;
    Ok(n.n)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_attempt_after_previews_is_followed_by_the_next_attempts_previews() -> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm.push(Reply::stream(
        &plan_with_bad_third_module(),
        30,
        Duration::from_millis(50),
    ));
    app.llm.set_default(Reply::stream(
        &plan_json(3, 1, 60),
        20,
        Duration::from_millis(30),
    ));
    let (_, events) = create_and_follow(&app, "ben", "Second chances").await?;
    assert_eq!(
        names(&events),
        [
            "status pending",
            "module 1.0",
            "module 1.1",
            "attempt 1 validation",
            "module 2.0",
            "module 2.1",
            "module 2.2",
            "attempt 2 success",
            "status ready"
        ]
    );
    assert_eq!(events[3].data["status"], "failure");
    assert_eq!(events[3].id.as_deref(), Some("1.0"));
    assert_eq!(events[4].id.as_deref(), Some("1.1"));
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reconnect_with_last_event_id_gets_what_it_missed_and_no_preview_twice() -> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm.set_default(Reply::stream(
        &plan_json(6, 1, 60),
        60,
        Duration::from_millis(50),
    ));
    let plan = app.create_plan("cy", "Reconnecting").await?;
    let path = format!("/api/v1/plans/{plan}/events");

    let mut first = app.events(&path, "cy", None).await?;
    let mut seen = Vec::new();
    while seen
        .iter()
        .filter(|e: &&SseEvent| e.event == "module")
        .count()
        < 2
    {
        seen.push(first.next(LONG).await?.ok_or("ended early")?);
    }
    let last_id = seen.last().and_then(|e| e.id.clone()).ok_or("no id")?;
    assert_eq!(last_id, "0.2");
    drop(first);
    tokio::time::sleep(Duration::from_millis(700)).await; // previews go on meanwhile

    let mut second = app.events(&path, "cy", Some(&last_id)).await?;
    let rest = all(&mut second).await?;
    let rest_names = names(&rest);
    assert_eq!(rest_names[0], "status pending", "{rest_names:?}");
    let mut modules: Vec<String> = names(&seen)
        .into_iter()
        .chain(rest_names.iter().cloned())
        .filter(|n| n.starts_with("module"))
        .collect();
    let shown = modules.clone();
    modules.dedup();
    assert_eq!(modules, shown, "no preview twice");
    assert_eq!(
        modules,
        (0..6).map(|i| format!("module 1.{i}")).collect::<Vec<_>>()
    );
    assert_eq!(
        rest_names[rest_names.len() - 2..],
        ["attempt 1 success", "status ready"]
    );

    // After the end: the attempt it missed, then the final status; a fresh client, the status.
    let mut late = app.events(&path, "cy", Some(&last_id)).await?;
    assert_eq!(
        names(&all(&mut late).await?),
        ["attempt 1 success", "status ready"]
    );
    let mut fresh = app.events(&path, "cy", Some("not-an-id")).await?;
    assert_eq!(names(&all(&mut fresh).await?), ["status ready"]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn another_users_streams_are_404_and_a_stream_needs_a_token() -> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm
        .set_default(Reply::stream(&plan_json(2, 1, 60), 2, Duration::ZERO));
    let plan = app.create_plan("dee", "Private").await?;
    let job = app.get("/api/v1/jobs", "dee").await?.body["items"][0]["id"]
        .as_str()
        .ok_or("no job")?
        .to_owned();
    for path in [
        format!("/api/v1/plans/{plan}/events"),
        format!("/api/v1/jobs/{job}/events"),
    ] {
        let res = app.get(&path, "eve").await?;
        assert_eq!(res.status, 404, "{path}: {}", res.body);
        assert_eq!(res.body["code"], "NOT_FOUND");
        let res = app.send("GET", &path, None, None, &[]).await?;
        assert_eq!(res.status, 401, "{path}");
        // The owner's stream opens.
        let mut own = app.events(&path, "dee", None).await?;
        assert!(own.next(LONG).await?.is_some());
    }
    let res = app.get("/api/v1/plans/not-a-uuid/events", "dee").await?;
    assert_eq!(res.status, 404);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_stream_follows_the_job_to_its_terminal_status_and_ends() -> TestResult {
    let app = App::start(Options::default()).await?;
    app.llm
        .push(Reply::stream(&plan_json(2, 1, 60), 2, Duration::ZERO));
    let plan = app.create_plan("fay", "Cards").await?;
    app.settle("fay", &plan, LONG).await?;
    let cards =
        json!({"flashcards": [{"question": "What is a borrow?", "answer": "A reference."}]})
            .to_string();
    app.llm
        .set_default(Reply::stream(&cards, 10, Duration::from_millis(100)));
    let job = app
        .post(
            &format!("/api/v1/plans/{plan}/flashcards"),
            "fay",
            &json!({"max_cards": 1}),
        )
        .await?;
    assert_eq!(job.status, 202, "{}", job.body);
    let id = job.body["id"].as_str().ok_or("no id")?;
    let mut stream = app
        .events(&format!("/api/v1/jobs/{id}/events"), "fay", None)
        .await?;
    let events = all(&mut stream).await?;
    let statuses: Vec<&str> = events
        .iter()
        .map(|e| e.data["status"].as_str().unwrap_or("?"))
        .collect();
    assert!(events.iter().all(|e| e.event == "status"));
    assert_eq!(statuses.last(), Some(&"completed"), "{statuses:?}");
    assert!(
        statuses.len() >= 2
            && statuses[..statuses.len() - 1]
                .iter()
                .all(|s| *s == "pending" || *s == "processing"),
        "{statuses:?}"
    );
    assert_eq!(events.last().ok_or("none")?.data["result"]["count"], 1);
    // A terminal job's stream is its status, then the end.
    let mut again = app
        .events(&format!("/api/v1/jobs/{id}/events"), "fay", None)
        .await?;
    assert_eq!(names(&all(&mut again).await?), ["status completed"]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idle_stream_sends_keep_alives_and_ends_when_its_plan_is_deleted() -> TestResult {
    let app = App::start(Options {
        sse_keepalive: Duration::from_millis(100),
        ..Options::default()
    })
    .await?;
    app.llm.set_default(Reply::StallBeforeHeaders);
    let plan = app.create_plan("gus", "Quiet").await?;
    let mut stream = app
        .events(&format!("/api/v1/plans/{plan}/events"), "gus", None)
        .await?;
    assert_eq!(
        names(&[stream.next(LONG).await?.ok_or("no status")?]),
        ["status pending"]
    );
    assert!(stream.next(Duration::from_millis(800)).await.is_err());
    assert!(stream.comments >= 3, "{} keep-alives", stream.comments);
    let res = app
        .send(
            "DELETE",
            &format!("/api/v1/plans/{plan}"),
            Some("gus"),
            None,
            &[],
        )
        .await?;
    assert_eq!(res.status, 204);
    assert!(stream.rest(LONG).await?.is_empty(), "the stream ends");
    app.stop().await;
    Ok(())
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn syllabus(
    args: &str,
    db: &TestDb,
    env: &[(&str, String)],
) -> Result<Process, syllabus_e2e::Error> {
    let mut cmd = Command::new(syllabus_e2e::syllabus_bin()?);
    cmd.arg(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("RUN_MIGRATIONS", "false")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    Ok(Process(cmd.spawn()?))
}

#[tokio::test(flavor = "multi_thread")]
async fn previews_cross_from_a_worker_process_to_an_api_only_process() -> TestResult {
    let db = TestDb::new().await?;
    let llm = FakeLlm::start().await?;
    llm.set_default(Reply::stream(
        &plan_json(3, 2, 60),
        30,
        Duration::from_millis(50),
    ));
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let _api = syllabus(
        "serve",
        &db,
        &[
            ("WORKERS", "false".into()),
            ("AUTH_JWT_SECRET", SECRET.into()),
            ("BIND_ADDR", format!("127.0.0.1:{port}")),
        ],
    )?;
    let _worker = syllabus("worker", &db, &[("OPENAI_BASE_URL", llm.base_url())])?;
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + LONG;
    while http.get(format!("{base}/readyz")).send().await.is_err() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "serve never answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let created = http
        .post(format!("{base}/api/v1/plans"))
        .bearer_auth(syllabus_e2e::token("hal"))
        .json(&syllabus_e2e::plan_body("Across processes"))
        .send()
        .await?;
    assert_eq!(created.status(), 201);
    let plan: Value = created.json().await?;
    let plan = plan["id"].as_str().ok_or("no id")?;
    let doc = syllabus_e2e::openapi::document();
    let mut stream = events_at(
        &http,
        &base,
        &format!("/api/v1/plans/{plan}/events"),
        "hal",
        None,
        Some(&doc),
    )
    .await?;
    assert_eq!(
        names(&all(&mut stream).await?),
        [
            "status pending",
            "module 1.0",
            "module 1.1",
            "module 1.2",
            "attempt 1 success",
            "status ready"
        ]
    );
    Ok(())
}

/// The id of the newest job of `user`.
async fn newest_job(app: &App, user: &str) -> Result<String, syllabus_e2e::Error> {
    Ok(
        app.get("/api/v1/jobs?limit=1", user).await?.body["items"][0]["id"]
            .as_str()
            .ok_or("no job")?
            .to_owned(),
    )
}

/// Waits until the process has `n` waiters and streams subscribed (the runtime not counted).
async fn until_waiting(app: &App, n: usize) -> TestResult {
    let deadline = tokio::time::Instant::now() + LONG;
    while app.events.waiting() != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{} waiting, not {n}",
            app.events.waiting()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wait_on_one_job_is_not_woken_by_other_jobs_and_returns_when_its_own_changes()
-> TestResult {
    // No workers: jobs change only when the test changes them.
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    app.create_plan("ivy", "Waiting on mine").await?;
    let mine = newest_job(&app, "ivy").await?;
    let path = format!("/api/v1/jobs/{mine}");
    let waiter = app.send("GET", &path, Some("ivy"), None, &[("prefer", "wait=60")]);
    let driver = async {
        until_waiting(&app, 1).await?;
        let before = app.events.wakeups();
        // Another user's job is created and cancelled, and one more of the same user's: two,
        // then one more event the waiter must not hear.
        app.create_plan("jon", "Someone else").await?;
        let other = newest_job(&app, "jon").await?;
        let res = app
            .post(&format!("/api/v1/jobs/{other}/cancel"), "jon", &json!({}))
            .await?;
        assert_eq!(res.status, 200, "{}", res.body);
        app.create_plan("ivy", "Another of mine").await?;
        let started = tokio::time::Instant::now();
        let res = app
            .post(&format!("/api/v1/jobs/{mine}/cancel"), "ivy", &json!({}))
            .await?;
        assert_eq!(res.status, 200, "{}", res.body);
        Ok::<_, syllabus_e2e::Error>((before, started))
    };
    let (answer, driven) = tokio::join!(waiter, driver);
    let (before, started) = driven?;
    let answer = answer?;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["status"], "cancelled", "{}", answer.body);
    assert_eq!(answer.header("preference-applied"), Some("wait=60"));
    // At once: the wait was 60 s, the generous margin is for a loaded machine.
    assert!(started.elapsed() < Duration::from_secs(20));
    // Four job events went by; the waiter heard its own only.
    assert_eq!(app.events.wakeups() - before, 1);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_generation_was_cancelled_ends_its_streams_and_waits() -> TestResult {
    // No workers: the generation job stays queued until it is cancelled.
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let plan = app.create_plan("kim", "Never mind").await?;
    let job = newest_job(&app, "kim").await?;
    let path = format!("/api/v1/plans/{plan}/events");
    let mut open = app.events(&path, "kim", None).await?;
    assert_eq!(
        names(&[open.next(LONG).await?.ok_or("no status")?]),
        ["status pending"]
    );
    let plan_path = format!("/api/v1/plans/{plan}");
    let waiter = app.send(
        "GET",
        &plan_path,
        Some("kim"),
        None,
        &[("prefer", "wait=60")],
    );
    let cancel = async {
        until_waiting(&app, 2).await?;
        let res = app
            .post(&format!("/api/v1/jobs/{job}/cancel"), "kim", &json!({}))
            .await?;
        assert_eq!(res.status, 200, "{}", res.body);
        Ok::<_, syllabus_e2e::Error>(tokio::time::Instant::now())
    };
    let (waited, cancelled) = tokio::join!(waiter, cancel);
    let (waited, cancelled) = (waited?, cancelled?);
    // The wait answers at once with the plan as it stays (60 s was asked; the margin is for a
    // loaded machine).
    assert_eq!(waited.status, 200);
    assert_eq!(waited.body["status"], "pending", "{}", waited.body);
    assert!(cancelled.elapsed() < Duration::from_secs(20));
    // The open stream sends its final status and ends.
    let rest = open.rest(LONG).await?;
    assert_eq!(names(&rest), ["status pending"]);
    assert_eq!(rest[0].data["id"], plan.as_str());
    // Opened now: the status, then the end; a wait answers at once.
    let mut late = app.events(&path, "kim", None).await?;
    assert_eq!(names(&all(&mut late).await?), ["status pending"]);
    let started = tokio::time::Instant::now();
    let res = app
        .send(
            "GET",
            &plan_path,
            Some("kim"),
            None,
            &[("prefer", "wait=60")],
        )
        .await?;
    assert_eq!(res.body["status"], "pending");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(
        app.events.waiting(),
        0,
        "every subscription went with its stream"
    );

    // Regenerated: a generation is queued again, and a new stream follows it.
    let res = app
        .post(
            &format!("/api/v1/plans/{plan}/regenerate"),
            "kim",
            &json!({}),
        )
        .await?;
    assert_eq!(res.status, 202, "{}", res.body);
    let mut again = app.events(&path, "kim", None).await?;
    assert_eq!(
        names(&[again.next(LONG).await?.ok_or("no status")?]),
        ["status pending"]
    );
    assert!(
        again.next(Duration::from_millis(500)).await.is_err(),
        "a plan with a queued generation keeps its stream open"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn preview_notifications_carry_keys_only_and_streams_still_get_the_modules() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    use futures::StreamExt;

    let app = App::start(Options::default()).await?;
    // Any role that may connect can LISTEN: here, the application's own role on a connection of
    // its own, outside any user's transaction.
    let mut listener = AsyncPgConnection::establish(&app.url).await?;
    listener
        .batch_execute("LISTEN syllabus_previews; LISTEN syllabus_jobs")
        .await?;
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let sink = std::sync::Arc::clone(&heard);
    let listening = tokio::spawn(async move {
        let mut stream = std::pin::pin!(listener.notifications_stream());
        while let Some(Ok(n)) = stream.next().await {
            if let Ok(mut heard) = sink.lock() {
                heard.push(n.payload);
            }
        }
    });

    app.llm.set_default(Reply::stream(
        &plan_json(3, 2, 60),
        30,
        Duration::from_millis(50),
    ));
    let plan = app.create_plan("lou", "Secret curriculum").await?;
    // Another user's subscription to the plan in this process (the API refuses it with a 404;
    // here it is made behind the API's back): previews are read as that user, who sees none.
    let intruder = syllabus_domain::UserId::parse("mallory").ok_or("user")?;
    let mut foreign = app
        .events
        .subscribe_plan(&intruder, syllabus_domain::PlanId::from_uuid(plan.parse()?));
    let mut stream = app
        .events(&format!("/api/v1/plans/{plan}/events"), "lou", None)
        .await?;
    let events = all(&mut stream).await?;
    assert_eq!(
        names(&events),
        [
            "status pending",
            "module 1.0",
            "module 1.1",
            "module 1.2",
            "attempt 1 success",
            "status ready"
        ]
    );
    assert_eq!(events[1].data["module"]["title"], "Module 1");
    let mut foreign_events = Vec::new();
    while let Ok(e) = tokio::time::timeout(Duration::from_millis(200), foreign.recv()).await {
        foreign_events.push(e);
    }
    assert!(
        !foreign_events
            .iter()
            .any(|e| matches!(e, syllabus_store::PlanEvent::Preview { .. })),
        "{foreign_events:?}"
    );

    // The three previews committed before the stream showed them; the test's listener hears
    // them too (soon: the deadline is for a loaded machine).
    let preview_payloads = |heard: &[String]| -> Vec<Value> {
        heard
            .iter()
            .filter_map(|p| serde_json::from_str::<Value>(p).ok())
            .filter(|p| p.get("attempt_number").is_some())
            .collect()
    };
    let deadline = tokio::time::Instant::now() + LONG;
    let heard = loop {
        let now = heard.lock().map_err(|_| "poisoned")?.clone();
        if preview_payloads(&now).len() >= 3 || tokio::time::Instant::now() >= deadline {
            break now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    listening.abort();
    let previews = preview_payloads(&heard);
    assert_eq!(previews.len(), 3, "{heard:?}");
    for (i, p) in previews.iter().enumerate() {
        let mut keys: Vec<&str> = p
            .as_object()
            .ok_or("object")?
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        assert_eq!(keys, ["attempt_number", "index", "plan_id"], "{p}");
        assert_eq!(p["index"], i);
        assert_eq!(p["plan_id"], plan.as_str());
    }
    for payload in &heard {
        for text in ["Module", "Task", "Do it", "Secret"] {
            assert!(!payload.contains(text), "{payload}");
        }
    }
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_preview_read_after_its_attempt_succeeded_comes_from_the_stored_modules() -> TestResult {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    use syllabus_store::PlanEvent;

    let app = App::start(Options::default()).await?;
    app.llm
        .set_default(Reply::stream(&plan_json(3, 2, 60), 3, Duration::ZERO));
    let plan = app.create_plan("max", "Read back").await?;
    app.settle("max", &plan, LONG).await?;
    let id = syllabus_domain::PlanId::from_uuid(plan.parse()?);
    let owner = syllabus_domain::UserId::parse("max").ok_or("user")?;
    let other = syllabus_domain::UserId::parse("ned").ok_or("user")?;
    let mut own = app.events.subscribe_plan(&owner, id);
    let mut foreign = app.events.subscribe_plan(&other, id);

    // The notification of a preview whose row the attempt's finishing transaction deleted (as
    // when the reader comes after the commit), then one of an attempt that never succeeded.
    let mut conn = AsyncPgConnection::establish(&app.url).await?;
    conn.batch_execute(&format!(
        "SELECT pg_notify('syllabus_previews', '{{\"plan_id\":\"{plan}\",\"attempt_number\":1,\"index\":1}}');
         SELECT pg_notify('syllabus_previews', '{{\"plan_id\":\"{plan}\",\"attempt_number\":2,\"index\":0}}');"
    ))
    .await?;

    let stored = app.get(&format!("/api/v1/plans/{plan}"), "max").await?.body;
    let module = as_streamed(&stored["modules"][1])?;
    let first = tokio::time::timeout(LONG, own.recv()).await?;
    let PlanEvent::Preview {
        attempt_number: 1,
        index: 1,
        module: read,
    } = first
    else {
        return Err(format!("{first:?}").into());
    };
    assert_eq!(*read, module);
    assert_eq!(
        tokio::time::timeout(LONG, own.recv()).await?,
        PlanEvent::Resync
    );
    // Read as another user, row-level security shows nothing: a re-read, never the module.
    for _ in 0..2 {
        assert_eq!(
            tokio::time::timeout(LONG, foreign.recv()).await?,
            PlanEvent::Resync
        );
    }
    app.stop().await;
    Ok(())
}
