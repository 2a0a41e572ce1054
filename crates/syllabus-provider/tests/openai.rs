#![expect(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

//! The OpenAI-compatible provider against a fake server over real HTTP:
//! every failure class, the adaptive deadline, usage, the request's contents and re-asks.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
mod common;

use common::{provider_for, request};
use syllabus_domain::{FailureClass, Issues};
use syllabus_provider::schema::{self, SchemaProfile};
use syllabus_provider::{
    DistractorsInput, FlashcardsInput, OpenAiProvider, Provider, ProviderConfig, SkillTreeInput,
};
use syllabus_testkit::fake_llm::{
    content_chunk, content_events, finish_chunk, refused_base_url, usage_chunk,
};
use syllabus_testkit::{End, FakeLlm, Reply};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const BASE: Duration = Duration::from_millis(400);
const EXTENDED: Duration = Duration::from_millis(800);
const MARGIN: Duration = Duration::from_millis(250);

fn plan_json(modules: usize, tasks: usize) -> String {
    json!({"modules": (0..modules).map(|m| json!({
        "title": format!("Module {m}"),
        "estimated_minutes": 60,
        "description": null,
        "tasks": (0..tasks).map(|t| json!({"title": format!("Task {t}"), "estimated_minutes": 20, "description": "Do it"})).collect::<Vec<_>>(),
    })).collect::<Vec<_>>()})
    .to_string()
}

async fn setup() -> Result<(FakeLlm, OpenAiProvider), Box<dyn std::error::Error + Send + Sync>> {
    let fake = FakeLlm::start().await?;
    let provider = provider_for(fake.base_url(), BASE, EXTENDED);
    Ok((fake, provider))
}

async fn plan_failure(
    fake: &FakeLlm,
    provider: &OpenAiProvider,
    reply: Reply,
) -> syllabus_provider::Failure {
    fake.push(reply);
    match provider.learning_plan(&request(), None, None).await {
        Ok(_) => panic!("expected a failure"),
        Err(f) => f,
    }
}

fn assert_near(elapsed: Duration, target: Duration) {
    let low = target.saturating_sub(MARGIN);
    assert!(
        elapsed >= low && elapsed <= target + MARGIN,
        "elapsed {elapsed:?}, expected {target:?} ± {MARGIN:?}"
    );
}

#[tokio::test]
async fn a_streamed_plan_is_validated_and_carries_its_facts() -> TestResult {
    let (fake, provider) = setup().await?;
    fake.push(Reply::stream(&plan_json(3, 2), 10, Duration::ZERO));
    let generated = provider.learning_plan(&request(), None, None).await?;
    assert_eq!(generated.output.modules.len(), 3);
    assert_eq!(generated.output.report.tasks_count, 6);
    let facts = &generated.facts;
    assert_eq!(facts.model, "fake-model");
    assert_eq!(facts.provider, "127.0.0.1");
    assert_eq!(facts.usage.map(|u| u.total_tokens), Some(600));
    assert_eq!(facts.prompt_hash.len(), 64);
    assert!(
        facts.timeout_extended,
        "a complete first module extends the deadline"
    );
    Ok(())
}

#[tokio::test]
async fn the_request_carries_the_key_the_model_the_schema_and_the_topic() -> TestResult {
    let (fake, provider) = setup().await?;
    fake.push(Reply::stream(&plan_json(1, 1), 1, Duration::ZERO));
    provider.learning_plan(&request(), None, None).await?;
    let requests = fake.requests();
    let req = requests.first().ok_or("no request")?;
    assert_eq!(req.header("authorization"), Some("Bearer sk-test-key"));
    assert_eq!(req.body["model"], "fake-model");
    assert_eq!(req.body["stream"], true);
    let format = &req.body["response_format"];
    assert_eq!(format["type"], "json_schema");
    assert_eq!(format["json_schema"]["name"], "learning_plan");
    assert_eq!(format["json_schema"]["strict"], true);
    assert_eq!(
        format["json_schema"]["schema"]["required"],
        json!(["modules"])
    );
    let user = req.body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(user.contains("Topic: Distributed systems"), "{user}");
    Ok(())
}

