//! Provider settings: `OPENAI_BASE_URL`, `OPENAI_API_KEY`, `LLM_MODEL`, `GENERATION_TIMEOUT_MS`,
//! `GENERATION_EXTENDED_TIMEOUT_MS`, `LLM_MAX_TOKENS`, `LLM_SCHEMA_PROFILE` (read by the binary,
//! passed in here).

use std::time::Duration;

use syllabus_domain::Secret;

use crate::endpoint::host;
use crate::schema::SchemaProfile;

/// OpenAI's endpoint.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";
/// The default model.
pub const DEFAULT_MODEL: &str = "gpt-4o-mini";
/// Deadline of an attempt from the start of the provider call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// Deadline once the first complete, valid module has streamed in.
pub const DEFAULT_EXTENDED_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach the model. `Debug` shows no key ([`Secret`]).
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Base URL up to and including the version segment (`…/v1`).
    pub base_url: String,
    /// Bearer key; `None` for local servers that need none.
    pub api_key: Option<Secret>,
    /// Model name sent with every request.
    pub model: String,
    /// Base deadline.
    pub timeout: Duration,
    /// Extended deadline (from the start of the call, not from the extension).
    pub extended_timeout: Duration,
    /// The schema keywords and budget field the endpoint accepts.
    pub schema_profile: SchemaProfile,
    /// The output token budget sent with every call; `None` derives each call's budget from its
    /// schema's bounds ([`crate::schema::token_budget`], at most
    /// [`crate::schema::DEFAULT_MAX_TOKENS_CAP`]).
    pub max_tokens: Option<u32>,
}

impl Default for ProviderConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            model: DEFAULT_MODEL.to_owned(),
            timeout: DEFAULT_TIMEOUT,
            extended_timeout: DEFAULT_EXTENDED_TIMEOUT,
            schema_profile: SchemaProfile::for_base_url(DEFAULT_BASE_URL),
            max_tokens: None,
        }
    }
}

impl ProviderConfig {
    /// The request field that carries the token budget: `max_completion_tokens` for OpenAI's own
    /// endpoint (its reasoning models reject the deprecated `max_tokens`), `max_tokens` for every
    /// other server (gateways, vLLM, llama.cpp, Ollama), which is the name they all read.
    #[must_use]
    pub fn budget_field(&self) -> &'static str {
        match host(&self.base_url) {
            Some(url::Host::Domain(d)) if d == "api.openai.com" => "max_completion_tokens",
            _ => "max_tokens",
        }
    }

    /// The key the shared limits (issue #22) keep this provider under: the base URL without
    /// credentials, query or trailing slash, and the model (`http://host:port/v1 model`). Every
    /// process configured with the same endpoint and model shares one window and one pause.
    #[must_use]
    pub fn limit_key(&self) -> String {
        let base = match url::Url::parse(self.base_url.trim()) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                url.set_query(None);
                url.set_fragment(None);
                url.to_string()
            }
            Err(_) => self.base_url.trim().to_owned(),
        };
        format!("{} {}", base.trim_end_matches('/'), self.model)
    }

    /// A short name of the provider for attempt records: the base URL's host.
    #[must_use]
    pub fn provider_name(&self) -> String {
        match host(&self.base_url) {
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            Some(h) => h.to_string(),
            None => "unknown".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_key_never_prints() {
        let config = ProviderConfig {
            api_key: Some("sk-live-123456".into()),
            ..ProviderConfig::default()
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("sk-live"), "{shown}");
        assert!(
            shown.contains("api_key: Some(Secret(<redacted>))"),
            "{shown}"
        );
    }

    #[test]
    fn the_limit_key_names_the_endpoint_and_model_without_credentials() {
        let config = ProviderConfig {
            base_url: "https://user:pw@gw.example.com:8443/v1/?x=1".to_owned(),
            model: "m".to_owned(),
            ..ProviderConfig::default()
        };
        assert_eq!(config.limit_key(), "https://gw.example.com:8443/v1 m");
        assert_eq!(
            ProviderConfig::default().limit_key(),
            "https://api.openai.com/v1 gpt-4o-mini"
        );
    }

    #[test]
    fn only_openai_itself_gets_max_completion_tokens() {
        let at = |base_url: &str| ProviderConfig {
            base_url: base_url.to_owned(),
            ..ProviderConfig::default()
        };
        assert_eq!(at(DEFAULT_BASE_URL).budget_field(), "max_completion_tokens");
        for other in [
            "https://my.openai.azure.com/openai/deployments/x",
            "http://127.0.0.1:8080/v1",
            "https://vllm.example.com/v1",
        ] {
            assert_eq!(at(other).budget_field(), "max_tokens", "{other}");
        }
    }
}
