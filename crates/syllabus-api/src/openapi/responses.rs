//! What answers carry besides the wire types: the error responses many operations share
//! (`components.responses`, each a problem with its status), the headers the API promises
//! (`Location`, `Retry-After`, `Cache-Control`), and the shape of an event stream.

use utoipa::ToSchema;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::{Header, HeaderBuilder};
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr};

use crate::input::BODY_LIMIT;
use crate::problem::Body as Problem;
use crate::wire::fields::{any, constant, integer, reference};

/// An error answer several operations share, under one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shared {
    /// 400 `VALIDATION_ERROR`.
    BadRequest,
    /// 401.
    Unauthorized,
    /// 404.
    NotFound,
    /// 408: the body came too slowly.
    RequestTimeout,
    /// 413.
    PayloadTooLarge,
    /// 415.
    UnsupportedMediaType,
    /// 429 for a write over a limit (with `Retry-After`).
    RateLimited,
    /// 429 for a client that holds too much at once (with `Retry-After`).
    TooManyHeld,
    /// 500.
    Internal,
    /// 503.
    Unavailable,
    /// 409 `IDEMPOTENCY_KEY_IN_USE` (issue #23).
    IdempotencyKeyInUse,
    /// 422 `IDEMPOTENCY_KEY_REUSED` (issue #23).
    IdempotencyKeyReused,
}

impl Shared {
    /// Every shared answer.
    pub(crate) const ALL: [Self; 12] = [
        Self::BadRequest,
        Self::Unauthorized,
        Self::NotFound,
        Self::RequestTimeout,
        Self::PayloadTooLarge,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::TooManyHeld,
        Self::Internal,
        Self::Unavailable,
        Self::IdempotencyKeyInUse,
        Self::IdempotencyKeyReused,
    ];

    /// Its name under `components.responses`.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Self::BadRequest => "BadRequest",
            Self::Unauthorized => "Unauthorized",
            Self::NotFound => "NotFound",
            Self::RequestTimeout => "RequestTimeout",
            Self::PayloadTooLarge => "PayloadTooLarge",
            Self::UnsupportedMediaType => "UnsupportedMediaType",
            Self::RateLimited => "RateLimited",
            Self::TooManyHeld => "TooManyHeld",
            Self::Internal => "Internal",
            Self::Unavailable => "Unavailable",
            Self::IdempotencyKeyInUse => "IdempotencyKeyInUse",
            Self::IdempotencyKeyReused => "IdempotencyKeyReused",
        }
    }

    /// The status it is answered with.
    pub(crate) const fn status(self) -> u16 {
        match self {
            Self::BadRequest => 400,
            Self::Unauthorized => 401,
            Self::NotFound => 404,
            Self::RequestTimeout => 408,
            Self::PayloadTooLarge => 413,
            Self::UnsupportedMediaType => 415,
            Self::RateLimited | Self::TooManyHeld => 429,
            Self::Internal => 500,
            Self::Unavailable => 503,
            Self::IdempotencyKeyInUse => 409,
            Self::IdempotencyKeyReused => 422,
        }
    }

    /// A reference to it.
    pub(crate) fn reference(self) -> RefOr<Response> {
        RefOr::Ref(Ref::new(format!("#/components/responses/{}", self.name())))
    }

    /// The response itself.
    pub(crate) fn response(self) -> Response {
        let described = |d: &str| problem(d);
        match self {
            Self::BadRequest => {
                described("VALIDATION_ERROR: invalid field(s); `errors` names each")
            }
            Self::Unauthorized => described("Missing, malformed or expired token"),
            Self::NotFound => described("No such resource, or another user's"),
            Self::RequestTimeout => described(
                "The request body did not arrive within REQUEST_BODY_TIMEOUT_MS; the connection \
                 is closed",
            ),
            Self::PayloadTooLarge => described(&format!(
                "PAYLOAD_TOO_LARGE: body over {} KiB",
                BODY_LIMIT / 1024
            )),
            Self::UnsupportedMediaType => {
                described("UNSUPPORTED_MEDIA_TYPE: no body, or a content type other than JSON")
            }
            Self::RateLimited => with_retry_after(
                "Hourly limit per user and job type reached, or the user's earlier changes still \
                 queue (WRITE_QUEUE_TIMEOUT_MS), or another change holds the resource's lock \
                 (DATABASE_LOCK_TIMEOUT_MS); or, for a request that creates a job, \
                 BUDGET_EXCEEDED: the user's tokens this calendar month (UTC) reached \
                 USER_MONTHLY_TOKEN_BUDGET (`resets_at`: the 1st of next month, 00:00 UTC)",
                "Seconds until a slot frees up (until the budget resets, for BUDGET_EXCEEDED)",
            ),
            Self::TooManyHeld => with_retry_after(
                "Too much held at once: the user's (MAX_STREAMS_PER_USER) or the process's \
                 (MAX_STREAMS) event streams and waits, or the user's queued changes \
                 (WRITE_QUEUE_TIMEOUT_MS)",
                "Seconds after which to try again",
            ),
            Self::Internal => {
                described("INTERNAL_ERROR: an unexpected failure (no internals in the body)")
            }
            Self::Unavailable => {
                described("INTERNAL_ERROR: the database is unreachable; retry shortly")
            }
            Self::IdempotencyKeyInUse => described(
                "IDEMPOTENCY_KEY_IN_USE: a request with this Idempotency-Key is still in flight; \
                 retry shortly",
            ),
            Self::IdempotencyKeyReused => described(
                "IDEMPOTENCY_KEY_REUSED: this Idempotency-Key was used for a different request \
                 (another body, method or path)",
            ),
        }
    }
}

