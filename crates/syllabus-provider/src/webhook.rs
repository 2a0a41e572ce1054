//! The webhook sender (issue #23): one signed `POST` per attempt, under the outbound rules.
//!
//! Every address is checked when it is connected to: names resolve through [`CheckedResolver`],
//! which drops every address [`AddressPolicy`] refuses, so the connector uses exactly the
//! addresses checked (no rebinding window between a check and the connect); an address literal
//! (which skips resolvers) is checked before sending. No proxy (an environment proxy would
//! connect on our behalf to an address never checked), no redirects (a 3xx is an answer), one
//! deadline for the whole attempt, at most [`RESPONSE_READ_LIMIT`] bytes of the answer read. The
//! signature is the Standard Webhooks crate's (`standardwebhooks`), never written by hand here.
//!
//! Never logged: the URL's path and query, the body sent, the answer's body.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::{Client, redirect};
use syllabus_domain::webhooks::{
    AddressPolicy, DeliveryOutcome, DeliverySettings, RESPONSE_READ_LIMIT, check_url, excerpt,
    policy_for,
};

/// The `user-agent` of deliveries.
pub const USER_AGENT: &str = "Syllabus-Webhooks/1";

/// One delivery attempt to send.
#[derive(Debug, Clone, Copy)]
pub struct Outgoing<'a> {
    /// The endpoint's URL.
    pub url: &'a str,
    /// The endpoint's `whsec_` secret.
    pub secret: &'a str,
    /// The delivery's id: the `webhook-id`, the same on every attempt.
    pub id: &'a str,
    /// The JSON text sent and signed.
    pub body: &'a str,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The receiver's status, when it answered.
    pub status_code: Option<u16>,
    /// From the start of the attempt to its end.
    pub duration_ms: u32,
    /// Its outcome (`success` only for a 2xx with an answer within the read limit).
    pub outcome: DeliveryOutcome,
    /// At most 200 characters of the answer's body, sanitized.
    pub excerpt: Option<String>,
}

/// The error a resolution ends with when every address of a name was refused.
#[derive(Debug, thiserror::Error)]
#[error("every address of the host is refused by the outbound rules")]
struct Refused;

/// Resolves with the system's resolver, then keeps only the addresses `policy` allows.
#[derive(Debug, Clone, Copy)]
struct CheckedResolver {
    policy: AddressPolicy,
}

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| policy.check(a.ip()).is_ok())
                .collect();
            if found.is_empty() {
                return Err(Box::new(Refused) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Sends webhook deliveries.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    settings: DeliverySettings,
    /// For `https` URLs: public addresses (and loopback when allowed).
    https: Client,
    /// For `http` URLs (only with `WEBHOOK_ALLOW_LOOPBACK`): loopback addresses only.
    http: Client,
}

fn client(policy: AddressPolicy, timeout: Duration) -> Result<Client, reqwest::Error> {
    Client::builder()
        .no_proxy()
        .redirect(redirect::Policy::none())
        .timeout(timeout)
        .connect_timeout(timeout)
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(CheckedResolver { policy }))
        .build()
}

impl WebhookSender {
    /// A sender under `settings`.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (its TLS configuration).
    pub fn new(settings: DeliverySettings) -> Result<Self, reqwest::Error> {
        let open = AddressPolicy {
            allow_loopback: settings.allow_loopback,
            loopback_only: false,
        };
        let loopback = AddressPolicy {
            allow_loopback: settings.allow_loopback,
            loopback_only: true,
        };
        Ok(Self {
            settings,
            https: client(open, settings.timeout)?,
            http: client(loopback, settings.timeout)?,
        })
    }

    /// Sends one attempt: signed now, timestamped now.
    pub async fn send(&self, out: Outgoing<'_>) -> Sent {
        let started = Instant::now();
        let sent = self.attempt(out).await;
        let duration_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        match sent {
            Ok((status, outcome, body)) => Sent {
                status_code: Some(status),
                duration_ms,
                outcome,
                excerpt: excerpt(&body),
            },
            Err(outcome) => Sent {
                status_code: None,
                duration_ms,
                outcome,
                excerpt: None,
            },
        }
    }

    async fn attempt(
        &self,
        out: Outgoing<'_>,
    ) -> Result<(u16, DeliveryOutcome, Vec<u8>), DeliveryOutcome> {
        // The rules again at send time: the setting may have changed since the endpoint was
        // created, and an address literal skips the resolver.
        let url = check_url(out.url, self.settings.allow_loopback)
            .map_err(|_| DeliveryOutcome::AddressRefused)?;
        let client = match policy_for(&url, self.settings.allow_loopback).loopback_only {
            true => &self.http,
            false => &self.https,
        };
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let signature = standardwebhooks::Webhook::new(out.secret)
            .and_then(|w| w.sign(out.id, timestamp, out.body.as_bytes()))
            .map_err(|e| {
                tracing::error!(error = %e, "cannot sign a webhook delivery");
                DeliveryOutcome::Connection
            })?;
        let response = client
            .post(url)
            .header("content-type", "application/json")
            .header(standardwebhooks::HEADER_WEBHOOK_ID, out.id)
            .header(
                standardwebhooks::HEADER_WEBHOOK_TIMESTAMP,
                timestamp.to_string(),
            )
            .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
            .body(out.body.to_owned())
            .send()
            .await
            .map_err(|e| classify(&e))?;
        let status = response.status();
        let (body, too_large) = read_bounded(response).await.map_err(|e| classify(&e))?;
        // Any 2xx is a success (Standard Webhooks), however long its body: reading stops at
        // the bound.
        let outcome = if status.is_success() {
            DeliveryOutcome::Success
        } else if too_large {
            DeliveryOutcome::TooLarge
        } else {
            DeliveryOutcome::HttpStatus
        };
        Ok((status.as_u16(), outcome, body))
    }
}

/// Reads at most [`RESPONSE_READ_LIMIT`] bytes of the answer; whether there was more.
async fn read_bounded(mut response: reqwest::Response) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        if body.len() > RESPONSE_READ_LIMIT {
            body.truncate(RESPONSE_READ_LIMIT);
            return Ok((body, true));
        }
    }
    Ok((body, false))
}

/// The outcome of an attempt that got no answer.
fn classify(e: &reqwest::Error) -> DeliveryOutcome {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<Refused>() {
            return DeliveryOutcome::AddressRefused;
        }
        source = s.source();
    }
    if e.is_timeout() {
        DeliveryOutcome::Timeout
    } else {
        DeliveryOutcome::Connection
    }
}