#[tokio::test]
async fn usage_is_absent_when_the_server_does_not_send_it() -> TestResult {
    let (fake, provider) = setup().await?;
    let mut events = content_events(&plan_json(1, 1), 3, Duration::ZERO);
    events.push((Duration::ZERO, finish_chunk("stop")));
    fake.push(Reply::Sse {
        events,
        end: End::Done,
    });
    let generated = provider.learning_plan(&request(), None, None).await?;
    assert_eq!(generated.facts.usage, None);
    Ok(())
}

#[tokio::test]
async fn a_429_with_retry_after_is_a_rate_limit_at_once() -> TestResult {
    let (fake, provider) = setup().await?;
    let started = Instant::now();
    let failure = plan_failure(&fake, &provider, Reply::Status {
        status: 429,
        headers: vec![("Retry-After".into(), "5".into())],
        body: json!({"error": {"message": "Rate limit reached", "type": "requests", "param": null, "code": "rate_limit_exceeded"}}).to_string(),
    })
    .await;
    assert_eq!(failure.class, FailureClass::RateLimit);
    assert_eq!(failure.retry_after, Some(Duration::from_secs(5)));
    assert!(
        started.elapsed() < BASE,
        "no retry inside the provider: {:?}",
        started.elapsed()
    );
    assert_eq!(fake.requests().len(), 1, "exactly one request");
    assert!(
        !failure.message.contains("Rate limit reached"),
        "the provider's body never reaches a user"
    );
    Ok(())
}

#[tokio::test]
async fn a_hostile_retry_after_is_capped_not_a_panic() -> TestResult {
    let (fake, provider) = setup().await?;
    for (value, expected) in [
        ("1e20", Some(Duration::from_secs(60))),
        ("-3", None),
        (
            "Thu, 01 Jan 2099 00:00:00 GMT",
            Some(Duration::from_secs(60)),
        ),
    ] {
        let failure = plan_failure(
            &fake,
            &provider,
            Reply::Status {
                status: 429,
                headers: vec![("Retry-After".into(), value.into())],
                body: "{}".into(),
            },
        )
        .await;
        assert_eq!(failure.class, FailureClass::RateLimit, "{value}");
        assert_eq!(failure.retry_after, expected, "{value}");
    }
    Ok(())
}

#[tokio::test]
async fn a_429_in_llama_cpp_shape_and_a_quota_error_are_rate_limits() -> TestResult {
    let (fake, provider) = setup().await?;
    let llama = Reply::Status {
        status: 429,
        headers: vec![],
        body: json!({"error": {"code": 429, "message": "slots busy", "type": "unavailable_error"}})
            .to_string(),
    };
    assert_eq!(
        plan_failure(&fake, &provider, llama).await.class,
        FailureClass::RateLimit
    );
    let quota = Reply::openai_error(429, "You exceeded your current quota");
    assert_eq!(
        plan_failure(&fake, &provider, quota).await.class,
        FailureClass::RateLimit
    );
    let plain = Reply::Status {
        status: 429,
        headers: vec![],
        body: "Too Many Requests".into(),
    };
    assert_eq!(
        plan_failure(&fake, &provider, plain).await.class,
        FailureClass::RateLimit
    );
    Ok(())
}

#[tokio::test]
async fn other_http_errors_are_provider_errors_whatever_their_body() -> TestResult {
    let (fake, provider) = setup().await?;
    for status in [400, 401, 404, 500, 502, 503] {
        let failure = plan_failure(
            &fake,
            &provider,
            Reply::openai_error(status, "secret internal detail"),
        )
        .await;
        assert_eq!(failure.class, FailureClass::ProviderError, "HTTP {status}");
        assert!(!failure.message.contains("secret internal detail"));
        let numeric = Reply::Status {
            status,
            headers: vec![],
            body: json!({"error": {"code": status, "message": "x"}}).to_string(),
        };
        assert_eq!(
            plan_failure(&fake, &provider, numeric).await.class,
            FailureClass::ProviderError,
            "HTTP {status}, numeric code"
        );
    }
    Ok(())
}

#[tokio::test]
async fn a_refused_connection_is_a_provider_error() -> TestResult {
    let provider = provider_for(refused_base_url()?, BASE, EXTENDED);
    let failure = provider
        .learning_plan(&request(), None, None)
        .await
        .err()
        .ok_or("expected failure")?;
    assert_eq!(failure.class, FailureClass::ProviderError);
    Ok(())
}

