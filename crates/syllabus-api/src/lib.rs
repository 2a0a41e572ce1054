#![doc = include_str!("../README.md")]

pub mod auth;
mod handlers;
pub mod input;
pub mod metrics;
pub mod problem;
pub mod request_id;
mod wire;

use std::net::TcpListener;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use syllabus_store::records::RateLimit;
use syllabus_store::{ContentStore, JobEvents, JobStore, PlanStore};

pub use actix_web::dev::ServerHandle;
pub use auth::{Authenticator, KeySource};
pub use metrics::Metrics;
pub use problem::ApiError;

/// The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Limits and defaults the handlers apply.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Per user and job type (`RATE_LIMIT_PER_HOUR` per 3,600 s).
    pub rate_limit: RateLimit,
    /// Runs per job (`JOB_MAX_ATTEMPTS`; plan generation is capped at 3 regardless).
    pub job_max_attempts: u32,
}

/// What every handler shares.
#[derive(Debug)]
pub struct AppState<S> {
    /// The store.
    pub store: S,
    /// Job events, for `Prefer: wait`.
    pub events: JobEvents,
    /// Limits.
    pub settings: Settings,
}

/// Everything the handlers need from the store.
pub trait Stores: PlanStore + JobStore + ContentStore {}
impl<T: PlanStore + JobStore + ContentStore> Stores for T {}

/// Registers every route on `cfg`.
pub fn configure<S: Stores>(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    cfg.route("/healthz", web::get().to(h::healthz))
        .route("/readyz", web::get().to(h::readyz::<S>))
        .route("/metrics", web::get().to(h::metrics::<S>))
        .service(
            web::scope("/api/v1")
                .route("/openapi.json", web::get().to(h::openapi))
                .route("/plans", web::post().to(h::create_plan::<S>))
                .route("/plans", web::get().to(h::list_plans::<S>))
                .route("/plans/{id}", web::get().to(h::get_plan::<S>))
                .route("/plans/{id}", web::delete().to(h::delete_plan::<S>))
                .route("/plans/{id}/attempts", web::get().to(h::plan_attempts::<S>))
                .route("/plans/{id}/regenerate", web::post().to(h::regenerate::<S>))
                .route(
                    "/plans/{id}/flashcards",
                    web::post().to(h::create_flashcards::<S>),
                )
                .route(
                    "/plans/{id}/flashcards",
                    web::get().to(h::list_flashcards::<S>),
                )
                .route(
                    "/flashcards/{id}/distractors",
                    web::post().to(h::create_distractors::<S>),
                )
                .route(
                    "/plans/{id}/skill-tree",
                    web::post().to(h::create_skill_tree::<S>),
                )
                .route(
                    "/plans/{id}/skill-tree",
                    web::get().to(h::get_skill_tree::<S>),
                )
                .route("/jobs", web::post().to(h::create_job::<S>))
                .route("/jobs", web::get().to(h::list_jobs::<S>))
                .route("/jobs/{id}/retry", web::post().to(h::retry_job::<S>))
                .route("/jobs/{id}", web::get().to(h::get_job::<S>))
                .route("/jobs/{id}/cancel", web::post().to(h::cancel_job::<S>)),
        )
        .default_service(web::to(h::not_found));
}

/// Starts the HTTP server on `listener` with `workers` threads. The returned server runs when
/// awaited (or spawned) and stops gracefully through its handle.
///
/// # Errors
/// When the listener cannot be used.
pub fn server<S: Stores>(
    listener: TcpListener,
    state: AppState<S>,
    auth: Authenticator,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let state = web::Data::new(state);
    let auth = web::Data::new(auth);
    let metrics = web::Data::new(Metrics::default());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .app_data(auth.clone())
            .app_data(metrics.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(input::BODY_LIMIT)
                    .error_handler(|err, _| input::json_error(&err).into()),
            )
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                ApiError::field("query", "is not a valid query string").into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()))
            .configure(configure::<S>)
            .wrap(from_fn(request_id::middleware))
    })
    .workers(workers.max(1))
    .shutdown_timeout(10)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
