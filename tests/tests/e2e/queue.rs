//! The queue's guarantees: lease fencing after a rescue, release on graceful shutdown (all
//! leases in one statement), a worker process killed with SIGKILL mid-generation, a job given up
//! after stopping its worker 3 times, and a run that is not cancelled by a heartbeat that finds
//! the lease its own finish just cleared.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use diesel::sql_types::{BigInt, Bool, Integer, SmallInt};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use syllabus_domain::{JobId, JobStatus, PlanId, UserId, validate_plan};
use syllabus_e2e::{App, Options, plan_json, syllabus_bin};
use syllabus_jobs::{Context, Dispatch, Runtime, RuntimeConfig, Shutdown};
use syllabus_provider::{OpenAiProvider, ProviderConfig};
use syllabus_store::records::{ClaimedJob, JobEnd, NewAttempt};
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
            None,
        )
        .await;
    assert!(matches!(stale, Err(StoreError::LeaseLost)), "{stale:?}");
    let detail = app.store.plan(&olga, plan).await?;
    assert!(detail.modules.is_empty(), "a fenced-out run wrote content");
    assert_eq!(
        detail.plan.attempts_used, 0,
        "a fenced-out run wrote an attempt"
    );
    assert_eq!(
        app.store.heartbeat_many(&[first.lease]).await?,
        [first.lease],
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
            None,
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
    let job = JobId::from_uuid(jobs.body["items"][0]["id"].as_str().ok_or("job")?.parse()?);
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

/// A superuser session (setup bypasses row-level security).
async fn superuser(app: &App) -> Result<AsyncPgConnection, syllabus_e2e::Error> {
    Ok(AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?)
}

/// Inserts a due-or-not job of user `ivy` (`run_at` `offset_s` seconds from now) and returns it.
async fn insert_job(
    admin: &mut AsyncPgConnection,
    priority: i16,
    offset_s: i32,
) -> Result<JobId, syllabus_e2e::Error> {
    let id = uuid::Uuid::now_v7();
    diesel::sql_query("INSERT INTO users (id) VALUES ('ivy') ON CONFLICT DO NOTHING;")
        .execute(admin)
        .await?;
    diesel::sql_query(
        "INSERT INTO jobs (id, user_id, job_type, payload, max_attempts, priority, run_at)
         VALUES ($1, 'ivy', 'skill_tree', '{}', 3, $2, now() + make_interval(secs => $3))",
    )
    .bind::<diesel::sql_types::Uuid, _>(id)
    .bind::<SmallInt, _>(priority)
    .bind::<Integer, _>(offset_s)
    .execute(admin)
    .await?;
    Ok(JobId::from_uuid(id))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_claim_takes_due_jobs_in_claim_order_each_with_its_own_lease_skipping_locked_ones()
-> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut admin = superuser(&app).await?;
    let a = insert_job(&mut admin, 0, -3).await?;
    let b = insert_job(&mut admin, 5, -1).await?;
    let c = insert_job(&mut admin, 0, -2).await?;
    let _later = insert_job(&mut admin, 9, 3_600).await?;
    let e = insert_job(&mut admin, 5, -2).await?;

    // Highest priority first, then (one user's jobs) the oldest queued (issue #22: `fair_at`
    // orders a user's jobs as they were queued, `e` after `b` though due earlier); the limit
    // holds.
    let first = app.store.claim_many("w1", 2).await?;
    let ids: Vec<JobId> = first.iter().map(|j| j.lease.job).collect();
    assert_eq!(ids, [b, e]);

    // Another session holds `a`: the batch skips it instead of waiting.
    let mut gate = superuser(&app).await?;
    diesel::sql_query("BEGIN").execute(&mut gate).await?;
    diesel::sql_query("SELECT id FROM jobs WHERE id = $1 FOR UPDATE")
        .bind::<diesel::sql_types::Uuid, _>(a.as_uuid())
        .execute(&mut gate)
        .await?;
    let second = app.store.claim_many("w1", 10).await?;
    let ids: Vec<JobId> = second.iter().map(|j| j.lease.job).collect();
    assert_eq!(
        ids,
        [c],
        "the locked job was not skipped, or a job not due was taken"
    );
    diesel::sql_query("COMMIT").execute(&mut gate).await?;

    let third = app.store.claim_many("w2", 10).await?;
    let ids: Vec<JobId> = third.iter().map(|j| j.lease.job).collect();
    assert_eq!(ids, [a]);
    assert!(app.store.claim_many("w2", 10).await?.is_empty());
    assert!(app.store.claim("w2").await?.is_none());

    let all: Vec<_> = first.iter().chain(&second).chain(&third).collect();
    let tokens: std::collections::HashSet<uuid::Uuid> = all.iter().map(|j| j.lease.token).collect();
    assert_eq!(tokens.len(), all.len(), "leases are shared between jobs");
    let ivy = UserId::parse("ivy").ok_or("user")?;
    for job in &all {
        assert_eq!(job.attempts, 1);
        let record = app.store.job(&ivy, job.lease.job).await?;
        assert_eq!(record.status, JobStatus::Processing);
        // Each lease ends its own job and no other.
        app.store
            .finish(job.lease, JobEnd::Completed { result: json!({}) }, None)
            .await?;
    }
    app.stop().await;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Fresh {
    #[diesel(sql_type = Bool)]
    fresh: bool,
}

async fn fresh(admin: &mut AsyncPgConnection, job: JobId) -> Result<bool, syllabus_e2e::Error> {
    let row: Fresh = diesel::sql_query(
        "SELECT coalesce(heartbeat_at > now() - interval '1 minute', false) AS fresh
         FROM jobs WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(job.as_uuid())
    .get_result(admin)
    .await?;
    Ok(row.fresh)
}

#[tokio::test(flavor = "multi_thread")]
async fn one_heartbeat_refreshes_every_live_lease_and_reports_the_lost_ones() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut admin = superuser(&app).await?;
    for _ in 0..3 {
        insert_job(&mut admin, 0, -1).await?;
    }
    let runs = app.store.claim_many("w1", 3).await?;
    let [one, two, three] = [runs[0].lease, runs[1].lease, runs[2].lease];
    assert!(app.store.heartbeat_many(&[]).await?.is_empty());
    // `two` was rescued and claimed again by another worker: its old lease is lost.
    diesel::sql_query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(two.job.as_uuid())
        .execute(&mut admin)
        .await?;
    assert_eq!(app.store.rescue_stale(Duration::from_secs(60)).await?, 1);
    let again = app.store.claim_many("w2", 3).await?;
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].lease.job, two.job);
    diesel::sql_query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour'")
        .execute(&mut admin)
        .await?;

    let lost = app.store.heartbeat_many(&[one, two, three]).await?;
    assert_eq!(lost, [two], "only the stale lease is lost");
    assert!(fresh(&mut admin, one.job).await?);
    assert!(fresh(&mut admin, three.job).await?);
    assert!(
        !fresh(&mut admin, two.job).await?,
        "a lost lease refreshed the job another worker holds"
    );
    app.stop().await;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Shown {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    plan_id: uuid::Uuid,
    #[diesel(sql_type = Integer)]
    position: i32,
    #[diesel(sql_type = diesel::sql_types::Text)]
    user_id: String,
}

/// Previews published at once go out together: each is written for its job's owner, none for a
/// run whose lease is lost, and one the database refuses costs the others nothing.
#[tokio::test(flavor = "multi_thread")]
async fn previews_published_together_are_written_for_live_runs_only() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut admin = superuser(&app).await?;
    for (owner, topic) in [
        ("ann", "Batch one"),
        ("bea", "Batch two"),
        ("cy", "Batch three"),
    ] {
        app.create_plan(owner, topic).await?;
    }
    let runs = app.store.claim_many("w1", 3).await?;
    assert_eq!(runs.len(), 3);
    let plans = runs
        .iter()
        .map(|r| r.plan_id.ok_or("a plan job without its plan"))
        .collect::<Result<Vec<PlanId>, _>>()?;
    // The third run was rescued: its lease is lost.
    diesel::sql_query("UPDATE jobs SET lease_token = gen_random_uuid() WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(runs[2].lease.job.as_uuid())
        .execute(&mut admin)
        .await?;
    let module = validate_plan(&serde_json::from_str(&plan_json(1, 2, 60))?)
        .map_err(|e| e.to_string())?
        .modules
        .remove(0);

    // 24 modules of the first two runs, one out of the schema's range (index 30), and the
    // lost run's: all at once.
    let mut publishes = Vec::new();
    for index in 0..12 {
        publishes.extend([(0, index), (1, index)]);
    }
    publishes.extend([(0, 30), (2, 0)]);
    let results = futures::future::join_all(publishes.iter().map(|&(run, index)| {
        app.store
            .publish_preview(runs[run].lease, plans[run], 1, index, &module)
    }))
    .await;
    let (refused, written): (Vec<_>, Vec<_>) = results
        .iter()
        .zip(&publishes)
        .partition(|(r, _)| r.is_err());
    assert_eq!(refused.len(), 1, "{results:?}");
    assert_eq!(
        refused[0].1,
        &(0, 30),
        "only the out-of-range preview fails"
    );
    assert_eq!(
        written.len(),
        25,
        "a lost lease is not an error, it writes nothing"
    );

    let rows: Vec<Shown> = diesel::sql_query(
        "SELECT plan_id, position, user_id FROM plan_previews ORDER BY plan_id, position",
    )
    .load(&mut admin)
    .await?;
    assert_eq!(
        rows.len(),
        24,
        "12 previews of each live run, none of the lost one"
    );
    for (run, plan) in runs.iter().zip(&plans).take(2) {
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| r.plan_id == plan.as_uuid())
            .collect();
        assert_eq!(
            mine.iter().map(|r| r.position).collect::<Vec<_>>(),
            (0..12).collect::<Vec<_>>()
        );
        assert!(
            mine.iter().all(|r| r.user_id == run.user.as_str()),
            "written for its owner"
        );
    }
    app.stop().await;
    Ok(())
}

