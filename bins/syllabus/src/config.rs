//! Configuration from the environment (SPEC section 4), read once at start-up into the
//! libraries' own settings types.
//!
//! Every variable is read here and nowhere else. Each library's `Default` is the single source of
//! its defaults; this module only reads what is set over them, and checks its range. A missing or
//! invalid value stops start-up with one line naming the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use syllabus_api::{KeySource, Limits, Settings};
use syllabus_domain::Secret;
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_domain::rate_limit::DEFAULT_WINDOW;
use syllabus_jobs::RuntimeConfig;
use syllabus_provider::schema::SchemaProfile;
use syllabus_provider::{DEFAULT_BASE_URL, ProviderConfig};
use syllabus_store::PoolOptions;
use syllabus_store::records::RateLimit;

use crate::app::{AuthConfig, Config, HttpConfig, WorkersConfig};
use crate::telemetry::LogFormat;

/// A snapshot of the process environment, so parsing is testable without touching it.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    /// The environment of this process.
    #[must_use]
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    /// An environment of these pairs (for tests).
    #[must_use]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Self(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    /// A set, non-blank value.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn require(&self, name: &str, what: &str) -> anyhow::Result<String> {
        match self.get(name) {
            Some(v) => Ok(v.to_owned()),
            None => bail!("{name} is not set: {what}"),
        }
    }

    fn millis(
        &self,
        name: &str,
        default: Duration,
        min: u64,
        max: u64,
    ) -> anyhow::Result<Duration> {
        Ok(Duration::from_millis(self.integer(
            name,
            as_millis(default),
            min,
            max,
        )?))
    }

    /// A duration in milliseconds where 0 means "no limit".
    fn optional_millis(
        &self,
        name: &str,
        default: Option<Duration>,
        max: u64,
    ) -> anyhow::Result<Option<Duration>> {
        let ms = self.integer(name, default.map_or(0, as_millis), 0, max)?;
        Ok((ms > 0).then(|| Duration::from_millis(ms)))
    }

    /// A whole number of hours.
    fn hours(&self, name: &str, default: Duration, max: u64) -> anyhow::Result<Duration> {
        let hours = self.integer(name, default.as_secs() / 3_600, 1, max)?;
        Ok(Duration::from_secs(3_600 * hours))
    }

    fn integer(&self, name: &str, default: u64, min: u64, max: u64) -> anyhow::Result<u64> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(n),
                _ if max == u64::MAX => {
                    bail!("{name} is invalid: expected an integer of at least {min}, got `{v}`")
                }
                _ => bail!("{name} is invalid: expected an integer from {min} to {max}, got `{v}`"),
            },
        }
    }

    fn count(&self, name: &str, default: usize, min: u64, max: u64) -> anyhow::Result<usize> {
        let default = u64::try_from(default).unwrap_or(u64::MAX);
        Ok(usize::try_from(self.integer(name, default, min, max)?).unwrap_or(usize::MAX))
    }

    fn count_u32(&self, name: &str, default: u32, min: u64, max: u64) -> anyhow::Result<u32> {
        Ok(u32::try_from(self.integer(name, u64::from(default), min, max)?).unwrap_or(u32::MAX))
    }

    fn boolean(&self, name: &str, default: bool) -> anyhow::Result<bool> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => bail!("{name} is invalid: expected `true` or `false`, got `{other}`"),
        }
    }
}

fn as_millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// Longest accepted generation deadline, backoff base and shutdown grace (1 h), and stale age
/// and prune interval (1 day), in milliseconds: far beyond any sensible setting, and small
/// enough that no `Instant`, `chrono` or PostgreSQL interval arithmetic on them can overflow.
const MAX_HOUR_MS: u64 = 3_600_000;
const MAX_DAY_MS: u64 = 86_400_000;
/// Longest retention, in hours (10 years).
const MAX_RETAIN_HOURS: u64 = 87_600;
/// Longest retention, in days (10 years).
const MAX_RETAIN_DAYS: u64 = 3_650;

impl LogFormat {
    /// `LOG_FORMAT`: `json` (default) or `pretty`.
    ///
    /// # Errors
    /// Any other value.
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        match env.get("LOG_FORMAT").unwrap_or("json") {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => bail!("LOG_FORMAT is invalid: expected `json` or `pretty`, got `{other}`"),
        }
    }
}

