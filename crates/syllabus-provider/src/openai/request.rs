//! What a call sends: the endpoint and headers built once from async-openai's configuration, the
//! schemas with their token budgets, and the body of one chat-completions request.

use async_openai::config::{Config as _, OpenAIConfig};
use serde_json::{Value, json};

use crate::config::ProviderConfig;
use crate::prompt::Prompt;
use crate::schema::{self, SchemaProfile};

/// Bytes of answer buffered per output token at most: a token is a few characters (a long run of
/// spaces or a multi-byte word is the worst case); a provider that ignores the budget is cut here.
const BYTES_PER_TOKEN_CAP: usize = 32;

/// The most answer a call buffers, whatever the budget (`LLM_MAX_TOKENS` may be large).
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// The endpoint, the headers (key, OpenAI's organization/project, as async-openai builds them),
/// the provider's name for attempt rows and the name of the token-budget field. `Debug` names
/// the headers without their values: they carry the key.
pub(super) struct RequestParts {
    endpoint: String,
    headers: reqwest::header::HeaderMap,
    /// The provider's name in attempt records.
    pub(super) provider: String,
    budget_field: &'static str,
}

impl std::fmt::Debug for RequestParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestParts")
            .field("endpoint", &self.endpoint)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("provider", &self.provider)
            .field("budget_field", &self.budget_field)
            .finish()
    }
}

impl RequestParts {
    /// What every call of `config`'s provider sends and records the same.
    pub(super) fn new(config: &ProviderConfig) -> Self {
        let mut openai = OpenAIConfig::new().with_api_base(config.base_url.trim_end_matches('/'));
        if let Some(key) = &config.api_key {
            openai = openai.with_api_key(key.expose());
        }
        let mut headers = openai.headers();
        headers.insert(
            reqwest::header::CONTENT_TYPE,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Self {
            endpoint: openai.url("/chat/completions"),
            headers,
            provider: config.provider_name(),
            budget_field: config.budget_field(),
        }
    }

    /// The body of one streamed call of `model` with `prompt`, held to `schema` and its budget.
    pub(super) fn body(&self, model: &str, prompt: &Prompt, schema: &Bounded) -> Value {
        let mut body = json!({
            "model": model,
            "messages": prompt.messages(),
            "stream": true,
            "stream_options": {"include_usage": true},
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": prompt.schema_name, "strict": true, "schema": schema.schema},
            },
        });
        body[self.budget_field] = json!(schema.max_tokens);
        body
    }

    /// One chat-completions request with `body`, ready to send (never retried: the job runtime
    /// owns retries).
    pub(super) fn post(&self, http: &reqwest::Client, body: &Value) -> reqwest::RequestBuilder {
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        http.post(&self.endpoint)
            .headers(self.headers.clone())
            .body(bytes)
    }
}

/// The schemas of the configured profile with their token budgets, built once.
#[derive(Debug)]
pub(super) struct Schemas {
    /// For `learning_plan`.
    pub(super) learning_plan: Bounded,
    /// For `learning_module`.
    pub(super) learning_module: Bounded,
    /// For `distractors`.
    pub(super) distractors: Bounded,
    /// For `skill_tree`.
    pub(super) skill_tree: Bounded,
}

impl Schemas {
    /// The schemas whose shape does not depend on the call.
    pub(super) fn new(config: &ProviderConfig) -> Self {
        Self {
            learning_plan: Bounded::new(config, schema::learning_plan),
            learning_module: Bounded::new(config, schema::learning_module),
            distractors: Bounded::new(config, schema::distractors),
            skill_tree: Bounded::new(config, schema::skill_tree),
        }
    }
}

/// A schema to send and the output budget its bounds allow.
#[derive(Debug, Clone)]
pub(super) struct Bounded {
    schema: Value,
    /// The output token budget sent with the call.
    pub(super) max_tokens: u32,
}

impl Bounded {
    /// `build(profile)` gives the schema; `LLM_MAX_TOKENS` is the budget when set, else it is
    /// counted on the schema's full-profile form.
    pub(super) fn new(config: &ProviderConfig, build: impl Fn(SchemaProfile) -> Value) -> Self {
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

    /// Characters of the schema as sent (for the call's token estimate).
    pub(super) fn schema_chars(&self) -> usize {
        self.schema.to_string().chars().count()
    }

    /// The answer buffer's bound: memory per in-flight stream is at most this (128 KiB at the
    /// default budget cap of 4,096 tokens).
    pub(super) fn max_answer_bytes(&self) -> usize {
        usize::try_from(self.max_tokens)
            .unwrap_or(usize::MAX)
            .saturating_mul(BYTES_PER_TOKEN_CAP)
            .min(MAX_ANSWER_BYTES)
    }
}

#[cfg(test)]
mod tests {
    use super::RequestParts;
    use crate::ProviderConfig;

    #[test]
    fn the_request_parts_never_print_the_key() {
        let parts = RequestParts::new(&ProviderConfig {
            api_key: Some("sk-live-123456".into()),
            ..ProviderConfig::default()
        });
        let shown = format!("{parts:?}");
        assert!(!shown.contains("sk-live"), "{shown}");
        assert!(shown.contains("authorization"), "{shown}");
    }
}
