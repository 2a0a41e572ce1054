//! The binary's subcommands, run as a user or an operator would.

use std::process::Command;

use diesel::sql_query;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use syllabus_e2e::syllabus_bin;
use syllabus_testkit::TestDb;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn syllabus() -> Result<Command, String> {
    let mut cmd = Command::new(syllabus_bin()?);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    Ok(cmd)
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_the_schema_and_is_idempotent() -> TestResult {
    let db = TestDb::empty().await?;
    for _ in 0..2 {
        let out = syllabus()?
            .arg("migrate")
            .env("DATABASE_URL", db.url())
            .env("LOG_FORMAT", "json")
            .output()?;
        assert!(
            out.status.success(),
            "migrate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut conn = AsyncPgConnection::establish(db.admin_url()).await?;
    let tables = [
        "users",
        "plans",
        "modules",
        "tasks",
        "generation_attempts",
        "jobs",
        "flashcards",
        "distractors",
        "skill_trees",
        "skill_nodes",
    ];
    for table in tables {
        sql_query(format!("SELECT 1 FROM {table} LIMIT 1"))
            .execute(&mut conn)
            .await?;
    }
    Ok(())
}

#[test]
fn a_missing_setting_stops_start_up_with_one_line_naming_it() -> TestResult {
    let out = syllabus()?.arg("migrate").output()?;
    assert!(!out.status.success());
    let stderr = String::from_utf8(out.stderr)?;
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("DATABASE_URL is not set"), "{stderr}");

    let out = syllabus()?.args(["token", "--sub", "alice"]).output()?;
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr)?.contains("AUTH_JWT_SECRET is not set"));
    Ok(())
}

#[test]
fn token_prints_a_signed_jwt_for_the_subject() -> TestResult {
    let out = syllabus()?
        .args(["token", "--sub", "alice", "--ttl", "2h"])
        .env("AUTH_JWT_SECRET", "an-example-secret-of-32-bytes-or-more")
        .output()?;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout)?;
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT has three parts: {token}");
    Ok(())
}

/// Runs `cmd`, which must exit unsuccessfully (within 20 s: a regression would start a server
/// that never exits, `started` says what that means), and returns its standard error.
async fn refused(
    mut cmd: Command,
    started: &str,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let mut child = cmd.stderr(std::process::Stdio::piped()).spawn()?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if std::time::Instant::now() > deadline {
            child.kill()?;
            child.wait()?;
            return Err(started.to_owned().into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "{started}: it must not start");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().ok_or("stderr")?, &mut stderr)?;
    Ok(stderr)
}

