//! Faults inside a run and between transactions: a panicking handler, a lease lost mid-call, a
//! connection killed under a write, a delete racing a job's end or an enqueue, a stale rescue.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use serde_json::json;
use syllabus_domain::content::{Flashcard, SkillTree};
use syllabus_domain::{
    FlashcardId, Issues, JobId, JobPayload, JobStatus, NormalizedPlan, PlanId, PlanRequest, UserId,
    validate_plan,
};
use syllabus_e2e::{App, Options, plan_json};
use syllabus_jobs::{Runtime, RuntimeConfig, Shutdown};
use syllabus_provider::{
    DistractorsInput, FlashcardsInput, OpenAiProvider, Outcome, Provider, ProviderConfig,
    SkillTreeInput,
};
use syllabus_store::records::{Actor, JobEnd, JobError, NewAttempt, RateLimit};
use syllabus_store::{
    ContentJobStore, ContentStore, GenerationStore, JobEvents, JobStore, PlanStore, QueueStore,
    StoreError,
};
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

fn user(name: &str) -> Result<UserId, syllabus_e2e::Error> {
    UserId::parse(name).ok_or_else(|| "bad user".into())
}

fn no_limit() -> RateLimit {
    RateLimit {
        limit: 1_000,
        window: Duration::from_secs(3_600),
        monthly_token_budget: None,
    }
}

async fn app() -> Result<App, syllabus_e2e::Error> {
    App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await
}

async fn superuser(app: &App) -> Result<AsyncPgConnection, syllabus_e2e::Error> {
    Ok(AsyncPgConnection::establish(app.admin_url().ok_or("no admin url")?).await?)
}

/// A superuser session to watch with, and another holding `sql`'s locks in an open transaction
/// (until the test sends `COMMIT` on it).
async fn gate(
    app: &App,
    sql: &str,
) -> Result<(AsyncPgConnection, AsyncPgConnection), syllabus_e2e::Error> {
    let admin = superuser(app).await?;
    let mut gate = superuser(app).await?;
    diesel::sql_query("BEGIN").execute(&mut gate).await?;
    diesel::sql_query(sql).execute(&mut gate).await?;
    Ok((admin, gate))
}

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Waits until `n` of the application's sessions wait on a row lock.
pub(crate) async fn until_waiting(conn: &mut AsyncPgConnection, n: i64) -> TestResult {
    for _ in 0..400 {
        let waiting: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()",
        )
        .get_result(conn)
        .await?;
        if waiting.n >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    Err(format!("{n} sessions never waited on a lock").into())
}

fn content() -> Result<NormalizedPlan, syllabus_e2e::Error> {
    Ok(validate_plan(&serde_json::from_str(&plan_json(2, 2, 60))?).map_err(|e| e.to_string())?)
}

