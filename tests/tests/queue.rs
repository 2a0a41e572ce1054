//! The queue's guarantees: lease fencing after a rescue, release on graceful shutdown, and a
//! worker process killed with SIGKILL mid-generation.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use syllabus_domain::{JobStatus, PlanId, UserId, validate_plan};
use syllabus_e2e::{App, Options, plan_json, syllabus_bin};
use syllabus_store::records::{JobEnd, NewAttempt};
use syllabus_store::{GenerationStore, JobStore, PlanStore, QueueStore, StoreError};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

fn user(name: &str) -> Result<UserId, syllabus_e2e::Error> {
    UserId::parse(name).ok_or_else(|| "bad user".into())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rescued_run_can_no_longer_finish_its_job_and_writes_nothing() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let plan = PlanId::from_uuid(app.create_plan("olga", "Fencing topic").await?.parse()?);
    let olga = user("olga")?;
    let first = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.store.rescue_stale(Duration::from_millis(1)).await?, 1);
    let second = app
        .store
        .claim("w2")
        .await?
        .ok_or("the rescued job is not claimable")?;
    assert_eq!(second.lease.job, first.lease.job);
    assert_ne!(second.lease.token, first.lease.token);
    assert_eq!(second.attempts, 1, "the rescued run was counted");

    let content =
        validate_plan(&serde_json::from_str(&plan_json(2, 2, 60))?).map_err(|e| e.to_string())?;
    let done = JobEnd::Completed { result: json!({}) };
    let stale = app
        .store
        .finish_generation(
            first.lease,
            &olga,
            plan,
            NewAttempt::default(),
            Some(content.clone()),
            done.clone(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    let detail = app.store.plan(&olga, plan).await?;
    assert!(detail.modules.is_empty(), "a fenced-out run wrote content");
    assert_eq!(
        detail.plan.attempts_used, 0,
        "a fenced-out run wrote an attempt"
    );
    assert!(
        !app.store.heartbeat(first.lease).await?,
        "the old lease still heartbeats"
    );

    app.store
        .finish_generation(
            second.lease,
            &olga,
            plan,
            NewAttempt::default(),
            Some(content),
            done,
        )
        .await?;
    let detail = app.store.plan(&olga, plan).await?;
    assert_eq!(detail.modules.len(), 2);
    assert_eq!(detail.plan.attempts_used, 1);
    let job = app.store.job(&olga, first.lease.job).await?;
    assert_eq!(job.status, JobStatus::Completed);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn graceful_shutdown_releases_a_running_job_without_spending_an_attempt() -> TestResult {
    let mut app = App::start(Options {
        timeout: Duration::from_secs(60),
        extended_timeout: Duration::from_secs(60),
        ..Options::default()
    })
    .await?;
    app.llm.set_default(Reply::StallBeforeHeaders);
    let plan = app.create_plan("pete", "Shutdown topic").await?;
    let pete = user("pete")?;
    let jobs = app.get("/api/v1/jobs", "pete").await?;
    let job = syllabus_domain::JobId::from_uuid(
        jobs.body["items"][0]["id"].as_str().ok_or("job")?.parse()?,
    );
    let mut waited = 0;
    while app.store.job(&pete, job).await?.status != JobStatus::Processing {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 200, "the job was never picked up");
    }
    app.halt().await;
    let after = app.store.job(&pete, job).await?;
    assert_eq!(after.status, JobStatus::Pending);
    assert_eq!(after.attempts, 0, "the interrupted run was not given back");
    let detail = app
        .store
        .plan(&pete, PlanId::from_uuid(plan.parse()?))
        .await?;
    assert_eq!(detail.plan.attempts_used, 0);
    assert!(detail.modules.is_empty());
    Ok(())
}

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(app: &App, stale_after_ms: u64) -> Result<Worker, syllabus_e2e::Error> {
    let child = Command::new(syllabus_bin()?)
        .arg("worker")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &app.url)
        .env("OPENAI_BASE_URL", app.llm.base_url())
        .env("RUN_MIGRATIONS", "false")
        .env("JOB_STALE_AFTER_MS", stale_after_ms.to_string())
        .env("JOB_BACKOFF_BASE_MS", "50")
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Worker(child))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_worker_killed_mid_generation_is_rescued_and_the_plan_is_ready_exactly_once() -> TestResult
{
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    // The first call stalls (the process dies during it); later calls answer.
    app.llm.push(Reply::StallBeforeHeaders);
    app.llm
        .set_default(Reply::stream(&plan_json(3, 2, 60), 3, Duration::ZERO));
    let plan = app.create_plan("quinn", "Crash topic").await?;
    let quinn = user("quinn")?;
    let mut doomed = worker(&app, 1_000)?;
    let mut waited = 0;
    while app.llm.requests().is_empty() {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "the worker never called the provider");
    }
    doomed.0.kill()?; // SIGKILL
    doomed.0.wait()?;

    let _rescuer = worker(&app, 1_000)?;
    let settled = app.settle("quinn", &plan, Duration::from_secs(30)).await?;
    assert_eq!(settled["status"], "ready", "{settled}");
    assert_eq!(
        settled["modules"].as_array().map(Vec::len),
        Some(3),
        "no duplicate modules"
    );
    assert_eq!(
        settled["attempts_used"], 1,
        "the killed run wrote no attempt"
    );
    let detail = app
        .store
        .plan(&quinn, PlanId::from_uuid(plan.parse()?))
        .await?;
    let orders: Vec<u32> = detail.modules.iter().map(|m| m.order).collect();
    assert_eq!(orders, [1, 2, 3]);
    let jobs = app.get("/api/v1/jobs", "quinn").await?;
    assert_eq!(jobs.body["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(jobs.body["items"][0]["status"], "completed");
    assert_eq!(
        jobs.body["items"][0]["attempts"], 1,
        "the killed run recorded nothing and is not counted; the rescued run is"
    );
    app.stop().await;
    Ok(())
}
