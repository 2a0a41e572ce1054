//! The service's own endpoints: liveness, readiness, metrics and this document.

use utoipa::openapi::Content;
use utoipa::openapi::path::HttpMethod;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::{ObjectBuilder, Type};

use super::super::responses::status_object;
use super::Shared::{Internal, Unavailable};
use super::{Op, json};

/// The operations.
pub(super) fn add(add: &mut impl FnMut(&str, HttpMethod, Op)) {
    use HttpMethod::Get;
    add(
        "/healthz",
        Get,
        Op::new("healthz", "Liveness")
            .public()
            .answer(200, json("Alive", status_object("ok")).build()),
    );
    add(
        "/readyz",
        Get,
        Op::new("readyz", "Readiness (checks the database)")
            .public()
            .answer(200, json("Ready", status_object("ready")).build())
            .errors(&[Internal, Unavailable]),
    );
    add(
        "/metrics",
        Get,
        Op::new("metrics", "Prometheus metrics")
            .public()
            .answer(
                200,
                ResponseBuilder::new()
                    .description(
                        "OpenMetrics text: requests, latencies, jobs by type and status, \
                         attempts by class",
                    )
                    .content(
                        "application/openmetrics-text",
                        Content::new(Some(ObjectBuilder::new().schema_type(Type::String))),
                    )
                    .build(),
            )
            .errors(&[Internal, Unavailable]),
    );
    add(
        "/api/v1/openapi.json",
        Get,
        Op::new("openapi", "This document").public().answer(
            200,
            json(
                "OpenAPI 3.1",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .required("openapi")
                    .required("paths"),
            )
            .build(),
        ),
    );
}