fn timeout_attempt() -> (NewAttempt, JobEnd) {
    let error = JobError {
        message: "The provider did not answer in time.".into(),
        classification: syllabus_domain::FailureClass::Timeout,
    };
    let attempt = NewAttempt {
        classification: Some(error.classification),
        error: Some(error.message.clone()),
        ..NewAttempt::default()
    };
    (attempt, JobEnd::Failed { error, reask: None })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_rescue_returns_the_job_to_pending_without_counting_the_stopped_run() -> TestResult
{
    let app = app().await?;
    let rosa = user("rosa")?;
    let plan = PlanId::from_uuid(app.create_plan("rosa", "Rescue topic").await?.parse()?);
    let mut admin = superuser(&app).await?;
    // A job on its last run: before, the rescue failed it although no attempt was recorded,
    // and the plan stayed pending for ever.
    diesel::sql_query("UPDATE jobs SET max_attempts = 1")
        .execute(&mut admin)
        .await?;
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    assert_eq!(run.attempts, 1);
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(app.store.rescue_stale(Duration::from_millis(1)).await?, 1);
    let job = app.store.job(&rosa, run.lease.job).await?;
    assert_eq!(job.status, JobStatus::Pending, "{job:?}");
    assert_eq!(job.attempts, 0, "the stopped run was counted");
    assert!(job.error.is_none(), "{job:?}");
    let again = app.store.claim("w2").await?.ok_or("not claimable again")?;
    assert_eq!((again.lease.job, again.attempts), (run.lease.job, 1));
    assert_eq!(app.store.plan(&rosa, plan).await?.plan.attempts_used, 0);
    app.stop().await;
    Ok(())
}

/// Delete waits for a lock, then the job's end starts: the end must wait behind the delete
/// (plan first) instead of taking the job row and deadlocking with the delete's cascade.
#[tokio::test(flavor = "multi_thread")]
async fn a_delete_then_a_finish_do_not_deadlock_and_the_finish_finds_the_plan_gone() -> TestResult {
    let app = app().await?;
    let vera = user("vera")?;
    let plan = PlanId::from_uuid(app.create_plan("vera", "Deadlock topic").await?.parse()?);
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    let (mut admin, mut gate) = gate(&app, "SELECT id FROM plans FOR UPDATE").await?;

    let store = app.store.clone();
    let who = vera.clone();
    let delete = tokio::spawn(async move { store.delete_plan(&who, plan).await });
    until_waiting(&mut admin, 1).await?;
    let store = app.store.clone();
    let who = vera.clone();
    let (attempt, end) = timeout_attempt();
    let finish = tokio::spawn(async move {
        store
            .finish_generation(run.lease, &who, plan, attempt, None, end, None)
            .await
    });
    until_waiting(&mut admin, 2).await?;
    diesel::sql_query("COMMIT").execute(&mut gate).await?;

    let deleted = delete.await?;
    assert!(deleted.is_ok(), "delete: {deleted:?}");
    let finished = finish.await?;
    assert!(
        matches!(finished, Err(StoreError::NotFound)),
        "the end of a deleted plan's run: {finished:?}"
    );
    assert!(matches!(
        app.store.plan(&vera, plan).await,
        Err(StoreError::NotFound)
    ));
    app.stop().await;
    Ok(())
}

/// The other order: the end holds the plan, the delete waits and then removes everything.
#[tokio::test(flavor = "multi_thread")]
async fn a_finish_then_a_delete_both_succeed() -> TestResult {
    let app = app().await?;
    let walt = user("walt")?;
    let plan = PlanId::from_uuid(app.create_plan("walt", "Order topic").await?.parse()?);
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    let (mut admin, mut gate) = gate(&app, "SELECT id FROM plans FOR UPDATE").await?;

    let store = app.store.clone();
    let who = walt.clone();
    let content = content()?;
    let finish = tokio::spawn(async move {
        store
            .finish_generation(
                run.lease,
                &who,
                plan,
                NewAttempt::default(),
                Some(content),
                JobEnd::Completed { result: json!({}) },
                None,
            )
            .await
    });
    until_waiting(&mut admin, 1).await?;
    let store = app.store.clone();
    let who = walt.clone();
    let delete = tokio::spawn(async move { store.delete_plan(&who, plan).await });
    until_waiting(&mut admin, 2).await?;
    diesel::sql_query("COMMIT").execute(&mut gate).await?;

    let finished = finish.await?;
    assert!(finished.is_ok(), "finish: {finished:?}");
    let deleted = delete.await?;
    assert!(deleted.is_ok(), "delete: {deleted:?}");
    let left: Count = diesel::sql_query("SELECT count(*) AS n FROM modules")
        .get_result(&mut admin)
        .await?;
    assert_eq!(left.n, 0, "the delete left the finished content");
    app.stop().await;
    Ok(())
}

/// A ready plan with one flashcard, made through the store.
async fn plan_with_card(
    app: &App,
    who: &UserId,
) -> Result<(PlanId, FlashcardId), syllabus_e2e::Error> {
    let plan = PlanId::from_uuid(
        app.create_plan(who.as_str(), "Cards topic")
            .await?
            .parse()?,
    );
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    app.store
        .finish_generation(
            run.lease,
            who,
            plan,
            NewAttempt::default(),
            Some(content()?),
            JobEnd::Completed { result: json!({}) },
            None,
        )
        .await?;
    let actor = Actor {
        user: who.clone(),
        request_id: None,
    };
    let payload = JobPayload::Flashcards {
        plan_id: plan,
        module_id: None,
        max_cards: 1,
    };
    app.store
        .enqueue(&actor, &payload, 0, 3, no_limit())
        .await?;
    let run = app.store.claim("w1").await?.ok_or("no flashcards job")?;
    let card = FlashcardId::new();
    let flashcard = Flashcard {
        question: "What is a borrow?".into(),
        answer: "A reference".into(),
    };
    app.store
        .finish_flashcards(
            run.lease,
            who,
            plan,
            None,
            vec![(card, flashcard)],
            JobEnd::Completed { result: json!({}) },
            None,
        )
        .await?;
    Ok((plan, card))
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_a_plan_cancels_its_queued_distractor_jobs() -> TestResult {
    let app = app().await?;
    let xena = user("xena")?;
    let (plan, card) = plan_with_card(&app, &xena).await?;
    let actor = Actor {
        user: xena.clone(),
        request_id: None,
    };
    let job = app
        .store
        .enqueue(
            &actor,
            &JobPayload::Distractors { flashcard_id: card },
            0,
            3,
            no_limit(),
        )
        .await?;
    app.store.delete_plan(&xena, plan).await?;
    let after = app.store.job(&xena, job.id).await?;
    assert_eq!(after.status, JobStatus::Cancelled, "{after:?}");
    assert!(app.store.claim("w1").await?.is_none(), "a job is still due");
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn enqueueing_against_a_plan_being_deleted_answers_404() -> TestResult {
    let app = app().await?;
    let yuri = user("yuri")?;
    let (plan, card) = plan_with_card(&app, &yuri).await?;
    let (mut admin, mut gate) = gate(&app, "DELETE FROM plans").await?;

    let base = app.base.clone();
    let path = format!("/api/v1/plans/{}/flashcards", plan.as_uuid());
    let cards = tokio::spawn({
        let body = json!({ "max_cards": 3 });
        async move {
            reqwest::Client::new()
                .post(format!("{base}{path}"))
                .bearer_auth(syllabus_e2e::token("yuri"))
                .json(&body)
                .send()
                .await
        }
    });
    let store = app.store.clone();
    let actor = Actor {
        user: yuri.clone(),
        request_id: None,
    };
    let distractors = tokio::spawn(async move {
        store
            .enqueue(
                &actor,
                &JobPayload::Distractors { flashcard_id: card },
                0,
                3,
                no_limit(),
            )
            .await
    });
    until_waiting(&mut admin, 2).await?;
    diesel::sql_query("COMMIT").execute(&mut gate).await?;

    let res = cards.await??;
    assert_eq!(res.status().as_u16(), 404, "{:?}", res.text().await);
    let queued = distractors.await?;
    assert!(
        matches!(queued, Err(StoreError::NotFound)),
        "distractors for a card of a deleted plan: {queued:?}"
    );
    let jobs: Count = diesel::sql_query("SELECT count(*) AS n FROM jobs WHERE status = 'pending'")
        .get_result(&mut admin)
        .await?;
    assert_eq!(jobs.n, 0);
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_on_a_connection_the_server_terminates_is_unavailable_not_unexpected() -> TestResult
{
    let app = app().await?;
    app.create_plan("zoe", "Terminated topic").await?;
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    let (mut admin, mut gate) = gate(&app, "SELECT id FROM jobs FOR UPDATE").await?;
    let store = app.store.clone();
    let beat = tokio::spawn(async move { store.heartbeat_many(&[run.lease]).await });
    until_waiting(&mut admin, 1).await?;
    // What a PostgreSQL shutdown does to every session: 57P01, then the connection closes.
    let killed: Count = diesel::sql_query(
        "SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND datname = current_database()",
    )
    .get_result(&mut admin)
    .await?;
    assert_eq!(killed.n, 1);
    let beat = beat.await?;
    assert!(
        matches!(beat, Err(StoreError::Unavailable(_))),
        "a terminated connection's error: {beat:?}"
    );
    diesel::sql_query("COMMIT").execute(&mut gate).await?;
    // The pool replaces the connection: the next call works.
    assert!(app.store.heartbeat_many(&[run.lease]).await?.is_empty());
    app.stop().await;
    Ok(())
}

/// A provider that panics on its first plans, then delegates; or never answers a plan at all,
/// telling when its call is dropped.
struct Faulty {
    inner: OpenAiProvider,
    /// Plans that still panic.
    panics: AtomicU32,
    hang: bool,
    dropped: tokio::sync::mpsc::UnboundedSender<()>,
}

struct OnDrop(tokio::sync::mpsc::UnboundedSender<()>);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.send(());
    }
}

impl Provider for Faulty {
    fn limit_key(&self) -> &str {
        self.inner.limit_key()
    }

    fn token_estimate(&self, call: syllabus_provider::Call<'_>) -> u64 {
        self.inner.token_estimate(call)
    }

    async fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
        previews: Option<syllabus_provider::PreviewSender>,
    ) -> Outcome<NormalizedPlan> {
        if self.hang {
            let _guard = OnDrop(self.dropped.clone());
            std::future::pending::<()>().await;
        }
        if self
            .panics
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            panic!("a handler bug");
        }
        self.inner.learning_plan(request, reask, previews).await
    }

    async fn learning_module(
        &self,
        input: &syllabus_provider::ModuleInput,
        reask: Option<&Issues>,
        drafts: Option<syllabus_provider::DraftSender>,
    ) -> Outcome<syllabus_domain::NormalizedModule> {
        self.inner.learning_module(input, reask, drafts).await
    }

    async fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> Outcome<Vec<Flashcard>> {
        self.inner.flashcards(input, reask).await
    }

    async fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> Outcome<[String; 3]> {
        self.inner.distractors(input, reask).await
    }

    async fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
        skills: Option<syllabus_provider::SkillSender>,
    ) -> Outcome<SkillTree> {
        self.inner.skill_tree(input, reask, skills).await
    }
}

