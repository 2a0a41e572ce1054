//! The OpenAI-compatible provider on async-openai.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use syllabus_domain::content::{
    Flashcard, SkillTree, validate_distractors, validate_flashcards, validate_skill_tree,
};
use syllabus_domain::plan::validate_module;
use syllabus_domain::{
    FailureClass, FailureFacts, Issues, NormalizedPlan, PlanRequest, validate_plan,
};
use tokio::time::{Instant, sleep_until};

use crate::failure::{AttemptFacts, Failure, Generated, Outcome, Usage};
use crate::prompt::{self, DistractorsInput, FlashcardsInput, Prompt, SkillTreeInput};
use crate::scan::FirstElementScanner;
use crate::{Provider, ProviderConfig, schema};

/// A provider speaking the OpenAI chat-completions API with streaming.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    config: ProviderConfig,
    http: reqwest::Client,
    schemas: Arc<Schemas>,
}

#[derive(Debug)]
struct Schemas {
    learning_plan: Value,
    flashcards: Value,
    distractors: Value,
    skill_tree: Value,
}

/// What the HTTP layer saw of the response, kept because async-openai drops the status of error
/// bodies it cannot parse (llama.cpp and vLLM send a numeric `code`).
#[derive(Debug, Clone, Copy, Default)]
struct ResponseMeta {
    status: Option<u16>,
    retry_after: Option<Duration>,
}

/// A streamed chunk, read leniently: servers differ in which other fields they send.
#[derive(Debug, Deserialize)]
struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    total_tokens: u32,
}

/// How a call ended before validation.
enum Ending {
    Complete {
        text: String,
    },
    Failed {
        facts: FailureFacts,
        message: &'static str,
        detail: String,
    },
}