/// A runtime over the app's store and fake provider, with `dispatch` (or the real handlers).
fn runtime(
    app: &App,
    events: syllabus_store::JobEvents,
    config: RuntimeConfig,
) -> Result<Runtime<syllabus_store::Database, OpenAiProvider>, syllabus_e2e::Error> {
    let provider = OpenAiProvider::new(ProviderConfig {
        base_url: app.llm.base_url(),
        api_key: Some("test-key".into()),
        model: "fake-model".into(),
        timeout: Duration::from_secs(120),
        extended_timeout: Duration::from_secs(120),
        ..ProviderConfig::default()
    })?;
    Ok(Runtime::new(
        app.store.clone(),
        Arc::new(provider),
        events,
        config,
    ))
}

#[derive(diesel::QueryableByName)]
struct Stamp {
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Timestamptz>)]
    at: Option<chrono::DateTime<chrono::Utc>>,
}

/// What became of the finishing run of [`FinishThenWatch`].
#[derive(Debug, PartialEq, Eq)]
enum Fate {
    /// Its code after the finishing write ran, and it returned.
    Returned,
    /// It was dropped before returning.
    Dropped,
}

struct Report(Option<tokio::sync::mpsc::UnboundedSender<Fate>>);

impl Drop for Report {
    fn drop(&mut self) {
        if let Some(tx) = self.0.take() {
            let _ = tx.send(Fate::Dropped);
        }
    }
}

