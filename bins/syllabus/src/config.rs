//! Configuration from the environment (SPEC section 4), read once at start-up.
//!
//! Every variable is read here and nowhere else. A missing or invalid value stops start-up with
//! one line naming the variable.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::bail;
use syllabus_provider::schema::SchemaProfile;
use syllabus_provider::{DEFAULT_BASE_URL, DEFAULT_MODEL, ProviderConfig};

/// A snapshot of the process environment, so parsing is testable without touching it.
#[derive(Debug, Clone, Default)]
pub struct Env(HashMap<String, String>);

impl Env {
    pub fn from_process() -> Self {
        Self(std::env::vars().collect())
    }

    #[cfg(test)]
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
}

/// `LOG_FORMAT`: `json` (default) or `pretty`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Pretty,
}

impl LogFormat {
    fn from_env(env: &Env) -> anyhow::Result<Self> {
        match env.get("LOG_FORMAT").unwrap_or("json") {
            "json" => Ok(Self::Json),
            "pretty" => Ok(Self::Pretty),
            other => bail!("LOG_FORMAT is invalid: expected `json` or `pretty`, got `{other}`"),
        }
    }
}

/// What `syllabus migrate` needs.
#[derive(Debug, Clone)]
pub struct MigrateConfig {
    pub database_url: String,
    pub log_format: LogFormat,
}

impl MigrateConfig {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        Ok(Self {
            database_url: database_url(env)?,
            log_format: LogFormat::from_env(env)?,
        })
    }
}

fn database_url(env: &Env) -> anyhow::Result<String> {
    let url = env.require(
        "DATABASE_URL",
        "set it to a PostgreSQL URL such as postgres://user@localhost/syllabus",
    )?;
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        bail!("DATABASE_URL is invalid: expected a postgres:// or postgresql:// URL");
    }
    Ok(url)
}

/// Token settings: `AUTH_JWT_SECRET`, `AUTH_ISSUER`, `AUTH_AUDIENCE`.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: String,
    pub issuer: Option<String>,
    pub audience: Option<String>,
}

/// Shortest HS256 secret accepted, in bytes (RFC 7518 §3.2: at least the hash size).
const MIN_SECRET_BYTES: usize = 32;

impl AuthConfig {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let jwt_secret = env.require(
            "AUTH_JWT_SECRET",
            "set it to a random string of at least 32 bytes",
        )?;
        if jwt_secret.len() < MIN_SECRET_BYTES {
            bail!("AUTH_JWT_SECRET is invalid: it must be at least {MIN_SECRET_BYTES} bytes long");
        }
        Ok(Self {
            jwt_secret,
            issuer: env.get("AUTH_ISSUER").map(str::to_owned),
            audience: env.get("AUTH_AUDIENCE").map(str::to_owned),
        })
    }
}

/// Longest accepted generation deadline, backoff base and shutdown grace (1 h), and stale age
/// and prune interval (1 day), in milliseconds: far beyond any sensible setting, and small
/// enough that no `Instant`, `chrono` or PostgreSQL interval arithmetic on them can overflow.
const MAX_HOUR_MS: u64 = 3_600_000;
const MAX_DAY_MS: u64 = 86_400_000;
/// `WORKER_CONCURRENCY`'s default: sized for I/O-bound jobs (docs/architecture.md).
const DEFAULT_CONCURRENCY: u64 = 256;

