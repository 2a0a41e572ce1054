//! The service's own endpoints: `/healthz`, `/readyz`, `/metrics`, the OpenAPI document, and the
//! 404 problem of a path no route knows.

use actix_web::{HttpResponse, web};

use super::support::{Result, State};
use crate::metrics::Metrics;
use crate::problem::ApiError;
use crate::state::Stores;

pub(crate) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn readyz<S: Stores>(state: State<S>) -> Result<HttpResponse> {
    match state.store.ping().await {
        Ok(()) => Ok(HttpResponse::Ok().json(serde_json::json!({ "status": "ready" }))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable())
        }
    }
}

pub(crate) async fn metrics<S: Stores>(
    state: State<S>,
    metrics: web::Data<Metrics>,
) -> Result<HttpResponse> {
    let (stats, runs) = metrics
        .queue
        .get(std::time::Instant::now(), async || {
            Ok::<_, ApiError>((
                state.store.queue_stats().await?,
                state.store.run_times().await?,
            ))
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/openmetrics-text; version=1.0.0; charset=utf-8")
        .body(metrics.render(&stats, &runs)))
}

pub(crate) async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(crate::openapi::json())
}

pub(crate) async fn not_found() -> Result<HttpResponse> {
    Err(ApiError::not_found())
}
