//! Bearer JWT authentication: HS256 with a shared secret, or RS256/ES256 keys from a JWKS URL.
//! `exp` is enforced; `iss` and `aud` are checked when configured; `sub` is the user.
//!
//! JWKS keys are fetched on first use and refreshed when they are 10 min old (in the background: the
//! request that notices goes on with the cached key) or a token names an unknown `kid`. No lock
//! is held across a fetch, only one fetch runs at a time, and fetches are
//! throttled after a success (30 s) and after a failure (5 s): a token with a cached key never
//! waits for a fetch, and a JWKS outage or a flood of unknown `kid`s costs one fetch per
//! interval, not one per request. A request whose `kid` is unknown while a fetch runs waits for
//! that fetch; when the keys cannot be had it is a 401 at once.
//!
//! Minting ([`mint`]) lives here too, next to the verification it must satisfy: the `token`
//! command and development sign-in (`POST /api/v1/session/dev`, only with
//! [`Authenticator::with_dev_sign_in`]) share it.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, web};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
};
use serde::{Deserialize, Serialize};
use syllabus_domain::UserId;
use tokio::sync::watch;

use crate::problem::ApiError;

/// Shortest time between two fetches after a successful one.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// Shortest time between two fetches after a failed one.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Keys older than this are refreshed (and used meanwhile).
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

/// Where verification keys come from.
#[derive(Clone)]
pub enum KeySource {
    /// HS256 with `AUTH_JWT_SECRET`.
    Secret(Vec<u8>),
    /// RS256/ES256 from `AUTH_JWKS_URL`.
    Jwks(String),
}

/// Names the source, never the secret.
impl std::fmt::Debug for KeySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Secret(_) => f.write_str("Secret(<redacted>)"),
            Self::Jwks(url) => f.debug_tuple("Jwks").field(url).finish(),
        }
    }
}

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

/// The cached keys and the state of fetching them; behind a `std` mutex held only to read or
/// update these fields, never across an `.await`.
struct JwksCache {
    keys: Arc<Keys>,
    /// When the keys were last fetched successfully.
    fetched: Option<Instant>,
    /// When the last fetch ended, and whether it succeeded.
    last_attempt: Option<(Instant, bool)>,
    /// While a fetch runs: the receiver that sees its sender dropped when it ends.
    in_flight: Option<watch::Receiver<()>>,
}

/// Refetch throttling, in [`Authenticator::with_jwks_intervals`].
#[derive(Debug, Clone, Copy)]
struct JwksIntervals {
    after_success: Duration,
    after_failure: Duration,
    max_age: Duration,
}

/// What a request does about the keys.
enum Step {
    Use(Arc<Keys>),
    /// Fetch now and wait for it (the `kid` is unknown).
    Fetch(Fetching),
    /// Use the cached keys (they hold the `kid`) and refresh them in the background.
    Refresh(Arc<Keys>, Fetching),
    Wait(watch::Receiver<()>),
}

/// The fetch a request runs. Dropped unfinished (the request was cancelled), it still clears
/// `in_flight` and counts as a failed attempt, so fetching never stays blocked; dropping its
/// sender wakes the waiters either way.
struct Fetching {
    cache: Arc<std::sync::Mutex<JwksCache>>,
    _done: watch::Sender<()>,
}

impl Drop for Fetching {
    fn drop(&mut self) {
        let mut cache = lock(&self.cache);
        if cache.in_flight.take().is_some() {
            cache.last_attempt = Some((Instant::now(), false));
        }
    }
}

/// Verifies bearer tokens.
pub struct Authenticator {
    source: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    http: reqwest::Client,
    jwks: Arc<std::sync::Mutex<JwksCache>>,
    intervals: JwksIntervals,
    dev_sign_in: bool,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("dev_sign_in", &self.dev_sign_in)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
}

impl Authenticator {
    /// A verifier for `source`, checking `iss`/`aud` when given.
    #[must_use]
    pub fn new(source: KeySource, issuer: Option<String>, audience: Option<String>) -> Self {
        Self {
            source,
            issuer,
            audience,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            jwks: Arc::new(std::sync::Mutex::new(JwksCache {
                keys: Arc::new(HashMap::new()),
                fetched: None,
                last_attempt: None,
                in_flight: None,
            })),
            intervals: JwksIntervals {
                after_success: JWKS_MIN_REFRESH,
                after_failure: JWKS_RETRY_AFTER_FAILURE,
                max_age: JWKS_MAX_AGE,
            },
            dev_sign_in: false,
        }
    }

