//! Reading requests: JSON bodies with field-named errors, list queries, ids in paths, and
//! `Prefer: wait=N`.

use std::collections::HashMap;
use std::time::Duration;

use actix_web::HttpRequest;
use actix_web::error::JsonPayloadError;
use serde::de::DeserializeOwned;
use serde_json::Value;
use syllabus_store::records::PageRequest;
use uuid::Uuid;

use crate::problem::{ApiError, FieldError};

/// Largest accepted body.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Items per page when `?limit=` is absent.
pub const LIMIT_DEFAULT: u32 = 20;
/// Largest `?limit=`.
pub const LIMIT_MAX: u32 = 100;
/// Longest `Prefer: wait`.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Maps actix's JSON extractor errors to problems (413, 415, 408 past `body_timeout`, 400).
pub fn json_error(err: &JsonPayloadError, body_timeout: Duration) -> ApiError {
    match err {
        JsonPayloadError::OverflowKnownLength { .. } | JsonPayloadError::Overflow { .. } => {
            ApiError::too_large(BODY_LIMIT)
        }
        JsonPayloadError::ContentType => ApiError::unsupported_media_type(),
        JsonPayloadError::Payload(e) if crate::limits::is_body_timeout(e) => {
            ApiError::request_timeout(body_timeout)
        }
        JsonPayloadError::Deserialize(e) => ApiError::field(
            "body",
            format!(
                "is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        ),
        _ => ApiError::field("body", "could not be read"),
    }
}

/// Deserializes a JSON document into `T`, naming the field at fault.
///
/// # Errors
/// 400 `VALIDATION_ERROR` with the field's path.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let (field, message) = if let Some(rest) = inner.strip_prefix("missing field `") {
            let name = rest.split('`').next().unwrap_or_default();
            let field = if path == "." {
                name.to_owned()
            } else {
                format!("{path}.{name}")
            };
            (field, "is required".to_owned())
        } else {
            let message = if let Some(rest) = inner.strip_prefix("invalid type: ") {
                format!("has the wrong type ({rest})")
            } else {
                inner
            };
            (if path == "." { "body".to_owned() } else { path }, message)
        };
        ApiError::validation(vec![FieldError { field, message }])
    })
}

/// An optional JSON body: none (no `Content-Length`, or 0, and no `Transfer-Encoding`) is `T`'s
/// default; otherwise it is read with the app's JSON settings (limit, problem answers), as for
/// `web::Json`, and parsed as [`from_value`] does.
///
/// # Errors
/// The JSON extractor's problems; 400 naming the field.
pub async fn optional_body<T: DeserializeOwned + Default>(
    req: &HttpRequest,
    payload: actix_web::web::Payload,
) -> Result<T, actix_web::Error> {
    use actix_web::FromRequest as _;
    use actix_web::http::header;
    let empty = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .is_none_or(|v| v.as_bytes() == b"0")
        && !req.headers().contains_key(header::TRANSFER_ENCODING);
    if empty {
        return Ok(T::default());
    }
    let json = actix_web::web::Json::<Value>::from_request(req, &mut payload.into_inner()).await?;
    Ok(from_value(json.into_inner())?)
}

/// A path id; anything that is not a UUID is simply not found.
///
/// # Errors
/// 404.
pub fn path_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::not_found())
}

/// `?limit=` alone, for a list whose cursor has a form of its own (the due list's).
///
/// # Errors
/// 400 naming `limit`.
pub fn limit(query: &HashMap<String, String>) -> Result<u32, ApiError> {
    match query.get("limit") {
        None => Ok(LIMIT_DEFAULT),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=LIMIT_MAX).contains(n))
            .ok_or_else(|| {
                ApiError::field("limit", format!("must be an integer from 1 to {LIMIT_MAX}"))
            }),
    }
}

/// `?limit=&cursor=`.
///
/// # Errors
/// 400 naming `limit` or `cursor`.
pub fn page(query: &HashMap<String, String>) -> Result<PageRequest, ApiError> {
    let limit = limit(query)?;
    let after = match query.get("cursor").filter(|c| !c.is_empty()) {
        None => None,
        Some(c) => Some(
            decode_cursor(c)
                .ok_or_else(|| ApiError::field("cursor", "is not a cursor this API issued"))?,
        ),
    };
    Ok(PageRequest { limit, after })
}

/// An enum-valued query parameter.
///
/// # Errors
/// 400 naming the parameter and the allowed values.
pub fn query_enum<T: syllabus_domain::input::StringEnum>(
    query: &HashMap<String, String>,
    name: &str,
) -> Result<Option<T>, ApiError> {
    let Some(value) = query.get(name) else {
        return Ok(None);
    };
    T::from_wire(value)
        .map(Some)
        .ok_or_else(|| ApiError::field(name, T::expected()))
}