impl OpenAiProvider {
    /// Builds a provider. No connection is made until the first call.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS initialization).
    pub fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        // No total timeout: it would cut a healthy stream; the adaptive deadline wraps the reads.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            config,
            http,
            schemas: Arc::new(Schemas {
                learning_plan: schema::learning_plan(),
                flashcards: schema::strict_schema::<schema::Flashcards>(),
                distractors: schema::strict_schema::<schema::Distractors>(),
                skill_tree: schema::strict_schema::<schema::SkillTreeOutput>(),
            }),
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// A client for one call whose HTTP service records the response's status and `Retry-After`
    /// and never retries.
    fn client(&self, meta: Arc<Mutex<ResponseMeta>>) -> Client<OpenAIConfig> {
        let mut config =
            OpenAIConfig::new().with_api_base(self.config.base_url.trim_end_matches('/'));
        if let Some(key) = &self.config.api_key {
            config = config.with_api_key(key.clone());
        }
        let http = self.http.clone();
        let service = tower::service_fn(move |factory: HttpRequestFactory| {
            let http = http.clone();
            let meta = Arc::clone(&meta);
            async move {
                let request = factory.build().await?;
                let response = http.execute(request).await.map_err(OpenAIError::Reqwest)?;
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64);
                if let Ok(mut m) = meta.lock() {
                    *m = ResponseMeta {
                        status: Some(response.status().as_u16()),
                        retry_after,
                    };
                }
                Ok::<_, OpenAIError>(response)
            }
        });
        Client::with_config(config).with_http_service(service)
    }

    /// Runs one streamed call and validates its text with `validate`.
    async fn call<T>(
        &self,
        prompt: Prompt,
        schema: &Value,
        extend_on_first_module: bool,
        validate: impl FnOnce(&Value) -> Result<T, Issues>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let meta = Arc::new(Mutex::new(ResponseMeta::default()));
        let mut facts = AttemptFacts {
            provider: self.config.provider_name(),
            model: self.config.model.clone(),
            duration_ms: 0,
            usage: None,
            timeout_extended: false,
            prompt_hash: prompt.hash(),
        };
        let body = json!({
            "model": self.config.model,
            "messages": prompt.messages(),
            "stream": true,
            "stream_options": {"include_usage": true},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": prompt.schema_name, "strict": true, "schema": schema},
            },
        });
        let ending = self
            .stream(
                body,
                started,
                extend_on_first_module,
                Arc::clone(&meta),
                &mut facts,
            )
            .await;
        facts.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let meta = meta.lock().map(|m| *m).unwrap_or_default();
        let span_fields = (
            prompt.schema_name,
            facts.duration_ms,
            facts.timeout_extended,
        );
        match ending {
            Ending::Complete { text } => match serde_json::from_str::<Value>(&text) {
                Err(_) => {
                    let mut issues = Issues::default();
                    issues.push("", "the output is not valid JSON");
                    Err(self.validation_failure(issues, facts))
                }
                Ok(doc) => match validate(&doc) {
                    Ok(output) => {
                        tracing::info!(
                            llm.schema = span_fields.0,
                            duration_ms = span_fields.1,
                            llm.timeout_extended = span_fields.2,
                            "generation succeeded"
                        );
                        Ok(Generated { output, facts })
                    }
                    Err(issues) => Err(self.validation_failure(issues, facts)),
                },
            },
            Ending::Failed {
                facts: failure_facts,
                message,
                detail,
            } => {
                let class = failure_facts.classify();
                tracing::warn!(
                    llm.schema = span_fields.0,
                    duration_ms = span_fields.1,
                    llm.class = class.as_str(),
                    llm.status = meta.status,
                    "generation failed: {detail}"
                );
                Err(Failure {
                    class,
                    message: message.to_owned(),
                    detail,
                    retry_after: if class == FailureClass::RateLimit {
                        meta.retry_after
                    } else {
                        None
                    },
                    issues: None,
                    facts,
                })
            }
        }
    }

    fn validation_failure(&self, issues: Issues, facts: AttemptFacts) -> Failure {
        tracing::warn!(
            llm.class = "validation",
            llm.issues = issues.as_slice().len(),
            "generated output rejected"
        );
        Failure {
            class: FailureClass::Validation,
            message: format!(
                "{} ({} problem{})",
                FailureClass::Validation.user_message(),
                issues.as_slice().len(),
                if issues.as_slice().len() == 1 {
                    ""
                } else {
                    "s"
                }
            ),
            detail: issues.to_string(),
            retry_after: None,
            issues: Some(issues),
            facts,
        }
    }

    /// Sends the request and reads the stream under the adaptive deadline.
    async fn stream(
        &self,
        body: Value,
        started: Instant,
        extend_on_first_module: bool,
        meta: Arc<Mutex<ResponseMeta>>,
        facts: &mut AttemptFacts,
    ) -> Ending {
        let timeout = |detail: String| Ending::Failed {
            facts: FailureFacts {
                deadline_passed: true,
                ..FailureFacts::default()
            },
            message: FailureClass::Timeout.user_message(),
            detail,
        };
        let base_deadline = started + self.config.timeout;
        let extended_deadline = started + self.config.extended_timeout.max(self.config.timeout);
        let mut deadline = base_deadline;

        let client = self.client(Arc::clone(&meta));
        let chat = client.chat();
        let opened = tokio::select! {
            opened = chat.create_stream_byot::<Value, Chunk>(body) => opened,
            () = sleep_until(deadline) => return timeout("no response before the deadline".to_owned()),
        };
        let mut stream = match opened {
            Ok(stream) => stream,
            Err(err) => {
                let status = meta.lock().ok().and_then(|m| m.status);
                return http_failure(status, &err);
            }
        };

        let mut text = String::new();
        let mut refusal = false;
        let mut finish_reason: Option<String> = None;
        let mut scanner = extend_on_first_module.then(FirstElementScanner::default);
        loop {
            let item = tokio::select! {
                item = stream.next() => item,
                () = sleep_until(deadline) => {
                    if finish_reason.is_some() {
                        // The answer is complete; only the trailer (usage, [DONE]) is late.
                        break;
                    }
                    return timeout(format!("stream incomplete at the deadline after {} bytes", text.len()));
                }
            };
            let chunk = match item {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(err)) => {
                    return Ending::Failed {
                        facts: FailureFacts::default(),
                        message: FailureClass::ProviderError.user_message(),
                        detail: format!("the stream failed: {}", stream_error_kind(&err)),
                    };
                }
            };
            if chunk.error.is_some() {
                return Ending::Failed {
                    facts: FailureFacts::default(),
                    message: FailureClass::ProviderError.user_message(),
                    detail: "the provider sent an error event inside the stream".to_owned(),
                };
            }
            if let Some(u) = chunk.usage {
                facts.usage = Some(Usage {
                    prompt_tokens: u.prompt_tokens,
                    completion_tokens: u.completion_tokens,
                    total_tokens: u.total_tokens,
                });
            }
            for choice in chunk.choices {
                if let Some(delta) = choice.delta {
                    if let Some(content) = delta.content {
                        text.push_str(&content);
                    }
                    refusal |= delta.refusal.is_some_and(|r| !r.is_empty());
                }
                if let Some(reason) = choice.finish_reason {
                    finish_reason = Some(reason);
                }
            }
            if let Some(found) = scanner.as_mut().and_then(|s| s.feed(&text)) {
                // One look only: an invalid first module will fail validation anyway.
                scanner = None;
                let first_is_valid = text
                    .get(found.0..found.1)
                    .and_then(|s| serde_json::from_str::<Value>(s).ok())
                    .is_some_and(|module| validate_module(&module, 0).is_ok());
                if first_is_valid && Instant::now() < base_deadline {
                    deadline = extended_deadline;
                    facts.timeout_extended = true;
                    tracing::debug!(
                        elapsed_ms =
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                        "first module complete: deadline extended"
                    );
                }
            }
        }

        let Some(reason) = finish_reason else {
            return Ending::Failed {
                facts: FailureFacts::default(),
                message: FailureClass::ProviderError.user_message(),
                detail: format!(
                    "the stream ended before it completed ({} bytes, no finish_reason)",
                    text.len()
                ),
            };
        };
        if refusal || reason == "content_filter" {
            return Ending::Failed {
                facts: FailureFacts::default(),
                message: "The language model declined to answer.",
                detail: format!("refusal (finish_reason {reason})"),
            };
        }
        if text.trim().is_empty() {
            return Ending::Failed {
                facts: FailureFacts::default(),
                message: FailureClass::ProviderError.user_message(),
                detail: format!("empty content (finish_reason {reason})"),
            };
        }
        Ending::Complete { text }
    }
}