/// A problem (`application/problem+json`) with this description.
pub(crate) fn problem(description: &str) -> Response {
    problem_builder(description).build()
}

fn problem_builder(description: &str) -> ResponseBuilder {
    ResponseBuilder::new().description(description).content(
        "application/problem+json",
        Content::new(Some(reference(&Problem::name()))),
    )
}

fn with_retry_after(description: &str, header: &str) -> Response {
    problem_builder(description)
        .header(
            "Retry-After",
            required(
                HeaderBuilder::new()
                    .schema(Some(integer(Some(1), None)))
                    .description(Some(header)),
            ),
        )
        .build()
}

/// A header the answer always carries (`required: true`, which utoipa's header model lacks:
/// it rides in the header's extensions, which serialize flattened into it).
pub(crate) fn required(header: HeaderBuilder) -> Header {
    header
        .extensions(Some(Extensions::from_iter([("required", true)])))
        .build()
}

/// `Location` of what was created or queued.
pub(crate) fn location() -> Header {
    required(HeaderBuilder::new().schema(Some(ObjectBuilder::new().schema_type(Type::String))))
}

/// `Cache-Control: no-store`, on answers that depend on the caller.
pub(crate) fn no_store() -> Header {
    required(
        HeaderBuilder::new()
            .schema(Some(constant(any(), "no-store")))
            .description(Some(
                "The answer depends on the caller (and may carry a token): never stored by \
                 caches.",
            )),
    )
}

/// A `200` event stream (`Cache-Control: no-cache`) whose events are `(name, data schema)`.
pub(crate) fn event_stream(events: &[(&str, &str)]) -> Response {
    let branch = |(name, data): &(&str, &str)| {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("event", constant(any(), *name))
            .property("id", ObjectBuilder::new().schema_type(Type::String))
            .property("retry", ObjectBuilder::new().schema_type(Type::Integer))
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .content_schema(Some(reference(data))),
            )
            .required("event")
            .required("data")
    };
    let schema: Schema = events
        .iter()
        .map(branch)
        .fold(OneOfBuilder::new(), OneOfBuilder::item)
        .description(Some(
            "Each event of the stream: its name, its id (a cursor) and its data, one line of \
             JSON of the schema given for the name.",
        ))
        .into();
    ResponseBuilder::new()
        .description("The event stream")
        .header(
            "Cache-Control",
            required(HeaderBuilder::new().schema(Some(constant(
                ObjectBuilder::new().schema_type(Type::String),
                "no-cache",
            )))),
        )
        .content("text/event-stream", Content::new(Some(schema)))
        .build()
}

/// A JSON object `{"status": value}` and nothing else (the health answers).
pub(crate) fn status_object(value: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("status", constant(any(), value))
        .required("status")
        .additional_properties(Some(
            utoipa::openapi::schema::AdditionalProperties::FreeForm(false),
        ))
        .into()
}

/// The bearer-token requirement (`{"bearer": []}`), which every operation has unless it says
/// otherwise.
pub(super) fn bearer() -> SecurityRequirement {
    SecurityRequirement::new("bearer", Vec::<String>::new())
}
