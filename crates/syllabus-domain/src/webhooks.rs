//! Webhooks (issue #23): the events an endpoint subscribes to, the rules of its URL and of the
//! addresses a delivery may connect to, the retry schedule, the secret's text and the excerpt
//! kept of a receiver's answer. Pure: resolving and connecting are the sender's
//! (`syllabus_provider::webhook`), which asks [`AddressPolicy`] about every address it would use.

mod address;

use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde_json::Value;

pub use address::{AddressPolicy, Refusal};

use crate::input::{StringEnum, string_enum};
use crate::jobs::{JobStatus, JobType};

string_enum!(
    /// Where a delivery stands.
    DeliveryStatus {
        Pending => "pending",
        Succeeded => "succeeded",
        Failed => "failed",
    }
);

string_enum!(
    /// How one attempt of a delivery went.
    DeliveryOutcome {
        Success => "success",
        HttpStatus => "http_status",
        Timeout => "timeout",
        Connection => "connection",
        AddressRefused => "address_refused",
        TooLarge => "too_large",
    }
);

/// How deliveries are made (`WEBHOOK_ALLOW_LOOPBACK`, `WEBHOOK_TIMEOUT_MS`, and the schedule's
/// `WEBHOOK_RETRY_BASE_MS`, `WEBHOOK_RETRY_WINDOW_MS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeliverySettings {
    /// `http` to loopback receivers allowed, and loopback addresses (development and tests).
    pub allow_loopback: bool,
    /// One attempt's deadline: connecting, sending and reading the answer.
    pub timeout: Duration,
    /// When attempts happen.
    pub schedule: RetrySchedule,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            allow_loopback: false,
            timeout: Duration::from_secs(10),
            schedule: RetrySchedule::default(),
        }
    }
}

/// An event an endpoint may subscribe to (`events`). Wire names have a dot, so this enum is
/// written by hand rather than with the crate's snake_case macro.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// `plan.ready`: a plan's generation job completed.
    PlanReady,
    /// `plan.failed`: a plan's generation job failed.
    PlanFailed,
    /// `job.completed`: any public job completed.
    JobCompleted,
    /// `job.failed`: any public job failed.
    JobFailed,
}

impl WebhookEvent {
    /// Every event, in the order the documentation lists them.
    pub const ALL: &'static [Self] = &[
        Self::PlanReady,
        Self::PlanFailed,
        Self::JobCompleted,
        Self::JobFailed,
    ];

    /// The wire name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PlanReady => "plan.ready",
            Self::PlanFailed => "plan.failed",
            Self::JobCompleted => "job.completed",
            Self::JobFailed => "job.failed",
        }
    }

    /// The events a job's end sends, in this order (the database trigger of migration 000019
    /// mirrors it): `job.completed`/`job.failed` for every public job type, and for a plan's
    /// generation also `plan.ready`/`plan.failed`. Nothing for another status, nor for the
    /// delivery jobs themselves.
    #[must_use]
    pub fn of_job_end(job_type: JobType, status: JobStatus) -> Vec<Self> {
        if job_type == JobType::WebhookDelivery {
            return Vec::new();
        }
        let (job, plan) = match status {
            JobStatus::Completed => (Self::JobCompleted, Self::PlanReady),
            JobStatus::Failed => (Self::JobFailed, Self::PlanFailed),
            _ => return Vec::new(),
        };
        if job_type == JobType::PlanGeneration {
            vec![job, plan]
        } else {
            vec![job]
        }
    }
}

impl StringEnum for WebhookEvent {
    const ALL: &'static [Self] = Self::ALL;
    fn as_str(self) -> &'static str {
        Self::as_str(self)
    }
}

/// The event type of a test delivery (`POST /webhooks/{id}/test`): never subscribed to, sent to
/// one endpoint on request.
pub const TEST_EVENT: &str = "webhook.test";
/// Endpoints one user may have.
pub const MAX_ENDPOINTS: u32 = 10;
/// Longest description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 200;
/// Longest URL, in characters.
pub const URL_MAX_CHARS: usize = 2_048;
/// Most characters of a receiver's answer kept with an attempt.
pub const EXCERPT_MAX_CHARS: usize = 200;
/// Most bytes of a receiver's answer read.
pub const RESPONSE_READ_LIMIT: usize = 64 * 1024;
/// Each gap between attempts is this many times the one before…
pub const GAP_FACTOR: u32 = 4;
/// … up to this.
pub const MAX_GAP: Duration = Duration::from_secs(3_600);
/// The secret's prefix (the Standard Webhooks form).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret.
pub const SECRET_BYTES: usize = 32;

/// `events` of a create or change: a non-empty array of known event names, duplicates removed
/// (first occurrence kept).
///
/// # Errors
/// The message for the field `events`.
pub fn parse_events(value: &Value) -> Result<Vec<WebhookEvent>, String> {
    let Some(items) = value.as_array() else {
        return Err("must be an array of event types".to_owned());
    };
    if items.is_empty() {
        return Err("must name at least one event type".to_owned());
    }
    let mut events = Vec::new();
    for item in items {
        let event = item
            .as_str()
            .and_then(WebhookEvent::from_wire)
            .ok_or_else(WebhookEvent::expected)?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

/// `description`: trimmed, blank is none, at most [`DESCRIPTION_MAX_CHARS`] characters.
///
/// # Errors
/// The message for the field `description`.
pub fn parse_description(value: Option<&Value>) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => {
            let s = s.trim();
            if s.chars().count() > DESCRIPTION_MAX_CHARS {
                Err(format!(
                    "must be at most {DESCRIPTION_MAX_CHARS} characters"
                ))
            } else if s.chars().any(|c| c == '\0') {
                Err("must not contain NUL characters".to_owned())
            } else {
                Ok((!s.is_empty()).then(|| s.to_owned()))
            }
        }
        Some(_) => Err("must be a string".to_owned()),
    }
}