/// `DATABASE_URL`: required, a `postgres://` or `postgresql://` URL.
///
/// # Errors
/// When it is not set or not such a URL.
pub fn database_url(env: &Env) -> anyhow::Result<Secret> {
    let url = env.require(
        "DATABASE_URL",
        "set it to a PostgreSQL URL such as postgres://user@localhost/syllabus",
    )?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("DATABASE_URL is invalid: expected a postgres:// or postgresql:// URL");
    }
    Ok(Secret::new(url))
}

/// What `syllabus token` signs with: `AUTH_JWT_SECRET`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
#[derive(Debug, Clone)]
pub struct SigningConfig {
    /// The HS256 secret.
    pub jwt_secret: Secret,
    /// The `iss` claim.
    pub issuer: Option<String>,
    /// The `aud` claim.
    pub audience: Option<String>,
}

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
const MIN_SECRET_BYTES: usize = 32;

impl SigningConfig {
    /// Reads the signing settings.
    ///
    /// # Errors
    /// When `AUTH_JWT_SECRET` is missing or shorter than 32 bytes.
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let jwt_secret = env.require(
            "AUTH_JWT_SECRET",
            "set it to a random string of at least 32 bytes",
        )?;
        if jwt_secret.len() < MIN_SECRET_BYTES {
            bail!("AUTH_JWT_SECRET is invalid: it must be at least {MIN_SECRET_BYTES} bytes long");
        }
        Ok(Self {
            jwt_secret: Secret::new(jwt_secret),
            issuer: env.get("AUTH_ISSUER").map(str::to_owned),
            audience: env.get("AUTH_AUDIENCE").map(str::to_owned),
        })
    }
}

/// The refusal of a process that would run workers without a provider: they would spend every
/// generation attempt on a call that cannot be made. `api_only_hint` says how `serve` can start
/// without one.
#[must_use]
pub fn no_provider(api_only_hint: bool) -> String {
    format!(
        "OPENAI_BASE_URL and OPENAI_API_KEY are not set: workers need a language model provider \
         (OPENAI_API_KEY for OpenAI, OPENAI_BASE_URL for an OpenAI-compatible server such as \
         llama.cpp; scripts/run.sh starts a local one){}",
        if api_only_hint {
            ", or start `serve` with WORKERS=false for the API alone"
        } else {
            ""
        }
    )
}

/// The provider, when `OPENAI_API_KEY` or `OPENAI_BASE_URL` is set.
fn provider(env: &Env) -> anyhow::Result<Option<ProviderConfig>> {
    let defaults = ProviderConfig::default();
    let api_key = env.get("OPENAI_API_KEY").map(Secret::from);
    if api_key
        .as_ref()
        .is_some_and(|k| k.expose().chars().any(char::is_control))
    {
        // It becomes an HTTP header: a stray newline (a key read from a file) cannot be sent.
        bail!("OPENAI_API_KEY is invalid: it contains a control character (a trailing newline?)");
    }
    let base_url = env.get("OPENAI_BASE_URL").map(str::to_owned);
    if let Some(url) = &base_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        bail!("OPENAI_BASE_URL is invalid: expected an http:// or https:// URL");
    }
    let model = env.get("LLM_MODEL").map_or(defaults.model, str::to_owned);
    let timeout = env.millis("GENERATION_TIMEOUT_MS", defaults.timeout, 1, MAX_HOUR_MS)?;
    let extended_timeout = env.millis(
        "GENERATION_EXTENDED_TIMEOUT_MS",
        defaults.extended_timeout,
        1,
        MAX_HOUR_MS,
    )?;
    if extended_timeout < timeout {
        bail!(
            "GENERATION_EXTENDED_TIMEOUT_MS is invalid: it must not be shorter than GENERATION_TIMEOUT_MS"
        );
    }
    let max_tokens = match env.get("LLM_MAX_TOKENS") {
        None => defaults.max_tokens,
        Some(_) => Some(env.count_u32("LLM_MAX_TOKENS", 0, 16, 1_000_000)?),
    };
    let profile_setting = match env.get("LLM_SCHEMA_PROFILE") {
        None => None,
        Some(v) => Some(SchemaProfile::parse(v).ok_or_else(|| {
            anyhow::anyhow!("LLM_SCHEMA_PROFILE is invalid: expected `openai` or `full`, got `{v}`")
        })?),
    };
    if api_key.is_none() && base_url.is_none() {
        return Ok(None);
    }
    let base_url = base_url
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
        .trim_end_matches('/')
        .to_owned();
    Ok(Some(ProviderConfig {
        schema_profile: profile_setting.unwrap_or_else(|| SchemaProfile::for_base_url(&base_url)),
        base_url,
        api_key,
        model,
        timeout,
        extended_timeout,
        max_tokens,
    }))
}

