#![expect(
    clippy::expect_used,
    reason = "test helpers fail loudly on broken fixtures"
)]

//! Nothing the provider sends (model output, error bodies) reaches the logs (SPEC section 2),
//! whatever the filter: every target is captured at TRACE by the process's global subscriber
//! while the fake server sends undeserializable chunks and error bodies carrying a marker, and
//! the classification stays right. A file of its own: the subscriber is global to the process.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
mod common;

use common::{provider_for, request};
use syllabus_domain::FailureClass;
use syllabus_provider::Provider;
use syllabus_testkit::fake_llm::{content_chunk, finish_chunk};
use syllabus_testkit::{End, FakeLlm, Reply};

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

const MARKER: &str = "MODEL-TEXT-7f3a9c";

/// Everything logged, as written by the formatter.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut b) = self.0.lock() {
            b.extend_from_slice(buf);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn sse(data: Vec<String>) -> Reply {
    Reply::Sse {
        events: data.into_iter().map(|d| (Duration::ZERO, d)).collect(),
        end: End::Done,
    }
}

#[tokio::test]
async fn model_output_and_provider_bodies_never_reach_the_logs() -> TestResult {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .try_init()
        .map_err(|e| e.to_string())?;

    let fake = FakeLlm::start().await?;
    let provider = provider_for(
        fake.base_url(),
        Duration::from_secs(5),
        Duration::from_secs(10),
    );

    let cases: Vec<(&str, Reply, FailureClass)> = vec![
        (
            "a chunk that is not JSON",
            sse(vec![
                content_chunk("{\"modules\":["),
                format!("{{\"choices\": [{{\"delta\": {{\"content\": \"{MARKER}"),
                finish_chunk("stop"),
            ]),
            FailureClass::ProviderError,
        ),
        (
            "a JSON chunk of the wrong shape",
            sse(vec![
                json!({"choices": [{"delta": {"content": 7}, "finish_reason": MARKER}], "usage": MARKER}).to_string(),
                finish_chunk("stop"),
            ]),
            FailureClass::ProviderError,
        ),
        (
            "an error event inside the stream",
            sse(vec![json!({"error": {"message": MARKER}}).to_string()]),
            FailureClass::ProviderError,
        ),
        (
            "a 500 with a text body",
            Reply::Status {
                status: 500,
                headers: vec![],
                body: format!("upstream said {MARKER}"),
            },
            FailureClass::ProviderError,
        ),
        (
            "a 503 in OpenAI's shape",
            Reply::openai_error(503, MARKER),
            FailureClass::ProviderError,
        ),
        (
            "a 400 whose body is not OpenAI-shaped",
            Reply::Status {
                status: 400,
                headers: vec![],
                body: format!("<html>{MARKER}</html>"),
            },
            FailureClass::ProviderError,
        ),
        (
            "a 429 with a body",
            Reply::openai_error(429, MARKER),
            FailureClass::RateLimit,
        ),
        (
            "a complete answer that is not JSON",
            sse(vec![content_chunk(MARKER), finish_chunk("stop")]),
            FailureClass::Validation,
        ),
    ];
    for (what, reply, class) in cases {
        fake.push(reply);
        let failure = provider
            .learning_plan(&request(), None, None)
            .await
            .err()
            .ok_or(what)?;
        assert_eq!(failure.class, class, "{what}");
        // What the job runtime logs and stores: the message and the detail.
        assert!(!failure.message.contains(MARKER), "{what}: {failure:?}");
        assert!(!failure.detail.contains(MARKER), "{what}: {failure:?}");
    }
    let logs = captured.text();
    assert!(
        logs.contains("generation failed"),
        "the capture works: {logs}"
    );
    assert!(
        !logs.contains(MARKER),
        "model output or a provider body was logged:\n{logs}"
    );
    Ok(())
}
