//! The fallback provider and the primary's circuit breaker (issue #22 item 3) across TWO
//! processes on one database and TWO fake providers: the primary's failures open the breaker
//! (kept in PostgreSQL), calls then go to the fallback in every process, after the cooldown one
//! probe at a time calls the primary — a failed probe keeps the fallback, a good one brings the
//! calls back — and every attempt, ledger row and the metric say who answered.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use serde_json::Value;
use syllabus_domain::breaker::{BreakerSettings, Phase};
use syllabus_e2e::{App, Options, plan_json};
use syllabus_store::LimiterStore;
use syllabus_store::records::ProviderStats;
use syllabus_testkit::fake_llm::content_chunk;
use syllabus_testkit::{End, FakeLlm, Reply};

type TestResult = Result<(), syllabus_e2e::Error>;

const COOLDOWN: Duration = Duration::from_secs(8);

/// The primary's row of the shared provider state.
async fn primary(app: &App, key: &str) -> Result<ProviderStats, syllabus_e2e::Error> {
    let stats = app.store.provider_stats(Duration::from_secs(60)).await?;
    Ok(stats
        .into_iter()
        .find(|s| s.provider == key)
        .ok_or("no state for the primary")?)
}

/// Polls until the primary's breaker is in `phase`.
async fn until_phase(app: &App, key: &str, phase: Phase) -> Result<(), syllabus_e2e::Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while primary(app, key).await?.breaker != phase {
        assert!(
            Instant::now() < deadline,
            "the breaker never reached {phase:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A plan's attempts, newest first.
async fn attempts(app: &App, user: &str, plan: &str) -> Result<Vec<Value>, syllabus_e2e::Error> {
    let res = app
        .get(&format!("/api/v1/plans/{plan}/attempts"), user)
        .await?;
    Ok(res.body["items"].as_array().cloned().unwrap_or_default())
}

/// Who answered an attempt: (provider, model).
fn answered_by(attempt: &Value) -> (String, String) {
    (
        attempt["provider"].as_str().unwrap_or("?").to_owned(),
        attempt["model"].as_str().unwrap_or("?").to_owned(),
    )
}

fn fallback_by() -> (String, String) {
    ("localhost".to_owned(), "fallback-model".to_owned())
}

fn primary_by() -> (String, String) {
    ("127.0.0.1".to_owned(), "fake-model".to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_breaker_moves_both_processes_to_the_fallback_and_a_probe_brings_them_back()
-> TestResult {
    let fallback = FakeLlm::start().await?;
    let good = || Reply::stream(&plan_json(2, 2, 60), 1, Duration::ZERO);
    fallback.set_default(good());
    // Another host name for the same loopback fake, so the records can tell the two apart.
    let fallback_url = fallback.base_url().replace("127.0.0.1", "localhost");
    let fallback_key = format!("{fallback_url} fallback-model");
    let options = Options {
        concurrency: 4,
        // A plan's retry comes after all three first calls failed (they start together).
        backoff_base: Duration::from_secs(1),
        fallback: Some((fallback_url.clone(), "fallback-model".to_owned())),
        breaker: BreakerSettings {
            failures: NonZeroU32::new(3).ok_or("3")?,
            window: Duration::from_secs(60),
            cooldown: COOLDOWN,
            probe_lease: Duration::from_secs(30),
        },
        ..Options::default()
    };
    let mut first = App::start(options.clone()).await?;
    let key = format!("{} fake-model", first.llm.base_url());
    first
        .llm
        .set_default(Reply::openai_error(500, "upstream unavailable"));

    // Three plans at once in the first process: each first call fails at the primary; the
    // three failures open the breaker, and each plan's retry goes to the fallback.
    let mut plans = Vec::new();
    for i in 0..3 {
        let user = format!("breaker-{i}");
        plans.push((user.clone(), first.create_plan(&user, "Failover").await?));
    }
    for (user, plan) in &plans {
        let body = first.settle(user, plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        let tries = attempts(&first, user, plan).await?;
        assert_eq!(tries.len(), 2, "{tries:?}");
        assert_eq!(answered_by(&tries[0]), fallback_by(), "{tries:?}");
        assert_eq!(tries[1]["classification"], "provider_error");
        assert_eq!(answered_by(&tries[1]), primary_by(), "{tries:?}");
    }
    assert_eq!(first.llm.requests().len(), 3, "the primary saw N calls");
    let opened = first.llm.requests()[2].at;
    let state = primary(&first, &key).await?;
    assert_eq!((state.breaker, state.failovers), (Phase::Failover, 1));

    // The second process never saw a failure: it reads the breaker from the database.
    first.halt().await;
    let second = App::start_on(
        first.url.clone(),
        None,
        Options {
            provider_url: Some(first.llm.base_url()),
            ..options.clone()
        },
    )
    .await?;
    let metrics = second.send("GET", "/metrics", None, None, &[]).await?.text;
    let gauge = format!("syllabus_provider_breaker_state{{provider=\"{key}\"}} 2");
    assert!(metrics.contains(&gauge), "{gauge} not in {metrics}");
    let late = second.create_plan("late", "During failover").await?;
    let body = second
        .settle("late", &late, Duration::from_secs(60))
        .await?;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(answered_by(&body["latest_attempt"]), fallback_by());
    assert!(
        opened.elapsed() < COOLDOWN - Duration::from_millis(500),
        "the cooldown was still running (test too slow to tell)"
    );
    assert_eq!(first.llm.requests().len(), 3, "the primary saw no more");

    // The cooldown ends: ONE of two plans at once is the probe; the primary still fails
    // (slowly: its stream is cut after 1.5 s, so the other plan's call starts while the probe
    // is out), so the breaker opens again and both plans end on the fallback.
    first.llm.set_default(Reply::Sse {
        events: vec![(Duration::from_millis(1_500), content_chunk("{\"modules\""))],
        end: End::Close,
    });
    until_phase(&second, &key, Phase::Recovery).await?;
    let a = second.create_plan("probe-a", "Recovery").await?;
    let b = second.create_plan("probe-b", "Recovery").await?;
    for (user, plan) in [("probe-a", &a), ("probe-b", &b)] {
        let body = second.settle(user, plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(answered_by(&body["latest_attempt"]), fallback_by());
    }
    assert_eq!(
        first.llm.requests().len(),
        4,
        "one probe reached the primary"
    );
    let state = primary(&second, &key).await?;
    assert_eq!((state.breaker, state.failovers), (Phase::Failover, 2));

    // The primary is healthy again: after the next cooldown the probe succeeds and calls
    // return to the primary.
    first.llm.set_default(good());
    until_phase(&second, &key, Phase::Recovery).await?;
    let probe = second.create_plan("probe-c", "Back").await?;
    let body = second
        .settle("probe-c", &probe, Duration::from_secs(60))
        .await?;
    assert_eq!(answered_by(&body["latest_attempt"]), primary_by(), "{body}");
    assert_eq!(primary(&second, &key).await?.breaker, Phase::Healthy);
    let after = second.create_plan("after", "Healthy").await?;
    let body = second
        .settle("after", &after, Duration::from_secs(60))
        .await?;
    assert_eq!(answered_by(&body["latest_attempt"]), primary_by(), "{body}");
    assert_eq!(first.llm.requests().len(), 6);
    // 3 retries + 1 late + 2 during recovery went to the fallback.
    assert_eq!(fallback.requests().len(), 6);
    // Each call reserved on the key of the provider it went to, and only there.
    let stats = second.store.provider_stats(Duration::from_secs(60)).await?;
    let granted = |k: &str| stats.iter().find(|s| s.provider == k).map(|s| s.granted);
    assert_eq!(granted(&key), Some(6), "{stats:?}");
    assert_eq!(granted(&fallback_key), Some(6), "{stats:?}");

    // A fresh reading of /metrics (another process): healthy, opened twice, and the ledger's
    // calls by the provider and model that answered.
    let api = App::start_on(
        first.url.clone(),
        None,
        Options {
            workers: false,
            ..Options::default()
        },
    )
    .await?;
    let metrics = api.send("GET", "/metrics", None, None, &[]).await?.text;
    for series in [
        format!("syllabus_provider_breaker_state{{provider=\"{key}\"}} 0"),
        format!("syllabus_provider_breaker_failovers{{provider=\"{key}\"}} 2"),
        "syllabus_llm_calls_total{provider=\"localhost\",model=\"fallback-model\",job_type=\"plan_generation\",class=\"success\"} 6".to_owned(),
        "syllabus_llm_calls_total{provider=\"127.0.0.1\",model=\"fake-model\",job_type=\"plan_generation\",class=\"provider_error\"} 4".to_owned(),
    ] {
        assert!(metrics.contains(&series), "{series} not in {metrics}");
    }
    api.stop().await;
    second.stop().await;
    Ok(())
}