/// Ownership rests on row-level security: a role it does not bind (here the test cluster's
/// superuser) would show every user's plans to every user, so `serve` and `worker` refuse it,
/// before writing anything, in one line naming the role.
#[tokio::test(flavor = "multi_thread")]
async fn serve_and_worker_refuse_a_role_that_bypasses_row_level_security() -> TestResult {
    let db = TestDb::empty().await?;
    for args in [&["serve"][..], &["worker"][..]] {
        let mut cmd = syllabus()?;
        cmd.args(args)
            .env("DATABASE_URL", db.admin_url())
            .env("AUTH_JWT_SECRET", "an-example-secret-of-32-bytes-or-more")
            .env("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
            .env("BIND_ADDR", "127.0.0.1:0");
        let stderr = refused(cmd, &format!("{args:?} started as a superuser")).await?;
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("DATABASE_URL") && stderr.contains("bypasses row-level security"),
            "{args:?}: {stderr}"
        );
    }
    // Nothing was written: the database is still empty.
    let mut admin = AsyncPgConnection::establish(db.admin_url()).await?;
    let tables: Vec<Name> =
        sql_query("SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public'")
            .load(&mut admin)
            .await?;
    assert!(
        tables.is_empty(),
        "{:?}",
        tables.iter().map(|t| &t.name).collect::<Vec<_>>()
    );
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[tokio::test(flavor = "multi_thread")]
async fn workers_without_a_provider_refuse_to_start_and_an_api_only_serve_starts() -> TestResult {
    let db = TestDb::new().await?;
    let secret = "an-example-secret-of-32-bytes-or-more";
    for args in [&["serve"][..], &["worker"][..]] {
        let mut cmd = syllabus()?;
        cmd.args(args)
            .env("DATABASE_URL", db.url())
            .env("AUTH_JWT_SECRET", secret)
            .env("BIND_ADDR", "127.0.0.1:0");
        let stderr = refused(cmd, &format!("{args:?} started without a provider")).await?;
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(
            stderr.contains("OPENAI_BASE_URL") && stderr.contains("OPENAI_API_KEY"),
            "{args:?}: {stderr}"
        );
    }

    // WORKERS=false needs no provider: the API starts and answers.
    let (mut child, base) = api_only_serve(&db, secret).await?;
    let status = reqwest::get(format!("{base}/readyz")).await?.status();
    child.kill()?;
    child.wait()?;
    assert_eq!(status, 200, "serve with WORKERS=false is ready");
    Ok(())
}

/// Starts `syllabus serve` with `WORKERS=false` on a free loopback port and waits until it
/// answers; returns the process and its base URL.
async fn api_only_serve(
    db: &TestDb,
    secret: &str,
) -> Result<(std::process::Child, String), Box<dyn std::error::Error + Send + Sync>> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut child = syllabus()?
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTH_JWT_SECRET", secret)
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("WORKERS", "false")
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::get(format!("{base}/readyz")).await.is_err() {
        if let Some(code) = child.try_wait()? {
            return Err(format!("serve exited early: {code}").into());
        }
        if std::time::Instant::now() > deadline {
            child.kill()?;
            return Err("serve did not start within 30 s".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    Ok((child, base))
}

/// The soft limit of open files a service manager gives (often 1,024) stops a server at a few
/// hundred clients: `serve` raises it to the hard limit at start-up and logs the new limit.
#[tokio::test(flavor = "multi_thread")]
async fn serve_raises_its_open_file_limit_to_the_hard_limit() -> TestResult {
    fn limits_of(pid: u32) -> Result<(String, String), Box<dyn std::error::Error + Send + Sync>> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/limits"))?;
        let line = text
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .ok_or("no open-file line")?;
        let mut parts = line["Max open files".len()..].split_whitespace();
        Ok((
            parts.next().ok_or("soft")?.to_owned(),
            parts.next().ok_or("hard")?.to_owned(),
        ))
    }
    let db = TestDb::new().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let bin = syllabus_bin()?;
    // The shell lowers its soft limit, then becomes the server (same pid).
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -S -n 256 && exec "$0" serve"#)
        .arg(&bin)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", db.url())
        .env("AUTH_JWT_SECRET", "an-example-secret-of-32-bytes-or-more")
        .env("BIND_ADDR", format!("127.0.0.1:{port}"))
        .env("WORKERS", "false")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    let url = format!("http://127.0.0.1:{port}/readyz");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while reqwest::get(&url).await.is_err() {
        if std::time::Instant::now() > deadline || child.try_wait()?.is_some() {
            child.kill()?;
            return Err("serve did not start".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (soft, hard) = limits_of(child.id())?;
    child.kill()?;
    let out = child.wait_with_output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    assert_ne!(soft, "256", "the soft limit was not raised");
    assert_eq!(soft, hard, "soft {soft}, hard {hard}");
    assert!(
        log.lines()
            .any(|l| l.contains("open-file limit raised") && l.contains("open_files.limit")),
        "{log}"
    );
    Ok(())
}

/// Runs `syllabus healthcheck` with `BIND_ADDR=bind` (within 20 s) and returns its exit success,
/// standard output and standard error.
async fn healthcheck(
    bind: &str,
) -> Result<(bool, String, String), Box<dyn std::error::Error + Send + Sync>> {
    let mut cmd = syllabus()?;
    cmd.args(["healthcheck", "--timeout", "2s"])
        .env("BIND_ADDR", bind)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = cmd.spawn()?;
    let out = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        tokio::task::spawn_blocking(move || child.wait_with_output()),
    )
    .await
    .map_err(|_| format!("healthcheck against {bind} did not exit within 20 s"))???;
    Ok((
        out.status.success(),
        String::from_utf8(out.stdout)?,
        String::from_utf8(out.stderr)?,
    ))
}

/// The container image's `HEALTHCHECK` runs `syllabus healthcheck` (the image has no curl): 0
/// when the server at `BIND_ADDR` answers `/readyz` with 200 (an unspecified bind address is
/// checked on loopback), 1 with one line when nothing listens, when it answers another status,
/// or when it accepts and never answers.
#[tokio::test(flavor = "multi_thread")]
async fn healthcheck_exits_0_when_the_server_is_ready_and_1_otherwise() -> TestResult {
    let db = TestDb::new().await?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut server = syllabus()?
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("AUTH_JWT_SECRET", "an-example-secret-of-32-bytes-or-more")
        .env("BIND_ADDR", format!("0.0.0.0:{port}"))
        .env("WORKERS", "false")
        .stderr(std::process::Stdio::null())
        .spawn()?;
    let ready = async {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Some(code) = server.try_wait()? {
                return Err(format!("serve exited early: {code}").into());
            }
            let (ok, out, err) = healthcheck(&format!("127.0.0.1:{port}")).await?;
            if ok {
                return Ok::<_, Box<dyn std::error::Error + Send + Sync>>((out, err));
            }
            if std::time::Instant::now() > deadline {
                return Err(format!("never ready: {err}").into());
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }
    .await;
    let checked = match ready {
        Ok((out, _)) => {
            // The address the server was told to bind, as in the image (BIND_ADDR=0.0.0.0:8080).
            let unspecified = healthcheck(&format!("0.0.0.0:{port}")).await;
            Ok((out, unspecified))
        }
        Err(e) => Err(e),
    };
    server.kill()?;
    server.wait()?;
    let (out, unspecified) = checked?;
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.contains("/readyz") && out.contains("200"), "{out}");
    let (ok, out, err) = unspecified?;
    assert!(ok, "0.0.0.0 is checked on loopback: {out}{err}");

    // Nothing listens any more on that port.
    let (ok, out, err) = healthcheck(&format!("127.0.0.1:{port}")).await?;
    assert!(!ok, "nothing listens: {out}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("cannot connect"), "{err}");

    // A server that answers 503 (as /readyz does without its database).
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let answering = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let mut request = [0_u8; 1024];
        let _ = std::io::Read::read(&mut socket, &mut request)?;
        std::io::Write::write_all(
            &mut socket,
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
    });
    let (ok, _, err) = healthcheck(&addr.to_string()).await?;
    answering.join().map_err(|_| "the 503 server panicked")??;
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("not ready (HTTP 503)"), "{err}");

    // A server that accepts and never answers: the timeout ends the check.
    let silent = std::net::TcpListener::bind("127.0.0.1:0")?;
    let (ok, _, err) = healthcheck(&silent.local_addr()?.to_string()).await?;
    drop(silent);
    assert!(!ok);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("no answer within"), "{err}");
    Ok(())
}

/// SIGTERM ends the event streams and waits a server holds (their clients reconnect, to another
/// instance), so the process stops at once instead of waiting out actix-web's 10 s graceful
/// stop, past a container runtime's kill.
#[tokio::test(flavor = "multi_thread")]
async fn sigterm_ends_held_streams_and_waits_and_the_server_stops_promptly() -> TestResult {
    let db = TestDb::new().await?;
    let secret = "an-example-secret-of-32-bytes-or-more";
    let (mut child, base) = api_only_serve(&db, secret).await?;
    let token = {
        let out = syllabus()?
            .args(["token", "--sub", "alice"])
            .env("AUTH_JWT_SECRET", secret)
            .output()?;
        String::from_utf8(out.stdout)?.trim().to_owned()
    };
    let http = reqwest::Client::new();
    // No workers: the plan stays pending with its generation queued, so nothing ends these.
    let plan: serde_json::Value = http
        .post(format!("{base}/api/v1/plans"))
        .bearer_auth(&token)
        .json(
            &serde_json::json!({"topic": "Rust ownership", "skill_level": "beginner",
                                   "weekly_hours": 5, "learning_style": "practice"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let id = plan["id"].as_str().ok_or("no plan id")?.to_owned();
    let mut stream = http
        .get(format!("{base}/api/v1/plans/{id}/events"))
        .bearer_auth(&token)
        .send()
        .await?;
    assert_eq!(stream.status(), 200);
    let wait = tokio::spawn(
        http.get(format!("{base}/api/v1/plans/{id}"))
            .bearer_auth(&token)
            .header("prefer", "wait=60")
            .send(),
    );
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;

    let signalled = std::time::Instant::now();
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()?;
    assert!(killed.success());
    let stream_end = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while stream.chunk().await.ok().flatten().is_some() {}
    })
    .await;
    assert!(stream_end.is_ok(), "the stream stayed open");
    let answered = tokio::time::timeout(std::time::Duration::from_secs(20), wait).await;
    assert!(
        matches!(&answered, Ok(Ok(Ok(r))) if r.status() == 200),
        "the wait was not answered: {answered:?}"
    );
    let status = tokio::task::spawn_blocking(move || child.wait()).await??;
    let took = signalled.elapsed();
    assert!(status.success(), "{status}");
    assert!(
        took < std::time::Duration::from_secs(6),
        "stopped {took:?} after SIGTERM (actix-web alone waits 10 s for held requests)"
    );
    Ok(())
}
