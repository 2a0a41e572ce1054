//! Idempotency keys (issue #23): a create's key, and the answer stored for it.

use std::time::Duration;

/// A create sent with an `Idempotency-Key`: the key, the route it was used on, the SHA-256 of
/// the request body and how long the answer is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyedRequest {
    /// The key (1–255 visible ASCII characters, checked by the API).
    pub key: String,
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
    /// SHA-256 of the request body's bytes.
    pub fingerprint: Vec<u8>,
    /// How long the key and its answer are kept (`IDEMPOTENCY_KEY_TTL_HOURS`).
    pub ttl: Duration,
}

/// The answer stored for a key: replayed as it was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// The HTTP status.
    pub status: u16,
    /// The headers that matter (`Location`, `Content-Type`), name and value.
    pub headers: Vec<(String, String)>,
    /// The body's bytes.
    pub body: Vec<u8>,
}

/// What a create with an optional key did: new work, or the answer of the key's first request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Keyed<T> {
    /// The work was done now (and, with a key, its answer stored with it).
    Fresh(T),
    /// The key was used before for the same request: its answer, nothing created.
    Replay(StoredResponse),
}

/// Renders the answer a create is about to send, from what it created: stored with the key.
pub type Render<T> = Box<dyn FnOnce(&T) -> StoredResponse + Send + Sync>;

/// A create's key and how to render its answer.
pub struct Idempotency<T> {
    /// The key and the request it guards.
    pub request: KeyedRequest,
    /// The answer the handler sends for what was created.
    pub answer: Render<T>,
}

impl<T> std::fmt::Debug for Idempotency<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Idempotency")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}
