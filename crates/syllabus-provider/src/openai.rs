//! The OpenAI-compatible provider: requests built from async-openai's configuration, the
//! response read here.
//!
//! The body of a response is read by this module alone, never by async-openai's client: that
//! client logs the text of every event it cannot deserialize (`error` level) and of every 5xx
//! body (`warn`), and SPEC section 2 forbids model output in logs whatever the subscriber's
//! filter. It also ends its stream the same way on `[DONE]` and on a cut connection, which SPEC
//! section 1 tells apart.

use std::sync::Arc;
use std::time::Duration;

use async_openai::config::{Config as _, OpenAIConfig};
use eventsource_stream::{EventStreamError, Eventsource as _};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use syllabus_domain::backoff::RETRY_AFTER_CAP;
use syllabus_domain::content::{
    Flashcard, SkillTree, validate_distractors, validate_flashcards, validate_skill_tree,
};
use syllabus_domain::plan::validate_module;
use syllabus_domain::{
    FailureClass, FailureFacts, Issues, NormalizedPlan, PlanRequest, parse_json, validate_plan,
};
use tokio::time::{Instant, sleep_until};

use crate::failure::{AttemptFacts, Failure, Generated, Outcome, Usage};
use crate::prompt::{self, DistractorsInput, FlashcardsInput, Prompt, SkillTreeInput};
use crate::scan::ElementScanner;
use crate::schema::SchemaProfile;
use crate::{ModulePreview, PreviewSender, Provider, ProviderConfig, schema};

/// A provider speaking the OpenAI chat-completions API with streaming.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    config: ProviderConfig,
    /// What every call sends and records the same, built once from the configuration.
    request: Arc<RequestParts>,
    http: reqwest::Client,
    schemas: Arc<Schemas>,
}

/// The endpoint, the headers (key, OpenAI's organization/project, as async-openai builds them),
/// the provider's name for attempt rows and the name of the token-budget field.
#[derive(Debug)]
struct RequestParts {
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    provider: String,
    budget_field: &'static str,
}

/// The schemas of the configured profile with their token budgets, built once.
#[derive(Debug)]
struct Schemas {
    learning_plan: Bounded,
    distractors: Bounded,
    skill_tree: Bounded,
}

/// A schema to send and the output budget its bounds allow.
#[derive(Debug, Clone)]
struct Bounded {
    schema: Value,
    max_tokens: u32,
}

/// Bytes of answer buffered per output token at most: a token is a few characters (a long run of
/// spaces or a multi-byte word is the worst case); a provider that ignores the budget is cut here.
const BYTES_PER_TOKEN_CAP: usize = 32;

/// The most answer a call buffers, whatever the budget (`LLM_MAX_TOKENS` may be large).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

