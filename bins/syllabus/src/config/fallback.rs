//! The settings of issue #22's fallback provider and the primary's circuit breaker:
//! `LLM_FALLBACK_BASE_URL`, `LLM_FALLBACK_API_KEY`, `LLM_FALLBACK_MODEL`,
//! `LLM_FALLBACK_REQUESTS_PER_MINUTE`, `LLM_FALLBACK_TOKENS_PER_MINUTE`, `LLM_BREAKER_FAILURES`,
//! `LLM_BREAKER_WINDOW_MS`, `LLM_BREAKER_COOLDOWN_MS`.

use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::bail;
use syllabus_domain::Secret;
use syllabus_domain::breaker::{BreakerSettings, DEFAULT_PROBE_LEASE};
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_jobs::RuntimeConfig;
use syllabus_provider::schema::SchemaProfile;
use syllabus_provider::{DEFAULT_BASE_URL, ProviderConfig};

use super::{Env, MAX_DAY_MS};
use crate::app::FallbackConfig;

/// The fallback, when `LLM_FALLBACK_BASE_URL` or `LLM_FALLBACK_API_KEY` is set: the primary's
/// deadlines and budget, its own endpoint, key and model (the primary's unless set) and its own
/// limits (over the primary's window). Without them its other settings are refused (they would
/// do nothing), as is a fallback that is the primary itself (same endpoint and model).
pub(super) fn fallback(
    env: &Env,
    primary: Option<&ProviderConfig>,
    window: Duration,
) -> anyhow::Result<Option<FallbackConfig>> {
    let api_key = env.get("LLM_FALLBACK_API_KEY").map(Secret::from);
    if api_key
        .as_ref()
        .is_some_and(|k| k.expose().chars().any(char::is_control))
    {
        bail!(
            "LLM_FALLBACK_API_KEY is invalid: it contains a control character (a trailing newline?)"
        );
    }
    let base_url = env.get("LLM_FALLBACK_BASE_URL").map(str::to_owned);
    if let Some(url) = &base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("LLM_FALLBACK_BASE_URL is invalid: expected an http:// or https:// URL");
    }
    let limits = ProviderLimits {
        window,
        ..limits_named(
            env,
            "LLM_FALLBACK_REQUESTS_PER_MINUTE",
            "LLM_FALLBACK_TOKENS_PER_MINUTE",
        )?
    };
    if api_key.is_none() && base_url.is_none() {
        for name in [
            "LLM_FALLBACK_MODEL",
            "LLM_FALLBACK_SCHEMA_PROFILE",
            "LLM_FALLBACK_REQUESTS_PER_MINUTE",
            "LLM_FALLBACK_TOKENS_PER_MINUTE",
        ] {
            if env.get(name).is_some() {
                bail!(
                    "{name} is invalid: there is no fallback provider (set LLM_FALLBACK_BASE_URL or LLM_FALLBACK_API_KEY)"
                );
            }
        }
        return Ok(None);
    }
    let Some(primary) = primary else {
        // No workers here (`serve` with WORKERS=false): the fallback is not used.
        return Ok(None);
    };
    let base_url = base_url
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
        .trim_end_matches('/')
        .to_owned();
    // The fallback's own: a primary on a local server (`full`) and a fallback on OpenAI (which
    // refuses `full`'s keywords) is the usual pair, so LLM_SCHEMA_PROFILE is not inherited.
    let schema_profile = match env.get("LLM_FALLBACK_SCHEMA_PROFILE") {
        None => SchemaProfile::for_base_url(&base_url),
        Some(v) => SchemaProfile::parse(v).ok_or_else(|| {
            anyhow::anyhow!(
                "LLM_FALLBACK_SCHEMA_PROFILE is invalid: expected `openai` or `full`, got `{v}`"
            )
        })?,
    };
    let provider = ProviderConfig {
        base_url,
        api_key,
        model: env
            .get("LLM_FALLBACK_MODEL")
            .map_or_else(|| primary.model.clone(), str::to_owned),
        schema_profile,
        ..primary.clone()
    };
    if provider.limit_key() == primary.limit_key() {
        bail!(
            "LLM_FALLBACK_BASE_URL is invalid: the fallback is the primary provider itself (same base URL and model); set another endpoint or LLM_FALLBACK_MODEL"
        );
    }
    Ok(Some(FallbackConfig { provider, limits }))
}

/// The primary's circuit breaker; a probe's claim outlives its longest call (`extended`).
pub(super) fn breaker(env: &Env, extended: Duration) -> anyhow::Result<BreakerSettings> {
    let d = BreakerSettings::default();
    let failures = env.count_u32("LLM_BREAKER_FAILURES", d.failures.get(), 1, 1_000)?;
    Ok(BreakerSettings {
        failures: NonZeroU32::new(failures).unwrap_or(d.failures),
        window: env.millis("LLM_BREAKER_WINDOW_MS", d.window, 100, MAX_DAY_MS)?,
        cooldown: env.millis("LLM_BREAKER_COOLDOWN_MS", d.cooldown, 100, MAX_DAY_MS)?,
        probe_lease: DEFAULT_PROBE_LEASE.max(extended.saturating_mul(2)),
    })
}

/// The requests and tokens limits named `requests` and `tokens` (the primary's or the
/// fallback's), over the default window.
pub(super) fn limits_named(
    env: &Env,
    requests: &str,
    tokens: &str,
) -> anyhow::Result<ProviderLimits> {
    let limit = |name: &str| -> anyhow::Result<Option<NonZeroU32>> {
        if env.get(name).is_none() {
            return Ok(None);
        }
        let n = env.count_u32(name, 1, 1, u64::from(u32::MAX))?;
        Ok(NonZeroU32::new(n))
    };
    Ok(ProviderLimits {
        requests: limit(requests)?,
        tokens: limit(tokens)?,
        ..ProviderLimits::default()
    })
}

/// The fallback provider and the primary's circuit breaker (issue #22 item 3).
pub(super) fn routing(
    env: &Env,
    primary: Option<&ProviderConfig>,
    runtime: &RuntimeConfig,
) -> anyhow::Result<(Option<FallbackConfig>, BreakerSettings)> {
    let fallback = fallback(env, primary, runtime.provider_limits.window)?;
    let extended = primary.map_or(Duration::ZERO, |p| p.extended_timeout);
    Ok((fallback, breaker(env, extended)?))
}
