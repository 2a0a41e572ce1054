//! What one client may hold of a process (issue #18): a deadline on request bodies, one write
//! at a time per user before any database connection is taken, and caps on held requests
//! (event streams and `Prefer: wait`), per user and per process.
//!
//! Connection-level bounds (the request head's deadline, the connection cap) are actix-web's
//! own and are applied by [`crate::server`] from the same [`Limits`].

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::Error;
use actix_web::HttpMessage as _;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use futures::Stream;
use syllabus_domain::UserId;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::problem::ApiError;

/// The bounds of one process. Every field has a setting in the binary (README, Configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Open client connections per process (`MAX_CONNECTIONS`); past it the server stops
    /// accepting until one closes (new connections wait in the kernel's backlog).
    pub max_connections: usize,
    /// From a connection's first byte to its complete request head
    /// (`REQUEST_HEAD_TIMEOUT_MS`); past it actix-web answers 408 and closes.
    pub head_timeout: Duration,
    /// How long an idle connection is kept for a next request (`KEEP_ALIVE_MS`; `None`: closed
    /// after each response, the default). actix-web times only a connection's *first* request
    /// head: on a kept-alive connection a client can send one request, then a byte of the next,
    /// and hold the connection for ever. Off unless a trusted proxy in front bounds its clients.
    pub keep_alive: Option<Duration>,
    /// From a complete head to the last byte of its body (`REQUEST_BODY_TIMEOUT_MS`); past it
    /// the request is a 408 problem and the connection is closed.
    pub body_timeout: Duration,
    /// Event streams and `Prefer: wait` requests one user may hold open in this process at once
    /// (`MAX_STREAMS_PER_USER`).
    pub held_per_user: usize,
    /// Event streams and waits of all users in this process (`MAX_STREAMS`).
    pub held_per_process: usize,
    /// How long a write waits for its user's previous write in this process to end before it is
    /// refused with 429 (`WRITE_QUEUE_TIMEOUT_MS`).
    pub write_queue_timeout: Duration,
    /// On a graceful stop, how long requests in flight may finish before their connections are
    /// closed (whole seconds, at least 1; `serve` uses `SHUTDOWN_GRACE_MS`): under the 10 s a
    /// container runtime waits before it kills.
    pub stop_within: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 4_096,
            head_timeout: Duration::from_secs(5),
            keep_alive: None,
            body_timeout: Duration::from_secs(10),
            held_per_user: 8,
            held_per_process: 2_048,
            write_queue_timeout: Duration::from_secs(5),
            stop_within: Duration::from_secs(8),
        }
    }
}

/// `Retry-After` of a refused stream or wait: about one keep-alive interval.
const HELD_RETRY_AFTER_SECS: u64 = 5;
/// `Retry-After` of a write refused while the user's earlier writes queue.
const WRITE_RETRY_AFTER_SECS: u64 = 1;

/// The process's counters of held requests and its per-user write turns.
#[derive(Debug)]
pub struct Gates {
    limits: Limits,
    held: Mutex<Held>,
    writes: Mutex<HashMap<UserId, Arc<Semaphore>>>,
    /// Raised when the process stops: held requests end instead of keeping it up.
    closing: tokio::sync::watch::Sender<bool>,
}

#[derive(Debug, Default)]
struct Held {
    total: usize,
    per_user: HashMap<UserId, usize>,
}

/// A held request's place: released when dropped (the stream ended, the wait answered, the
/// client went away).
#[derive(Debug)]
pub struct HeldSlot {
    gates: Arc<Gates>,
    user: UserId,
}

/// A user's turn to write: the next write of the same user in this process starts when it is
/// dropped.
#[derive(Debug)]
pub struct WriteTurn {
    gates: Arc<Gates>,
    user: UserId,
    permit: Option<OwnedSemaphorePermit>,
}

impl Gates {
    /// Gates with `limits`.
    #[must_use]
    pub fn new(limits: Limits) -> Arc<Self> {
        Arc::new(Self {
            limits,
            held: Mutex::default(),
            writes: Mutex::default(),
            closing: tokio::sync::watch::Sender::new(false),
        })
    }

    /// Ends every held request: event streams end (their clients reconnect, to another
    /// instance, with `Last-Event-ID`) and waits answer with the current state, so a stopping
    /// process does not wait for them. Called on SIGTERM, before the HTTP server stops.
    pub fn close(&self) {
        self.closing.send_replace(true);
    }

