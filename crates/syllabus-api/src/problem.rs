//! RFC 9457 problem details: every error the API answers, with a stable `code`, the fields at
//! fault, and the request id. 5xx bodies never carry internals.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;
use syllabus_domain::Issues;
use syllabus_store::StoreError;
use utoipa::ToSchema;
use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

use crate::request_id;

/// Every `code` a problem carries, each a constructor's below.
pub const CODES: [&str; 16] = [
    "VALIDATION_ERROR",
    "UNAUTHORIZED",
    "NOT_FOUND",
    "RATE_LIMITED",
    "ATTEMPTS_CAPPED",
    "INVALID_STATE",
    "PAYLOAD_TOO_LARGE",
    "UNSUPPORTED_MEDIA_TYPE",
    "INTERNAL_ERROR",
    "METHOD_NOT_ALLOWED",
    "REQUEST_TIMEOUT",
    "BUDGET_EXCEEDED",
    "IDEMPOTENCY_KEY_INVALID",
    "IDEMPOTENCY_KEY_IN_USE",
    "IDEMPOTENCY_KEY_REUSED",
    "WEBHOOK_LIMIT",
];

/// One field at fault.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FieldError {
    /// The field (`topic`, `weekly_hours`, `limit`, `body` for the document itself).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// An error answered as `application/problem+json`.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{status} {code}: {detail}")]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<FieldError>,
    // u32 seconds (136 years) and a boxed reset time keep the error small: it is the `Err` of
    // every handler.
    retry_after: Option<u32>,
    allow: Option<&'static str>,
    resets_at: Option<Box<chrono::DateTime<chrono::Utc>>>,
}

/// The body of every error: an RFC 9457 problem.
#[derive(Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = Problem)]
pub(crate) struct Body<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    #[schema(minimum = 400, maximum = 599)]
    status: u16,
    detail: &'a str,
    #[schema(schema_with = code_schema)]
    code: &'a str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    #[schema(inline, min_items = 1)]
    errors: &'a [FieldError],
    // Always set within a request: the document says a string.
    #[schema(value_type = String)]
    request_id: Option<String>,
    /// With `BUDGET_EXCEEDED`: when the monthly token budget resets (the 1st of next month,
    /// 00:00 UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    resets_at: Option<String>,
}

/// A string among [`CODES`].
fn code_schema() -> Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(CODES))
        .build()
}