/// The opaque form of a cursor.
#[must_use]
pub fn encode_cursor(id: Uuid) -> String {
    format!("c{}", id.simple())
}

/// Only the form [`encode_cursor`] writes (`c` and 32 hex digits): `Uuid::try_parse` alone would
/// also take hyphenated, braced and URN forms the document does not admit.
fn decode_cursor(raw: &str) -> Option<Uuid> {
    let hex = raw.strip_prefix('c')?;
    if hex.len() != 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    Uuid::try_parse(hex).ok()
}

/// A body with every integral number as an integer: JSON Schema (and so the OpenAPI document)
/// counts `5.0` as the integer 5, so the handlers must too.
#[must_use]
pub fn integral_numbers(value: Value) -> Value {
    match value {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            // In range of i64 and without a fraction: exact.
            #[allow(clippy::cast_possible_truncation)]
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Value::from(f as i64),
            _ => Value::Number(n),
        },
        Value::Array(items) => Value::Array(items.into_iter().map(integral_numbers).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, integral_numbers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// The `wait=N` preference (RFC 7240), capped at 60 s; `None` when absent or malformed.
#[must_use]
pub fn prefer_wait(req: &HttpRequest) -> Option<Duration> {
    req.headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split([',', ';']))
        .find_map(|pref| {
            let (name, value) = pref.split_once('=')?;
            if !name.trim().eq_ignore_ascii_case("wait") {
                return None;
            }
            let secs: u64 = value.trim().trim_matches('"').parse().ok()?;
            Some(Duration::from_secs(secs).min(MAX_WAIT))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    #[test]
    fn wait_preference_is_parsed_and_capped() {
        let req = TestRequest::default()
            .insert_header(("Prefer", "respond-async, wait=5"))
            .to_http_request();
        assert_eq!(prefer_wait(&req), Some(Duration::from_secs(5)));
        let req = TestRequest::default()
            .insert_header(("Prefer", "wait=600"))
            .to_http_request();
        assert_eq!(prefer_wait(&req), Some(MAX_WAIT));
        let req = TestRequest::default()
            .insert_header(("Prefer", "wait=soon"))
            .to_http_request();
        assert_eq!(prefer_wait(&req), None);
        assert_eq!(prefer_wait(&TestRequest::default().to_http_request()), None);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let id = Uuid::now_v7();
        let q = HashMap::from([("cursor".to_owned(), encode_cursor(id))]);
        assert_eq!(page(&q).map(|p| p.after).ok(), Some(Some(id)));
        let q = HashMap::from([("cursor".to_owned(), "nope".to_owned())]);
        assert_eq!(page(&q).err().map(|e| e.code()), Some("VALIDATION_ERROR"));
        let q = HashMap::from([("limit".to_owned(), "101".to_owned())]);
        assert!(page(&q).is_err());
    }

    #[test]
    fn only_the_issued_cursor_form_is_accepted() {
        let id = Uuid::now_v7();
        for other in [
            format!("c{}", id.hyphenated()),
            format!("c{}", id.braced()),
            format!("c{}", id.urn()),
            format!("{}", id.simple()),
        ] {
            let q = HashMap::from([("cursor".to_owned(), other.clone())]);
            assert!(page(&q).is_err(), "{other}");
        }
        let upper = HashMap::from([(
            "cursor".to_owned(),
            encode_cursor(id).to_ascii_uppercase().replacen('C', "c", 1),
        )]);
        assert_eq!(page(&upper).map(|p| p.after).ok(), Some(Some(id)));
    }

    #[test]
    fn integral_numbers_become_integers_and_fractions_stay() {
        let body =
            serde_json::json!({"a": 19.0, "b": [2.0, 2.5], "c": {"d": -0.0}, "e": 1e300, "f": 3});
        assert_eq!(
            integral_numbers(body),
            serde_json::json!({"a": 19, "b": [2, 2.5], "c": {"d": 0}, "e": 1e300, "f": 3})
        );
    }

    #[test]
    fn body_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct T {
            topic: String,
            weekly_hours: i64,
        }
        let err = from_value::<T>(serde_json::json!({"weekly_hours": 3}))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("topic: is required")));
        let err = from_value::<T>(serde_json::json!({"topic": "x", "weekly_hours": "3"}))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("weekly_hours: has the wrong type")));
        let err = from_value::<T>(serde_json::json!([1]))
            .err()
            .map(|e| e.to_string());
        assert!(err.is_some_and(|e| e.contains("body: must be a JSON object")));
    }
}
