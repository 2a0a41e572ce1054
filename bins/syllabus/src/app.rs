//! The application wired once: [`Application::build`] connects the store, checks and migrates
//! the database, binds the HTTP listener and builds the job runtime from a [`Config`];
//! [`Application::run_until_stopped`] runs them until a shutdown future resolves, then stops them
//! in order. `syllabus serve`, `syllabus worker` and the end-to-end test harness all go through
//! here; only the way they fill the [`Config`] differs.

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use syllabus_api::{AppState, Authenticator, Gates, KeySource, Server, ServerHandle, Settings};
use syllabus_domain::Secret;
use syllabus_domain::breaker::BreakerSettings;
use syllabus_domain::provider_limits::ProviderLimits;
use syllabus_jobs::{Fallback, Runtime, RuntimeConfig, Shutdown};
use syllabus_provider::{OpenAiProvider, ProviderConfig};
use syllabus_store::{Database, JobEvents, PoolOptions};

/// Everything a process runs, with each library's own settings type.
#[derive(Debug, Clone)]
pub struct Config {
    /// The PostgreSQL URL (it may carry a password).
    pub database_url: Secret,
    /// Apply pending migrations at start-up (`RUN_MIGRATIONS`).
    pub run_migrations: bool,
    /// The pool of the HTTP API, or of the whole process when it serves no HTTP.
    pub pool: PoolOptions,
    /// The HTTP API; `None` for a worker-only process.
    pub http: Option<HttpConfig>,
    /// The job workers; `None` for an API-only process.
    pub workers: Option<WorkersConfig>,
}

/// The HTTP API's settings.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Where to listen (`BIND_ADDR`); port 0 picks a free one ([`Application::local_addr`]).
    pub bind_addr: SocketAddr,
    /// How tokens are verified.
    pub auth: AuthConfig,
    /// Limits and defaults the handlers apply.
    pub settings: Settings,
    /// HTTP worker threads.
    pub http_workers: usize,
}

/// How `serve` verifies tokens.
#[derive(Debug, Clone)]
pub struct AuthConfig {
    /// Where verification keys come from.
    pub keys: KeySource,
    /// `AUTH_ISSUER`: the required `iss`.
    pub issuer: Option<String>,
    /// `AUTH_AUDIENCE`: the required `aud`.
    pub audience: Option<String>,
    /// `DEV_SIGN_IN`: `POST /api/v1/session/dev` mints a token for any name (needs a secret).
    pub dev_sign_in: bool,
}

/// The fallback provider (issue #22 item 3): `LLM_FALLBACK_BASE_URL`, `LLM_FALLBACK_API_KEY`,
/// `LLM_FALLBACK_MODEL` and its own shared limits.
#[derive(Debug, Clone)]
pub struct FallbackConfig {
    /// How to reach it (the primary's deadlines and budget).
    pub provider: ProviderConfig,
    /// Its shared limits (`LLM_FALLBACK_REQUESTS_PER_MINUTE`, `LLM_FALLBACK_TOKENS_PER_MINUTE`).
    pub limits: ProviderLimits,
}

/// The job workers' settings.
#[derive(Debug, Clone)]
pub struct WorkersConfig {
    /// The language model provider.
    pub provider: ProviderConfig,
    /// The fallback provider the primary's circuit breaker sends calls to while it is open.
    pub fallback: Option<FallbackConfig>,
    /// The primary's circuit breaker (`LLM_BREAKER_FAILURES`, `LLM_BREAKER_WINDOW_MS`,
    /// `LLM_BREAKER_COOLDOWN_MS`).
    pub breaker: BreakerSettings,
    /// The runtime: concurrency, backoff, leases, retention.
    pub runtime: RuntimeConfig,
    /// With the HTTP API in the same process: the runtime's own connections
    /// (`WORKER_POOL_SIZE`), beside [`Config::pool`], so no HTTP load can starve its claims and
    /// heartbeats. Without it the runtime uses [`Config::pool`].
    pub pool_size: usize,
}

impl WorkersConfig {
    /// The default runtime pool beside an API pool of `total` connections: a quarter, 1 to 8.
    #[must_use]
    pub fn default_pool_size(total: usize) -> usize {
        (total / 4).clamp(1, 8)
    }
}

impl Default for WorkersConfig {
    fn default() -> Self {
        Self {
            provider: ProviderConfig::default(),
            fallback: None,
            breaker: BreakerSettings::default(),
            runtime: RuntimeConfig::default(),
            pool_size: Self::default_pool_size(PoolOptions::default().max_size),
        }
    }
}

/// A built process: the store reached and checked, migrations applied, the listener bound.
pub struct Application {
    store: Database,
    events: JobEvents,
    http: Option<Http>,
    runtime: Option<Runtime<Database, OpenAiProvider>>,
}