/// Classifies a failure to open the stream from the HTTP status the service recorded; the error
/// body's shape does not matter.
fn http_failure(status: Option<u16>, err: &OpenAIError) -> Ending {
    match status {
        Some(429) => Ending::Failed {
            facts: FailureFacts {
                http_429: true,
                ..FailureFacts::default()
            },
            message: FailureClass::RateLimit.user_message(),
            detail: "HTTP 429 from the provider".to_owned(),
        },
        Some(status) => Ending::Failed {
            facts: FailureFacts::default(),
            message: match status {
                401 | 403 => "The language model provider refused the credentials.",
                404 => {
                    "The language model provider does not know the configured model or endpoint."
                }
                400..=499 => "The language model provider rejected the request.",
                _ => FailureClass::ProviderError.user_message(),
            },
            detail: format!("HTTP {status} from the provider"),
        },
        None => Ending::Failed {
            facts: FailureFacts::default(),
            message: "The language model provider could not be reached.",
            detail: format!("no response: {}", stream_error_kind(err)),
        },
    }
}

/// A description of an error without any body the provider sent.
fn stream_error_kind(err: &OpenAIError) -> String {
    match err {
        OpenAIError::Reqwest(e) if e.is_connect() => "connection failed".to_owned(),
        OpenAIError::Reqwest(e) if e.is_timeout() => "transport timeout".to_owned(),
        OpenAIError::Reqwest(e) if e.is_body() || e.is_decode() => {
            "connection lost while reading the body".to_owned()
        }
        OpenAIError::Reqwest(_) => "transport error".to_owned(),
        OpenAIError::StreamError(_) => "event stream error".to_owned(),
        OpenAIError::JSONDeserialize(..) => {
            "an event that is not a chat completion chunk".to_owned()
        }
        OpenAIError::ApiError(e) => format!("API error (HTTP {})", e.status_code.as_u16()),
        _ => "client error".to_owned(),
    }
}

impl Provider for OpenAiProvider {
    async fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
    ) -> Outcome<NormalizedPlan> {
        let schemas = Arc::clone(&self.schemas);
        self.call(
            prompt::plan(request, reask),
            &schemas.learning_plan,
            true,
            validate_plan,
        )
        .await
    }

    async fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> Outcome<Vec<Flashcard>> {
        let schemas = Arc::clone(&self.schemas);
        let wanted = input.max_cards;
        self.call(
            prompt::flashcards(input, reask),
            &schemas.flashcards,
            false,
            |doc| validate_flashcards(doc, wanted),
        )
        .await
    }

    async fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> Outcome<[String; 3]> {
        let schemas = Arc::clone(&self.schemas);
        let answer = input.answer.clone();
        self.call(
            prompt::distractors(input, reask),
            &schemas.distractors,
            false,
            |doc| validate_distractors(doc, &answer),
        )
        .await
    }

    async fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
    ) -> Outcome<SkillTree> {
        let schemas = Arc::clone(&self.schemas);
        self.call(
            prompt::skill_tree(input, reask),
            &schemas.skill_tree,
            false,
            validate_skill_tree,
        )
        .await
    }
}
