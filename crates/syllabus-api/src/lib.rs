#![doc = include_str!("../README.md")]

pub mod assets;
pub mod auth;
mod handlers;
pub mod idempotency;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod request_id;
mod state;
mod wire;

use std::net::TcpListener;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};

pub use actix_web::dev::{Server, ServerHandle};
pub use auth::{Authenticator, KeySource};
pub use limits::{Gates, Limits};
pub use metrics::Metrics;
pub use problem::ApiError;
pub use state::{AppState, DEFAULT_JOB_MAX_ATTEMPTS, SSE_KEEPALIVE, Settings, Stores};

/// Registers every route on `cfg`. Each path is one resource: a method it does not list is a
/// 405 problem with `Allow`, a path it does not know a 404 problem.
pub fn configure<S: Stores>(cfg: &mut web::ServiceConfig) {
    use handlers as h;
    use web::{delete, get, head, patch, post, put};
    cfg.service(resource("/healthz", vec![get().to(h::healthz)], "GET"))
        .service(resource("/readyz", vec![get().to(h::readyz::<S>)], "GET"))
        .service(resource("/metrics", vec![get().to(h::metrics::<S>)], "GET"))
        // The web app's files: not API (the OpenAPI document leaves them out).
        .service(resource(
            "/",
            vec![get().to(assets::index), head().to(assets::index)],
            "GET, HEAD",
        ))
        .service(resource(
            "/assets/{name}",
            vec![get().to(assets::asset), head().to(assets::asset)],
            "GET, HEAD",
        ))
        .service(
            web::scope("/api/v1")
                .service(resource("/openapi.json", vec![get().to(h::openapi)], "GET"))
                .service(resource("/session", vec![get().to(h::session)], "GET"))
                .service(resource("/usage", vec![get().to(h::get_usage::<S>)], "GET"))
                .service(resource(
                    "/session/dev",
                    vec![post().to(h::dev_sign_in)],
                    "POST",
                ))
                .service(resource(
                    "/plans",
                    vec![post().to(h::create_plan::<S>), get().to(h::list_plans::<S>)],
                    "GET, POST",
                ))
                .service(resource(
                    "/plans/{id}",
                    vec![
                        get().to(h::get_plan::<S>),
                        patch().to(h::update_plan::<S>),
                        delete().to(h::delete_plan::<S>),
                    ],
                    "GET, PATCH, DELETE",
                ))
                .service(resource(
                    "/plans/{id}/attempts",
                    vec![get().to(h::plan_attempts::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/plans/{id}/events",
                    vec![get().to(h::plan_events::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/plans/{id}/regenerate",
                    vec![post().to(h::regenerate::<S>)],
                    "POST",
                ))
                // Issue #21 item 3: one module regenerated in place.
                .service(resource(
                    "/plans/{id}/modules/{module_id}/regenerate",
                    vec![post().to(h::regenerate_module::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/plans/{id}/fork",
                    vec![post().to(h::fork_plan::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/public/plans/{id}",
                    vec![get().to(h::public_plan::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/tasks/{id}/progress",
                    vec![put().to(h::set_task_progress::<S>)],
                    "PUT",
                ))
                // A plan edited by hand (issue #21 item 2).
                .service(resource(
                    "/plans/{id}/modules",
                    vec![post().to(h::add_module::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/modules/{id}",
                    vec![
                        patch().to(h::update_module::<S>),
                        delete().to(h::delete_module::<S>),
                    ],
                    "PATCH, DELETE",
                ))
                .service(resource(
                    "/modules/{id}/tasks",
                    vec![post().to(h::add_task::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/tasks/{id}",
                    vec![
                        patch().to(h::update_task::<S>),
                        delete().to(h::delete_task::<S>),
                    ],
                    "PATCH, DELETE",
                ))
                .service(resource(
                    "/plans/{id}/schedule",
                    vec![get().to(h::get_schedule::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/plans/{id}/schedule.ics",
                    vec![get().to(h::get_schedule_ics::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/plans/{id}/flashcards",
                    vec![
                        post().to(h::create_flashcards::<S>),
                        get().to(h::list_flashcards::<S>),
                    ],
                    "GET, POST",
                ))
                // Spaced review and the Anki export (issue #24).
                .service(resource(
                    "/plans/{id}/flashcards.txt",
                    vec![get().to(h::anki_export::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/flashcards/{id}/reviews",
                    vec![post().to(h::post_review::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/reviews/due",
                    vec![get().to(h::due_list::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/reviews/due/count",
                    vec![get().to(h::due_count::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/me/settings",
                    vec![
                        get().to(h::get_settings::<S>),
                        put().to(h::put_settings::<S>),
                    ],
                    "GET, PUT",
                ))
                .service(resource(
                    "/flashcards/{id}/distractors",
                    vec![post().to(h::create_distractors::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/plans/{id}/skill-tree",
                    vec![
                        post().to(h::create_skill_tree::<S>),
                        get().to(h::get_skill_tree::<S>),
                    ],
                    "GET, POST",
                ))
                .service(resource(
                    "/jobs",
                    vec![post().to(h::create_job::<S>), get().to(h::list_jobs::<S>)],
                    "GET, POST",
                ))
                .service(resource(
                    "/jobs/{id}/retry",
                    vec![post().to(h::retry_job::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/jobs/{id}",
                    vec![get().to(h::get_job::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/jobs/{id}/events",
                    vec![get().to(h::job_events::<S>)],
                    "GET",
                ))
                .service(resource(
                    "/jobs/{id}/cancel",
                    vec![post().to(h::cancel_job::<S>)],
                    "POST",
                ))
                // Signed webhooks (issue #23).
                .service(resource(
                    "/webhooks",
                    vec![
                        post().to(h::create_webhook::<S>),
                        get().to(h::list_webhooks::<S>),
                    ],
                    "GET, POST",
                ))
                .service(resource(
                    "/webhooks/{id}",
                    vec![
                        get().to(h::get_webhook::<S>),
                        patch().to(h::update_webhook::<S>),
                        delete().to(h::delete_webhook::<S>),
                    ],
                    "GET, PATCH, DELETE",
                ))
                .service(resource(
                    "/webhooks/{id}/test",
                    vec![post().to(h::test_webhook::<S>)],
                    "POST",
                ))
                .service(resource(
                    "/webhooks/{id}/deliveries",
                    vec![get().to(h::list_deliveries::<S>)],
                    "GET",
                )),
        )
        .default_service(web::to(h::not_found));
}

/// A path with its routes; any other method is a 405 naming `allow`.
fn resource(path: &str, routes: Vec<actix_web::Route>, allow: &'static str) -> actix_web::Resource {
    routes
        .into_iter()
        .fold(web::resource(path), actix_web::Resource::route)
        .default_service(web::to(move || async move {
            Err::<actix_web::HttpResponse, _>(ApiError::method_not_allowed(allow))
        }))
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
) -> std::io::Result<Server> {
    let limits = state.settings.limits;
    let workers = workers.max(1);
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
                    .error_handler(move |err, _| {
                        input::json_error(&err, limits.body_timeout).into()
                    }),
            )
            .app_data(web::QueryConfig::default().error_handler(|_, _| {
                ApiError::field("query", "is not a valid query string").into()
            }))
            .app_data(web::PathConfig::default().error_handler(|_, _| ApiError::not_found().into()))
            .configure(configure::<S>)
            .wrap(from_fn(idempotency::fingerprint_body))
            .wrap(from_fn(move |req, next| {
                limits::body_deadline(req, next, limits.body_timeout)
            }))
            .wrap(from_fn(request_id::middleware))
    })
    .workers(workers)
    // actix-web counts connections per worker thread: at most MAX_CONNECTIONS in all.
    .max_connections((limits.max_connections / workers).max(1))
    .client_request_timeout(limits.head_timeout)
    .keep_alive(match limits.keep_alive {
        None => actix_web::http::KeepAlive::Disabled,
        Some(idle) => actix_web::http::KeepAlive::Timeout(idle),
    })
    .shutdown_timeout(limits.stop_within.as_secs().max(1))
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