struct Workers {
    shutdown: Shutdown,
    task: tokio::task::JoinHandle<()>,
}

impl Workers {
    async fn stop(self) {
        self.shutdown.trigger();
        let _ = self.task.await;
    }
}

async fn workers(
    app: &App,
    hang: bool,
    panics: u32,
    stale_after: Duration,
) -> Result<(Workers, tokio::sync::mpsc::UnboundedReceiver<()>), syllabus_e2e::Error> {
    let (dropped, rx) = tokio::sync::mpsc::unbounded_channel();
    let provider = Faulty {
        inner: OpenAiProvider::new(ProviderConfig {
            base_url: app.llm.base_url(),
            api_key: Some("test-key".into()),
            model: "fake-model".into(),
            ..ProviderConfig::default()
        })?,
        panics: AtomicU32::new(panics),
        hang,
        dropped,
    };
    let events = JobEvents::start(&app.url, Duration::from_secs(5)).await;
    let runtime = Runtime::new(
        app.store.clone(),
        Arc::new(provider),
        events,
        RuntimeConfig {
            concurrency: 2,
            backoff_base: Duration::from_millis(50),
            stale_after,
            poll_interval: Duration::from_millis(200),
            shutdown_grace: Duration::from_millis(200),
            worker_id: "faulty".into(),
            ..RuntimeConfig::default()
        },
    );
    let (shutdown, rx_stop) = Shutdown::new();
    let task = tokio::spawn(runtime.run(rx_stop));
    Ok((Workers { shutdown, task }, rx))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_panicking_handler_ends_its_run_as_a_retryable_failure_and_the_retry_succeeds()
-> TestResult {
    let app = app().await?;
    app.llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 4, Duration::ZERO));
    let (workers, _) = workers(&app, false, 1, Duration::from_secs(300)).await?;
    let plan = app.create_plan("anna", "Panic topic").await?;
    // Before, the panic killed the run's task and left the job processing, its heartbeat
    // (a detached task) keeping it fresh: the plan stayed pending until a restart.
    let body = app.settle("anna", &plan, Duration::from_secs(30)).await?;
    assert_eq!(body["status"], "ready", "{body}");
    let jobs = app.get("/api/v1/jobs", "anna").await?;
    let job = &jobs.body["items"][0];
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["attempts"], 2,
        "one panicked run, one that succeeded: {job}"
    );
    assert_eq!(
        body["attempts_used"], 2,
        "the panicked run is a recorded provider_error attempt: {body}"
    );
    let attempts = app
        .get(&format!("/api/v1/plans/{plan}/attempts"), "anna")
        .await?;
    let classes: Vec<&serde_json::Value> = attempts.body["items"]
        .as_array()
        .ok_or("items")?
        .iter()
        .map(|a| &a["classification"])
        .collect();
    assert_eq!(
        classes,
        [&serde_json::Value::Null, &json!("provider_error")],
        "{}",
        attempts.body
    );
    workers.stop().await;
    app.stop().await;
    Ok(())
}