    /// Turns development sign-in on (`DEV_SIGN_IN`): `POST /api/v1/session/dev` mints a token
    /// for any name, with this verifier's secret, issuer and audience. Only an HS256 secret can
    /// mint: with JWKS keys it stays off (the binary refuses that combination at start-up).
    #[must_use]
    pub fn with_dev_sign_in(mut self) -> Self {
        // Possible only with a secret to sign with: decided once, here.
        self.dev_sign_in = matches!(self.source, KeySource::Secret(_));
        self
    }

    /// Whether development sign-in is on (and possible: the keys are a secret).
    #[must_use]
    pub fn dev_sign_in(&self) -> bool {
        self.dev_sign_in
    }

    /// A token for `user`, valid for [`DEV_TOKEN_TTL`] from `now`, when development sign-in is
    /// on; `None` otherwise.
    ///
    /// # Errors
    /// As [`mint`].
    pub fn mint_dev_token(
        &self,
        user: &UserId,
        now: DateTime<Utc>,
    ) -> Option<Result<Minted, MintError>> {
        let KeySource::Secret(secret) = &self.source else {
            return None;
        };
        self.dev_sign_in.then(|| {
            mint(
                &SigningKey {
                    secret,
                    issuer: self.issuer.as_deref(),
                    audience: self.audience.as_deref(),
                },
                user,
                DEV_TOKEN_TTL,
                now,
            )
        })
    }

    /// Other JWKS refetch intervals than the defaults (30 s after a success, 5 s after a
    /// failure, keys refreshed at 10 min), for tests.
    #[must_use]
    pub fn with_jwks_intervals(
        mut self,
        after_success: Duration,
        after_failure: Duration,
        max_age: Duration,
    ) -> Self {
        self.intervals = JwksIntervals {
            after_success,
            after_failure,
            max_age,
        };
        self
    }

    fn validation(&self, alg: Algorithm) -> Validation {
        let mut v = Validation::new(alg);
        v.leeway = 30;
        v.validate_exp = true;
        v.validate_nbf = true;
        // jsonwebtoken checks `iss`/`aud` only when a token carries them unless they are
        // required: a configured issuer or audience must be present, not just match when present.
        let mut required = vec!["exp", "sub"];
        if self.issuer.is_some() {
            required.push("iss");
        }
        if self.audience.is_some() {
            required.push("aud");
        }
        v.set_required_spec_claims(&required);
        if let Some(iss) = &self.issuer {
            v.set_issuer(&[iss]);
        }
        match &self.audience {
            Some(aud) => v.set_audience(&[aud]),
            None => v.validate_aud = false,
        }
        v
    }

    /// The user a token speaks for.
    ///
    /// # Errors
    /// 401 for a missing, malformed, expired or wrongly signed token.
    pub async fn authenticate(&self, token: &str) -> Result<UserId, ApiError> {
        let header = decode_header(token)
            .map_err(|_| ApiError::unauthorized("The bearer token is malformed."))?;
        let (key, alg) = match &self.source {
            KeySource::Secret(secret) => {
                if header.alg != Algorithm::HS256 {
                    return Err(ApiError::unauthorized(
                        "The token must be signed with HS256.",
                    ));
                }
                (DecodingKey::from_secret(secret), Algorithm::HS256)
            }
            KeySource::Jwks(url) => {
                let kid = header.kid.clone().unwrap_or_default();
                self.jwks_key(url, &kid).await?
            }
        };
        if header.alg != alg {
            return Err(ApiError::unauthorized(
                "The token's algorithm does not match its key.",
            ));
        }
        let data = decode::<Claims>(token, &key, &self.validation(alg)).map_err(|e| {
            tracing::info!(error = %e, "token rejected");
            ApiError::unauthorized("The bearer token is invalid or expired.")
        })?;
        UserId::parse(&data.claims.sub)
            .ok_or_else(|| ApiError::unauthorized("The token's subject is not a valid user id."))
    }

    async fn jwks_key(&self, url: &str, kid: &str) -> Result<(DecodingKey, Algorithm), ApiError> {
        let unknown = || ApiError::unauthorized("The token's signing key is unknown.");
        let mut waited = false;
        loop {
            let step = self.jwks_step(kid, waited);
            let keys = match step {
                Step::Use(keys) => keys,
                Step::Wait(mut rx) => {
                    // Ends when the fetch does (its sender is dropped), whatever its outcome.
                    let _ = rx.changed().await;
                    waited = true;
                    continue;
                }
                Step::Fetch(fetching) => {
                    let fetched = fetch_jwks(&self.http, url).await;
                    end_fetch(fetched, fetching)
                }
                Step::Refresh(keys, fetching) => {
                    // The request goes on with the cached key; the refresh outlives it.
                    let (http, url) = (self.http.clone(), url.to_owned());
                    tokio::spawn(async move {
                        let fetched = fetch_jwks(&http, &url).await;
                        end_fetch(fetched, fetching);
                    });
                    keys
                }
            };
            return keys.get(kid).cloned().ok_or_else(unknown);
        }
    }