impl ApiError {
    fn new(
        status: StatusCode,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            title,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            allow: None,
            resets_at: None,
        }
    }

    /// 400 `VALIDATION_ERROR` naming the fields at fault.
    #[must_use]
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => "The request has invalid fields.".to_owned(),
        };
        Self {
            errors,
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                "Invalid request",
                detail,
            )
        }
    }

    /// 400 for one field.
    #[must_use]
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::validation(vec![FieldError {
            field: field.to_owned(),
            message: message.into(),
        }])
    }

    /// 422 `VALIDATION_ERROR` for one field whose value is well-formed but refused by a rule
    /// (a webhook's URL or events, issue #23).
    #[must_use]
    pub fn unprocessable(field: &str, message: impl Into<String>) -> Self {
        let mut e = Self::field(field, message);
        e.status = StatusCode::UNPROCESSABLE_ENTITY;
        e
    }

    /// 409 `WEBHOOK_LIMIT`: the user has as many webhook endpoints as allowed.
    #[must_use]
    pub fn webhook_limit() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "WEBHOOK_LIMIT",
            "Too many webhook endpoints",
            format!(
                "At most {} webhook endpoints per user: delete one first.",
                syllabus_domain::webhooks::MAX_ENDPOINTS
            ),
        )
    }

    /// 400 from domain issues (their paths are field names).
    #[must_use]
    pub fn issues(issues: &Issues) -> Self {
        Self::validation(
            issues
                .as_slice()
                .iter()
                .map(|i| FieldError {
                    field: if i.path.is_empty() {
                        "body".to_owned()
                    } else {
                        i.path.clone()
                    },
                    message: i.message.clone(),
                })
                .collect(),
        )
    }

    /// 401.
    #[must_use]
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "Unauthorized",
            detail,
        )
    }

    /// 404 (also for another user's resource: existence is not leaked).
    #[must_use]
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Not found",
            "No such resource.",
        )
    }

    /// 409 `INVALID_STATE`.
    #[must_use]
    pub fn invalid_state(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "INVALID_STATE",
            "Invalid state",
            detail,
        )
    }

    /// 409 `ATTEMPTS_CAPPED`.
    #[must_use]
    pub fn capped() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "ATTEMPTS_CAPPED",
            "Attempts capped",
            "The plan has used all 3 of its generation attempts.",
        )
    }

    /// 429 with `Retry-After`.
    #[must_use]
    pub fn rate_limited(retry_after_secs: u64) -> Self {
        Self::too_many_held(
            "The hourly limit for this kind of job is reached",
            retry_after_secs,
        )
    }

    /// 429 `BUDGET_EXCEEDED`: the user's tokens this month reached `USER_MONTHLY_TOKEN_BUDGET`;
    /// `Retry-After` and `resets_at` say when the budget resets.
    #[must_use]
    pub fn budget_exceeded(
        resets_at: chrono::DateTime<chrono::Utc>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let secs = u64::try_from((resets_at - now).num_seconds().max(1)).unwrap_or(1);
        Self {
            retry_after: Some(u32::try_from(secs).unwrap_or(u32::MAX)),
            resets_at: Some(Box::new(resets_at)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "BUDGET_EXCEEDED",
                "Monthly token budget exceeded",
                format!(
                    "This account's token budget for the month is used up; it resets at {}.",
                    resets_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
            )
        }
    }

    /// 405 with `Allow` (the methods the path has).
    #[must_use]
    pub fn method_not_allowed(allow: &'static str) -> Self {
        Self {
            allow: Some(allow),
            ..Self::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed",
                format!("This path answers {allow}."),
            )
        }
    }

    /// 429 for a client that holds too much at once (event streams, waits, queued writes):
    /// `what` says which, `retry_after_secs` when to try again.
    #[must_use]
    pub fn too_many_held(what: &str, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(u32::try_from(retry_after_secs).unwrap_or(u32::MAX)),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMITED",
                "Too many requests",
                format!("{what}; retry in {retry_after_secs} s."),
            )
        }
    }

    /// 408: the request's body did not arrive in time.
    #[must_use]
    pub fn request_timeout(within: std::time::Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            "Request timeout",
            format!(
                "The request body did not arrive within {} ms.",
                within.as_millis()
            ),
        )
    }

    /// 413.
    #[must_use]
    pub fn too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            "Payload too large",
            format!("The body must be at most {limit} bytes."),
        )
    }

    /// 415.
    #[must_use]
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            "Unsupported media type",
            "The body must be application/json.",
        )
    }

    /// 500 without internals (they go to the log).
    #[must_use]
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "Internal error",
            "Something went wrong on our side; the request id identifies it in our logs.",
        )
    }

    /// 503 without internals.
    #[must_use]
    pub fn unavailable() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "INTERNAL_ERROR",
            "Service unavailable",
            "The service is temporarily unavailable; retry shortly.",
        )
    }

    /// 400 `IDEMPOTENCY_KEY_INVALID` naming the `Idempotency-Key` header, `header` (issue #23).
    #[must_use]
    pub fn idempotency_key_invalid(header: &str) -> Self {
        let field = FieldError {
            field: header.to_owned(),
            message: "must be 1 to 255 visible ASCII characters".to_owned(),
        };
        Self {
            detail: format!("{}: {}", field.field, field.message),
            errors: vec![field],
            ..Self::new(
                StatusCode::BAD_REQUEST,
                "IDEMPOTENCY_KEY_INVALID",
                "Invalid idempotency key",
                "",
            )
        }
    }

    /// 409 `IDEMPOTENCY_KEY_IN_USE`: the key's first request is still in flight.
    #[must_use]
    pub fn idempotency_key_in_use() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "IDEMPOTENCY_KEY_IN_USE",
            "Idempotency key in use",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )
    }

    /// 422 `IDEMPOTENCY_KEY_REUSED`: the key was used for another request (body or route).
    #[must_use]
    pub fn idempotency_key_reused() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEMPOTENCY_KEY_REUSED",
            "Idempotency key reused",
            "This Idempotency-Key was already used for a different request.",
        )
    }

    /// The `code`.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => Self::not_found(),
            StoreError::RateLimited { retry_after } => Self::rate_limited(
                syllabus_domain::rate_limit::retry_after_seconds(retry_after),
            ),
            StoreError::BudgetExceeded { resets_at } => {
                Self::budget_exceeded(resets_at, chrono::Utc::now())
            }
            StoreError::InvalidState(detail) => Self::invalid_state(detail),
            StoreError::IdempotencyKeyInUse => Self::idempotency_key_in_use(),
            StoreError::IdempotencyKeyReused => Self::idempotency_key_reused(),
            StoreError::WebhookLimit => Self::webhook_limit(),
            StoreError::Invalid(issues) => Self::issues(&issues),
            StoreError::Unavailable(e) => {
                tracing::error!(error = %e, "database unavailable");
                Self::unavailable()
            }
            StoreError::Busy(e) => {
                tracing::info!(error = %e, "a lock was not granted in time");
                Self::too_many_held("Too many concurrent changes for this account", 1)
            }
            StoreError::Contention(e) => {
                tracing::warn!(error = %e, "transaction kept losing a race");
                Self::unavailable()
            }
            other => {
                tracing::error!(error = %other, "store error");
                Self::internal()
            }
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let body = Body {
            kind: format!(
                "https://syllabus.dev/problems/{}",
                self.code.to_ascii_lowercase().replace('_', "-")
            ),
            title: self.title,
            status: self.status.as_u16(),
            detail: &self.detail,
            code: self.code,
            errors: &self.errors,
            request_id: request_id::current(),
            resets_at: self
                .resets_at
                .as_deref()
                .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
        };
        let mut res = HttpResponse::build(self.status);
        res.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        if let Some(secs) = self.retry_after {
            res.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = self.allow {
            res.insert_header((header::ALLOW, allow));
        }
        res.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::{ApiError, CODES};

    #[test]
    fn the_documented_codes_are_the_constructors_codes() {
        let mut made: Vec<&str> = [
            ApiError::field("x", "y"),
            ApiError::unauthorized("x"),
            ApiError::not_found(),
            ApiError::invalid_state("x"),
            ApiError::capped(),
            ApiError::rate_limited(1),
            ApiError::method_not_allowed("GET"),
            ApiError::too_many_held("x", 1),
            ApiError::request_timeout(std::time::Duration::from_secs(1)),
            ApiError::too_large(1),
            ApiError::unsupported_media_type(),
            ApiError::internal(),
            ApiError::unavailable(),
            ApiError::budget_exceeded(chrono::Utc::now(), chrono::Utc::now()),
            ApiError::idempotency_key_invalid("Idempotency-Key"),
            ApiError::idempotency_key_in_use(),
            ApiError::idempotency_key_reused(),
            ApiError::webhook_limit(),
            ApiError::unprocessable("x", "y"),
        ]
        .iter()
        .map(ApiError::code)
        .collect();
        made.sort_unstable();
        made.dedup();
        let mut documented = CODES.to_vec();
        documented.sort_unstable();
        assert_eq!(made, documented);
    }
}
