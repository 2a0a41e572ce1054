//! `Idempotency-Key` on creates (issue #23): the body's fingerprint, the key's check, and the
//! replay of a stored answer.

use std::pin::Pin;
use std::sync::{Arc, Mutex};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::{Method, StatusCode, header};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, HttpResponse};
use futures::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use syllabus_store::records::{KeyedRequest, StoredResponse};

use crate::problem::ApiError;

/// The header's name.
pub const HEADER: &str = "Idempotency-Key";

/// The SHA-256 of a keyed request's body bytes so far, fed by the body's stream as the handler's
/// own JSON reader reads it (left in the request's extensions by [`fingerprint_body`]).
#[derive(Debug, Clone, Default)]
struct BodyHash(Arc<Mutex<Sha256>>);

impl BodyHash {
    fn digest(&self) -> Vec<u8> {
        match self.0.lock() {
            Ok(hash) => hash.clone().finalize().to_vec(),
            Err(poisoned) => poisoned.into_inner().clone().finalize().to_vec(),
        }
    }
}

/// Middleware: a `POST` with an `Idempotency-Key` has its body hashed while it is read. Nothing
/// is read here: the bytes go through to the handler's extractors as they arrive, so, as for any
/// request, no body is read before the caller is known (`Caller` precedes `Json`), and the body's
/// deadline and size limit are the JSON reader's. A route without a body reads none: its
/// fingerprint is the empty body's.
///
/// # Errors
/// The inner service's.
pub async fn fingerprint_body<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<B>, Error> {
    if req.method() == Method::POST && req.headers().contains_key(HEADER) {
        let hash = BodyHash::default();
        let feed = hash.clone();
        let hashed: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(req.take_payload().inspect(move |chunk| {
                if let (Ok(bytes), Ok(mut hash)) = (chunk, feed.0.lock()) {
                    hash.update(bytes);
                }
            }));
        req.extensions_mut().insert(hash);
        req.set_payload(Payload::from(hashed));
    }
    next.call(req).await
}

/// A create's `Idempotency-Key`, when sent: the key, the route and the body's fingerprint.
#[derive(Debug, Clone)]
pub(crate) struct IdemKey(Option<(String, String, String, BodyHash)>);

/// Whether `key` is 1–255 visible ASCII characters.
fn valid(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

impl FromRequest for IdemKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Self::read(req))
    }
}

impl IdemKey {
    fn read(req: &HttpRequest) -> Result<Self, ApiError> {
        let mut values = req.headers().get_all(HEADER);
        let Some(value) = values.next() else {
            return Ok(Self(None));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|k| valid(k) && values.next().is_none())
            .ok_or_else(|| ApiError::idempotency_key_invalid(HEADER))?;
        // Without the middleware every body would share one fingerprint, and a changed body
        // would be replayed: refused as a fault of the app's wiring, not served.
        let hash = req.extensions().get::<BodyHash>().cloned().ok_or_else(|| {
            tracing::error!("Idempotency-Key sent but fingerprint_body is not installed");
            ApiError::internal()
        })?;
        Ok(Self(Some((
            key.to_owned(),
            req.method().as_str().to_owned(),
            req.path().to_owned(),
            hash,
        ))))
    }

    /// The store's view of the key, kept for `ttl`. Called from a handler's body, once its
    /// extractors have read the request's body: the fingerprint is of the whole body.
    pub(crate) fn request(&self, ttl: std::time::Duration) -> Option<KeyedRequest> {
        self.0
            .as_ref()
            .map(|(key, method, path, hash)| KeyedRequest {
                key: key.clone(),
                method: method.clone(),
                path: path.clone(),
                fingerprint: hash.digest(),
                ttl,
            })
    }
}

/// The answer to store for a JSON response: `status`, its `Location` (when any), and the body.
pub(crate) fn stored_json(
    status: StatusCode,
    location: Option<String>,
    body: &impl serde::Serialize,
) -> StoredResponse {
    let mut headers = vec![(
        header::CONTENT_TYPE.as_str().to_owned(),
        "application/json".to_owned(),
    )];
    if let Some(l) = location {
        headers.push((header::LOCATION.as_str().to_owned(), l));
    }
    StoredResponse {
        status: status.as_u16(),
        headers,
        // A view that does not serialize is a bug; an empty body is what would be replayed.
        body: serde_json::to_vec(body).unwrap_or_default(),
    }
}

/// The stored answer, sent again.
pub(crate) fn replay(answer: StoredResponse) -> HttpResponse {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut resp = HttpResponse::build(status);
    for (name, value) in answer.headers {
        resp.insert_header((name, value));
    }
    resp.insert_header(("Idempotent-Replayed", "true"));
    resp.body(answer.body)
}

#[cfg(test)]
mod tests {
    use super::valid;

    #[test]
    fn keys_are_one_to_255_visible_ascii_characters() {
        assert!(valid("a"));
        assert!(valid(&"k".repeat(255)));
        assert!(valid("9f1c-ABC_~!"));
        assert!(!valid(""));
        assert!(!valid(&"k".repeat(256)));
        assert!(!valid("has space"));
        assert!(!valid("tab\there"));
        assert!(!valid("é"));
    }
}