#[tokio::test]
async fn a_cut_stream_is_a_provider_error() -> TestResult {
    let (fake, provider) = setup().await?;
    let text = plan_json(2, 2);
    let mut half = content_events(&text, 4, Duration::ZERO);
    half.truncate(2);
    for end in [End::Reset, End::Close] {
        let failure = plan_failure(
            &fake,
            &provider,
            Reply::Sse {
                events: half.clone(),
                end,
            },
        )
        .await;
        assert_eq!(failure.class, FailureClass::ProviderError, "{end:?}");
    }
    // Every content byte arrived, but neither a finish_reason nor [DONE].
    let all = content_events(&text, 4, Duration::ZERO);
    let failure = plan_failure(
        &fake,
        &provider,
        Reply::Sse {
            events: all,
            end: End::Close,
        },
    )
    .await;
    assert_eq!(failure.class, FailureClass::ProviderError);
    Ok(())
}

#[tokio::test]
async fn done_without_a_finish_reason_is_complete_and_only_neither_is_a_cut() -> TestResult {
    let (fake, provider) = setup().await?;
    let text = plan_json(2, 2);
    let without_finish = |text: &str, end| Reply::Sse {
        events: content_events(text, 4, Duration::ZERO),
        end,
    };
    // [DONE] but no finish_reason (some servers): complete, so the content is validated.
    fake.push(without_finish(&text, End::Done));
    let generated = provider.learning_plan(&request(), None, None).await?;
    assert_eq!(generated.output.modules.len(), 2);
    let failure = plan_failure(
        &fake,
        &provider,
        without_finish(r#"{"modules": []}"#, End::Done),
    )
    .await;
    assert_eq!(failure.class, FailureClass::Validation, "{failure:?}");
    let failure = plan_failure(&fake, &provider, without_finish("", End::Done)).await;
    assert_eq!(failure.class, FailureClass::ProviderError, "empty content");
    // The same bytes without [DONE]: cut.
    let failure = plan_failure(&fake, &provider, without_finish(&text, End::Close)).await;
    assert_eq!(failure.class, FailureClass::ProviderError);
    assert!(failure.detail.contains("no [DONE]"), "{}", failure.detail);
    Ok(())
}

#[tokio::test]
async fn empty_content_an_error_event_and_a_refusal_are_provider_errors() -> TestResult {
    let (fake, provider) = setup().await?;
    let empty = Reply::Sse {
        events: vec![(Duration::ZERO, finish_chunk("stop"))],
        end: End::Done,
    };
    assert_eq!(
        plan_failure(&fake, &provider, empty).await.class,
        FailureClass::ProviderError
    );

    let error_event = Reply::Sse {
        events: vec![
            (Duration::ZERO, content_chunk("{\"modules\":[")),
            (
                Duration::ZERO,
                json!({"error": {"message": "upstream overloaded", "type": "server_error"}})
                    .to_string(),
            ),
            (Duration::ZERO, finish_chunk("stop")),
        ],
        end: End::Done,
    };
    assert_eq!(
        plan_failure(&fake, &provider, error_event).await.class,
        FailureClass::ProviderError
    );

    let refusal = Reply::Sse {
        events: vec![
            (Duration::ZERO, json!({"id": "x", "object": "chat.completion.chunk", "created": 1, "model": "m",
                "choices": [{"index": 0, "delta": {"refusal": "I can't help with that."}, "finish_reason": null}]}).to_string()),
            (Duration::ZERO, finish_chunk("stop")),
        ],
        end: End::Done,
    };
    assert_eq!(
        plan_failure(&fake, &provider, refusal).await.class,
        FailureClass::ProviderError
    );
    Ok(())
}

fn complete(text: &str, reason: &str) -> Reply {
    let mut events = content_events(text, 3, Duration::ZERO);
    events.push((Duration::ZERO, finish_chunk(reason)));
    Reply::Sse {
        events,
        end: End::Done,
    }
}

#[tokio::test]
async fn completed_but_unusable_output_is_a_validation_failure_naming_the_paths() -> TestResult {
    let (fake, provider) = setup().await?;
    let full = plan_json(2, 2);
    let cut = full.get(..full.len() / 2).ok_or("cut")?;
    let cases: Vec<(Reply, Vec<&str>)> = vec![
        (complete(cut, "length"), vec![""]),
        (complete("Sure! Here is your plan: ...", "stop"), vec![""]),
        (complete(r#"{"plan": []}"#, "stop"), vec!["modules"]),
        (complete(r#"{"modules": []}"#, "stop"), vec!["modules"]),
        (
            complete(
                r#"{"modules": [{"title": "A", "estimated_minutes": 30, "description": null, "tasks": []}]}"#,
                "stop",
            ),
            vec!["modules[0].tasks"],
        ),
        (
            complete(
                r#"{"modules": [{"title": " ", "estimated_minutes": 0, "description": null, "tasks": [{"title": "t", "estimated_minutes": -5, "description": null}]}]}"#,
                "stop",
            ),
            vec![
                "modules[0].title",
                "modules[0].estimated_minutes",
                "modules[0].tasks[0].estimated_minutes",
            ],
        ),
    ];
    for (reply, paths) in cases {
        let failure = plan_failure(&fake, &provider, reply).await;
        assert_eq!(failure.class, FailureClass::Validation);
        let issues = failure.issues.ok_or("validation failures carry issues")?;
        let got: Vec<&str> = issues.as_slice().iter().map(|i| i.path.as_str()).collect();
        assert_eq!(got, paths);
    }
    Ok(())
}

#[tokio::test]
async fn a_stall_before_any_byte_times_out_at_the_base_deadline() -> TestResult {
    let (fake, provider) = setup().await?;
    let started = Instant::now();
    let failure = plan_failure(&fake, &provider, Reply::StallBeforeHeaders).await;
    assert_eq!(failure.class, FailureClass::Timeout);
    assert!(!failure.facts.timeout_extended);
    assert_near(started.elapsed(), BASE);
    Ok(())
}

#[tokio::test]
async fn opening_bytes_alone_do_not_extend_the_deadline() -> TestResult {
    let (fake, provider) = setup().await?;
    let started = Instant::now();
    let reply = Reply::Sse {
        events: vec![(Duration::ZERO, content_chunk(r#"{"modules":[{"title":"x""#))],
        end: End::Stall,
    };
    let failure = plan_failure(&fake, &provider, reply).await;
    assert_eq!(failure.class, FailureClass::Timeout);
    assert!(!failure.facts.timeout_extended);
    assert_near(started.elapsed(), BASE);
    Ok(())
}

#[tokio::test]
async fn a_stall_after_a_complete_first_module_times_out_at_the_extended_deadline() -> TestResult {
    let (fake, provider) = setup().await?;
    let text = plan_json(3, 2);
    let first_module_end = text.find("]},").ok_or("layout")? + 2;
    let (head, _) = text.split_at(first_module_end);
    let started = Instant::now();
    let reply = Reply::Sse {
        events: vec![(Duration::from_millis(50), content_chunk(head))],
        end: End::Stall,
    };
    let failure = plan_failure(&fake, &provider, reply).await;
    assert_eq!(failure.class, FailureClass::Timeout);
    assert!(failure.facts.timeout_extended);
    assert_near(started.elapsed(), EXTENDED);
    Ok(())
}

#[tokio::test]
async fn a_slow_stream_that_finishes_inside_the_extended_deadline_succeeds() -> TestResult {
    let (fake, provider) = setup().await?;
    // 12 chunks 50 ms apart: about 600 ms, past the 400 ms base deadline.
    fake.push(Reply::stream(
        &plan_json(4, 2),
        12,
        Duration::from_millis(50),
    ));
    let started = Instant::now();
    let generated = provider.learning_plan(&request(), None, None).await?;
    assert!(
        started.elapsed() > BASE,
        "the stream outlived the base deadline"
    );
    assert!(generated.facts.timeout_extended);
    assert_eq!(generated.output.modules.len(), 4);
    Ok(())
}

#[tokio::test]
async fn an_invalid_first_module_does_not_extend_the_deadline() -> TestResult {
    let (fake, provider) = setup().await?;
    let head = r#"{"modules":[{"title":"A","estimated_minutes":30,"description":null,"tasks":[]},"#;
    let started = Instant::now();
    let reply = Reply::Sse {
        events: vec![(Duration::ZERO, content_chunk(head))],
        end: End::Stall,
    };
    let failure = plan_failure(&fake, &provider, reply).await;
    assert_eq!(failure.class, FailureClass::Timeout);
    assert!(!failure.facts.timeout_extended);
    assert_near(started.elapsed(), BASE);
    Ok(())
}

#[tokio::test]
async fn the_default_deadlines_are_ten_and_twenty_seconds() -> TestResult {
    let fake = FakeLlm::start().await?;
    let provider = provider_for(
        fake.base_url(),
        Duration::from_secs(10),
        Duration::from_secs(20),
    );
    let started = Instant::now();
    let failure = plan_failure(&fake, &provider, Reply::StallBeforeHeaders).await;
    assert_eq!(failure.class, FailureClass::Timeout);
    assert_near(started.elapsed(), Duration::from_secs(10));
    assert_eq!(ProviderConfig::default().timeout, Duration::from_secs(10));
    assert_eq!(
        ProviderConfig::default().extended_timeout,
        Duration::from_secs(20)
    );
    Ok(())
}

#[tokio::test]
async fn a_reask_tells_the_model_what_was_wrong_without_its_earlier_output() -> TestResult {
    let (fake, provider) = setup().await?;
    let bad = r#"{"modules": [{"title": "UNIQUE-EARLIER-OUTPUT", "estimated_minutes": 30, "description": null, "tasks": []}]}"#;
    let failure = plan_failure(&fake, &provider, complete(bad, "stop")).await;
    let issues: Issues = failure.issues.ok_or("issues")?;
    fake.push(Reply::stream(&plan_json(1, 1), 2, Duration::ZERO));
    provider
        .learning_plan(&request(), Some(&issues), None)
        .await?;
    let requests = fake.requests();
    let second = requests.get(1).ok_or("second request")?;
    let user = second.body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default();
    assert!(
        user.contains("modules[0].tasks: must hold 1 to 20 tasks, found 0"),
        "{user}"
    );
    assert!(!user.contains("UNIQUE-EARLIER-OUTPUT"));
    Ok(())
}

#[tokio::test]
async fn flashcards_distractors_and_skill_trees_go_through_the_same_stream() -> TestResult {
    let (fake, provider) = setup().await?;
    let cards = json!({"flashcards": [{"question": "Q1", "answer": "A1"}, {"question": "Q2", "answer": "A2"}, {"question": "Q3", "answer": "A3"}]});
    fake.push(Reply::stream(&cards.to_string(), 3, Duration::ZERO));
    let input = FlashcardsInput {
        topic: "Rust".into(),
        module_titles: vec!["Ownership".into()],
        max_cards: 2,
    };
    let got = provider.flashcards(&input, None).await?;
    assert_eq!(got.output.len(), 2, "extra cards are dropped");

    fake.push(Reply::stream(
        &json!({"distractors": ["Go", "C", "Zig"]}).to_string(),
        2,
        Duration::ZERO,
    ));
    let input = DistractorsInput {
        topic: "Rust".into(),
        question: "Which language has a borrow checker?".into(),
        answer: "Rust".into(),
    };
    assert_eq!(
        provider.distractors(&input, None).await?.output,
        ["Go", "C", "Zig"]
    );
    fake.push(Reply::stream(
        &json!({"distractors": ["Go", "rust", "Zig"]}).to_string(),
        2,
        Duration::ZERO,
    ));
    assert_eq!(
        provider
            .distractors(&input, None)
            .await
            .err()
            .map(|f| f.class),
        Some(FailureClass::Validation)
    );

    let tree = json!({"skills": [{"title": "Ownership", "description": null, "children": [{"title": "Moves", "description": null, "children": []}]}]});
    fake.push(Reply::stream(&tree.to_string(), 2, Duration::ZERO));
    let input = SkillTreeInput {
        topic: "Rust".into(),
        module_titles: vec![],
    };
    let got = provider.skill_tree(&input, None, None).await?;
    assert_eq!((got.output.node_count, got.output.depth), (2, 2));

    let names: Vec<Value> = fake
        .requests()
        .iter()
        .map(|r| r.body["response_format"]["json_schema"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        [
            json!("flashcards"),
            json!("distractors"),
            json!("distractors"),
            json!("skill_tree")
        ]
    );
    Ok(())
}

#[test]
fn usage_chunk_helper_sums_tokens() {
    let v: Value = serde_json::from_str(&usage_chunk(1, 2)).expect("json");
    assert_eq!(v["usage"]["total_tokens"], 3);
}

fn provider_with(
    base_url: String,
    profile: SchemaProfile,
    max_tokens: Option<u32>,
) -> OpenAiProvider {
    OpenAiProvider::new(ProviderConfig {
        base_url,
        schema_profile: profile,
        max_tokens,
        timeout: BASE,
        extended_timeout: EXTENDED,
        ..ProviderConfig::default()
    })
    .expect("provider")
}

/// Every keyword name used anywhere in a schema (property names included, which is harmless here).
fn uses_keyword(schema: &Value, keyword: &str) -> bool {
    match schema {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k == keyword || uses_keyword(v, keyword)),
        Value::Array(items) => items.iter().any(|v| uses_keyword(v, keyword)),
        _ => false,
    }
}

#[tokio::test]
async fn every_call_sends_a_token_budget_and_the_bounded_schema_of_its_profile() -> TestResult {
    let fake = FakeLlm::start().await?;
    let cards = json!({"flashcards": [{"question": "Q1", "answer": "A1"}]}).to_string();
    let wrong = json!({"distractors": ["Go", "C", "Zig"]}).to_string();
    let input = DistractorsInput {
        topic: "Rust".into(),
        question: "Which language has a borrow checker?".into(),
        answer: "Rust".into(),
    };
    let cards_input = FlashcardsInput {
        topic: "Rust".into(),
        module_titles: vec!["Ownership".into()],
        max_cards: 4,
    };

    // OpenAI's profile: no length keywords; a budget derived from each schema.
    let openai = provider_with(fake.base_url(), SchemaProfile::OpenAi, None);
    fake.push(Reply::stream(&plan_json(1, 1), 1, Duration::ZERO));
    openai.learning_plan(&request(), None, None).await?;
    fake.push(Reply::stream(&wrong, 1, Duration::ZERO));
    openai.distractors(&input, None).await?;
    let sent = fake.requests();
    let plan_body = &sent.first().ok_or("no request")?.body;
    assert_eq!(
        plan_body["max_tokens"],
        schema::DEFAULT_MAX_TOKENS_CAP,
        "a plan's largest document is over the cap"
    );
    assert!(
        plan_body.get("max_completion_tokens").is_none(),
        "only api.openai.com gets the newer field"
    );
    let plan_schema = &plan_body["response_format"]["json_schema"]["schema"];
    assert!(!uses_keyword(plan_schema, "maxLength"));
    assert_eq!(plan_schema["properties"]["modules"]["maxItems"], 24);
    let distractor_body = &sent.get(1).ok_or("no second request")?.body;
    assert_eq!(
        distractor_body["max_tokens"],
        schema::token_budget(
            &schema::distractors(SchemaProfile::Full),
            schema::DEFAULT_MAX_TOKENS_CAP
        ),
        "three answers need fewer tokens than the cap"
    );

    // The full profile with LLM_MAX_TOKENS: lengths, and that budget on every call.
    let fake = FakeLlm::start().await?;
    let full = provider_with(fake.base_url(), SchemaProfile::Full, Some(700));
    fake.push(Reply::stream(&plan_json(1, 1), 1, Duration::ZERO));
    full.learning_plan(&request(), None, None).await?;
    fake.push(Reply::stream(&cards, 1, Duration::ZERO));
    full.flashcards(&cards_input, None).await?;
    fake.push(Reply::stream(&wrong, 1, Duration::ZERO));
    full.distractors(&input, None).await?;
    let sent = fake.requests();
    assert_eq!(
        sent.get(2).ok_or("no third request")?.body["max_tokens"],
        700,
        "a set LLM_MAX_TOKENS is the budget of every call"
    );
    let plan_body = &sent.first().ok_or("no request")?.body;
    assert_eq!(plan_body["max_tokens"], 700);
    assert!(plan_body.get("max_completion_tokens").is_none());
    let module = &plan_body["response_format"]["json_schema"]["schema"]["properties"]["modules"]["items"]
        ["properties"];
    assert_eq!(module["title"]["maxLength"], 200);
    assert_eq!(module["description"]["maxLength"], 2_000);
    let cards_body = &sent.get(1).ok_or("no second request")?.body;
    assert_eq!(cards_body["max_tokens"], 700);
    assert_eq!(
        cards_body["response_format"]["json_schema"]["schema"]["properties"]["flashcards"]["maxItems"],
        4,
        "at most the number of cards asked for"
    );
    Ok(())
}

#[tokio::test]
async fn an_answer_cut_at_the_token_budget_is_a_validation_failure_that_says_so() -> TestResult {
    let fake = FakeLlm::start().await?;
    let provider = provider_with(fake.base_url(), SchemaProfile::Full, Some(300));
    let full = plan_json(3, 3);
    let cut = full.get(..full.len() - 20).ok_or("cut")?;
    fake.push(complete(cut, "length"));
    let failure = match provider.learning_plan(&request(), None, None).await {
        Ok(_) => return Err("a cut answer must not pass".into()),
        Err(f) => f,
    };
    assert_eq!(failure.class, FailureClass::Validation);
    let issues = failure.issues.ok_or("issues for the re-ask")?;
    let only = issues.as_slice().first().ok_or("one issue")?;
    assert!(
        only.message.contains("cut off at the limit of 300 tokens"),
        "{}",
        only.message
    );
    // The re-ask tells the model to be shorter.
    fake.push(Reply::stream(&plan_json(1, 1), 1, Duration::ZERO));
    provider
        .learning_plan(&request(), Some(&issues), None)
        .await?;
    let reask = fake.requests();
    let user = reask.last().ok_or("re-ask")?.body["messages"][1]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        user.contains("write fewer items and shorter texts"),
        "{user}"
    );
    Ok(())
}

/// Module previews (issue #11): each module is sent as soon as it has streamed in complete and
/// valid, in order, while the answer is still streaming; none after an invalid one.
#[tokio::test]
async fn each_valid_module_is_previewed_while_the_answer_streams() -> TestResult {
    let (fake, provider) = setup().await?;
    let mut doc: Value = serde_json::from_str(&plan_json(4, 1))?;
    doc["modules"][1]["estimated_minutes"] = json!(999); // clamped, still valid
    doc["modules"][2]["tasks"] = json!([]); // invalid: no task
    let text = doc.to_string();
    fake.push(Reply::stream(&text, 40, Duration::from_millis(5)));
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let req = request();
    let call = provider.learning_plan(&req, None, Some(tx));
    let collect = async {
        let mut seen = Vec::new();
        while let Some(p) = rx.recv().await {
            seen.push((p, started.elapsed()));
        }
        seen
    };
    let (outcome, seen) = tokio::join!(call, collect);
    let failure = outcome.err().ok_or("the third module is invalid")?;
    assert_eq!(failure.class, FailureClass::Validation);
    let indices: Vec<usize> = seen.iter().map(|(p, _)| p.index).collect();
    assert_eq!(indices, [0, 1], "valid modules before the invalid one only");
    assert_eq!(seen[0].0.module.title, "Module 0");
    assert_eq!(seen[0].0.module.order, 1);
    assert_eq!(
        seen[1].0.module.estimated_minutes, 480,
        "normalized as stored"
    );
    assert!(seen[1].0.module.clamped);
    // The first preview came while the stream still had most of its 40 chunks to send.
    assert!(
        seen[0].1 < Duration::from_millis(5 * 40),
        "first preview after {:?}",
        seen[0].1
    );
    Ok(())
}

/// A provider that ignores the token budget is cut once the answer outgrows its buffer bound
/// (32 bytes per budgeted token) and re-asked shorter, as a `length` finish would be.
#[tokio::test]
async fn an_answer_past_its_buffer_bound_is_cut_as_too_long() -> TestResult {
    let fake = FakeLlm::start().await?;
    let provider = OpenAiProvider::new(ProviderConfig {
        base_url: fake.base_url(),
        api_key: Some("k".into()),
        model: "fake-model".into(),
        timeout: Duration::from_secs(5),
        extended_timeout: Duration::from_secs(5),
        max_tokens: Some(16),
        ..ProviderConfig::default()
    })?;
    // 16 tokens → 512 bytes at most; the stream sends far more and never finishes by itself.
    let text = plan_json(12, 4);
    assert!(text.len() > 2_000);
    fake.push(Reply::Sse {
        events: content_events(&text, 50, Duration::from_millis(1)),
        end: End::Stall,
    });
    let failure = match provider.learning_plan(&request(), None, None).await {
        Ok(_) => return Err("an over-long answer must fail".into()),
        Err(f) => f,
    };
    assert_eq!(failure.class, FailureClass::Validation);
    let issues = failure.issues.ok_or("issues")?;
    assert!(
        issues.as_slice()[0]
            .message
            .contains("cut off at the limit of 16 tokens"),
        "{issues:?}"
    );
    Ok(())
}