impl Env {
    fn millis(&self, name: &str, default: u64, min: u64, max: u64) -> anyhow::Result<Duration> {
        Ok(Duration::from_millis(
            self.integer(name, default, min, max)?,
        ))
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

    fn boolean(&self, name: &str, default: bool) -> anyhow::Result<bool> {
        match self.get(name).map(str::to_ascii_lowercase).as_deref() {
            None => Ok(default),
            Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => bail!("{name} is invalid: expected `true` or `false`, got `{other}`"),
        }
    }
}

/// A duration in milliseconds where 0 means "no limit".
fn optional_millis(
    env: &Env,
    name: &str,
    default: u64,
    max: u64,
) -> anyhow::Result<Option<Duration>> {
    let ms = env.integer(name, default, 0, max)?;
    Ok((ms > 0).then(|| Duration::from_millis(ms)))
}

/// How tokens are verified by `serve`.
#[derive(Debug, Clone)]
pub enum AuthSource {
    Secret(String),
    Jwks(String),
}

/// Settings shared by `serve` and `worker`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub database_url: String,
    pub log_format: LogFormat,
    pub run_migrations: bool,
    /// `None` when neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` is set.
    pub provider: Option<ProviderConfig>,
    pub job_max_attempts: u32,
    pub backoff_base: Duration,
    pub stale_after: Duration,
    pub shutdown_grace: Duration,
    pub concurrency: usize,
    pub pool_size: usize,
    /// `DATABASE_LOCK_TIMEOUT_MS` (0: none): a statement waiting longer for a lock fails.
    pub lock_timeout: Option<Duration>,
    /// `DATABASE_STATEMENT_TIMEOUT_MS` (0: none): a statement running longer is cancelled.
    pub statement_timeout: Option<Duration>,
    pub rate_limit: u32,
    pub retain_completed: Duration,
    pub retain_failed: Duration,
    pub prune_every: Duration,
}

/// The refusal of a process that would run workers without a provider: they would spend every
/// generation attempt on a call that cannot be made. `api_only_hint` says how `serve` can start
/// without one.
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

impl RunConfig {
    /// The settings of `syllabus worker`: a provider is required.
    pub fn for_workers(env: &Env) -> anyhow::Result<Self> {
        Self::with_provider(env, false)
    }

    fn with_provider(env: &Env, api_only_hint: bool) -> anyhow::Result<Self> {
        let cfg = Self::from_env(env)?;
        if cfg.provider.is_none() {
            bail!(no_provider(api_only_hint));
        }
        Ok(cfg)
    }

    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let database_url = database_url(env)?;
        let log_format = LogFormat::from_env(env)?;
        let api_key = env.get("OPENAI_API_KEY").map(str::to_owned);
        let base_url = env.get("OPENAI_BASE_URL").map(str::to_owned);
        if let Some(url) = &base_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            bail!("OPENAI_BASE_URL is invalid: expected an http:// or https:// URL");
        }
        let model = env.get("LLM_MODEL").unwrap_or(DEFAULT_MODEL).to_owned();
        let timeout = env.millis("GENERATION_TIMEOUT_MS", 10_000, 1, MAX_HOUR_MS)?;
        let extended_timeout =
            env.millis("GENERATION_EXTENDED_TIMEOUT_MS", 20_000, 1, MAX_HOUR_MS)?;
        if extended_timeout < timeout {
            bail!(
                "GENERATION_EXTENDED_TIMEOUT_MS is invalid: it must not be shorter than GENERATION_TIMEOUT_MS"
            );
        }
        let max_tokens = match env.get("LLM_MAX_TOKENS") {
            None => None,
            Some(_) => Some(
                u32::try_from(env.integer("LLM_MAX_TOKENS", 0, 16, 1_000_000)?).unwrap_or(u32::MAX),
            ),
        };
        let profile_setting = match env.get("LLM_SCHEMA_PROFILE") {
            None => None,
            Some(v) => Some(SchemaProfile::parse(v).ok_or_else(|| {
                anyhow::anyhow!(
                    "LLM_SCHEMA_PROFILE is invalid: expected `openai` or `full`, got `{v}`"
                )
            })?),
        };
        let provider = (api_key.is_some() || base_url.is_some()).then(|| {
            let base_url = base_url
                .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
                .trim_end_matches('/')
                .to_owned();
            ProviderConfig {
                schema_profile: profile_setting
                    .unwrap_or_else(|| SchemaProfile::for_base_url(&base_url)),
                base_url,
                api_key,
                model,
                timeout,
                extended_timeout,
                max_tokens,
            }
        });
        let integer_u32 = |name, default, min, max| -> anyhow::Result<u32> {
            Ok(u32::try_from(env.integer(name, default, min, max)?).unwrap_or(u32::MAX))
        };
        let integer_usize = |name, default, min, max| -> anyhow::Result<usize> {
            Ok(usize::try_from(env.integer(name, default, min, max)?).unwrap_or(usize::MAX))
        };
        Ok(Self {
            database_url,
            log_format,
            run_migrations: env.boolean("RUN_MIGRATIONS", true)?,
            provider,
            job_max_attempts: integer_u32("JOB_MAX_ATTEMPTS", 3, 1, 100)?,
            backoff_base: env.millis("JOB_BACKOFF_BASE_MS", 1_000, 1, MAX_HOUR_MS)?,
            stale_after: env.millis("JOB_STALE_AFTER_MS", 300_000, 100, MAX_DAY_MS)?,
            shutdown_grace: env.millis("SHUTDOWN_GRACE_MS", 8_000, 0, MAX_HOUR_MS)?,
            // Jobs wait on the network (a generation streams for 10–20 s), not on this CPU:
            // docs/architecture.md, "In-flight scale".
            concurrency: integer_usize("WORKER_CONCURRENCY", DEFAULT_CONCURRENCY, 1, 10_000)?,
            // Independent of the concurrency: runs hold a connection only for their short
            // reads and finishing writes, heartbeats and claims are batched.
            pool_size: integer_usize("DATABASE_POOL_SIZE", 32, 2, 1_000)?,
            lock_timeout: optional_millis(env, "DATABASE_LOCK_TIMEOUT_MS", 2_000, 600_000)?,
            statement_timeout: optional_millis(
                env,
                "DATABASE_STATEMENT_TIMEOUT_MS",
                30_000,
                MAX_HOUR_MS,
            )?,
            rate_limit: integer_u32("RATE_LIMIT_PER_HOUR", 20, 1, 1_000_000)?,
            retain_completed: Duration::from_secs(
                3_600 * env.integer("JOB_RETAIN_COMPLETED_HOURS", 24, 1, 87_600)?,
            ),
            retain_failed: Duration::from_secs(
                3_600 * env.integer("JOB_RETAIN_FAILED_HOURS", 168, 1, 87_600)?,
            ),
            prune_every: env.millis("JOB_PRUNE_INTERVAL_MS", 600_000, 1_000, MAX_DAY_MS)?,
        })
    }
}