/// Ends `finisher`'s run at once, then (still inside the handler) waits until two heartbeats
/// of the process have run after that write committed (seen on `watched`, the other job, which
/// every beat refreshes with it): the first of them finds `finisher`'s lease gone. Any other job
/// waits for `release`, then ends.
struct FinishThenWatch {
    finisher: JobId,
    watched: JobId,
    admin_url: String,
    fate: tokio::sync::mpsc::UnboundedSender<Fate>,
    release: Arc<tokio::sync::Notify>,
}

impl<P: Send + Sync + 'static> Dispatch<syllabus_store::Database, P> for FinishThenWatch {
    async fn run(
        &self,
        ctx: &Context<syllabus_store::Database, P>,
        job: &ClaimedJob,
    ) -> Result<JobStatus, StoreError> {
        let done = JobEnd::Completed { result: json!({}) };
        if job.lease.job != self.finisher {
            self.release.notified().await;
            return ctx.end_run(job, done).await;
        }
        let mut report = Report(Some(self.fate.clone()));
        let status = ctx.end_run(job, done).await?;
        let unexpected = |e: diesel::result::Error| StoreError::Unexpected(e.to_string());
        let mut admin = AsyncPgConnection::establish(&self.admin_url)
            .await
            .map_err(|e| StoreError::Unexpected(e.to_string()))?;
        let committed: Stamp = diesel::sql_query("SELECT clock_timestamp() AS at")
            .get_result(&mut admin)
            .await
            .map_err(unexpected)?;
        let mut beats = Vec::new();
        for _ in 0..400 {
            let beat: Stamp =
                diesel::sql_query("SELECT heartbeat_at AS at FROM jobs WHERE id = $1")
                    .bind::<diesel::sql_types::Uuid, _>(self.watched.as_uuid())
                    .get_result(&mut admin)
                    .await
                    .map_err(unexpected)?;
            if let Some(at) = beat.at.filter(|at| Some(*at) > committed.at)
                && !beats.contains(&at)
            {
                beats.push(at);
            }
            if beats.len() >= 2 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(tx) = report.0.take() {
            let _ = tx.send(if beats.len() >= 2 {
                Fate::Returned
            } else {
                Fate::Dropped
            });
        }
        Ok(status)
    }
}