impl Bounded {
    /// The answer buffer's bound: memory per in-flight stream is at most this (128 KiB at the
    /// default budget cap of 4,096 tokens).
    fn max_answer_bytes(&self) -> usize {
        usize::try_from(self.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(BYTES_PER_TOKEN_CAP)
            .min(MAX_ANSWER_BYTES)
    }
}

/// For a `learning_plan` call: watch the modules as they stream, for the adaptive deadline and
/// for previews.
struct ModuleWatch {
    scanner: ElementScanner,
    /// The next module's index.
    next: usize,
    /// Where valid modules go as previews; `None` once a module failed (the attempt will fail
    /// validation: its later modules are not shown) or when nobody listens.
    previews: Option<PreviewSender>,
}

impl Bounded {
    /// `build(profile)` gives the schema; `LLM_MAX_TOKENS` is the budget when set, else it is
    /// counted on the schema's full-profile form.
    fn new(config: &ProviderConfig, build: impl Fn(SchemaProfile) -> Value) -> Self {
        let schema = build(config.schema_profile);
        let max_tokens = config.max_tokens.unwrap_or_else(|| {
            let counted = match config.schema_profile {
                SchemaProfile::Full => &schema,
                SchemaProfile::OpenAi => &build(SchemaProfile::Full),
            };
            schema::token_budget(counted, schema::DEFAULT_MAX_TOKENS_CAP)
        });
        Self { schema, max_tokens }
    }
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
    /// A `finish_reason` (`length` included: the budget ran out) or `[DONE]` arrived.
    Complete {
        text: String,
        /// `None` when the stream ended with `[DONE]` without a `finish_reason`.
        reason: Option<String>,
    },
    Failed(Failed),
}

/// A call that failed before its output could be validated.
struct Failed {
    facts: FailureFacts,
    /// Safe to show a user.
    message: &'static str,
    /// For operators: what happened, without bodies or output.
    detail: String,
    /// The provider's hint; set only where a 429 is recognized.
    retry_after: Option<Duration>,
}

impl Ending {
    fn provider_error(message: &'static str, detail: String) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts::default(),
            message,
            detail,
            retry_after: None,
        })
    }

    fn timeout(detail: String) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts {
                deadline_passed: true,
                ..FailureFacts::default()
            },
            message: FailureClass::Timeout.user_message(),
            detail,
            retry_after: None,
        })
    }

    fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts {
                http_429: true,
                ..FailureFacts::default()
            },
            message: FailureClass::RateLimit.user_message(),
            detail: "HTTP 429 from the provider".to_owned(),
            retry_after,
        })
    }
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
        let mut openai = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            openai = openai.with_api_key(key.clone());
        }
        let mut headers = openai.headers();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Ok(Self {
            request: Arc::new(RequestParts {
                endpoint: openai.url("/chat/completions"),
                headers,
                provider: config.provider_name(),
                budget_field: config.budget_field(),
            }),
            schemas: Arc::new(Schemas {
                learning_plan: Bounded::new(&config, schema::learning_plan),
                distractors: Bounded::new(&config, schema::distractors),
                skill_tree: Bounded::new(&config, schema::skill_tree),
            }),
            config,
            http,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Sends one chat-completions request (never retried: the job runtime owns retries).
    async fn send(&self, body: &Value) -> Result<reqwest::Response, reqwest::Error> {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.http
            .post(&self.request.endpoint)
            .headers(self.request.headers.clone())
            .body(bytes)
            .send()
            .await
    }

    /// Runs one streamed call and validates its text with `validate`.
    async fn call<T>(
        &self,
        prompt: Prompt,
        schema: &Bounded,
        modules: Option<ModuleWatch>,
        validate: impl FnOnce(&Value) -> Result<T, Issues>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let mut facts = AttemptFacts {
            provider: self.request.provider.clone(),
            model: self.config.model.clone(),
            duration_ms: 0,
            usage: None,
            timeout_extended: false,
            first_module_ms: None,
            prompt_hash: prompt.hash(),
        };
        let mut body = json!({
            "model": self.config.model,
            "messages": prompt.messages(),
            "stream": true,
            "stream_options": {"include_usage": true},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": prompt.schema_name, "strict": true, "schema": schema.schema},
            },
        });
        body[self.request.budget_field] = json!(schema.max_tokens);
        let ending = self
            .stream(
                body,
                started,
                schema.max_answer_bytes(),
                modules,
                &mut facts,
            )
            .await;
        facts.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match ending {
            Ending::Complete { text, reason } => {
                match parse_json(&text).and_then(|doc| validate(&doc)) {
                    Ok(output) => {
                        tracing::info!(
                            llm.schema = prompt.schema_name,
                            duration_ms = facts.duration_ms,
                            llm.timeout_extended = facts.timeout_extended,
                            llm.first_module_ms = facts.first_module_ms,
                            llm.completion_tokens = facts.usage.map(|u| u.completion_tokens),
                            "generation succeeded"
                        );
                        Ok(Generated { output, facts })
                    }
                    Err(issues) if reason.as_deref() == Some("length") => {
                        // Whatever else is wrong, the cause is the length: say that in the re-ask.
                        let mut cut = Issues::default();
                        cut.push(
                            "",
                            format!(
                                "the answer was cut off at the limit of {} tokens before it was complete: write fewer items and shorter texts",
                                schema.max_tokens
                            ),
                        );
                        tracing::debug!(
                            llm.issues = issues.as_slice().len(),
                            "cut at the token budget"
                        );
                        Err(validation_failure(prompt.schema_name, cut, facts))
                    }
                    Err(issues) => Err(validation_failure(prompt.schema_name, issues, facts)),
                }
            }
            Ending::Failed(failed) => {
                let class = failed.facts.classify();
                tracing::warn!(
                    llm.schema = prompt.schema_name,
                    duration_ms = facts.duration_ms,
                    llm.class = class.as_str(),
                    "generation failed: {}",
                    failed.detail
                );
                Err(Failure {
                    class,
                    message: failed.message.to_owned(),
                    detail: failed.detail,
                    retry_after: failed.retry_after,
                    issues: None,
                    facts,
                })
            }
        }
    }

    /// Sends the request and reads the stream under the adaptive deadline.
    async fn stream(
        &self,
        body: Value,
        started: Instant,
        max_answer_bytes: usize,
        mut modules: Option<ModuleWatch>,
        facts: &mut AttemptFacts,
    ) -> Ending {
        let base_deadline = deadline_after(started, self.config.timeout);
        let extended_deadline = deadline_after(
            started,
            self.config.extended_timeout.max(self.config.timeout),
        );
        let mut deadline = base_deadline;

        let opened = tokio::select! {
            opened = self.send(&body) => opened,
            () = sleep_until(deadline) => return Ending::timeout("no response before the deadline".to_owned()),
        };
        let response = match opened {
            Ok(response) => response,
            Err(err) => {
                return Ending::provider_error(
                    "The language model provider could not be reached.",
                    format!("no response: {}", transport_error_kind(&err)),
                );
            }
        };
        let status = response.status().as_u16();
        if !response.status().is_success() {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
            // The body is never read: classification depends on the status alone, and a body may
            // echo the prompt or carry the provider's internals.
            return http_failure(status, retry_after);
        }

        let mut events = response.bytes_stream().eventsource();
        let mut text = String::new();
        let mut refusal = false;
        let mut done = false;
        let mut finish_reason: Option<String> = None;
        loop {
            let item = tokio::select! {
                item = events.next() => item,
                () = sleep_until(deadline) => {
                    if finish_reason.is_some() {
                        // The answer is complete; only the trailer (usage, [DONE]) is late.
                        break;
                    }
                    return Ending::timeout(format!("stream incomplete at the deadline after {} bytes", text.len()));
                }
            };
            let event = match item {
                None => break,
                Some(Ok(event)) => event,
                Some(Err(err)) => {
                    return Ending::provider_error(
                        FailureClass::ProviderError.user_message(),
                        format!("the stream failed: {}", event_error_kind(&err)),
                    );
                }
            };
            if event.data == "[DONE]" {
                done = true;
                break;
            }
            if event.event == "keepalive" || event.data.trim().is_empty() {
                continue;
            }
            if event.event == "error" {
                return Ending::provider_error(
                    FailureClass::ProviderError.user_message(),
                    "the provider sent an error event inside the stream".to_owned(),
                );
            }
            // serde_json's message may quote the event's text: only its category and position.
            let chunk = match serde_json::from_str::<Chunk>(&event.data) {
                Ok(chunk) => chunk,
                Err(err) => {
                    return Ending::provider_error(
                        FailureClass::ProviderError.user_message(),
                        format!(
                            "an event that is not a chat completion chunk ({:?} error at line {} column {}, {} bytes)",
                            err.classify(),
                            err.line(),
                            err.column(),
                            event.data.len()
                        ),
                    );
                }
            };
            if chunk.error.is_some() {
                return Ending::provider_error(
                    FailureClass::ProviderError.user_message(),
                    "the provider sent an error event inside the stream".to_owned(),
                );
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
            if text.len() > max_answer_bytes {
                // A provider that ignores the token budget: cut here, as `finish_reason: length`
                // would have (a `validation` failure re-asked shorter), so memory stays bounded.
                tracing::debug!(bytes = text.len(), "answer over its buffer bound: cut");
                return Ending::Complete {
                    text,
                    reason: Some("length".to_owned()),
                };
            }
            if let Some(watch) = modules.as_mut() {
                let on_time = Instant::now() < base_deadline;
                if watch.look(&text, started, on_time, facts) {
                    deadline = extended_deadline;
                }
            }
        }

        // Complete means a finish_reason or [DONE] (SPEC §1): only a stream with neither was cut.
        if finish_reason.is_none() && !done {
            return Ending::provider_error(
                FailureClass::ProviderError.user_message(),
                format!(
                    "the stream ended before it completed ({} bytes, no finish_reason, no [DONE])",
                    text.len()
                ),
            );
        }
        let shown = finish_reason.as_deref().unwrap_or("none, [DONE]");
        if refusal || finish_reason.as_deref() == Some("content_filter") {
            return Ending::provider_error(
                "The language model declined to answer.",
                format!("refusal (finish_reason {shown})"),
            );
        }
        if text.trim().is_empty() {
            return Ending::provider_error(
                FailureClass::ProviderError.user_message(),
                format!("empty content (finish_reason {shown})"),
            );
        }
        Ending::Complete {
            text,
            reason: finish_reason,
        }
    }
}

impl ModuleWatch {
    /// Looks at the modules completed since the last look: each valid one is sent as a preview;
    /// the first, when valid and `on_time`, extends the deadline (returns `true`, once).
    fn look(
        &mut self,
        text: &str,
        started: Instant,
        on_time: bool,
        facts: &mut AttemptFacts,
    ) -> bool {
        if self.next > 0 && self.previews.is_none() {
            // The first module has decided the deadline and no preview is wanted any more: the
            // rest of the answer is not parsed twice.
            return false;
        }
        let mut extend = false;
        while let Some((from, to)) = self.scanner.next_element(text) {
            let index = self.next;
            self.next += 1;
            let module = text
                .get(from..to)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .and_then(|v| validate_module(&v, index).ok());
            let Some(module) = module else {
                // An invalid module fails the attempt; nothing after it is shown.
                self.previews = None;
                continue;
            };
            if index == 0 {
                let elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                facts.first_module_ms = Some(elapsed_ms);
                if on_time {
                    extend = true;
                    facts.timeout_extended = true;
                    tracing::debug!(elapsed_ms, "first module complete: deadline extended");
                }
            }
            if index >= syllabus_domain::plan::MAX_MODULES {
                self.previews = None;
            }
            if let Some(tx) = &self.previews
                && tx.send(ModulePreview { index, module }).is_err()
            {
                self.previews = None;
            }
        }
        extend
    }
}

/// `started + after`, or a deadline too far away to matter when that overflows (a
/// `ProviderConfig` built outside the binary's range checks must not panic here).
fn deadline_after(started: Instant, after: Duration) -> Instant {
    started
        .checked_add(after)
        .or_else(|| started.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(started)
}

/// Reads a `Retry-After` value defensively: delay-seconds (fractions accepted, as some servers
/// send them) or an HTTP-date (RFC 9110 §10.2.3), capped at [`RETRY_AFTER_CAP`]; `None` for
/// anything else, negative or not finite. Never panics, whatever the provider sends.
fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // Capped before the conversion, which panics on values beyond `Duration`'s range.
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(RETRY_AFTER_CAP.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

/// Classifies an HTTP error status; the error body's shape does not matter (it is not read).
fn http_failure(status: u16, retry_after: Option<Duration>) -> Ending {
    match status {
        429 => Ending::rate_limited(retry_after),
        _ => Ending::provider_error(
            match status {
                401 | 403 => "The language model provider refused the credentials.",
                404 => {
                    "The language model provider does not know the configured model or endpoint."
                }
                400..=499 => "The language model provider rejected the request.",
                _ => FailureClass::ProviderError.user_message(),
            },
            format!("HTTP {status} from the provider"),
        ),
    }
}

/// A validation failure: the issues go to the re-ask, only their count to the user.
fn validation_failure(schema_name: &str, issues: Issues, facts: AttemptFacts) -> Failure {
    let count = issues.as_slice().len();
    tracing::warn!(
        llm.schema = schema_name,
        duration_ms = facts.duration_ms,
        llm.class = "validation",
        llm.issues = count,
        "generated output rejected"
    );
    Failure {
        class: FailureClass::Validation,
        message: format!(
            "{} ({count} problem{})",
            FailureClass::Validation.user_message(),
            if count == 1 { "" } else { "s" }
        ),
        detail: issues.to_string(),
        retry_after: None,
        issues: Some(issues),
        facts,
    }
}

/// A description of a transport error without anything the provider sent.
fn transport_error_kind(err: &reqwest::Error) -> &'static str {
    if err.is_connect() {
        "connection failed"
    } else if err.is_timeout() {
        "transport timeout"
    } else if err.is_body() || err.is_decode() {
        "connection lost while reading the body"
    } else {
        "transport error"
    }
}

/// A description of a stream error; the parser's error quotes the input, so it is never shown.
fn event_error_kind(err: &EventStreamError<reqwest::Error>) -> &'static str {
    match err {
        EventStreamError::Transport(e) => transport_error_kind(e),
        EventStreamError::Utf8(_) => "an event that is not UTF-8",
        EventStreamError::Parser(_) => "an event stream that does not parse",
    }
}

impl Provider for OpenAiProvider {
    async fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
        previews: Option<PreviewSender>,
    ) -> Outcome<NormalizedPlan> {
        self.call(
            prompt::plan(request, reask),
            &self.schemas.learning_plan,
            Some(ModuleWatch {
                scanner: ElementScanner::default(),
                next: 0,
                previews,
            }),
            validate_plan,
        )
        .await
    }

    async fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> Outcome<Vec<Flashcard>> {
        let wanted = input.max_cards;
        let schema = Bounded::new(&self.config, |profile| schema::flashcards(profile, wanted));
        self.call(prompt::flashcards(input, reask), &schema, None, |doc| {
            validate_flashcards(doc, wanted)
        })
        .await
    }

    async fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> Outcome<[String; 3]> {
        let answer = input.answer.clone();
        self.call(
            prompt::distractors(input, reask),
            &self.schemas.distractors,
            None,
            |doc| validate_distractors(doc, &answer),
        )
        .await
    }

    async fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
    ) -> Outcome<SkillTree> {
        self.call(
            prompt::skill_tree(input, reask),
            &self.schemas.skill_tree,
            None,
            validate_skill_tree,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::{deadline_after, parse_retry_after};

    #[test]
    fn a_deadline_beyond_instant_range_is_far_away_not_a_panic() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(10)),
            now + Duration::from_secs(10)
        );
        for huge in [Duration::MAX, Duration::from_millis(u64::MAX)] {
            assert!(deadline_after(now, huge) > now + Duration::from_secs(86_400));
        }
    }

    #[test]
    fn retry_after_is_read_defensively_and_capped() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        let at = |v: &str| parse_retry_after(v, now);
        assert_eq!(at("5"), Some(Duration::from_secs(5)));
        assert_eq!(at(" 1.5 "), Some(Duration::from_millis(1_500)));
        assert_eq!(at("0"), Some(Duration::ZERO));
        for huge in ["1e20", "18446744073709551616", "1e308"] {
            assert_eq!(at(huge), Some(Duration::from_secs(60)), "{huge}");
        }
        for bad in ["-1", "NaN", "inf", "-inf", "soon", ""] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(
            at("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            at("Wed, 21 Oct 2015 09:00:00 GMT"),
            Some(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(
            at("Wed, 21 Oct 2015 07:00:00 GMT"),
            Some(Duration::ZERO),
            "in the past"
        );
    }
}
