//! How a call ended and what that makes it: the [`Ending`] the stream reports, the failure class
//! of each way a call fails (HTTP status, transport, stream, validation), and the call's
//! [`Outcome`] with the log line that says so. Nothing here quotes what the provider sent.

use std::time::{Duration, SystemTime};

use eventsource_stream::EventStreamError;
use serde_json::Value;
use syllabus_domain::backoff::RETRY_AFTER_CAP;
use syllabus_domain::{FailureClass, FailureFacts, Issues, parse_json};

use crate::failure::{AttemptFacts, Failure, Generated, Outcome};

/// How a call ended before validation.
pub(super) enum Ending {
    /// A `finish_reason` (`length` included: the budget ran out) or `[DONE]` arrived.
    Complete {
        /// The answer's text.
        text: String,
        /// `None` when the stream ended with `[DONE]` without a `finish_reason`.
        reason: Option<String>,
    },
    /// The call failed before its output could be validated.
    Failed(Failed),
}

/// A call that failed before its output could be validated.
pub(super) struct Failed {
    facts: FailureFacts,
    /// Safe to show a user.
    message: &'static str,
    /// For operators: what happened, without bodies or output.
    detail: String,
    /// The provider's hint; set only where a 429 is recognized.
    retry_after: Option<Duration>,
}

impl Ending {
    /// A `provider_error` failure.
    pub(super) fn provider_error(message: &'static str, detail: String) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts::default(),
            message,
            detail,
            retry_after: None,
        })
    }

    /// A `timeout` failure: the deadline passed.
    pub(super) fn timeout(detail: String) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts {
                deadline_passed: true,
                ..FailureFacts::default()
            },
            message: FailureClass::Timeout.user_message(),
            detail,
            retry_after: None,
        })
    }

    fn rate_limited(retry_after: Option<Duration>) -> Self {
        Self::Failed(Failed {
            facts: FailureFacts {
                http_429: true,
                ..FailureFacts::default()
            },
            message: FailureClass::RateLimit.user_message(),
            detail: "HTTP 429 from the provider".to_owned(),
            retry_after,
        })
    }
}

/// The outcome of a call that ended with `ending`: its text validated by `validate`, or its
/// failure, each logged once with the call's figures.
#[expect(
    clippy::result_large_err,
    reason = "the provider's own `Outcome`, which every call returns (async there, so not linted)"
)]
pub(super) fn outcome<T>(
    ending: Ending,
    schema_name: &str,
    max_tokens: u32,
    facts: AttemptFacts,
    validate: impl FnOnce(&Value) -> Result<T, Issues>,
) -> Outcome<T> {
    match ending {
        Ending::Complete { text, reason } => match parse_json(&text).and_then(|doc| validate(&doc))
        {
            Ok(output) => {
                tracing::info!(
                    llm.schema = schema_name,
                    duration_ms = facts.duration_ms,
                    llm.timeout_extended = facts.timeout_extended,
                    llm.first_module_ms = facts.first_module_ms,
                    llm.completion_tokens = facts.usage.map(|u| u.completion_tokens),
                    "generation succeeded"
                );
                Ok(Generated { output, facts })
            }
            Err(issues) if reason.as_deref() == Some("length") => {
                // Whatever else is wrong, the cause is the length: say that in the re-ask.
                let mut cut = Issues::default();
                cut.push(
                    "",
                    format!(
                        "the answer was cut off at the limit of {max_tokens} tokens before it was complete: write fewer items and shorter texts"
                    ),
                );
                tracing::debug!(
                    llm.issues = issues.as_slice().len(),
                    "cut at the token budget"
                );
                Err(validation_failure(schema_name, cut, facts))
            }
            Err(issues) => Err(validation_failure(schema_name, issues, facts)),
        },
        Ending::Failed(failed) => {
            let class = failed.facts.classify();
            tracing::warn!(
                llm.schema = schema_name,
                duration_ms = facts.duration_ms,
                llm.class = class.as_str(),
                "generation failed: {}",
                failed.detail
            );
            Err(Failure {
                class,
                message: failed.message.to_owned(),
                detail: failed.detail,
                retry_after: failed.retry_after,
                issues: None,
                facts,
            })
        }
    }
}