    /// Decides under the cache's lock, without waiting: the cached keys when they hold `kid` and
    /// are fresh (or no fetch may start), a fetch to run, or a running fetch to wait for.
    fn jwks_step(&self, kid: &str, waited: bool) -> Step {
        let mut cache = lock(&self.jwks);
        let known = cache.keys.contains_key(kid);
        let stale = cache
            .fetched
            .is_none_or(|t| t.elapsed() >= self.intervals.max_age);
        if known && !stale {
            return Step::Use(Arc::clone(&cache.keys));
        }
        if let Some(rx) = &cache.in_flight {
            // A known key is used while its refresh runs; an unknown one waits for it, once.
            return if known || waited {
                Step::Use(Arc::clone(&cache.keys))
            } else {
                Step::Wait(rx.clone())
            };
        }
        let throttled = cache.last_attempt.is_some_and(|(at, ok)| {
            let interval = if ok {
                self.intervals.after_success
            } else {
                self.intervals.after_failure
            };
            at.elapsed() < interval
        });
        if throttled || waited {
            return Step::Use(Arc::clone(&cache.keys));
        }
        let (done, rx) = watch::channel(());
        cache.in_flight = Some(rx);
        let fetching = Fetching {
            cache: Arc::clone(&self.jwks),
            _done: done,
        };
        if known {
            Step::Refresh(Arc::clone(&cache.keys), fetching)
        } else {
            Step::Fetch(fetching)
        }
    }
}

/// The cache, locked for a few field reads or writes.
fn lock(cache: &std::sync::Mutex<JwksCache>) -> std::sync::MutexGuard<'_, JwksCache> {
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Records a fetch's outcome; dropping `fetching` then wakes its waiters.
fn end_fetch(fetched: Result<Keys, String>, fetching: Fetching) -> Arc<Keys> {
    let keys = {
        let mut cache = lock(&fetching.cache);
        let ok = fetched.is_ok();
        match fetched {
            Ok(keys) => {
                cache.keys = Arc::new(keys);
                cache.fetched = Some(Instant::now());
            }
            Err(e) => tracing::warn!(error = %e, "JWKS fetch failed"),
        }
        cache.last_attempt = Some((Instant::now(), ok));
        cache.in_flight = None;
        Arc::clone(&cache.keys)
    };
    drop(fetching);
    keys
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<Keys, String> {
    let set: JwkSet = http
        .get(url)
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| e.to_string())?
        .bytes()
        .await
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))?;
    let mut keys = HashMap::new();
    for jwk in &set.keys {
        let alg = match jwk.common.key_algorithm.map(|a| a.to_string()).as_deref() {
            Some("RS256") => Algorithm::RS256,
            Some("ES256") => Algorithm::ES256,
            None => match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::RSA(_) => Algorithm::RS256,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                _ => continue,
            },
            Some(_) => continue,
        };
        if let (Some(kid), Ok(key)) = (jwk.common.key_id.clone(), DecodingKey::from_jwk(jwk)) {
            keys.insert(kid, (key, alg));
        }
    }
    Ok(keys)
}

/// How long a token minted by development sign-in is valid: a working day.
pub const DEV_TOKEN_TTL: Duration = Duration::from_secs(12 * 3_600);

/// What a minted token is signed with (`AUTH_JWT_SECRET`) and carries (`AUTH_ISSUER`,
/// `AUTH_AUDIENCE`, when configured: the verifier then requires them).
#[derive(Clone, Copy)]
pub struct SigningKey<'a> {
    /// The HS256 secret.
    pub secret: &'a [u8],
    /// `iss`.
    pub issuer: Option<&'a str>,
    /// `aud`.
    pub audience: Option<&'a str>,
}

impl std::fmt::Debug for SigningKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

/// A token [`mint`] made.
#[derive(Debug, Clone)]
pub struct Minted {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
}

/// Why a token could not be minted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MintError {
    /// The expiry is beyond what a timestamp can hold.
    #[error("the lifetime is too long")]
    TtlTooLong,
    /// Signing failed.
    #[error("cannot sign the token: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

#[derive(Serialize)]
struct MintedClaims<'a> {
    sub: &'a str,
    iat: i64,
    exp: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    iss: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    aud: Option<&'a str>,
}