/// Whether `host` (a URL's host name, not an address) names the loopback interface.
fn loopback_name(host: &str) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    host == "localhost" || host.ends_with(".localhost")
}

/// An endpoint's URL under the outbound rules: absolute, `https` (or, with `allow_loopback`,
/// `http` to a loopback name or address), without user information, at most
/// [`URL_MAX_CHARS`]; a host that is an address must be one [`AddressPolicy`] allows. A host
/// name is checked again when a delivery connects: every address it resolves to must be allowed.
///
/// # Errors
/// The message for the field `url`.
pub fn check_url(raw: &str, allow_loopback: bool) -> Result<url::Url, String> {
    if raw.chars().count() > URL_MAX_CHARS {
        return Err(format!("must be at most {URL_MAX_CHARS} characters"));
    }
    let url = url::Url::parse(raw).map_err(|_| "must be an absolute https URL".to_owned())?;
    let http = match url.scheme() {
        "https" => false,
        "http" if allow_loopback => true,
        "http" => return Err("must use https".to_owned()),
        _ => return Err("must be an absolute https URL".to_owned()),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain user information".to_owned());
    }
    let policy = AddressPolicy {
        allow_loopback,
        loopback_only: http,
    };
    match url.host() {
        None => return Err("must name a host".to_owned()),
        Some(url::Host::Ipv4(ip)) => policy.check(ip.into()).map_err(Refusal::message)?,
        Some(url::Host::Ipv6(ip)) => policy.check(ip.into()).map_err(Refusal::message)?,
        Some(url::Host::Domain(name)) => {
            if http && !loopback_name(name) {
                return Err(
                    "may use http only to a loopback address (WEBHOOK_ALLOW_LOOPBACK)".to_owned(),
                );
            }
            if name.parse::<std::net::IpAddr>().is_ok() {
                return Err("must name a host".to_owned());
            }
        }
    }
    Ok(url)
}

/// The policy a URL's scheme gives its addresses: `http` (allowed only with loopback) may reach
/// only loopback addresses.
#[must_use]
pub fn policy_for(url: &url::Url, allow_loopback: bool) -> AddressPolicy {
    AddressPolicy {
        allow_loopback,
        loopback_only: url.scheme() == "http",
    }
}

/// When a delivery's attempts happen: right away, then after gaps growing [`GAP_FACTOR`]-fold
/// from `base` up to [`MAX_GAP`]; no attempt starts after `created_at + window`, and the
/// delivery fails once the next one would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetrySchedule {
    /// The first gap (`WEBHOOK_RETRY_BASE_MS`).
    pub base: Duration,
    /// How long after its event a delivery may still be attempted (`WEBHOOK_RETRY_WINDOW_MS`).
    pub window: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        Self {
            base: Duration::from_secs(5),
            window: Duration::from_secs(24 * 3_600),
        }
    }
}

impl RetrySchedule {
    /// The gap after failed attempt `n` (1-based): `base · 4^(n−1)`, at most [`MAX_GAP`] (and
    /// never less than `base`).
    #[must_use]
    pub fn gap(&self, failed_attempt: u32) -> Duration {
        let exponent = failed_attempt.saturating_sub(1).min(16);
        let grown = self
            .base
            .saturating_mul(GAP_FACTOR.saturating_pow(exponent));
        grown.min(MAX_GAP.max(self.base))
    }

    /// When the attempt after failed attempt `n`, which ended at `now`, starts; `None` when that
    /// is past the window of a delivery created at `created_at` (the delivery fails).
    #[must_use]
    pub fn next_attempt(
        &self,
        created_at: DateTime<Utc>,
        now: DateTime<Utc>,
        failed_attempt: u32,
    ) -> Option<DateTime<Utc>> {
        let gap = chrono::Duration::from_std(self.gap(failed_attempt)).ok()?;
        let at = now.checked_add_signed(gap)?;
        (at <= self.deadline(created_at)).then_some(at)
    }

    /// The last moment an attempt may start.
    #[must_use]
    pub fn deadline(&self, created_at: DateTime<Utc>) -> DateTime<Utc> {
        chrono::Duration::from_std(self.window)
            .ok()
            .and_then(|w| created_at.checked_add_signed(w))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The start of each attempt after the event, when every attempt fails at once: the whole
    /// schedule (for the documentation and tests).
    #[must_use]
    pub fn offsets(&self) -> Vec<Duration> {
        let mut at = Duration::ZERO;
        let mut out = vec![at];
        for n in 1_u32.. {
            at = at.saturating_add(self.gap(n));
            if at > self.window || out.len() >= 10_000 {
                break;
            }
            out.push(at);
        }
        out
    }
}

/// A secret's text: `whsec_` and the standard base64 of its random bytes.
#[must_use]
pub fn secret_text(bytes: &[u8; SECRET_BYTES]) -> String {
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// What is kept of a receiver's answer: at most [`EXCERPT_MAX_CHARS`] characters of the body,
/// decoded lossily, control characters removed; `None` when nothing is left.
#[must_use]
pub fn excerpt(body: &[u8]) -> Option<String> {
    let text: String = String::from_utf8_lossy(body)
        .chars()
        .filter(|c| !c.is_control())
        .take(EXCERPT_MAX_CHARS)
        .collect();
    (!text.trim().is_empty()).then_some(text)
}

#[cfg(test)]
mod tests;