/// What `serve` needs beyond [`RunConfig`].
#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub run: RunConfig,
    pub bind_addr: SocketAddr,
    pub workers: bool,
    pub auth: AuthSource,
    pub issuer: Option<String>,
    pub audience: Option<String>,
    /// `DEV_SIGN_IN`: `POST /api/v1/session/dev` mints a token for any name. Off by default;
    /// needs `AUTH_JWT_SECRET` (it signs with it).
    pub dev_sign_in: bool,
    /// What one client may hold of the process (connections, deadlines, streams, waits).
    pub limits: syllabus_api::Limits,
    /// `WORKER_POOL_SIZE`: with workers, the job runtime's own connections, out of
    /// `DATABASE_POOL_SIZE` (the API keeps the rest), so no HTTP load can starve its claims
    /// and heartbeats.
    pub worker_pool_size: usize,
}

impl ServeConfig {
    pub fn from_env(env: &Env) -> anyhow::Result<Self> {
        let workers = env.boolean("WORKERS", true)?;
        let run = if workers {
            RunConfig::with_provider(env, true)?
        } else {
            RunConfig::from_env(env)?
        };
        let bind_addr = bind_addr(env)?;
        let auth = match (env.get("AUTH_JWT_SECRET"), env.get("AUTH_JWKS_URL")) {
            (Some(_), Some(_)) => bail!(
                "AUTH_JWKS_URL is invalid: set either AUTH_JWT_SECRET or AUTH_JWKS_URL, not both"
            ),
            (Some(_), None) => AuthSource::Secret(AuthConfig::from_env(env)?.jwt_secret),
            (None, Some(url)) if url.starts_with("http://") || url.starts_with("https://") => {
                AuthSource::Jwks(url.to_owned())
            }
            (None, Some(_)) => {
                bail!("AUTH_JWKS_URL is invalid: expected an http:// or https:// URL")
            }
            (None, None) => {
                bail!("AUTH_JWT_SECRET is not set: set it (at least 32 bytes) or AUTH_JWKS_URL")
            }
        };
        let dev_sign_in = env.boolean("DEV_SIGN_IN", false)?;
        if dev_sign_in && matches!(auth, AuthSource::Jwks(_)) {
            bail!(
                "DEV_SIGN_IN is invalid: development sign-in mints HS256 tokens with AUTH_JWT_SECRET, which is not set (tokens are verified with AUTH_JWKS_URL); unset DEV_SIGN_IN or use AUTH_JWT_SECRET"
            );
        }
        let defaults = syllabus_api::Limits::default();
        let count = |name, default: usize, min, max| -> anyhow::Result<usize> {
            Ok(usize::try_from(env.integer(name, default as u64, min, max)?).unwrap_or(usize::MAX))
        };
        let limits = syllabus_api::Limits {
            max_connections: count("MAX_CONNECTIONS", defaults.max_connections, 1, 1_000_000)?,
            head_timeout: env.millis("REQUEST_HEAD_TIMEOUT_MS", 5_000, 100, 600_000)?,
            keep_alive: optional_millis(env, "KEEP_ALIVE_MS", 0, 600_000)?,
            body_timeout: env.millis("REQUEST_BODY_TIMEOUT_MS", 10_000, 100, 600_000)?,
            held_per_user: count("MAX_STREAMS_PER_USER", defaults.held_per_user, 1, 10_000)?,
            held_per_process: count("MAX_STREAMS", defaults.held_per_process, 1, 1_000_000)?,
            write_queue_timeout: env.millis("WRITE_QUEUE_TIMEOUT_MS", 5_000, 1, 60_000)?,
            stop_within: run.shutdown_grace,
        };
        // A quarter of the pool, 1 to 8, unless set: every DATABASE_POOL_SIZE from 2 up works.
        let worker_pool_size = count("WORKER_POOL_SIZE", (run.pool_size / 4).clamp(1, 8), 1, 999)?;
        if workers && worker_pool_size >= run.pool_size {
            bail!(
                "WORKER_POOL_SIZE is invalid: with workers it is taken out of DATABASE_POOL_SIZE ({}), so it must be smaller",
                run.pool_size
            );
        }
        Ok(Self {
            run,
            bind_addr,
            workers,
            auth,
            dev_sign_in,
            limits,
            worker_pool_size,
            issuer: env.get("AUTH_ISSUER").map(str::to_owned),
            audience: env.get("AUTH_AUDIENCE").map(str::to_owned),
        })
    }
}

