//! The events of a streamed answer: what each one is (a chunk, `[DONE]`, nothing, an error), the
//! chunk read leniently, and the [`Answer`] the chunks add up to, judged complete or not at the
//! end (SPEC section 1).

use serde::Deserialize;
use serde_json::Value;
use syllabus_domain::FailureClass;

use super::classify::Ending;
use crate::failure::{AttemptFacts, Usage};

/// A streamed chunk, read leniently: servers differ in which other fields they send.
#[derive(Debug, Deserialize)]
pub(super) struct Chunk {
    #[serde(default)]
    choices: Vec<ChunkChoice>,
    #[serde(default)]
    usage: Option<ChunkUsage>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Deserialize)]
struct ChunkChoice {
    #[serde(default)]
    delta: Option<ChunkDelta>,
    #[serde(default)]
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkDelta {
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChunkUsage {
    #[serde(default)]
    prompt_tokens: u32,
    #[serde(default)]
    completion_tokens: u32,
    #[serde(default)]
    total_tokens: u32,
}

/// What one event of the stream is.
pub(super) enum Frame {
    /// `[DONE]`: the stream is complete.
    Done,
    /// A keep-alive or an event without data.
    Skip,
    /// A chat completion chunk.
    Chunk(Chunk),
}

/// Reads one event; an error event, or one that is not a chunk, ends the call.
pub(super) fn frame(event: &eventsource_stream::Event) -> Result<Frame, Ending> {
    if event.data == "[DONE]" {
        return Ok(Frame::Done);
    }
    if event.event == "keepalive" || event.data.trim().is_empty() {
        return Ok(Frame::Skip);
    }
    if event.event == "error" {
        return Err(error_event());
    }
    // serde_json's message may quote the event's text: only its category and position.
    let chunk = serde_json::from_str::<Chunk>(&event.data).map_err(|err| {
        Ending::provider_error(
            FailureClass::ProviderError.user_message(),
            format!(
                "an event that is not a chat completion chunk ({:?} error at line {} column {}, {} bytes)",
                err.classify(),
                err.line(),
                err.column(),
                event.data.len()
            ),
        )
    })?;
    if chunk.error.is_some() {
        return Err(error_event());
    }
    Ok(Frame::Chunk(chunk))
}

fn error_event() -> Ending {
    Ending::provider_error(
        FailureClass::ProviderError.user_message(),
        "the provider sent an error event inside the stream".to_owned(),
    )
}

/// The answer as it streams in.
#[derive(Debug, Default)]
pub(super) struct Answer {
    /// The content so far.
    pub(super) text: String,
    refusal: bool,
    /// Whether `[DONE]` arrived.
    pub(super) done: bool,
    /// The last `finish_reason` sent.
    pub(super) finish_reason: Option<String>,
}

impl Answer {
    /// Adds a chunk: its content to the text, its usage to `facts`.
    pub(super) fn absorb(&mut self, chunk: Chunk, facts: &mut AttemptFacts) {
        if let Some(u) = chunk.usage {
            facts.usage = Some(Usage {
                prompt_tokens: u.prompt_tokens,
                completion_tokens: u.completion_tokens,
                total_tokens: u.total_tokens,
            });
        }
        for choice in chunk.choices {
            if let Some(delta) = choice.delta {
                if let Some(content) = delta.content {
                    self.text.push_str(&content);
                }
                self.refusal |= delta.refusal.is_some_and(|r| !r.is_empty());
            }
            if let Some(reason) = choice.finish_reason {
                self.finish_reason = Some(reason);
            }
        }
    }

    /// The answer cut where it stands, as `finish_reason: length` would have cut it.
    pub(super) fn cut(self) -> Ending {
        Ending::Complete {
            text: self.text,
            reason: Some("length".to_owned()),
        }
    }

    /// How the call ended once the stream did: complete means a `finish_reason` or `[DONE]`
    /// (SPEC §1), and a refusal or an empty text is a failure.
    pub(super) fn finish(self) -> Ending {
        // Only a stream with neither a finish_reason nor [DONE] was cut.
        if self.finish_reason.is_none() && !self.done {
            return Ending::provider_error(
                FailureClass::ProviderError.user_message(),
                format!(
                    "the stream ended before it completed ({} bytes, no finish_reason, no [DONE])",
                    self.text.len()
                ),
            );
        }
        let shown = self.finish_reason.as_deref().unwrap_or("none, [DONE]");
        if self.refusal || self.finish_reason.as_deref() == Some("content_filter") {
            return Ending::provider_error(
                "The language model declined to answer.",
                format!("refusal (finish_reason {shown})"),
            );
        }
        if self.text.trim().is_empty() {
            return Ending::provider_error(
                FailureClass::ProviderError.user_message(),
                format!("empty content (finish_reason {shown})"),
            );
        }
        Ending::Complete {
            text: self.text,
            reason: self.finish_reason,
        }
    }
}