/// The job runtime's settings; its worker id names this host (`HOSTNAME`) and process.
fn runtime(env: &Env) -> anyhow::Result<RuntimeConfig> {
    let d = RuntimeConfig::default();
    let host = env.get("HOSTNAME").unwrap_or("local");
    let attempt_retention_days = env.count_u32(
        "ATTEMPT_RETENTION_DAYS",
        d.attempt_retention_days,
        1,
        MAX_RETAIN_DAYS,
    )?;
    let aggregate_retention_days = env.count_u32(
        "USAGE_AGGREGATE_RETENTION_DAYS",
        d.aggregate_retention_days,
        1,
        MAX_RETAIN_DAYS,
    )?;
    if aggregate_retention_days < attempt_retention_days {
        bail!(
            "USAGE_AGGREGATE_RETENTION_DAYS is invalid: it must be at least ATTEMPT_RETENTION_DAYS ({attempt_retention_days}), or calls would be folded into aggregates already gone"
        );
    }
    Ok(RuntimeConfig {
        // Jobs wait on the network (a generation streams for 10–20 s), not on this CPU:
        // crates/syllabus-jobs/README.md, "In-flight scale".
        concurrency: env.count("WORKER_CONCURRENCY", d.concurrency, 1, 10_000)?,
        backoff_base: env.millis("JOB_BACKOFF_BASE_MS", d.backoff_base, 1, MAX_HOUR_MS)?,
        stale_after: env.millis("JOB_STALE_AFTER_MS", d.stale_after, 100, MAX_DAY_MS)?,
        shutdown_grace: env.millis("SHUTDOWN_GRACE_MS", d.shutdown_grace, 0, MAX_HOUR_MS)?,
        worker_id: format!("{host}:{}", std::process::id()),
        retain_completed: env.hours(
            "JOB_RETAIN_COMPLETED_HOURS",
            d.retain_completed,
            MAX_RETAIN_HOURS,
        )?,
        retain_failed: env.hours("JOB_RETAIN_FAILED_HOURS", d.retain_failed, MAX_RETAIN_HOURS)?,
        prune_every: env.millis("JOB_PRUNE_INTERVAL_MS", d.prune_every, 1_000, MAX_DAY_MS)?,
        prices: prices(env)?,
        attempt_retention_days,
        aggregate_retention_days,
        provider_limits: provider_limits(env)?,
        webhooks: webhooks::webhooks(env)?,
        ..d
    })
}

/// The provider's shared limits (issue #22): unset is unlimited; 0 is refused (it would stop
/// every call), as is anything not a whole number.
fn provider_limits(env: &Env) -> anyhow::Result<ProviderLimits> {
    let d = ProviderLimits::default();
    Ok(ProviderLimits {
        window: env.millis("LLM_LIMIT_WINDOW_MS", d.window, 100, MAX_HOUR_MS)?,
        ..fallback::limits_named(env, "LLM_REQUESTS_PER_MINUTE", "LLM_TOKENS_PER_MINUTE")?
    })
}