struct Http {
    addr: SocketAddr,
    server: Server,
    handle: ServerHandle,
    gates: Arc<Gates>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("local_addr", &self.local_addr())
            .field("workers", &self.runtime.is_some())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects to the database (refusing a role that bypasses row-level security), applies
    /// migrations when asked, raises the open-file limit, binds the listener and builds the job
    /// runtime. Nothing runs until [`Application::run_until_stopped`].
    ///
    /// # Errors
    /// One line naming what is wrong: the address cannot be bound, the database cannot be
    /// reached or its role bypasses row-level security, a migration failed, the provider's
    /// client cannot be built.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let listener = match &config.http {
            Some(http) => Some(
                TcpListener::bind(http.bind_addr)
                    .with_context(|| format!("cannot listen on BIND_ADDR {}", http.bind_addr))?,
            ),
            None => None,
        };
        let url = config.database_url.expose();
        let store = Database::connect(url, config.pool)?;
        store.ping().await.context("cannot reach the database")?;
        // Ownership is enforced by row-level security: a role it does not bind would serve every
        // user's plans to every user. Checked before anything is written (migrations included).
        if let Some(role) = store
            .role_bypassing_row_security()
            .await
            .context("cannot read the database role")?
        {
            anyhow::bail!(
                "DATABASE_URL connects as role {role}, which bypasses row-level security (SUPERUSER or BYPASSRLS): users' data would not be isolated; connect as a role without those attributes that owns the database (scripts/run.sh creates one)"
            );
        }
        if config.run_migrations {
            syllabus_store::run_migrations(url)
                .await
                .context("migrations failed")?;
        }
        // Once start-up can no longer be refused (a refusal stays one line).
        let open_files = raise_open_files();
        let ready_within = Duration::from_secs(5);
        // A process that serves plans' event streams also listens to module previews.
        let events = if config.http.is_some() {
            JobEvents::start_with_previews(url, ready_within).await
        } else {
            JobEvents::start(url, ready_within).await
        };
        let runtime = match &config.workers {
            Some(w) => {
                let db = if config.http.is_some() {
                    Database::connect(
                        url,
                        PoolOptions {
                            max_size: w.pool_size,
                            ..config.pool
                        },
                    )?
                } else {
                    store.clone()
                };
                Some(runtime(w, db, &events)?)
            }
            None => None,
        };
        let http = match (config.http, listener) {
            (Some(http), Some(listener)) => {
                let besides = files_besides_clients(&config.pool, config.workers.as_ref());
                let serving = Serving {
                    store: store.clone(),
                    events: &events,
                    open_files,
                    besides,
                    workers: config.workers.is_some(),
                };
                Some(serve_http(http, listener, serving)?)
            }
            _ => None,
        };
        Ok(Self {
            store,
            events,
            http,
            runtime,
        })
    }

    /// The address the HTTP API listens on (`None` without one).
    #[must_use]
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().map(|h| h.addr)
    }

    /// The port the HTTP API listens on (`None` without one).
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.local_addr().map(|a| a.port())
    }

    /// The process's store (the API's pool, or the whole process's).
    #[must_use]
    pub fn store(&self) -> &Database {
        &self.store
    }

    /// The process's job events (the API's and the workers').
    #[must_use]
    pub fn events(&self) -> &JobEvents {
        &self.events
    }

    /// Runs the API and the workers until `shutdown` resolves, then stops them: the workers are
    /// asked to stop (running jobs get the shutdown grace, then are released), event streams and
    /// waits end, the HTTP server stops gracefully, and this returns once both have.
    ///
    /// # Errors
    /// When the HTTP server fails or a task panicked.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
        let server = self.http.map(|h| {
            let Http {
                server,
                handle,
                gates,
                ..
            } = h;
            (tokio::spawn(server), handle, gates)
        });
        let (stop, stop_rx) = Shutdown::new();
        let workers = self.runtime.map(|r| tokio::spawn(r.run(stop_rx)));
        shutdown.await;
        stop.trigger();
        if let Some((server, handle, gates)) = server {
            // Event streams and waits end now (clients reconnect elsewhere), so the HTTP
            // server's graceful stop is not held up by them.
            gates.close();
            handle.stop(true).await;
            if let Some(w) = workers {
                w.await.context("the worker pool panicked")?;
            }
            server.await.context("the HTTP server panicked")??;
        } else if let Some(w) = workers {
            w.await.context("the worker pool panicked")?;
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// What the HTTP API is started with besides its settings.
struct Serving<'a> {
    store: Database,
    events: &'a JobEvents,
    /// The soft limit of open files after raising it (`None` when it could not be read).
    open_files: Option<u64>,
    /// Files the process needs besides client connections.
    besides: u64,
    /// Whether this process runs workers too (logged).
    workers: bool,
}