/// A validation failure: the issues go to the re-ask, only their count to the user.
fn validation_failure(schema_name: &str, issues: Issues, facts: AttemptFacts) -> Failure {
    let count = issues.as_slice().len();
    tracing::warn!(
        llm.schema = schema_name,
        duration_ms = facts.duration_ms,
        llm.class = "validation",
        llm.issues = count,
        "generated output rejected"
    );
    Failure {
        class: FailureClass::Validation,
        message: format!(
            "{} ({count} problem{})",
            FailureClass::Validation.user_message(),
            if count == 1 { "" } else { "s" }
        ),
        detail: issues.to_string(),
        retry_after: None,
        issues: Some(issues),
        facts,
    }
}

/// Classifies an HTTP error status; the error body's shape does not matter (it is not read).
pub(super) fn http_failure(status: u16, retry_after: Option<Duration>) -> Ending {
    match status {
        429 => Ending::rate_limited(retry_after),
        _ => Ending::provider_error(
            match status {
                401 | 403 => "The language model provider refused the credentials.",
                404 => {
                    "The language model provider does not know the configured model or endpoint."
                }
                400..=499 => "The language model provider rejected the request.",
                _ => FailureClass::ProviderError.user_message(),
            },
            format!("HTTP {status} from the provider"),
        ),
    }
}

/// Reads a `Retry-After` value defensively: delay-seconds (fractions accepted, as some servers
/// send them) or an HTTP-date (RFC 9110 §10.2.3), capped at [`RETRY_AFTER_CAP`]; `None` for
/// anything else, negative or not finite. Never panics, whatever the provider sends.
pub(super) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        // Capped before the conversion, which panics on values beyond `Duration`'s range.
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(RETRY_AFTER_CAP.as_secs_f64())));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(now)
            .unwrap_or(Duration::ZERO)
            .min(RETRY_AFTER_CAP),
    )
}

/// A description of a transport error without anything the provider sent.
pub(super) fn transport_error_kind(err: &reqwest::Error) -> &'static str {
    if err.is_connect() {
        "connection failed"
    } else if err.is_timeout() {
        "transport timeout"
    } else if err.is_body() || err.is_decode() {
        "connection lost while reading the body"
    } else {
        "transport error"
    }
}

/// A description of a stream error; the parser's error quotes the input, so it is never shown.
pub(super) fn event_error_kind(err: &EventStreamError<reqwest::Error>) -> &'static str {
    match err {
        EventStreamError::Transport(e) => transport_error_kind(e),
        EventStreamError::Utf8(_) => "an event that is not UTF-8",
        EventStreamError::Parser(_) => "an event stream that does not parse",
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::parse_retry_after;

    #[test]
    fn retry_after_is_read_defensively_and_capped() {
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480); // Wed, 21 Oct 2015 07:28:00 GMT
        let at = |v: &str| parse_retry_after(v, now);
        assert_eq!(at("5"), Some(Duration::from_secs(5)));
        assert_eq!(at(" 1.5 "), Some(Duration::from_millis(1_500)));
        assert_eq!(at("0"), Some(Duration::ZERO));
        for huge in ["1e20", "18446744073709551616", "1e308"] {
            assert_eq!(at(huge), Some(Duration::from_secs(60)), "{huge}");
        }
        for bad in ["-1", "NaN", "inf", "-inf", "soon", ""] {
            assert_eq!(at(bad), None, "{bad}");
        }
        assert_eq!(
            at("Wed, 21 Oct 2015 07:28:30 GMT"),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            at("Wed, 21 Oct 2015 09:00:00 GMT"),
            Some(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(
            at("Wed, 21 Oct 2015 07:00:00 GMT"),
            Some(Duration::ZERO),
            "in the past"
        );
    }
}
