//! `serve` and `worker`: wire the store, the provider, the job runtime and the API together, and
//! stop gracefully on SIGTERM/SIGINT.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use syllabus_api::{AppState, Authenticator, KeySource, Settings};
use syllabus_jobs::{Runtime, RuntimeConfig, Shutdown};
use syllabus_provider::OpenAiProvider;
use syllabus_store::records::RateLimit;
use syllabus_store::{Database, JobEvents, PoolOptions};

use crate::config::{AuthSource, RunConfig, ServeConfig};

struct Core {
    db: Database,
    events: JobEvents,
    /// The soft limit of open files after raising it (`None` when it could not be read).
    open_files: Option<u64>,
}

/// A pool of `size` connections with the configured lock and statement timeouts.
fn pool(cfg: &RunConfig, size: usize) -> anyhow::Result<Database> {
    Ok(Database::connect(
        &cfg.database_url,
        PoolOptions {
            // Not the concurrency: thousands of in-flight jobs share a few connections (each
            // holds one only for a short read or write; heartbeats and claims are batched).
            max_size: size,
            lock_timeout: cfg.lock_timeout,
            statement_timeout: cfg.statement_timeout,
            ..PoolOptions::default()
        },
    )?)
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

/// Files a process needs besides its client connections: the pool, the `LISTEN` and preview
/// connections, a provider stream per run, logs and libraries.
fn files_besides_clients(cfg: &RunConfig, workers: bool) -> u64 {
    let runs = if workers { cfg.concurrency } else { 0 };
    u64::try_from(cfg.pool_size + runs)
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

/// `previews`: the process serves plans' event streams, so it also listens to module previews.
/// `pool_size`: the connections of the returned handle.
async fn start_core(cfg: &RunConfig, previews: bool, pool_size: usize) -> anyhow::Result<Core> {
    let db = pool(cfg, pool_size)?;
    db.ping().await.context("cannot reach the database")?;
    // Ownership is enforced by row-level security: a role it does not bind would serve every
    // user's plans to every user. Checked before anything is written (migrations included).
    if let Some(role) = db
        .role_bypassing_row_security()
        .await
        .context("cannot read the database role")?
    {
        anyhow::bail!(
            "DATABASE_URL connects as role {role}, which bypasses row-level security (SUPERUSER or BYPASSRLS): users' data would not be isolated; connect as a role without those attributes that owns the database (scripts/run.sh creates one)"
        );
    }
    if cfg.run_migrations {
        let applied = syllabus_store::run_migrations(&cfg.database_url)
            .await
            .context("migrations failed")?;
        tracing::info!(
            migrations.applied = applied.len(),
            "database schema is up to date"
        );
    }
    // Once start-up can no longer be refused (a refusal stays one line).
    let open_files = raise_open_files();
    let ready_within = Duration::from_secs(5);
    let events = if previews {
        JobEvents::start_with_previews(&cfg.database_url, ready_within).await
    } else {
        JobEvents::start(&cfg.database_url, ready_within).await
    };
    Ok(Core {
        db,
        events,
        open_files,
    })
}

fn provider(cfg: &RunConfig) -> anyhow::Result<OpenAiProvider> {
    // Start-up already refused a process with workers and no provider.
    let p = cfg
        .provider
        .as_ref()
        .with_context(|| crate::config::no_provider(false))?;
    tracing::info!(
        provider = %p.provider_name(),
        model = %p.model,
        llm.schema_profile = p.schema_profile.as_str(),
        llm.max_tokens = p.max_tokens,
        "language model provider configured"
    );
    OpenAiProvider::new(p.clone()).context("cannot build the provider's HTTP client")
}

fn runtime(
    cfg: &RunConfig,
    db: Database,
    events: &JobEvents,
) -> anyhow::Result<Runtime<Database, OpenAiProvider>> {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "local".to_owned());
    Ok(Runtime::new(
        db,
        Arc::new(provider(cfg)?),
        events.clone(),
        RuntimeConfig {
            concurrency: cfg.concurrency,
            backoff_base: cfg.backoff_base,
            stale_after: cfg.stale_after,
            shutdown_grace: cfg.shutdown_grace,
            worker_id: format!("{host}:{}", std::process::id()),
            retain_completed: cfg.retain_completed,
            retain_failed: cfg.retain_failed,
            prune_every: cfg.prune_every,
            ..RuntimeConfig::default()
        },
    ))
}

async fn terminated() {
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

pub async fn serve(cfg: ServeConfig) -> anyhow::Result<()> {
    let listener = std::net::TcpListener::bind(cfg.bind_addr)
        .with_context(|| format!("cannot listen on BIND_ADDR {}", cfg.bind_addr))?;
    // With workers, the runtime gets a pool of its own out of DATABASE_POOL_SIZE, so that no
    // HTTP load can take the connections its claims and heartbeats need.
    let api_pool = if cfg.workers {
        cfg.run.pool_size - cfg.worker_pool_size
    } else {
        cfg.run.pool_size
    };
    let core = start_core(&cfg.run, true, api_pool).await?;
    let source = match &cfg.auth {
        AuthSource::Secret(s) => KeySource::Secret(s.as_bytes().to_vec()),
        AuthSource::Jwks(url) => KeySource::Jwks(url.clone()),
    };
    let mut auth = Authenticator::new(source, cfg.issuer.clone(), cfg.audience.clone());
    if cfg.dev_sign_in {
        // Start-up refused DEV_SIGN_IN without AUTH_JWT_SECRET.
        auth = auth.with_dev_sign_in();
        tracing::warn!(
            "development sign-in is enabled (DEV_SIGN_IN): anyone who can reach this server can mint a token for any user at POST /api/v1/session/dev; never enable it in production"
        );
    }
    let mut limits = cfg.limits;
    limits.max_connections = connection_cap(
        limits.max_connections,
        core.open_files,
        files_besides_clients(&cfg.run, cfg.workers),
    );
    let state = AppState::new(
        core.db.clone(),
        core.events.clone(),
        Settings {
            rate_limit: RateLimit {
                limit: cfg.run.rate_limit,
                window: syllabus_domain::rate_limit::DEFAULT_WINDOW,
            },
            job_max_attempts: cfg.run.job_max_attempts,
            sse_keepalive: syllabus_api::SSE_KEEPALIVE,
            limits,
        },
    );
    let held = state.gates();
    let http_workers = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let server = syllabus_api::server(listener, state, auth, http_workers)?;
    let handle = server.handle();
    let server = tokio::spawn(server);
    tracing::info!(
        addr = %cfg.bind_addr,
        workers = cfg.workers,
        max_connections = limits.max_connections,
        "listening"
    );

    let (shutdown, stop_rx) = Shutdown::new();
    let workers = if cfg.workers {
        let db = pool(&cfg.run, cfg.worker_pool_size)?;
        Some(tokio::spawn(
            runtime(&cfg.run, db, &core.events)?.run(stop_rx),
        ))
    } else {
        None
    };
    terminated().await;
    shutdown.trigger();
    // Event streams and waits end now (clients reconnect elsewhere), so the HTTP server's
    // graceful stop is not held up by them.
    held.close();
    handle.stop(true).await;
    if let Some(w) = workers {
        w.await.context("the worker pool panicked")?;
    }
    server.await.context("the HTTP server panicked")??;
    tracing::info!("stopped");
    Ok(())
}

pub async fn worker(cfg: RunConfig) -> anyhow::Result<()> {
    let core = start_core(&cfg, false, cfg.pool_size).await?;
    let (shutdown, stop_rx) = Shutdown::new();
    let workers = tokio::spawn(runtime(&cfg, core.db.clone(), &core.events)?.run(stop_rx));
    terminated().await;
    shutdown.trigger();
    workers.await.context("the worker pool panicked")?;
    tracing::info!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::connection_cap;

    #[test]
    fn the_connection_cap_fits_the_open_file_limit() {
        assert_eq!(connection_cap(4_096, None, 400), 4_096, "unknown limit");
        assert_eq!(connection_cap(4_096, Some(1_048_576), 400), 4_096);
        assert_eq!(connection_cap(4_096, Some(1_024), 400), 624);
        assert_eq!(connection_cap(4_096, Some(100), 400), 16, "never below 16");
    }
}