/// The pool: `DATABASE_POOL_SIZE` connections in all, with the lock and statement timeouts.
fn pool(env: &Env) -> anyhow::Result<PoolOptions> {
    let d = PoolOptions::default();
    Ok(PoolOptions {
        // Not the concurrency: thousands of in-flight jobs share a few connections (each holds
        // one only for a short read or write; heartbeats and claims are batched).
        max_size: env.count("DATABASE_POOL_SIZE", d.max_size, 2, 1_000)?,
        lock_timeout: env.optional_millis("DATABASE_LOCK_TIMEOUT_MS", d.lock_timeout, 600_000)?,
        statement_timeout: env.optional_millis(
            "DATABASE_STATEMENT_TIMEOUT_MS",
            d.statement_timeout,
            MAX_HOUR_MS,
        )?,
        ..d
    })
}

/// What one client may hold of the process; streams and waits end within `stop_within`.
fn limits(env: &Env, stop_within: Duration) -> anyhow::Result<Limits> {
    let d = Limits::default();
    Ok(Limits {
        max_connections: env.count("MAX_CONNECTIONS", d.max_connections, 1, 1_000_000)?,
        head_timeout: env.millis("REQUEST_HEAD_TIMEOUT_MS", d.head_timeout, 100, 600_000)?,
        keep_alive: env.optional_millis("KEEP_ALIVE_MS", d.keep_alive, 600_000)?,
        body_timeout: env.millis("REQUEST_BODY_TIMEOUT_MS", d.body_timeout, 100, 600_000)?,
        held_per_user: env.count("MAX_STREAMS_PER_USER", d.held_per_user, 1, 10_000)?,
        held_per_process: env.count("MAX_STREAMS", d.held_per_process, 1, 1_000_000)?,
        write_queue_timeout: env.millis(
            "WRITE_QUEUE_TIMEOUT_MS",
            d.write_queue_timeout,
            1,
            60_000,
        )?,
        stop_within,
    })
}

/// How tokens are verified: `AUTH_JWT_SECRET` or `AUTH_JWKS_URL` (one of them), `DEV_SIGN_IN`.
fn auth(env: &Env) -> anyhow::Result<AuthConfig> {
    let keys = match (env.get("AUTH_JWT_SECRET"), env.get("AUTH_JWKS_URL")) {
        (Some(_), Some(_)) => {
            bail!("AUTH_JWKS_URL is invalid: set either AUTH_JWT_SECRET or AUTH_JWKS_URL, not both")
        }
        (Some(_), None) => KeySource::Secret(
            SigningConfig::from_env(env)?
                .jwt_secret
                .expose()
                .as_bytes()
                .to_vec(),
        ),
        (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
            KeySource::Jwks(url.to_owned())
        }
        (None, Some(_)) => {
            bail!("AUTH_JWKS_URL is invalid: expected an http:// or https:// URL")
        }
        (None, None) => {
            bail!("AUTH_JWT_SECRET is not set: set it (at least 32 bytes) or AUTH_JWKS_URL")
        }
    };
    let dev_sign_in = env.boolean("DEV_SIGN_IN", false)?;
    if dev_sign_in && matches!(keys, KeySource::Jwks(_)) {
        bail!(
            "DEV_SIGN_IN is invalid: development sign-in mints HS256 tokens with AUTH_JWT_SECRET, which is not set (tokens are verified with AUTH_JWKS_URL); unset DEV_SIGN_IN or use AUTH_JWT_SECRET"
        );
    }
    Ok(AuthConfig {
        keys,
        issuer: env.get("AUTH_ISSUER").map(str::to_owned),
        audience: env.get("AUTH_AUDIENCE").map(str::to_owned),
        dev_sign_in,
    })
}

/// `BIND_ADDR` (default `127.0.0.1:8080`): where `serve` listens and `healthcheck` connects.
///
/// # Errors
/// When it is not `host:port`.
pub fn bind_addr(env: &Env) -> anyhow::Result<SocketAddr> {
    let bind = env.get("BIND_ADDR").unwrap_or("127.0.0.1:8080");
    bind.parse().map_err(|_| {
        anyhow::anyhow!(
            "BIND_ADDR is invalid: expected host:port such as 127.0.0.1:8080, got `{bind}`"
        )
    })
}