/// Issue #18, item 3: the heartbeat found the lease gone that the run's own finishing write had
/// just cleared, and the runtime dropped the handler as "lost its lease (rescued)", skipping
/// whatever it did after its write (the queue benchmark's count, here).
#[tokio::test(flavor = "multi_thread")]
async fn a_heartbeat_after_a_runs_own_finish_does_not_cancel_the_run() -> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut admin = superuser(&app).await?;
    let finisher = insert_job(&mut admin, 5, -1).await?;
    let watched = insert_job(&mut admin, 0, -1).await?;
    let (fate, mut fates) = tokio::sync::mpsc::unbounded_channel();
    let release = Arc::new(tokio::sync::Notify::new());
    let events = syllabus_store::JobEvents::start(&app.url, Duration::from_secs(5)).await;
    let runtime = runtime(
        &app,
        events,
        RuntimeConfig {
            concurrency: 2,
            // Beats every 300 ms.
            stale_after: Duration::from_millis(900),
            poll_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(5),
            worker_id: "finisher".into(),
            ..RuntimeConfig::default()
        },
    )?
    .with_dispatch(FinishThenWatch {
        finisher,
        watched,
        admin_url: app.admin_url().ok_or("no admin url")?.to_owned(),
        fate,
        release: Arc::clone(&release),
    });
    let (shutdown, stop) = Shutdown::new();
    let task = tokio::spawn(runtime.run(stop));

    let got = tokio::time::timeout(Duration::from_secs(30), fates.recv()).await?;
    assert_eq!(
        got,
        Some(Fate::Returned),
        "the run was dropped after its own finish committed"
    );
    let ivy = user("ivy")?;
    assert_eq!(
        app.store.job(&ivy, finisher).await?.status,
        JobStatus::Completed
    );
    release.notify_one();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), task).await??;
    assert_eq!(
        app.store.job(&ivy, watched).await?.status,
        JobStatus::Completed
    );
    app.stop().await;
    Ok(())
}