/// The id of `user`'s only job, once a worker runs it.
async fn running_job(app: &App, user: &UserId) -> Result<JobId, syllabus_e2e::Error> {
    let jobs = app.get("/api/v1/jobs", user.as_str()).await?;
    let job = JobId::from_uuid(jobs.body["items"][0]["id"].as_str().ok_or("job")?.parse()?);
    let mut waited = 0;
    while app.store.job(user, job).await?.status != JobStatus::Processing {
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
        assert!(waited < 400, "the job was never picked up");
    }
    Ok(job)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_lease_is_lost_is_cancelled_at_once() -> TestResult {
    let app = app().await?;
    let bert = user("bert")?;
    let bea = user("bea")?;
    // Two runs in flight, beaten together every 300 ms by the process's one heartbeat.
    let (workers, mut dropped) = workers(&app, true, 0, Duration::from_millis(900)).await?;
    app.create_plan("bert", "Lost lease topic").await?;
    app.create_plan("bea", "Kept lease topic").await?;
    let job = running_job(&app, &bert).await?;
    let kept = running_job(&app, &bea).await?;
    // Another worker's rescue takes bert's job away from its running call.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut admin = superuser(&app).await?;
    diesel::sql_query(
        "UPDATE jobs SET status = 'pending', lease_token = NULL, locked_by = NULL,
                heartbeat_at = NULL, run_at = now() + interval '1 hour' WHERE id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(job.as_uuid())
    .execute(&mut admin)
    .await?;
    // The provider call (which would hang for ever) is dropped at the next heartbeat.
    let cancelled = tokio::time::timeout(Duration::from_secs(10), dropped.recv()).await;
    assert!(
        matches!(cancelled, Ok(Some(()))),
        "the run kept calling the provider after losing its lease"
    );
    let after = app.store.job(&bert, job).await?;
    assert_eq!(after.status, JobStatus::Pending, "{after:?}");

    // The other run keeps its lease: later beats refresh it and do not cancel it.
    diesel::sql_query("UPDATE jobs SET heartbeat_at = now() - interval '1 hour' WHERE id = $1")
        .bind::<diesel::sql_types::Uuid, _>(kept.as_uuid())
        .execute(&mut admin)
        .await?;
    let mut waited = 0;
    loop {
        let row: Count = diesel::sql_query(
            "SELECT count(*) AS n FROM jobs
             WHERE id = $1 AND heartbeat_at > now() - interval '1 minute'",
        )
        .bind::<diesel::sql_types::Uuid, _>(kept.as_uuid())
        .get_result(&mut admin)
        .await?;
        if row.n == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        waited += 1;
        assert!(waited < 400, "the kept lease was never beaten again");
    }
    assert!(
        dropped.try_recv().is_err(),
        "a run whose lease is alive was cancelled"
    );
    assert_eq!(
        app.store.job(&bea, kept).await?.status,
        JobStatus::Processing
    );
    workers.stop().await;
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_plan_whose_handler_always_panics_fails_after_three_recorded_attempts() -> TestResult {
    let app = app().await?;
    let (workers, _) = workers(&app, false, 10, Duration::from_secs(300)).await?;
    let plan = app.create_plan("cleo", "Always panics").await?;
    // Before, each panicked run ended the job without an attempt: the job failed after its 3
    // runs and the plan stayed pending for ever, with nothing left to run it.
    let body = app.settle("cleo", &plan, Duration::from_secs(30)).await?;
    assert_eq!(body["status"], "failed", "{body}");
    assert_eq!(body["attempts_used"], 3, "{body}");
    assert_eq!(
        body["latest_attempt"]["classification"], "provider_error",
        "{body}"
    );
    workers.stop().await;
    app.stop().await;
    Ok(())
}

/// Issue #18, item 9: a regeneration that replaces a plan's modules while a flashcards job for
/// one of them is running made the job's finishing insert break the foreign key to the module:
/// logged as an internal error, retried, and only then cancelled, without a word for the user.
#[tokio::test(flavor = "multi_thread")]
async fn flashcards_whose_module_a_regeneration_replaced_end_cancelled_at_once() -> TestResult {
    let app = app().await?;
    let zoe = user("zoe")?;
    let plan = PlanId::from_uuid(app.create_plan("zoe", "Raced topic").await?.parse()?);
    let run = app.store.claim("w1").await?.ok_or("nothing to claim")?;
    app.store
        .finish_generation(
            run.lease,
            &zoe,
            plan,
            NewAttempt::default(),
            Some(content()?),
            JobEnd::Completed { result: json!({}) },
            None,
        )
        .await?;
    let module = app.store.plan(&zoe, plan).await?.modules[0].id;
    let actor = Actor {
        user: zoe.clone(),
        request_id: None,
    };
    let payload = JobPayload::Flashcards {
        plan_id: plan,
        module_id: Some(module),
        max_cards: 2,
    };
    let job = app
        .store
        .enqueue(&actor, &payload, 0, 3, no_limit())
        .await?;
    // A regeneration's finishing transaction, held open: it takes the plan (as every finishing
    // write does) and replaces the modules, starting by deleting the old ones.
    let (mut admin, mut regeneration) = gate(
        &app,
        &format!(
            "SELECT id FROM plans WHERE id = '{}' FOR NO KEY UPDATE",
            plan.as_uuid()
        ),
    )
    .await?;
    diesel::sql_query("DELETE FROM modules WHERE plan_id = $1")
        .bind::<diesel::sql_types::Uuid, _>(plan.as_uuid())
        .execute(&mut regeneration)
        .await?;
    let cards = json!({"flashcards": [
        {"question": "What is a borrow?", "answer": "A reference"},
        {"question": "What is a move?", "answer": "A transfer"},
    ]});
    app.llm
        .set_default(Reply::stream(&cards.to_string(), 2, Duration::ZERO));
    // The run reads the old module (the regeneration has not committed), calls the provider,
    // and its finishing write waits behind the regeneration for the plan.
    let (workers, _) = workers(&app, false, 0, Duration::from_secs(300)).await?;
    until_waiting(&mut admin, 1).await?;
    diesel::sql_query("COMMIT")
        .execute(&mut regeneration)
        .await?;

    let mut waited = 0;
    let after = loop {
        let after = app.store.job(&zoe, job.id).await?;
        if !matches!(after.status, JobStatus::Pending | JobStatus::Processing) {
            break after;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
        waited += 1;
        assert!(waited < 1_200, "the job never ended: {after:?}");
    };
    assert_eq!(after.status, JobStatus::Cancelled, "{after:?}");
    assert_eq!(after.attempts, 1, "the run was retried: {after:?}");
    assert_eq!(
        after.error.map(|e| e.message).as_deref(),
        Some("The module was replaced by a regeneration before the flashcards were saved."),
    );
    assert!(app.store.flashcards(&zoe, plan).await?.is_empty());
    assert_eq!(app.llm.requests().len(), 1, "the provider was called again");
    workers.stop().await;
    app.stop().await;
    Ok(())
}