/// Mints an HS256 token for `user`, issued at `now` and valid for `ttl`, carrying `iss`/`aud`
/// when the key has them: what [`Authenticator`] accepts with the same secret and settings.
///
/// # Errors
/// [`MintError::TtlTooLong`] when `now + ttl` cannot be represented; a signing failure.
pub fn mint(
    key: &SigningKey<'_>,
    user: &UserId,
    ttl: Duration,
    now: DateTime<Utc>,
) -> Result<Minted, MintError> {
    let expires_at = chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now.checked_add_signed(ttl))
        .ok_or(MintError::TtlTooLong)?;
    let claims = MintedClaims {
        sub: user.as_str(),
        iat: now.timestamp(),
        exp: expires_at.timestamp(),
        iss: key.issuer,
        aud: key.audience,
    };
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(key.secret),
    )?;
    Ok(Minted { token, expires_at })
}

/// The user named by a request's `Authorization` header: `None` without the header; a 401 for a
/// header that is not a valid bearer token.
fn bearer_user(
    req: &HttpRequest,
) -> Pin<Box<dyn Future<Output = Result<Option<UserId>, ApiError>>>> {
    let auth = req
        .app_data::<web::Data<Authenticator>>()
        .map(|d| Arc::clone(d));
    let header = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .map(|v| v.to_str().map(str::to_owned));
    Box::pin(async move {
        let auth = auth.ok_or_else(ApiError::internal)?;
        let Some(header) = header else {
            return Ok(None);
        };
        let header = header.map_err(|_| {
            ApiError::unauthorized("The Authorization header must be `Bearer <token>`.")
        })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .ok_or_else(|| {
                ApiError::unauthorized("The Authorization header must be `Bearer <token>`.")
            })?;
        Ok(Some(auth.authenticate(token.trim()).await?))
    })
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub UserId);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let user = bearer_user(req);
        Box::pin(async move {
            user.await?.map(Self).ok_or_else(|| {
                ApiError::unauthorized("An Authorization: Bearer token is required.")
            })
        })
    }
}

/// The user of a request that may come without a token: `None` without an `Authorization`
/// header; a header that is there must hold a valid token (else 401, as for [`Caller`]).
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<UserId>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let user = bearer_user(req);
        Box::pin(async move { Ok(Self(user.await?)) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn alice() -> UserId {
        UserId::parse("alice").unwrap()
    }

    #[tokio::test]
    async fn a_minted_token_is_accepted_with_the_same_secret_issuer_and_audience() {
        let key = SigningKey {
            secret: SECRET,
            issuer: Some("syllabus"),
            audience: Some("api"),
        };
        let now = Utc::now();
        let minted = mint(&key, &alice(), Duration::from_secs(600), now).unwrap();
        assert_eq!(minted.expires_at.timestamp(), now.timestamp() + 600);
        let auth = Authenticator::new(
            KeySource::Secret(SECRET.to_vec()),
            Some("syllabus".into()),
            Some("api".into()),
        );
        assert_eq!(auth.authenticate(&minted.token).await.unwrap(), alice());
        let other = Authenticator::new(
            KeySource::Secret(SECRET.to_vec()),
            Some("someone-else".into()),
            None,
        );
        assert!(other.authenticate(&minted.token).await.is_err());
    }

    #[test]
    fn an_unrepresentable_expiry_is_an_error_not_a_panic() {
        let key = SigningKey {
            secret: SECRET,
            issuer: None,
            audience: None,
        };
        let err = mint(&key, &alice(), Duration::from_secs(u64::MAX), Utc::now()).unwrap_err();
        assert!(matches!(err, MintError::TtlTooLong));
    }

    #[tokio::test]
    async fn development_sign_in_mints_only_when_on_and_only_with_a_secret() {
        let off = Authenticator::new(KeySource::Secret(SECRET.to_vec()), None, None);
        assert!(!off.dev_sign_in());
        assert!(off.mint_dev_token(&alice(), Utc::now()).is_none());
        let jwks = Authenticator::new(KeySource::Jwks("http://127.0.0.1:1/".into()), None, None)
            .with_dev_sign_in();
        assert!(!jwks.dev_sign_in());
        assert!(jwks.mint_dev_token(&alice(), Utc::now()).is_none());
        let on = off.with_dev_sign_in();
        assert!(on.dev_sign_in());
        let now = Utc::now();
        let minted = on.mint_dev_token(&alice(), now).unwrap().unwrap();
        assert_eq!(
            minted.expires_at.timestamp() - now.timestamp(),
            12 * 3_600,
            "a working day"
        );
        assert_eq!(on.authenticate(&minted.token).await.unwrap(), alice());
    }
}
