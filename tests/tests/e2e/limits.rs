//! Shared provider limits (issue #22) across TWO processes on one database calling one provider:
//! the provider never sees more calls per window than the limit, a run that waits for capacity
//! spends no attempt, and a 429 in one process pauses the other's calls.

use std::num::NonZeroU32;
use std::time::{Duration, Instant};

use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_e2e::{App, Options, plan_json};
use syllabus_store::LimiterStore;
use syllabus_testkit::Reply;

type TestResult = Result<(), syllabus_e2e::Error>;

/// The first app's options and the second's, which calls the first's fake provider.
async fn two_apps(options: Options) -> Result<(App, App), syllabus_e2e::Error> {
    let first = App::start(options.clone()).await?;
    let second = App::start_on(
        first.url.clone(),
        None,
        Options {
            provider_url: Some(first.llm.base_url()),
            ..options
        },
    )
    .await?;
    Ok((first, second))
}

/// The most calls the provider received in any span of `span`, by when it read them.
fn most_in_any(calls: &[Instant], span: Duration) -> usize {
    let mut at: Vec<Instant> = calls.to_vec();
    at.sort();
    (0..at.len())
        .map(|i| at[i..].iter().take_while(|t| **t < at[i] + span).count())
        .max()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_the_request_limit_and_waiting_spends_no_attempt() -> TestResult {
    let window = Duration::from_secs(2);
    let options = Options {
        concurrency: 8,
        provider_limits: ProviderLimits {
            requests: NonZeroU32::new(3),
            tokens: None,
            window,
        },
        ..Options::default()
    };
    let (first, second) = two_apps(options).await?;
    first
        .llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 1, Duration::ZERO));

    // Nine plans at once, through both processes, each of its own user.
    let mut plans = Vec::new();
    for i in 0..9 {
        let app = if i % 2 == 0 { &first } else { &second };
        let user = format!("limits-{i}");
        let plan = app.create_plan(&user, "Shared limits").await?;
        plans.push((user, plan));
    }
    for (user, plan) in &plans {
        let body = first.settle(user, plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(
            body["attempts_used"], 1,
            "a wait recorded no attempt: {body}"
        );
        let jobs = first.get("/api/v1/jobs?type=plan_generation", user).await?;
        assert_eq!(
            jobs.body["items"][0]["attempts"], 1,
            "a wait spent no run: {}",
            jobs.body
        );
    }
    let calls: Vec<Instant> = first.llm.requests().iter().map(|r| r.at).collect();
    assert_eq!(calls.len(), 9, "one call per plan");
    // The window's calls are reserved before they are sent: a call reaches the provider a moment
    // after its reservation, so the window is checked a little shorter than its length.
    let most = most_in_any(&calls, window - Duration::from_millis(400));
    assert!(most <= 3, "{most} calls within one window");
    let stats = first.store.provider_stats(window).await?;
    assert_eq!(
        stats.len(),
        1,
        "one provider key for both processes: {stats:?}"
    );
    assert_eq!(stats[0].granted, 9);
    assert!(stats[0].refused > 0, "some runs waited: {stats:?}");
    second.stop().await;
    first.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_429_in_one_process_pauses_the_other_processes_calls() -> TestResult {
    let options = Options {
        concurrency: 4,
        ..Options::default()
    };
    let mut first = App::start(options.clone()).await?;
    first.llm.push(Reply::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "3".into())],
        body: r#"{"error":{"message":"slow down","type":"rate_limit","code":null}}"#.into(),
    });
    first
        .llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 1, Duration::ZERO));
    let paced = first.create_plan("pacer", "Paused provider").await?;
    // Until the 429 has paused the provider (polled: the plan's status does not change).
    let deadline = Instant::now() + Duration::from_secs(30);
    while first
        .store
        .provider_stats(Duration::from_secs(60))
        .await?
        .first()
        .is_none_or(|s| s.paused_ms == 0)
    {
        assert!(
            Instant::now() < deadline,
            "the 429 never paused the provider"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Only the second process works from now on (no limits set: the pause alone holds it).
    first.halt().await;
    let second = App::start_on(
        first.url.clone(),
        None,
        Options {
            provider_url: Some(first.llm.base_url()),
            ..options
        },
    )
    .await?;
    let other = second.create_plan("other", "Another learner").await?;
    let created = Instant::now();
    let refused = first.llm.requests()[0].at;
    assert!(
        created < refused + Duration::from_secs(3),
        "the plan was created within the pause"
    );
    let body = second
        .settle("other", &other, Duration::from_secs(60))
        .await?;
    assert_eq!(body["status"], "ready", "{body}");
    assert_eq!(
        body["attempts_used"], 1,
        "waiting recorded no attempt: {body}"
    );
    let calls = first.llm.requests();
    let next = calls.get(1).ok_or("no call after the 429")?;
    assert!(
        next.at >= refused + Duration::from_millis(2_900),
        "a call {:?} after the 429 (Retry-After: 3)",
        next.at - refused
    );
    let pacer = second
        .settle("pacer", &paced, Duration::from_secs(60))
        .await?;
    assert_eq!(pacer["status"], "ready", "{pacer}");
    assert_eq!(
        pacer["attempts_used"], 2,
        "the 429 counted, as today: {pacer}"
    );
    let stats = second.store.provider_stats(Duration::from_secs(60)).await?;
    assert!(
        stats[0].refused > 0 && stats[0].paused_ms >= 2_900,
        "{stats:?}"
    );
    // The figures are in /metrics (read from the database: every process reports them).
    let metrics = second.send("GET", "/metrics", None, None, &[]).await?.text;
    let key = format!("{} fake-model", first.llm.base_url());
    for series in [
        format!("syllabus_provider_reservations{{provider=\"{key}\",outcome=\"granted\"}} 3"),
        format!("syllabus_provider_paused{{provider=\"{key}\"}} 0"),
        format!("syllabus_provider_paused_seconds{{provider=\"{key}\"}} "),
    ] {
        assert!(metrics.contains(&series), "{series} not in {metrics}");
    }
    second.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_users_first_plan_starts_before_an_earlier_users_backlog_drains() -> TestResult {
    // The API alone queues a backlog, then a late user's plan; then a worker process drains the
    // queue under a shared limit of 2 calls a second.
    let limits = ProviderLimits {
        requests: NonZeroU32::new(2),
        tokens: None,
        window: Duration::from_secs(1),
    };
    let api = App::start(Options {
        workers: false,
        ..Options::default()
    })
    .await?;
    let mut backlog = Vec::new();
    for i in 0..8 {
        backlog.push(
            api.create_plan("early", &format!("Backlog number {i}"))
                .await?,
        );
    }
    let late = api.create_plan("late", "Late learner").await?;
    api.llm
        .set_default(Reply::stream(&plan_json(2, 2, 60), 1, Duration::ZERO));
    let app = App::start_on(
        api.url.clone(),
        None,
        Options {
            concurrency: 2,
            provider_limits: limits,
            provider_url: Some(api.llm.base_url()),
            ..Options::default()
        },
    )
    .await?;
    let body = app.settle("late", &late, Duration::from_secs(60)).await?;
    assert_eq!(body["status"], "ready", "{body}");
    for plan in &backlog {
        let body = app.settle("early", plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["attempts_used"], 1, "{body}");
    }
    // The calls in the order the provider got them: the late learner's comes before most of the
    // backlog's (its first job ranks with the backlog's first; without fairness it is last).
    let topics: Vec<String> = api
        .llm
        .requests()
        .iter()
        .map(|r| r.body["messages"].to_string())
        .collect();
    assert_eq!(topics.len(), 9);
    let at = topics
        .iter()
        .position(|m| m.contains("Late learner"))
        .ok_or("no call for the late learner")?;
    assert!(
        at <= 1,
        "the late learner's call was number {} of 9",
        at + 1
    );
    app.stop().await;
    api.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn two_processes_share_the_token_limit_and_the_window_keeps_the_reported_usage() -> TestResult
{
    // Each call reports 2,000 tokens; its reservation is the estimate (the prompt's length and
    // the plan's output budget, a few thousand) until the answer's usage corrects it.
    let window = Duration::from_secs(3);
    let limit = 12_000;
    let options = Options {
        concurrency: 8,
        provider_limits: ProviderLimits {
            requests: None,
            tokens: NonZeroU32::new(limit),
            window,
        },
        ..Options::default()
    };
    let (first, second) = two_apps(options).await?;
    first
        .llm
        .set_default(Reply::stream_with_usage(&plan_json(2, 2, 60), 800, 1_200));

    let mut plans = Vec::new();
    for i in 0..10 {
        let app = if i % 2 == 0 { &first } else { &second };
        let user = format!("tokens-{i}");
        let plan = app.create_plan(&user, "Shared token limit").await?;
        plans.push((user, plan));
    }
    for (user, plan) in &plans {
        let body = first.settle(user, plan, Duration::from_secs(90)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(
            body["attempts_used"], 1,
            "a wait recorded no attempt: {body}"
        );
    }
    let stats = first.store.provider_stats(window).await?;
    assert_eq!(
        stats.len(),
        1,
        "one provider key for both processes: {stats:?}"
    );
    assert!(
        stats[0].refused > 0,
        "some runs waited for tokens: {stats:?}"
    );
    // The reservations left (the last window's at least) hold what the provider reported, not
    // the estimates.
    use diesel_async::{AsyncConnection as _, RunQueryDsl as _};
    #[derive(diesel::QueryableByName)]
    struct Reservation {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        tokens: i64,
    }
    let mut admin =
        diesel_async::AsyncPgConnection::establish(first.admin_url().ok_or("no admin url")?)
            .await?;
    let kept: Vec<Reservation> = diesel::sql_query("SELECT tokens FROM provider_reservations")
        .load(&mut admin)
        .await?;
    assert!(!kept.is_empty(), "the last reservations are kept");
    assert!(
        kept.iter().all(|r| r.tokens == 2_000),
        "corrected to the reported usage: {:?}",
        kept.iter().map(|r| r.tokens).collect::<Vec<_>>()
    );
    // The provider never got more than the limit's tokens (by its own count) in one window.
    let calls: Vec<Instant> = first.llm.requests().iter().map(|r| r.at).collect();
    assert_eq!(calls.len(), 10, "one call per plan");
    let most = most_in_any(&calls, window - Duration::from_millis(400));
    assert!(
        most * 2_000 <= limit as usize,
        "{most} calls of 2,000 tokens within one window"
    );
    second.stop().await;
    first.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiter_comes_back_when_a_correction_frees_the_tokens_not_when_the_window_ends()
-> TestResult {
    // A plan call's estimate is about 5,000 tokens (the prompt and the plan's whole output
    // budget); it reports 2,000. Under a limit of 8,000 a second call does not fit beside the
    // first's estimate, but fits beside its corrected usage.
    let window = Duration::from_secs(30);
    let app = App::start(Options {
        concurrency: 2,
        provider_limits: ProviderLimits {
            requests: None,
            tokens: NonZeroU32::new(8_000),
            window,
        },
        ..Options::default()
    })
    .await?;
    // Slow enough that the second run has given its job back before the first's usage arrives.
    let mut reply = Reply::stream(&plan_json(2, 2, 60), 4, Duration::from_millis(300));
    if let Reply::Sse { events, .. } = &mut reply {
        events.pop();
        events.push((
            Duration::ZERO,
            syllabus_testkit::fake_llm::usage_chunk(800, 1_200),
        ));
    }
    app.llm.set_default(reply);
    let started = Instant::now();
    let first = app.create_plan("wake-1", "Corrected early").await?;
    let second = app.create_plan("wake-2", "Woken early").await?;
    for (user, plan) in [("wake-1", &first), ("wake-2", &second)] {
        let body = app.settle(user, plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
        assert_eq!(body["attempts_used"], 1, "{body}");
    }
    let stats = app.store.provider_stats(window).await?;
    assert!(stats[0].refused > 0, "the second run waited: {stats:?}");
    // Without the wake-up it would come back when the first estimate leaves the window (30 s).
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "both plans took {took:?}: the waiter slept until the window's end"
    );
    app.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_late_users_plan_waits_behind_the_waiters_before_it_in_fair_order_only() -> TestResult {
    // A provider that reports no usage: no correction wakes anyone, the line alone orders the
    // waiters. One call a second; an early user's backlog is already waiting in line when the
    // late user's first plan arrives.
    let window = Duration::from_secs(1);
    let app = App::start(Options {
        concurrency: 16,
        provider_limits: ProviderLimits {
            requests: NonZeroU32::new(1),
            tokens: None,
            window,
        },
        ..Options::default()
    })
    .await?;
    let mut reply = Reply::stream(&plan_json(2, 2, 60), 1, Duration::ZERO);
    if let Reply::Sse { events, .. } = &mut reply {
        events.pop(); // no usage chunk
    }
    app.llm.set_default(reply);
    let mut backlog = Vec::new();
    for i in 0..12 {
        backlog.push(
            app.create_plan("early", &format!("Backlog number {i}"))
                .await?,
        );
    }
    // The backlog is in line (all but the first waiting) before the late plan comes.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let late = app.create_plan("late", "Late learner").await?;
    let body = app.settle("late", &late, Duration::from_secs(60)).await?;
    assert_eq!(body["status"], "ready", "{body}");
    let before: Vec<String> = app
        .llm
        .requests()
        .iter()
        .map(|r| r.body["messages"].to_string())
        .collect();
    let at = before
        .iter()
        .position(|m| m.contains("Late learner"))
        .ok_or("no call for the late learner")?;
    // Calls before the late one: the 3 or so made before it came, and at most 2 more.
    assert!(
        at <= 6,
        "the late learner's call was number {} of {}: it waited behind the backlog",
        at + 1,
        before.len()
    );
    for plan in &backlog {
        let body = app.settle("early", plan, Duration::from_secs(60)).await?;
        assert_eq!(body["status"], "ready", "{body}");
    }
    app.stop().await;
    Ok(())
}
