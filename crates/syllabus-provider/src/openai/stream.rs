//! One call's response read under the adaptive deadline: open the request, read its events into
//! an [`Answer`] (watching a plan's modules as they complete), and judge the answer once the
//! stream ends.
//!
//! The body is read here, never by async-openai's client (see the module above): neither what
//! the provider sent nor the model's output reaches a log line.

use std::ops::ControlFlow;
use std::time::{Duration, SystemTime};

use eventsource_stream::Eventsource as _;
use futures::StreamExt;
use syllabus_domain::FailureClass;
use tokio::time::{Instant, sleep_until};

use super::chunk::{Answer, Frame, frame};
use super::classify::{
    Ending, event_error_kind, http_failure, parse_retry_after, transport_error_kind,
};
use super::watch::Watch;
use crate::failure::AttemptFacts;

/// The deadlines of one call, both counted from its start.
#[derive(Debug, Clone, Copy)]
pub(super) struct Deadlines {
    started: Instant,
    /// The base deadline.
    base: Instant,
    /// Once the first module is complete, valid and on time (never before `base`).
    extended: Instant,
}

impl Deadlines {
    /// The deadlines of a call started at `started`.
    pub(super) fn new(started: Instant, timeout: Duration, extended_timeout: Duration) -> Self {
        Self {
            started,
            base: deadline_after(started, timeout),
            extended: deadline_after(started, extended_timeout.max(timeout)),
        }
    }
}

/// Sends `request` and reads its stream under `deadlines`; a plan's `modules` are watched as
/// they complete, and the answer is cut at `max_answer_bytes`.
pub(super) async fn stream(
    request: reqwest::RequestBuilder,
    deadlines: Deadlines,
    max_answer_bytes: usize,
    modules: Option<Watch>,
    facts: &mut AttemptFacts,
) -> Ending {
    let response = match open(request, deadlines.base).await {
        Ok(response) => response,
        Err(ending) => return ending,
    };
    let mut answer = Answer::default();
    match read(
        response,
        deadlines,
        max_answer_bytes,
        modules,
        &mut answer,
        facts,
    )
    .await
    {
        ControlFlow::Break(ending) => ending,
        ControlFlow::Continue(()) => answer.finish(),
    }
}

/// Sends the request; its response when it is a success before `deadline`, else how the call
/// ended.
async fn open(
    request: reqwest::RequestBuilder,
    deadline: Instant,
) -> Result<reqwest::Response, Ending> {
    let opened = tokio::select! {
        opened = request.send() => opened,
        () = sleep_until(deadline) => {
            return Err(Ending::timeout("no response before the deadline".to_owned()));
        }
    };
    let response = opened.map_err(|err| {
        Ending::provider_error(
            "The language model provider could not be reached.",
            format!("no response: {}", transport_error_kind(&err)),
        )
    })?;
    if !response.status().is_success() {
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, SystemTime::now()));
        // The body is never read: classification depends on the status alone, and a body may
        // echo the prompt or carry the provider's internals.
        return Err(http_failure(response.status().as_u16(), retry_after));
    }
    Ok(response)
}

/// Reads the events into `answer` until the stream ends (`Continue`: the answer is judged
/// next) or the call's ending is already known (`Break`: a failure, the deadline, or an answer
/// cut at `max_answer_bytes`).
async fn read(
    response: reqwest::Response,
    deadlines: Deadlines,
    max_answer_bytes: usize,
    mut modules: Option<Watch>,
    answer: &mut Answer,
    facts: &mut AttemptFacts,
) -> ControlFlow<Ending> {
    let mut events = response.bytes_stream().eventsource();
    let mut deadline = deadlines.base;
    loop {
        let item = tokio::select! {
            item = events.next() => item,
            () = sleep_until(deadline) => {
                if answer.finish_reason.is_some() {
                    // The answer is complete; only the trailer (usage, [DONE]) is late.
                    return ControlFlow::Continue(());
                }
                return ControlFlow::Break(Ending::timeout(format!(
                    "stream incomplete at the deadline after {} bytes",
                    answer.text.len()
                )));
            }
        };
        let event = match item {
            None => return ControlFlow::Continue(()),
            Some(Ok(event)) => event,
            Some(Err(err)) => {
                return ControlFlow::Break(Ending::provider_error(
                    FailureClass::ProviderError.user_message(),
                    format!("the stream failed: {}", event_error_kind(&err)),
                ));
            }
        };
        let chunk = match frame(&event) {
            Ok(Frame::Done) => {
                answer.done = true;
                return ControlFlow::Continue(());
            }
            Ok(Frame::Skip) => continue,
            Ok(Frame::Chunk(chunk)) => chunk,
            Err(ending) => return ControlFlow::Break(ending),
        };
        answer.absorb(chunk, facts);
        if answer.text.len() > max_answer_bytes {
            // A provider that ignores the token budget: cut here, as `finish_reason: length`
            // would have (a `validation` failure re-asked shorter), so memory stays bounded.
            tracing::debug!(
                bytes = answer.text.len(),
                "answer over its buffer bound: cut"
            );
            return ControlFlow::Break(std::mem::take(answer).cut());
        }
        if let Some(watch) = modules.as_mut() {
            let on_time = Instant::now() < deadlines.base;
            if watch.look(&answer.text, deadlines.started, on_time, facts) {
                deadline = deadlines.extended;
            }
        }
    }
}

/// `started + after`, or a deadline too far away to matter when that overflows (a
/// `ProviderConfig` built outside the binary's range checks must not panic here).
fn deadline_after(started: Instant, after: Duration) -> Instant {
    started
        .checked_add(after)
        .or_else(|| started.checked_add(Duration::from_secs(86_400 * 365)))
        .unwrap_or(started)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::deadline_after;

    #[test]
    fn a_deadline_beyond_instant_range_is_far_away_not_a_panic() {
        let now = tokio::time::Instant::now();
        assert_eq!(
            deadline_after(now, Duration::from_secs(10)),
            now + Duration::from_secs(10)
        );
        for huge in [Duration::MAX, Duration::from_millis(u64::MAX)] {
            assert!(deadline_after(now, huge) > now + Duration::from_secs(86_400));
        }
    }
}
