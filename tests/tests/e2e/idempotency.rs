//! `Idempotency-Key` on creates (issue #23): replays of the first answer, one piece of work,
//! the draft's 400/409/422, keys per user, and the rate limit untouched by replays.

use serde_json::Value;
use syllabus_e2e::{Answer, App, Options, plan_body};

type TestResult = Result<(), syllabus_e2e::Error>;

const KEY: &str = "Idempotency-Key";

async fn create(
    app: &App,
    user: &str,
    body: &Value,
    key: &str,
) -> Result<Answer, syllabus_e2e::Error> {
    app.send(
        "POST",
        "/api/v1/plans",
        Some(user),
        Some(body),
        &[(KEY, key)],
    )
    .await
}

async fn plan_count(app: &App, user: &str) -> Result<usize, syllabus_e2e::Error> {
    let page = app.get("/api/v1/plans?limit=100", user).await?;
    Ok(page.body["items"].as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_key_and_body_replay_the_first_answer_and_create_one_plan() -> TestResult {
    // Two creations an hour: the replays must not count, or the plain create below is refused.
    let app = App::start(Options {
        workers: false,
        rate_limit: 2,
        ..Options::default()
    })
    .await?;
    let body = plan_body("Idempotent topic");
    let first = create(&app, "ivy", &body, "key-1").await?;
    assert_eq!(first.status, 201, "{}", first.body);
    for _ in 0..3 {
        let again = create(&app, "ivy", &body, "key-1").await?;
        assert_eq!(again.status, 201, "{}", again.body);
        assert_eq!(again.body, first.body);
        assert_eq!(again.header("location"), first.header("location"));
        assert_eq!(again.header("idempotent-replayed"), Some("true"));
    }
    assert_eq!(first.header("idempotent-replayed"), None);
    assert_eq!(plan_count(&app, "ivy").await?, 1);
    // The second slot of the window is still free; the third is not.
    let plain = app
        .send("POST", "/api/v1/plans", Some("ivy"), Some(&body), &[])
        .await?;
    assert_eq!(plain.status, 201, "{}", plain.body);
    let over = app
        .send("POST", "/api/v1/plans", Some("ivy"), Some(&body), &[])
        .await?;
    assert_eq!(over.status, 429, "{}", over.body);
    // A replay answers even at the limit.
    let replay = create(&app, "ivy", &body, "key-1").await?;
    assert_eq!(replay.status, 201, "{}", replay.body);
    assert_eq!(replay.body["id"], first.body["id"]);
    assert_eq!(plan_count(&app, "ivy").await?, 2);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_identical_requests_at_once_create_one_plan() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let body = plan_body("Concurrent topic");
    let answers =
        futures::future::join_all((0..20).map(|_| create(&app, "jon", &body, "same-key"))).await;
    let mut ids = std::collections::BTreeSet::new();
    let (mut created, mut in_use) = (0, 0);
    for a in answers {
        let a = a?;
        match a.status {
            201 => {
                created += 1;
                ids.insert(a.body["id"].as_str().ok_or("no id")?.to_owned());
            }
            409 => {
                assert_eq!(a.body["code"], "IDEMPOTENCY_KEY_IN_USE", "{}", a.body);
                in_use += 1;
            }
            s => return Err(format!("unexpected {s}: {}", a.body).into()),
        }
    }
    assert_eq!(created + in_use, 20);
    assert_eq!(ids.len(), 1, "every 201 is the same plan: {ids:?}");
    assert_eq!(plan_count(&app, "jon").await?, 1);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_changed_body_is_422_a_malformed_key_400_and_keys_are_per_user() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let first = create(&app, "kim", &plan_body("Topic one"), "k").await?;
    assert_eq!(first.status, 201, "{}", first.body);

    let changed = create(&app, "kim", &plan_body("Topic two"), "k").await?;
    assert_eq!(changed.status, 422, "{}", changed.body);
    assert_eq!(changed.body["code"], "IDEMPOTENCY_KEY_REUSED");
    assert_eq!(plan_count(&app, "kim").await?, 1);

    for bad in ["", "has space", &"x".repeat(256)] {
        let res = create(&app, "kim", &plan_body("Topic one"), bad).await?;
        assert_eq!(res.status, 400, "{bad:?}: {}", res.body);
        assert_eq!(res.body["code"], "IDEMPOTENCY_KEY_INVALID");
        assert_eq!(res.body["errors"][0]["field"], KEY);
    }
    let longest = create(&app, "kim", &plan_body("Topic one"), &"x".repeat(255)).await?;
    assert_eq!(longest.status, 201, "{}", longest.body);

    // Another user's same key is theirs alone: a plan of their own, not a replay or a 422.
    let other = create(&app, "lee", &plan_body("Topic two"), "k").await?;
    assert_eq!(other.status, 201, "{}", other.body);
    assert_ne!(other.body["id"], first.body["id"]);
    assert_eq!(other.header("idempotent-replayed"), None);
    assert_eq!(plan_count(&app, "lee").await?, 1);
    assert_eq!(plan_count(&app, "kim").await?, 2);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_header_every_request_creates() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let body = plan_body("Unkeyed topic");
    for _ in 0..2 {
        let res = app
            .send("POST", "/api/v1/plans", Some("max"), Some(&body), &[])
            .await?;
        assert_eq!(res.status, 201, "{}", res.body);
    }
    assert_eq!(plan_count(&app, "max").await?, 2);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_whose_first_request_is_in_flight_is_409() -> TestResult {
    use diesel::sql_query;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let admin = app.admin_url().ok_or("no admin url")?;
    let mut conn = AsyncPgConnection::establish(admin).await?;
    // The lock the first request holds until it commits, held here instead.
    let lock = "hashtext('nia'), hashtext('busy-key')";
    sql_query(format!("SELECT pg_advisory_lock({lock})"))
        .execute(&mut conn)
        .await?;
    let body = plan_body("Busy topic");
    let busy = create(&app, "nia", &body, "busy-key").await?;
    assert_eq!(busy.status, 409, "{}", busy.body);
    assert_eq!(busy.body["code"], "IDEMPOTENCY_KEY_IN_USE");
    assert_eq!(plan_count(&app, "nia").await?, 0);
    sql_query(format!("SELECT pg_advisory_unlock({lock})"))
        .execute(&mut conn)
        .await?;
    let done = create(&app, "nia", &body, "busy-key").await?;
    assert_eq!(done.status, 201, "{}", done.body);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn twenty_identical_requests_to_two_processes_create_one_plan() -> TestResult {
    let options = Options {
        workers: false,
        ..Options::default()
    };
    let first = App::start(options.clone()).await?;
    let second = App::start_on(first.url.clone(), None, options).await?;
    let body = plan_body("Two processes");
    let answers = futures::future::join_all((0..20).map(|i| {
        let app = if i % 2 == 0 { &first } else { &second };
        create(app, "oli", &body, "shared-key")
    }))
    .await;
    let mut ids = std::collections::BTreeSet::new();
    for a in answers {
        let a = a?;
        match a.status {
            201 => {
                ids.insert(a.body["id"].as_str().ok_or("no id")?.to_owned());
            }
            409 => assert_eq!(a.body["code"], "IDEMPOTENCY_KEY_IN_USE", "{}", a.body),
            s => return Err(format!("unexpected {s}: {}", a.body).into()),
        }
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(plan_count(&first, "oli").await?, 1);
    second.stop().await;
    first.stop().await;
    Ok(())
}

/// A ready plan of `user`, imported (no generation, no rate-limit use): its id.
async fn imported(app: &App, user: &str, key: Option<&str>) -> Result<Answer, syllabus_e2e::Error> {
    let mut body = plan_body("Imported topic");
    body["modules"] = serde_json::json!([{
        "title": "M1",
        "estimated_minutes": 60,
        "tasks": [{"title": "T1", "estimated_minutes": 30}],
    }]);
    let headers: Vec<(&str, &str)> = key.map(|k| (KEY, k)).into_iter().collect();
    app.send("POST", "/api/v1/plans", Some(user), Some(&body), &headers)
        .await
}

async fn job_count(app: &App, user: &str, job_type: &str) -> Result<usize, syllabus_e2e::Error> {
    let page = app
        .get(&format!("/api/v1/jobs?type={job_type}&limit=100"), user)
        .await?;
    Ok(page.body["items"].as_array().map_or(0, Vec::len))
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_work_on_imports_and_on_the_routes_that_queue_jobs() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    // An import: replayed, one plan.
    let first = imported(&app, "pat", Some("import-1")).await?;
    assert_eq!(first.status, 201, "{}", first.body);
    let again = imported(&app, "pat", Some("import-1")).await?;
    assert_eq!(again.status, 201, "{}", again.body);
    assert_eq!(again.body, first.body);
    assert_eq!(plan_count(&app, "pat").await?, 1);
    let plan = first.body["id"].as_str().ok_or("no id")?.to_owned();

    // Flashcards: 202 replayed with the same job and Location, one job queued.
    let cards = format!("/api/v1/plans/{plan}/flashcards");
    let body = serde_json::json!({"max_cards": 2});
    let send = |path: String, key: &'static str, body: Option<Value>| {
        let app = &app;
        async move {
            app.send("POST", &path, Some("pat"), body.as_ref(), &[(KEY, key)])
                .await
        }
    };
    let one = send(cards.clone(), "cards-1", Some(body.clone())).await?;
    assert_eq!(one.status, 202, "{}", one.body);
    let two = send(cards.clone(), "cards-1", Some(body.clone())).await?;
    assert_eq!(two.status, 202, "{}", two.body);
    assert_eq!(two.body, one.body);
    assert_eq!(two.header("location"), one.header("location"));
    assert_eq!(two.header("idempotent-replayed"), Some("true"));
    assert_eq!(job_count(&app, "pat", "flashcards").await?, 1);
    // The same key on another route is another request: 422.
    let tree = format!("/api/v1/plans/{plan}/skill-tree");
    let other = send(tree.clone(), "cards-1", None).await?;
    assert_eq!(other.status, 422, "{}", other.body);
    assert_eq!(other.body["code"], "IDEMPOTENCY_KEY_REUSED");
    // A route without a body (skill tree), and POST /jobs.
    let t1 = send(tree.clone(), "tree-1", None).await?;
    let t2 = send(tree, "tree-1", None).await?;
    assert_eq!(
        (t1.status, t2.status),
        (202, 202),
        "{} {}",
        t1.body,
        t2.body
    );
    assert_eq!(t1.body["id"], t2.body["id"]);
    assert_eq!(job_count(&app, "pat", "skill_tree").await?, 1);
    let job =
        serde_json::json!({"type": "flashcards", "payload": {"plan_id": plan, "max_cards": 1}});
    let j1 = send("/api/v1/jobs".into(), "job-1", Some(job.clone())).await?;
    let j2 = send("/api/v1/jobs".into(), "job-1", Some(job)).await?;
    assert_eq!(
        (j1.status, j2.status),
        (202, 202),
        "{} {}",
        j1.body,
        j2.body
    );
    assert_eq!(j1.body["id"], j2.body["id"]);
    assert_eq!(job_count(&app, "pat", "flashcards").await?, 2);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn keys_work_on_fork_and_regenerate() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let source = imported(&app, "quin", None).await?;
    let plan = source.body["id"].as_str().ok_or("no id")?.to_owned();
    let post = |path: String, key: &'static str| {
        let app = &app;
        async move {
            app.send("POST", &path, Some("quin"), None, &[(KEY, key)])
                .await
        }
    };
    let fork = format!("/api/v1/plans/{plan}/fork");
    let f1 = post(fork.clone(), "fork-1").await?;
    let f2 = post(fork, "fork-1").await?;
    assert_eq!(
        (f1.status, f2.status),
        (201, 201),
        "{} {}",
        f1.body,
        f2.body
    );
    assert_eq!(f1.body, f2.body);
    assert_eq!(f1.header("location"), f2.header("location"));
    assert_eq!(plan_count(&app, "quin").await?, 2);

    let regenerate = format!("/api/v1/plans/{plan}/regenerate");
    let r1 = post(regenerate.clone(), "regen-1").await?;
    let r2 = post(regenerate.clone(), "regen-1").await?;
    assert_eq!(
        (r1.status, r2.status),
        (202, 202),
        "{} {}",
        r1.body,
        r2.body
    );
    assert_eq!(r1.body["id"], r2.body["id"]);
    assert_eq!(r2.header("idempotent-replayed"), Some("true"));
    // Without the key, the same request meets the generation the first one queued.
    let plain = app
        .send("POST", &regenerate, Some("quin"), None, &[])
        .await?;
    assert_eq!(plain.status, 409, "{}", plain.body);
    assert_eq!(plain.body["code"], "INVALID_STATE");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_keys_are_pruned_by_the_retention_pass() -> TestResult {
    use syllabus_store::QueueStore;
    use syllabus_store::records::Retention;
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let first = create(&app, "rae", &plan_body("Kept topic"), "old-key").await?;
    assert_eq!(first.status, 201, "{}", first.body);
    let pass = |hours: i64| Retention {
        calls_days: 30,
        aggregates_days: 400,
        rate_window: std::time::Duration::from_secs(3_600),
        now: chrono::Utc::now() + chrono::Duration::hours(hours),
    };
    // Within the 24 hours: kept, the key still refuses another body.
    app.store.retain_usage(pass(23)).await?;
    let changed = create(&app, "rae", &plan_body("Another topic"), "old-key").await?;
    assert_eq!(changed.status, 422, "{}", changed.body);
    // A pass whose clock is past them while the database's is not: kept (never pruned early).
    let report = app.store.retain_usage(pass(25)).await?;
    assert_eq!(report.leftovers_deleted, 0, "{report:?}");
    let still = create(&app, "rae", &plan_body("Another topic"), "old-key").await?;
    assert_eq!(still.status, 422, "{}", still.body);
    // Past them by both clocks: pruned, the key is new again.
    {
        use diesel::sql_query;
        use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
        let admin = app.admin_url().ok_or("no admin url")?;
        let mut conn = AsyncPgConnection::establish(admin).await?;
        sql_query("UPDATE idempotency_keys SET expires_at = now() - interval '1 hour'")
            .execute(&mut conn)
            .await?;
    }
    let report = app.store.retain_usage(pass(25)).await?;
    assert!(report.leftovers_deleted >= 1, "{report:?}");
    let fresh = create(&app, "rae", &plan_body("Another topic"), "old-key").await?;
    assert_eq!(fresh.status, 201, "{}", fresh.body);
    assert_ne!(fresh.body["id"], first.body["id"]);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_works_on_a_job_retry() -> TestResult {
    use diesel::sql_query;
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let source = imported(&app, "sam", None).await?;
    let plan = source.body["id"].as_str().ok_or("no id")?.to_owned();
    let queued = app
        .send(
            "POST",
            &format!("/api/v1/plans/{plan}/skill-tree"),
            Some("sam"),
            None,
            &[],
        )
        .await?;
    assert_eq!(queued.status, 202, "{}", queued.body);
    let job = queued.body["id"].as_str().ok_or("no id")?.to_owned();
    // Failed behind the app's back (no worker runs here).
    let mut admin = AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?;
    sql_query(format!(
        "UPDATE jobs SET status = 'failed', completed_at = now() WHERE id = '{job}'"
    ))
    .execute(&mut admin)
    .await?;
    let retry = format!("/api/v1/jobs/{job}/retry");
    let r1 = app
        .send("POST", &retry, Some("sam"), None, &[(KEY, "retry-1")])
        .await?;
    let r2 = app
        .send("POST", &retry, Some("sam"), None, &[(KEY, "retry-1")])
        .await?;
    assert_eq!(
        (r1.status, r2.status),
        (202, 202),
        "{} {}",
        r1.body,
        r2.body
    );
    assert_eq!(r1.body["id"], r2.body["id"]);
    assert_ne!(r1.body["id"], queued.body["id"]);
    assert_eq!(job_count(&app, "sam", "skill_tree").await?, 2);
    app.stop().await;
    Ok(())
}

/// A `syllabus serve` process on `db_url`, killed with SIGKILL when dropped.
struct Server {
    child: std::process::Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts `serve` (no workers) and waits until it answers `/readyz`.
    async fn start(db_url: &str) -> Result<Self, syllabus_e2e::Error> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(syllabus_e2e::syllabus_bin()?)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", db_url)
            .env("RUN_MIGRATIONS", "false")
            .env("AUTH_JWT_SECRET", syllabus_e2e::SECRET)
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("WORKERS", "false")
            .env("RATE_LIMIT_PER_HOUR", "1000")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let server = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let ready = reqwest::get(format!("{}/readyz", server.base)).await;
            if ready.is_ok_and(|r| r.status() == 200) {
                return Ok(server);
            }
            if std::time::Instant::now() > deadline {
                return Err("serve never became ready".into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Writes a keyed `POST /api/v1/plans` on a raw connection and never reads the answer: the
    /// client of a process that dies before answering.
    fn send_unread(
        &self,
        user: &str,
        key: &str,
        body: &Value,
    ) -> Result<std::net::TcpStream, syllabus_e2e::Error> {
        use std::io::Write;
        let addr = self.base.trim_start_matches("http://");
        let mut socket = std::net::TcpStream::connect(addr)?;
        let body = serde_json::to_vec(body)?;
        write!(
            socket,
            "POST /api/v1/plans HTTP/1.1\r\nhost: {addr}\r\nauthorization: Bearer {}\r\n\
             content-type: application/json\r\n{KEY}: {key}\r\ncontent-length: {}\r\n\r\n",
            syllabus_e2e::token(user),
            body.len()
        )?;
        socket.write_all(&body)?;
        Ok(socket)
    }

    /// The same request, read whole: status, `Idempotent-Replayed`, and the plan's id.
    async fn create(
        &self,
        user: &str,
        key: &str,
        body: &Value,
    ) -> Result<(u16, bool, String), syllabus_e2e::Error> {
        let res = reqwest::Client::new()
            .post(format!("{}/api/v1/plans", self.base))
            .bearer_auth(syllabus_e2e::token(user))
            .header(KEY, key)
            .json(body)
            .send()
            .await?;
        let status = res.status().as_u16();
        let replayed = res.headers().contains_key("idempotent-replayed");
        let answer: Value = res.json().await?;
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        Ok((status, replayed, id))
    }
}

/// Done-when: "a crash between create and response still replays". A create is committed, the
/// process is killed (SIGKILL) before its client reads the answer, a new process starts, and the
/// client's retry with the same key is answered with the first plan: one plan, no second create.
/// Then the same at moments chosen without looking (during the create, at its commit, after):
/// every key ends with exactly one plan, so no crash left work without its key (the retry would
/// create a second plan) or a key without its work (the retry would be answered with an id that
/// does not exist).
#[tokio::test(flavor = "multi_thread")]
async fn a_process_killed_after_the_create_commits_replays_it_after_a_restart() -> TestResult {
    use diesel::sql_types::{BigInt, Text};
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    let db = syllabus_testkit::TestDb::new().await?;
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    let body = plan_body("Crash between create and response");

    // 1. Killed once the create has committed, its answer unread.
    let server = Server::start(db.url()).await?;
    let _unread = server.send_unread("rex", "crash-key", &body)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let done: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM idempotency_keys
             WHERE user_id = $1 AND key = $2 AND status = 'done'",
        )
        .bind::<Text, _>("rex")
        .bind::<Text, _>("crash-key")
        .get_result(&mut admin)
        .await?;
        if done.n == 1 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the create never committed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    drop(server); // SIGKILL
    let server = Server::start(db.url()).await?;
    let (status, replayed, id) = server.create("rex", "crash-key", &body).await?;
    assert_eq!(status, 201);
    assert!(replayed, "the retry is the stored answer, not a new create");
    let plans: Count = diesel::sql_query("SELECT count(*) AS n FROM plans WHERE user_id = 'rex'")
        .get_result(&mut admin)
        .await?;
    assert_eq!(plans.n, 1, "one plan after the crash and the retry");
    let stored: Count = diesel::sql_query("SELECT count(*) AS n FROM plans WHERE id::text = $1")
        .bind::<Text, _>(&id)
        .get_result(&mut admin)
        .await?;
    assert_eq!(stored.n, 1, "the replayed id is the plan that was created");

    // 2. Killed at moments not chosen by looking.
    let keys = ["kill-0", "kill-1", "kill-2", "kill-3", "kill-4"];
    let mut server = server;
    for (i, key) in keys.iter().enumerate() {
        let _unread = server.send_unread("sam", key, &body)?;
        tokio::time::sleep(std::time::Duration::from_millis(3 * i as u64)).await;
        drop(server);
        server = Server::start(db.url()).await?;
    }
    let mut ids = std::collections::BTreeSet::new();
    for key in keys {
        let (status, _, id) = server.create("sam", key, &body).await?;
        assert_eq!(status, 201);
        ids.insert(id);
    }
    let plans: Count = diesel::sql_query("SELECT count(*) AS n FROM plans WHERE user_id = 'sam'")
        .get_result(&mut admin)
        .await?;
    assert_eq!(
        (plans.n, ids.len()),
        (5, 5),
        "one plan per key, whatever the moment of the crash"
    );
    let orphans: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM idempotency_keys k
         WHERE k.user_id = 'sam' AND (k.status <> 'done' OR NOT EXISTS (
             SELECT 1 FROM plans p
             WHERE p.id::text = convert_from(k.response_body, 'UTF8')::jsonb ->> 'id'))",
    )
    .get_result(&mut admin)
    .await?;
    assert_eq!(orphans.n, 0, "every key answers with a plan that exists");
    drop(server);
    Ok(())
}

/// A refused create stores nothing under its key (the key is free for the next request, even
/// another one), and the header sent twice is a 400 naming it.
#[tokio::test(flavor = "multi_thread")]
async fn a_refused_create_leaves_its_key_free_and_a_doubled_header_is_400() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let missing = uuid::Uuid::now_v7();
    let refused = app
        .send(
            "POST",
            &format!("/api/v1/plans/{missing}/fork"),
            Some("ola"),
            None,
            &[(KEY, "free-key")],
        )
        .await?;
    assert_eq!(refused.status, 404, "{}", refused.body);
    let created = create(&app, "ola", &plan_body("After a refusal"), "free-key").await?;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(created.header("idempotent-replayed").is_none());

    let doubled = app
        .send(
            "POST",
            "/api/v1/plans",
            Some("ola"),
            Some(&plan_body("Doubled key")),
            &[(KEY, "one"), (KEY, "two")],
        )
        .await?;
    assert_eq!(doubled.status, 400, "{}", doubled.body);
    assert_eq!(doubled.body["code"], "IDEMPOTENCY_KEY_INVALID");
    assert_eq!(doubled.body["errors"][0]["field"], KEY, "{}", doubled.body);
    assert_eq!(plan_count(&app, "ola").await?, 1);
    app.stop().await;
    Ok(())
}