/// Issue #18, item 5: rescue gave a job back without counting it, so a job whose runs kill
/// their process came back every JOB_STALE_AFTER_MS for ever, and its plan never left
/// `pending`. Dead processes are simulated by claims that never heartbeat.
#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_stopped_its_worker_three_times_is_given_up_with_its_attempt_recorded()
-> TestResult {
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    app.llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 2, Duration::ZERO));
    let plan = app.create_plan("rudy", "Crashing topic").await?;
    let rudy = user("rudy")?;
    let mut job = None;
    for _ in 0..3 {
        let dead = app.store.claim("dead").await?.ok_or("nothing to claim")?;
        job = Some(dead.lease.job);
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(app.store.rescue_stale(Duration::from_millis(1)).await?, 1);
    }
    let job = job.ok_or("no job")?;
    assert_eq!(app.store.job(&rudy, job).await?.status, JobStatus::Pending);

    let events = syllabus_store::JobEvents::start(&app.url, Duration::from_secs(5)).await;
    let runtime = runtime(
        &app,
        events,
        RuntimeConfig {
            concurrency: 2,
            poll_interval: Duration::from_millis(100),
            worker_id: "live".into(),
            ..RuntimeConfig::default()
        },
    )?;
    let (shutdown, stop) = Shutdown::new();
    let task = tokio::spawn(runtime.run(stop));
    let body = app
        .wait_until(
            &format!("/api/v1/jobs/{job}"),
            "rudy",
            Duration::from_secs(30),
            |b| {
                ["completed", "failed", "cancelled"]
                    .iter()
                    .any(|s| b["status"] == *s)
            },
        )
        .await?;
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(
        body["error"],
        json!({
            "message": "The job stopped its worker 3 times and was given up.",
            "classification": "provider_error",
        }),
        "{body}"
    );
    assert!(
        app.llm.requests().is_empty(),
        "a given-up job called the provider again"
    );
    let plan = app
        .get(&format!("/api/v1/plans/{plan}"), "rudy")
        .await?
        .body;
    assert_eq!(plan["attempts_used"], 1, "{plan}");
    assert_eq!(
        plan["latest_attempt"]["classification"], "provider_error",
        "{plan}"
    );
    assert_eq!(
        plan["latest_attempt"]["error"], "The job stopped its worker 3 times and was given up.",
        "{plan}"
    );
    // One failed attempt of 3, no modules: pending by SPEC's rule, with no job left to run.
    assert_eq!(plan["status"], "pending", "{plan}");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(30), task).await??;
    app.stop().await;
    Ok(())
}

#[derive(diesel::QueryableByName)]
struct Released {
    #[diesel(sql_type = BigInt)]
    processing: i64,
    #[diesel(sql_type = BigInt)]
    pending: i64,
    #[diesel(sql_type = BigInt)]
    spent: i64,
    #[diesel(sql_type = BigInt)]
    transactions: i64,
}

/// Issue #18, item 6: shutdown released the leases it still held one transaction each, after
/// the grace period; at 1,000 stalled runs that outlasted a container runtime's 10 s kill.
#[tokio::test(flavor = "multi_thread")]
async fn shutdown_releases_every_stalled_run_in_one_statement_after_the_grace() -> TestResult {
    const RUNS: i64 = 200;
    let app = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    app.llm.set_default(Reply::StallBeforeHeaders);
    let topics: Vec<String> = (0..RUNS).map(|i| format!("Stalled topic {i}")).collect();
    let creations = topics.iter().map(|t| app.create_plan("sam", t));
    for created in futures::future::join_all(creations).await {
        created?;
    }
    let events = syllabus_store::JobEvents::start(&app.url, Duration::from_secs(5)).await;
    let grace = Duration::from_secs(1);
    let runtime = runtime(
        &app,
        events,
        RuntimeConfig {
            concurrency: 256,
            poll_interval: Duration::from_millis(100),
            shutdown_grace: grace,
            worker_id: "stalled".into(),
            ..RuntimeConfig::default()
        },
    )?;
    let (shutdown, stop) = Shutdown::new();
    let task = tokio::spawn(runtime.run(stop));
    let mut admin = superuser(&app).await?;
    let mut waited = 0;
    while app.llm.requests().len() < usize::try_from(RUNS)? {
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 1_200, "the runs never all reached the provider");
    }

    let asked = std::time::Instant::now();
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(60), task).await??;
    let took = asked.elapsed();
    assert!(
        took >= grace,
        "running jobs did not get their grace: {took:?}"
    );
    assert!(
        took < grace + Duration::from_secs(8),
        "shutdown took {took:?} for a grace of {grace:?}"
    );
    // `xmin` is the transaction that last wrote a row: one for all of them.
    let after: Released = diesel::sql_query(
        "SELECT count(*) FILTER (WHERE status = 'processing') AS processing,
                count(*) FILTER (WHERE status = 'pending') AS pending,
                coalesce(sum(attempts), 0)::int8 AS spent,
                count(DISTINCT xmin::text) AS transactions
         FROM jobs",
    )
    .get_result(&mut admin)
    .await?;
    assert_eq!(after.processing, 0, "jobs left processing");
    assert_eq!(after.pending, RUNS, "jobs not given back");
    assert_eq!(after.spent, 0, "a released run was counted");
    assert_eq!(
        after.transactions, 1,
        "the leases were not released in one statement"
    );
    app.stop().await;
    Ok(())
}