fn serve_http(http: HttpConfig, listener: TcpListener, s: Serving<'_>) -> anyhow::Result<Http> {
    let addr = listener.local_addr()?;
    let AuthConfig {
        keys,
        issuer,
        audience,
        dev_sign_in,
    } = http.auth;
    let mut auth = Authenticator::new(keys, issuer, audience);
    if dev_sign_in {
        // Start-up refused DEV_SIGN_IN without AUTH_JWT_SECRET.
        auth = auth.with_dev_sign_in();
        tracing::warn!(
            "development sign-in is enabled (DEV_SIGN_IN): anyone who can reach this server can mint a token for any user at POST /api/v1/session/dev; never enable it in production"
        );
    }
    let mut settings = http.settings;
    settings.limits.max_connections =
        connection_cap(settings.limits.max_connections, s.open_files, s.besides);
    let max_connections = settings.limits.max_connections;
    let state = AppState::new(s.store, s.events.clone(), settings);
    let gates = state.gates();
    let server = syllabus_api::server(listener, state, auth, http.http_workers)?;
    let handle = server.handle();
    tracing::info!(
        %addr,
        workers = s.workers,
        max_connections,
        "listening"
    );
    Ok(Http {
        addr,
        server,
        handle,
        gates,
    })
}

fn runtime(
    w: &WorkersConfig,
    db: Database,
    events: &JobEvents,
) -> anyhow::Result<Runtime<Database, OpenAiProvider>> {
    let p = &w.provider;
    tracing::info!(
        provider = %p.provider_name(),
        model = %p.model,
        llm.schema_profile = p.schema_profile.as_str(),
        llm.max_tokens = p.max_tokens,
        "language model provider configured"
    );
    let provider =
        OpenAiProvider::new(p.clone()).context("cannot build the provider's HTTP client")?;
    let fallback = match &w.fallback {
        None => None,
        Some(f) => {
            tracing::info!(
                provider = %f.provider.provider_name(),
                model = %f.provider.model,
                breaker.failures = w.breaker.failures.get(),
                breaker.window_ms = u64::try_from(w.breaker.window.as_millis()).unwrap_or(u64::MAX),
                breaker.cooldown_ms = u64::try_from(w.breaker.cooldown.as_millis()).unwrap_or(u64::MAX),
                "fallback language model provider configured"
            );
            let client = OpenAiProvider::new(f.provider.clone())
                .context("cannot build the fallback provider's HTTP client")?;
            Some(Fallback {
                provider: Arc::new(client),
                limits: f.limits,
            })
        }
    };
    Ok(
        Runtime::new(db, Arc::new(provider), events.clone(), w.runtime.clone())
            .with_fallback(fallback, w.breaker),
    )
}

/// Raises the soft limit of open files to the hard limit: every client connection, database
/// connection and provider stream is a file, and the soft limit that systemd and container
/// runtimes give by default (1,024) stops a server at a few hundred clients.
fn raise_open_files() -> Option<u64> {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(
                open_files.limit = limit,
                "open-file limit raised to the hard limit"
            );
            Some(limit)
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot raise the open-file limit");
            None
        }
    }
}

/// Files a process needs besides its client connections: the pools, the `LISTEN` and preview
/// connections, a provider stream per run, logs and libraries.
fn files_besides_clients(pool: &PoolOptions, workers: Option<&WorkersConfig>) -> u64 {
    let (runs, runtime_pool) = workers.map_or((0, 0), |w| (w.runtime.concurrency, w.pool_size));
    u64::try_from(pool.max_size + runtime_pool + runs)
        .unwrap_or(u64::MAX)
        .saturating_add(64)
}

/// `MAX_CONNECTIONS`, lowered to what the open-file limit leaves once the pool and the runs
/// have theirs: past the limit, a provider connect would fail and burn other users' attempts.
fn connection_cap(wanted: usize, open_files: Option<u64>, besides: u64) -> usize {
    let Some(limit) = open_files else {
        return wanted;
    };
    let room = usize::try_from(limit.saturating_sub(besides))
        .unwrap_or(usize::MAX)
        .max(16);
    if wanted > room {
        tracing::warn!(
            max_connections = wanted,
            open_files.limit = limit,
            lowered_to = room,
            "MAX_CONNECTIONS does not fit the open-file limit with the pool and the runs; lowered (raise the hard limit: LimitNOFILE=, --ulimit nofile=)"
        );
        room
    } else {
        wanted
    }
}

/// Resolves when the process is asked to stop (SIGTERM or SIGINT).
pub async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::info!("shutdown requested");
}

#[cfg(test)]
mod tests {
    use super::{WorkersConfig, connection_cap};

    #[test]
    fn the_connection_cap_fits_the_open_file_limit() {
        assert_eq!(connection_cap(4_096, None, 400), 4_096, "unknown limit");
        assert_eq!(connection_cap(4_096, Some(1_048_576), 400), 4_096);
        assert_eq!(connection_cap(4_096, Some(1_024), 400), 624);
        assert_eq!(connection_cap(4_096, Some(100), 400), 16, "never below 16");
    }

    #[test]
    fn the_runtime_pool_is_a_quarter_of_the_api_pool_from_1_to_8() {
        for (total, expected) in [(2, 1), (10, 2), (32, 8), (200, 8)] {
            assert_eq!(WorkersConfig::default_pool_size(total), expected, "{total}");
        }
    }
}
