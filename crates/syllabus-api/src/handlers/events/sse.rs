//! The writing end of a server-sent event stream: its frames, its keep-alive, the task that
//! writes into it and the response body that reads it, and re-reading a resource the store
//! could not read.

use std::time::Duration;

use actix_web::HttpResponse;
use actix_web::http::header;
use actix_web::web::Bytes;
use serde::Serialize;
use syllabus_store::StoreError;
use tokio::sync::mpsc;
use tracing::Instrument as _;

use crate::limits::HeldSlot;

/// Frames a stream may hold unsent before its writer waits for the client.
const FRAMES_BUFFERED: usize = 32;

/// How long a stream waits before reading again after the store failed.
const REREAD_AFTER_ERROR: Duration = Duration::from_secs(2);

/// One SSE frame; `data` is one line of JSON, written straight into the frame.
fn frame(event: &str, id: &str, data: &impl Serialize) -> Bytes {
    let mut out = format!("event: {event}\nid: {id}\ndata: ").into_bytes();
    let head = out.len();
    if serde_json::to_writer(&mut out, data).is_err() {
        out.truncate(head);
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// The writing end of a stream. Every method fails once the client has gone.
pub(super) struct Sse {
    tx: mpsc::Sender<Bytes>,
    keepalive: tokio::time::Interval,
}

/// The client went away.
pub(super) struct Gone;

impl Sse {
    async fn send(&self, bytes: Bytes) -> Result<(), Gone> {
        self.tx.send(bytes).await.map_err(|_| Gone)
    }

    pub(super) async fn event(
        &self,
        event: &str,
        id: &str,
        data: &impl Serialize,
    ) -> Result<(), Gone> {
        self.send(frame(event, id, data)).await
    }

    /// Waits for the next keep-alive tick and sends a comment, or for the client to leave.
    pub(super) async fn idle(&mut self) -> Result<(), Gone> {
        tokio::select! {
            () = self.tx.closed() => Err(Gone),
            _ = self.keepalive.tick() => self.send(Bytes::from_static(b": keep-alive\n\n")).await,
        }
    }
}

/// Reads a stream's resource again with `read` until the store answers, waiting
/// [`REREAD_AFTER_ERROR`] after each failure (or until the client leaves); `None` when the
/// resource is gone.
pub(super) async fn read_again<T>(
    sse: &Sse,
    read: impl AsyncFn() -> Result<T, StoreError>,
) -> Result<Option<T>, Gone> {
    loop {
        match read().await {
            Ok(now) => return Ok(Some(now)),
            Err(StoreError::NotFound) => return Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "an event stream could not read its resource; retrying");
                tokio::select! {
                    () = tokio::time::sleep(REREAD_AFTER_ERROR) => {}
                    () = sse.tx.closed() => return Err(Gone),
                }
            }
        }
    }
}

/// Starts `task` writing into a new stream and answers with its body.
pub(super) fn respond<F, Fut>(keepalive: Duration, slot: HeldSlot, task: F) -> HttpResponse
where
    F: FnOnce(Sse) -> Fut,
    Fut: Future<Output = Result<(), Gone>> + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Bytes>(FRAMES_BUFFERED);
    let gone = tx.clone();
    let mut keepalive =
        tokio::time::interval_at(tokio::time::Instant::now() + keepalive, keepalive);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let sse = Sse { tx, keepalive };
    let writer = task(sse);
    // Under the request's span: the stream's log lines carry its request id and path.
    actix_web::rt::spawn(
        async move {
            // Either way the stream is over: ended by the resource, or by the client as soon as
            // its connection closes (not at the next keep-alive). Its place is then given back.
            tokio::select! {
                _ = writer => {}
                () = gone.closed() => {}
                // The process is stopping: the client reconnects (elsewhere) and resumes.
                () = slot.closing() => {}
            }
            drop(slot);
        }
        .in_current_span(),
    );
    // The client's reconnection delay, then the frames as they come.
    let first = futures::stream::once(async {
        Ok::<_, actix_web::Error>(Bytes::from_static(b"retry: 2000\n\n"))
    });
    let frames = futures::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|b| b.map(Ok)));
    HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(futures::StreamExt::chain(first, frames))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_frame_is_one_event_with_one_data_line() {
        let f = frame("module", "0.1", &json!({"text": "two\nlines"}));
        assert_eq!(
            f,
            Bytes::from_static(b"event: module\nid: 0.1\ndata: {\"text\":\"two\\nlines\"}\n\n")
        );
    }
}