/// `BIND_ADDR` (default `127.0.0.1:8080`): where `serve` listens and `healthcheck` connects.
pub fn bind_addr(env: &Env) -> anyhow::Result<SocketAddr> {
    let bind = env.get("BIND_ADDR").unwrap_or("127.0.0.1:8080");
    bind.parse().map_err(|_| {
        anyhow::anyhow!(
            "BIND_ADDR is invalid: expected host:port such as 127.0.0.1:8080, got `{bind}`"
        )
    })
}

/// Installs the global tracing subscriber; the level comes from `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Pretty => builder.pretty().try_init(),
    };
    // A panic's message can quote the data being handled (a slicing panic quotes its string),
    // and the model's output stays out of logs (SPEC section 2): log where, never what.
    std::panic::set_hook(Box::new(|info| {
        let location = info
            .location()
            .map(|l| format!("{}:{}", l.file(), l.line()))
            .unwrap_or_default();
        tracing::error!(panic.location = %location, "panic (message withheld)");
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    const DB: (&str, &str) = ("DATABASE_URL", "postgres://localhost/x");
    const SECRET: (&str, &str) = ("AUTH_JWT_SECRET", "0123456789abcdef0123456789abcdef");
    const KEY: (&str, &str) = ("OPENAI_API_KEY", "sk-test");

    #[test]
    fn serve_defaults_follow_the_spec() {
        let cfg = ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, KEY])).unwrap();
        assert_eq!(cfg.bind_addr.to_string(), "127.0.0.1:8080");
        assert!(cfg.workers && cfg.run.run_migrations);
        let provider = cfg.run.provider.as_ref().unwrap();
        assert_eq!(provider.base_url, "https://api.openai.com/v1");
        assert_eq!(provider.schema_profile, SchemaProfile::OpenAi);
        assert_eq!(provider.max_tokens, None, "derived from each schema");
        assert_eq!(cfg.run.concurrency, 256);
        assert_eq!(cfg.run.pool_size, 32);
        assert_eq!(cfg.run.rate_limit, 20);
        assert_eq!(cfg.run.job_max_attempts, 3);
        assert_eq!(cfg.run.backoff_base, Duration::from_secs(1));
        assert_eq!(cfg.run.stale_after, Duration::from_secs(300));
        assert_eq!(provider.model, "gpt-4o-mini");
        assert_eq!(cfg.run.retain_completed, Duration::from_secs(24 * 3_600));
        assert_eq!(cfg.run.retain_failed, Duration::from_secs(7 * 24 * 3_600));
        assert_eq!(cfg.run.lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(cfg.run.statement_timeout, Some(Duration::from_secs(30)));
        assert_eq!(
            cfg.limits,
            syllabus_api::Limits {
                stop_within: cfg.run.shutdown_grace,
                ..syllabus_api::Limits::default()
            }
        );
        assert_eq!(cfg.limits.keep_alive, None, "closed after each response");
        assert_eq!(cfg.limits.max_connections, 4_096);
        assert_eq!(cfg.limits.body_timeout, Duration::from_secs(10));
        assert_eq!(cfg.limits.held_per_user, 8);
        assert_eq!(cfg.worker_pool_size, 8);
    }

    #[test]
    fn connection_and_database_limits_can_be_set_and_zero_turns_timeouts_off() {
        let cfg = ServeConfig::from_env(&Env::from_pairs(&[
            DB,
            SECRET,
            KEY,
            ("MAX_CONNECTIONS", "100"),
            ("REQUEST_BODY_TIMEOUT_MS", "250"),
            ("MAX_STREAMS_PER_USER", "2"),
            ("DATABASE_LOCK_TIMEOUT_MS", "0"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "1500"),
            ("WORKER_POOL_SIZE", "4"),
        ]))
        .unwrap();
        assert_eq!(cfg.limits.max_connections, 100);
        assert_eq!(cfg.limits.body_timeout, Duration::from_millis(250));
        assert_eq!(cfg.limits.held_per_user, 2);
        assert_eq!(cfg.run.lock_timeout, None);
        assert_eq!(
            cfg.run.statement_timeout,
            Some(Duration::from_millis(1_500))
        );
        assert_eq!(cfg.worker_pool_size, 4);
        let err = ServeConfig::from_env(&Env::from_pairs(&[
            DB,
            SECRET,
            KEY,
            ("DATABASE_POOL_SIZE", "8"),
            ("WORKER_POOL_SIZE", "8"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("WORKER_POOL_SIZE is invalid"), "{err}");
        // Unset, it fits any pool: a quarter, 1 to 8.
        for (pool, expected) in [("2", 1), ("10", 2), ("32", 8), ("200", 8)] {
            let cfg = ServeConfig::from_env(&Env::from_pairs(&[
                DB,
                SECRET,
                KEY,
                ("DATABASE_POOL_SIZE", pool),
            ]))
            .unwrap();
            assert_eq!(cfg.worker_pool_size, expected, "pool {pool}");
        }
    }

    #[test]
    fn a_base_url_alone_configures_a_provider() {
        let env = Env::from_pairs(&[DB, SECRET, ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")]);
        let p = ServeConfig::from_env(&env).unwrap().run.provider.unwrap();
        assert_eq!(p.base_url, "http://127.0.0.1:9/v1");
        assert_eq!(p.api_key, None);
        assert_eq!(p.timeout, Duration::from_secs(10));
        assert_eq!(p.extended_timeout, Duration::from_secs(20));
        assert_eq!(p.schema_profile, SchemaProfile::Full, "a local server");
    }

    #[test]
    fn the_schema_profile_and_token_budget_can_be_set() {
        let env = Env::from_pairs(&[
            DB,
            SECRET,
            ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
            ("LLM_SCHEMA_PROFILE", "openai"),
            ("LLM_MAX_TOKENS", "900"),
        ]);
        let p = ServeConfig::from_env(&env).unwrap().run.provider.unwrap();
        assert_eq!(p.schema_profile, SchemaProfile::OpenAi);
        assert_eq!(p.max_tokens, Some(900));
    }

    #[test]
    fn workers_without_a_provider_refuse_to_start_with_one_line() {
        for env in [
            Env::from_pairs(&[DB, SECRET]),
            Env::from_pairs(&[DB, SECRET, ("WORKERS", "true")]),
        ] {
            let err = ServeConfig::from_env(&env).unwrap_err().to_string();
            assert!(
                err.contains("OPENAI_BASE_URL") && err.contains("OPENAI_API_KEY"),
                "{err}"
            );
            assert!(!err.contains('\n'), "{err}");
            assert!(err.contains("WORKERS=false"), "{err}");
        }
        let err = RunConfig::for_workers(&Env::from_pairs(&[DB])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("OPENAI_BASE_URL and OPENAI_API_KEY are not set")
        );
        let api_only =
            ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, ("WORKERS", "false")])).unwrap();
        assert!(!api_only.workers && api_only.run.provider.is_none());
        assert!(RunConfig::for_workers(&Env::from_pairs(&[DB, KEY])).is_ok());
    }

    #[test]
    fn invalid_numbers_and_flags_name_their_variable() {
        for (name, value) in [
            ("WORKER_CONCURRENCY", "0"),
            ("WORKER_CONCURRENCY", "many"),
            ("WORKER_CONCURRENCY", "10001"),
            ("DATABASE_POOL_SIZE", "1"),
            ("DATABASE_POOL_SIZE", "lots"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_STREAMS_PER_USER", "0"),
            ("MAX_STREAMS", "x"),
            ("REQUEST_HEAD_TIMEOUT_MS", "10"),
            ("REQUEST_BODY_TIMEOUT_MS", "999999999"),
            ("WRITE_QUEUE_TIMEOUT_MS", "0"),
            ("DATABASE_LOCK_TIMEOUT_MS", "-1"),
            ("DATABASE_STATEMENT_TIMEOUT_MS", "soon"),
            ("WORKER_POOL_SIZE", "0"),
            ("JOB_STALE_AFTER_MS", "-5"),
            ("WORKERS", "maybe"),
            ("RUN_MIGRATIONS", "perhaps"),
            ("DEV_SIGN_IN", "sometimes"),
            ("BIND_ADDR", "localhost"),
            ("GENERATION_TIMEOUT_MS", "abc"),
            ("RATE_LIMIT_PER_HOUR", "0"),
            ("JOB_RETAIN_FAILED_HOURS", "0"),
            ("JOB_PRUNE_INTERVAL_MS", "10"),
            ("LLM_MAX_TOKENS", "0"),
            ("LLM_MAX_TOKENS", "lots"),
            ("LLM_SCHEMA_PROFILE", "strict"),
        ] {
            let err = ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, KEY, (name, value)]))
                .unwrap_err();
            assert!(
                err.to_string().starts_with(&format!("{name} is invalid")),
                "{name}={value}: {err}"
            );
        }
    }

    #[test]
    fn out_of_range_durations_stop_start_up_with_one_line_naming_the_range() {
        let huge = "18446744073709551615";
        for (name, value, range) in [
            ("GENERATION_TIMEOUT_MS", huge, "from 1 to 3600000"),
            ("GENERATION_TIMEOUT_MS", "3600001", "from 1 to 3600000"),
            ("GENERATION_EXTENDED_TIMEOUT_MS", huge, "from 1 to 3600000"),
            ("JOB_BACKOFF_BASE_MS", huge, "from 1 to 3600000"),
            ("JOB_BACKOFF_BASE_MS", "99999999999999", "from 1 to 3600000"),
            ("JOB_STALE_AFTER_MS", huge, "from 100 to 86400000"),
            ("SHUTDOWN_GRACE_MS", huge, "from 0 to 3600000"),
            ("JOB_PRUNE_INTERVAL_MS", huge, "from 1000 to 86400000"),
            ("JOB_RETAIN_COMPLETED_HOURS", huge, "from 1 to 87600"),
        ] {
            let err = ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, KEY, (name, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("{name} is invalid")), "{err}");
            assert!(err.contains(range), "{name}={value}: {err}");
            assert!(!err.contains('\n'), "{err}");
        }
        // The largest accepted values parse.
        let cfg = ServeConfig::from_env(&Env::from_pairs(&[
            DB,
            SECRET,
            KEY,
            ("GENERATION_TIMEOUT_MS", "3600000"),
            ("GENERATION_EXTENDED_TIMEOUT_MS", "3600000"),
            ("JOB_BACKOFF_BASE_MS", "3600000"),
            ("JOB_STALE_AFTER_MS", "86400000"),
            ("SHUTDOWN_GRACE_MS", "3600000"),
            ("JOB_PRUNE_INTERVAL_MS", "86400000"),
        ]))
        .unwrap();
        assert_eq!(cfg.run.backoff_base, Duration::from_secs(3_600));
        assert_eq!(cfg.run.stale_after, Duration::from_secs(86_400));
    }

    #[test]
    fn serve_needs_one_way_to_verify_tokens() {
        let err = ServeConfig::from_env(&Env::from_pairs(&[DB, KEY])).unwrap_err();
        assert!(
            err.to_string().starts_with("AUTH_JWT_SECRET is not set"),
            "{err}"
        );
        let jwks = ("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks.json");
        assert!(matches!(
            ServeConfig::from_env(&Env::from_pairs(&[DB, KEY, jwks]))
                .unwrap()
                .auth,
            AuthSource::Jwks(_)
        ));
        assert!(ServeConfig::from_env(&Env::from_pairs(&[DB, KEY, SECRET, jwks])).is_err());
    }

    #[test]
    fn development_sign_in_is_off_unless_asked_for() {
        let cfg = ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, KEY])).unwrap();
        assert!(!cfg.dev_sign_in);
        for (value, on) in [
            ("true", true),
            ("1", true),
            ("YES", true),
            ("false", false),
            ("0", false),
            ("", false),
        ] {
            let cfg =
                ServeConfig::from_env(&Env::from_pairs(&[DB, SECRET, KEY, ("DEV_SIGN_IN", value)]))
                    .unwrap();
            assert_eq!(cfg.dev_sign_in, on, "DEV_SIGN_IN={value}");
        }
    }

    #[test]
    fn development_sign_in_needs_the_secret_and_is_refused_with_jwks_only() {
        let jwks = ("AUTH_JWKS_URL", "http://127.0.0.1:1/jwks.json");
        let err =
            ServeConfig::from_env(&Env::from_pairs(&[DB, KEY, jwks, ("DEV_SIGN_IN", "true")]))
                .unwrap_err()
                .to_string();
        assert!(err.starts_with("DEV_SIGN_IN is invalid"), "{err}");
        assert!(
            err.contains("AUTH_JWT_SECRET") && err.contains("AUTH_JWKS_URL"),
            "{err}"
        );
        assert!(!err.contains('\n'), "{err}");
        // Off, JWKS alone is fine; without any key source the usual refusal comes first.
        assert!(
            ServeConfig::from_env(&Env::from_pairs(&[DB, KEY, jwks, ("DEV_SIGN_IN", "false")]))
                .is_ok()
        );
        let err = ServeConfig::from_env(&Env::from_pairs(&[DB, KEY, ("DEV_SIGN_IN", "true")]))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("AUTH_JWT_SECRET is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_missing_database_url_names_the_variable() {
        let err = MigrateConfig::from_env(&Env::default()).unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is not set"),
            "{err}"
        );
    }

    #[test]
    fn a_non_postgres_database_url_is_refused() {
        let err = MigrateConfig::from_env(&Env::from_pairs(&[("DATABASE_URL", "mysql://x")]))
            .unwrap_err();
        assert!(
            err.to_string().starts_with("DATABASE_URL is invalid"),
            "{err}"
        );
    }

    #[test]
    fn an_unknown_log_format_names_the_variable() {
        let env = Env::from_pairs(&[
            ("DATABASE_URL", "postgres://localhost/x"),
            ("LOG_FORMAT", "xml"),
        ]);
        let err = MigrateConfig::from_env(&env).unwrap_err();
        assert!(
            err.to_string().starts_with("LOG_FORMAT is invalid"),
            "{err}"
        );
    }

    #[test]
    fn a_short_jwt_secret_is_refused() {
        let err =
            AuthConfig::from_env(&Env::from_pairs(&[("AUTH_JWT_SECRET", "short")])).unwrap_err();
        assert!(
            err.to_string().starts_with("AUTH_JWT_SECRET is invalid"),
            "{err}"
        );
        assert!(
            AuthConfig::from_env(&Env::default())
                .unwrap_err()
                .to_string()
                .starts_with("AUTH_JWT_SECRET is not set")
        );
    }
}