    fn held(&self) -> std::sync::MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn writes(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Arc<Semaphore>>> {
        self.writes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Takes a place for an event stream or a wait of `user`.
    ///
    /// # Errors
    /// 429 with `Retry-After` when the user, or the process, holds its most already.
    pub fn hold(self: &Arc<Self>, user: &UserId) -> Result<HeldSlot, ApiError> {
        let mut held = self.held();
        if held.total >= self.limits.held_per_process {
            drop(held);
            tracing::warn!(
                limit = self.limits.held_per_process,
                "event stream or wait refused: the process holds its most (MAX_STREAMS)"
            );
            return Err(ApiError::too_many_held(
                "This server holds as many event streams and waits as it may",
                HELD_RETRY_AFTER_SECS,
            ));
        }
        let mine = held.per_user.entry(user.clone()).or_default();
        if *mine >= self.limits.held_per_user {
            drop(held);
            tracing::info!(
                limit = self.limits.held_per_user,
                "event stream or wait refused: the user holds their most (MAX_STREAMS_PER_USER)"
            );
            return Err(ApiError::too_many_held(
                &format!(
                    "At most {} event streams and waits may be open at once per user; close one",
                    self.limits.held_per_user
                ),
                HELD_RETRY_AFTER_SECS,
            ));
        }
        *mine += 1;
        held.total += 1;
        Ok(HeldSlot {
            gates: Arc::clone(self),
            user: user.clone(),
        })
    }

    /// Waits for `user`'s turn to write: one write per user at a time in this process, taken
    /// before the write asks the pool for a connection, so a user who floods the API queues
    /// here instead of parking connections on locks only they contend for.
    ///
    /// # Errors
    /// 429 with `Retry-After` when the turn does not come within the queue timeout.
    pub async fn write_turn(self: &Arc<Self>, user: &UserId) -> Result<WriteTurn, ApiError> {
        let gate = Arc::clone(
            self.writes()
                .entry(user.clone())
                .or_insert_with(|| Arc::new(Semaphore::new(1))),
        );
        let mut turn = WriteTurn {
            gates: Arc::clone(self),
            user: user.clone(),
            permit: None,
        };
        // Bound on its own line: the waiting future (and its reference to the gate) is gone
        // before `turn` tidies the map.
        let acquired =
            tokio::time::timeout(self.limits.write_queue_timeout, gate.acquire_owned()).await;
        match acquired {
            Ok(Ok(permit)) => {
                turn.permit = Some(permit);
                Ok(turn)
            }
            // Timed out (the semaphore is never closed); dropping `turn` tidies the map.
            _ => {
                tracing::info!("write refused: the user's earlier writes still queue");
                Err(ApiError::too_many_held(
                    "Too many concurrent changes for this account",
                    WRITE_RETRY_AFTER_SECS,
                ))
            }
        }
    }

    /// Event streams and waits held now, in all (for tests and metrics).
    #[must_use]
    pub fn held_now(&self) -> usize {
        self.held().total
    }
}

impl HeldSlot {
    /// Resolves when the process starts stopping ([`Gates::close`]).
    pub async fn closing(&self) {
        let mut rx = self.gates.closing.subscribe();
        // The sender lives as long as the gates, which this slot holds.
        let _ = rx.wait_for(|closing| *closing).await;
    }
}

impl Drop for HeldSlot {
    fn drop(&mut self) {
        let mut held = self.gates.held();
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.per_user.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                held.per_user.remove(&self.user);
            }
        }
    }
}

impl Drop for WriteTurn {
    fn drop(&mut self) {
        drop(self.permit.take());
        let mut writes = self.gates.writes();
        // The map's own reference is the last one: nobody holds or waits for this user's turn.
        if writes
            .get(&self.user)
            .is_some_and(|gate| Arc::strong_count(gate) == 1)
        {
            writes.remove(&self.user);
        }
    }
}

/// The request body with a deadline: past it, the next read fails with a `TimedOut` I/O error
/// (the JSON readers answer it with a 408 problem). Requests without a body are left alone.
///
/// # Errors
/// Whatever the inner service returns.
pub async fn body_deadline<B: MessageBody + 'static>(
    mut req: ServiceRequest,
    next: Next<B>,
    within: Duration,
) -> Result<ServiceResponse<B>, Error> {
    let has_body = req
        .headers()
        .contains_key(actix_web::http::header::TRANSFER_ENCODING)
        || req
            .headers()
            .get(actix_web::http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim() != "0");
    if has_body {
        let inner = req.take_payload();
        let limited: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
            Box::pin(Deadline {
                inner,
                sleep: Box::pin(tokio::time::sleep(within)),
                fired: false,
            });
        req.set_payload(Payload::from(limited));
    }
    next.call(req).await
}

/// Whether a body read failed on [`body_deadline`]'s deadline.
#[must_use]
pub fn is_body_timeout(err: &PayloadError) -> bool {
    matches!(err, PayloadError::Io(e) if e.kind() == std::io::ErrorKind::TimedOut)
}

struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.fired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.fired = true;
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            )))));
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::{Gates, Limits};
    use syllabus_domain::UserId;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap_or_else(|| unreachable!("a valid name"))
    }

    #[test]
    fn held_requests_are_capped_per_user_and_per_process_and_freed_on_drop() {
        let gates = Gates::new(Limits {
            held_per_user: 2,
            held_per_process: 3,
            ..Limits::default()
        });
        let (alice, bob, carol) = (user("alice"), user("bob"), user("carol"));
        let a1 = gates.hold(&alice).ok();
        let a2 = gates.hold(&alice).ok();
        assert!(a1.is_some() && a2.is_some());
        let refused = gates.hold(&alice).err().map(|e| e.code());
        assert_eq!(refused, Some("RATE_LIMITED"), "a third for alice");
        let b1 = gates.hold(&bob).ok();
        assert!(b1.is_some(), "bob has his own budget");
        assert!(gates.hold(&carol).is_err(), "the process holds 3");
        drop(a1);
        assert!(gates.hold(&carol).is_ok(), "a freed place is reusable");
        assert_eq!(gates.held_now(), 2, "carol's slot was dropped at once");
        drop((a2, b1));
        assert_eq!(gates.held_now(), 0);
    }

    #[tokio::test]
    async fn writes_of_one_user_take_turns_and_a_long_queue_is_refused() {
        let gates = Gates::new(Limits {
            write_queue_timeout: std::time::Duration::from_millis(200),
            ..Limits::default()
        });
        let (alice, bob) = (user("alice"), user("bob"));
        let first = gates.write_turn(&alice).await;
        assert!(first.is_ok());
        assert!(
            gates.write_turn(&bob).await.is_ok(),
            "another user does not wait"
        );
        let queued = gates.write_turn(&alice).await;
        assert_eq!(queued.err().map(|e| e.code()), Some("RATE_LIMITED"));
        drop(first);
        assert!(gates.write_turn(&alice).await.is_ok(), "the turn came back");
        assert!(gates.writes().is_empty(), "no entry outlives its turns");
    }
}