/// The API's limits and defaults.
/// The API's limits and defaults: the rate limit and runs per job (read by every process, as
/// they always were), and what one client may hold.
fn settings(env: &Env, limits: Limits) -> anyhow::Result<Settings> {
    let d = Settings::default();
    Ok(Settings {
        rate_limit: RateLimit {
            limit: env.count_u32("RATE_LIMIT_PER_HOUR", d.rate_limit.limit, 1, 1_000_000)?,
            window: DEFAULT_WINDOW,
            // Unset: no budget.
            monthly_token_budget: env
                .get("USER_MONTHLY_TOKEN_BUDGET")
                .map(|_| env.integer("USER_MONTHLY_TOKEN_BUDGET", 0, 1, u64::MAX))
                .transpose()?,
        },
        job_max_attempts: env.count_u32("JOB_MAX_ATTEMPTS", d.job_max_attempts, 1, 100)?,
        currency: currency(env, d.currency.clone())?,
        limits,
        // A week at most: a key is a retry's guard, not a record.
        idempotency_ttl: env.hours("IDEMPOTENCY_KEY_TTL_HOURS", d.idempotency_ttl, 168)?,
        webhooks_allow_loopback: webhooks::webhooks(env)?.allow_loopback,
        ..d
    })
}

/// The settings of `syllabus worker`: workers only, a provider required.
///
/// # Errors
/// One line naming the first variable that is missing or invalid.
pub fn worker(env: &Env) -> anyhow::Result<Config> {
    let base = base(env)?;
    let provider = provider(env)?;
    let runtime = runtime(env)?;
    let (fallback, breaker) = fallback::routing(env, provider.as_ref(), &runtime)?;
    // Read by every process (a worker does not use them): a value `serve` would refuse stops a
    // worker too, before the provider's absence is reported, as it always did.
    settings(env, Limits::default())?;
    let Some(provider) = provider else {
        bail!(no_provider(false));
    };
    Ok(Config {
        workers: Some(WorkersConfig {
            provider,
            fallback,
            breaker,
            runtime,
            ..WorkersConfig::default()
        }),
        ..base
    })
}

/// The settings of `syllabus serve`: the HTTP API, and the workers unless `WORKERS=false`.
///
/// # Errors
/// One line naming the first variable that is missing or invalid.
pub fn serve(env: &Env) -> anyhow::Result<Config> {
    let with_workers = env.boolean("WORKERS", true)?;
    let mut base = base(env)?;
    let provider = provider(env)?;
    let runtime = runtime(env)?;
    let (fallback, breaker) = fallback::routing(env, provider.as_ref(), &runtime)?;
    let settings = settings(env, Limits::default())?;
    if with_workers && provider.is_none() {
        bail!(no_provider(true));
    }
    let bind_addr = bind_addr(env)?;
    let auth = auth(env)?;
    let settings = Settings {
        limits: limits(env, runtime.shutdown_grace)?,
        ..settings
    };
    let total = base.pool.max_size;
    let worker_pool = env.count(
        "WORKER_POOL_SIZE",
        WorkersConfig::default_pool_size(total),
        1,
        999,
    )?;
    let workers = match provider {
        Some(provider) if with_workers => {
            // With workers, the runtime gets a pool of its own out of DATABASE_POOL_SIZE, so
            // that no HTTP load can take the connections its claims and heartbeats need.
            if worker_pool >= total {
                bail!(
                    "WORKER_POOL_SIZE is invalid: with workers it is taken out of DATABASE_POOL_SIZE ({total}), so it must be smaller"
                );
            }
            base.pool.max_size = total - worker_pool;
            Some(WorkersConfig {
                provider,
                fallback,
                breaker,
                runtime,
                pool_size: worker_pool,
            })
        }
        _ => None,
    };
    Ok(Config {
        http: Some(HttpConfig {
            bind_addr,
            auth,
            settings,
            http_workers: std::thread::available_parallelism().map_or(2, std::num::NonZero::get),
        }),
        workers,
        ..base
    })
}

/// What every process reads: the database, its pool, migrations.
fn base(env: &Env) -> anyhow::Result<Config> {
    let database_url = database_url(env)?;
    LogFormat::from_env(env)?;
    Ok(Config {
        database_url,
        run_migrations: env.boolean("RUN_MIGRATIONS", true)?,
        pool: pool(env)?,
        http: None,
        workers: None,
    })
}

mod fallback;
mod usage;
mod webhooks;

use usage::{currency, prices};

#[cfg(test)]
mod tests;
