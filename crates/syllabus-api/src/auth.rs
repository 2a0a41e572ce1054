//! Bearer JWT authentication: HS256 with a shared secret, or RS256/ES256 keys from a JWKS URL
//! (fetched on first use, refreshed on an unknown `kid` at most every 30 s and every 10 min).
//! `exp` is enforced; `iss` and `aud` are checked when configured; `sub` is the user.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::{FromRequest, HttpRequest, web};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use syllabus_domain::UserId;
use tokio::sync::RwLock;

use crate::problem::ApiError;

const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

/// Where verification keys come from.
pub enum KeySource {
    /// HS256 with `AUTH_JWT_SECRET`.
    Secret(Vec<u8>),
    /// RS256/ES256 from `AUTH_JWKS_URL`.
    Jwks(String),
}

struct JwksCache {
    keys: HashMap<String, (DecodingKey, Algorithm)>,
    fetched: Option<Instant>,
}

/// Verifies bearer tokens.
pub struct Authenticator {
    source: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    http: reqwest::Client,
    jwks: RwLock<JwksCache>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
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
            jwks: RwLock::new(JwksCache {
                keys: HashMap::new(),
                fetched: None,
            }),
        }
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
        {
            let cache = self.jwks.read().await;
            let fresh = cache.fetched.is_some_and(|t| t.elapsed() < JWKS_MAX_AGE);
            if let (true, Some(found)) = (fresh, cache.keys.get(kid)) {
                return Ok(found.clone());
            }
        }
        let mut cache = self.jwks.write().await;
        let may_refresh = cache
            .fetched
            .is_none_or(|t| t.elapsed() >= JWKS_MIN_REFRESH);
        if may_refresh {
            match self.fetch_jwks(url).await {
                Ok(keys) => {
                    cache.keys = keys;
                    cache.fetched = Some(Instant::now());
                }
                Err(e) => tracing::warn!(error = %e, "JWKS fetch failed"),
            }
        }
        cache
            .keys
            .get(kid)
            .cloned()
            .ok_or_else(|| ApiError::unauthorized("The token's signing key is unknown."))
    }

    async fn fetch_jwks(
        &self,
        url: &str,
    ) -> Result<HashMap<String, (DecodingKey, Algorithm)>, String> {
        let set: JwkSet = self
            .http
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
}

/// The authenticated user of a request.
#[derive(Debug, Clone)]
pub struct Caller(pub UserId);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let auth = req
            .app_data::<web::Data<Authenticator>>()
            .map(|d| Arc::clone(d));
        let header = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Box::pin(async move {
            let auth = auth.ok_or_else(ApiError::internal)?;
            let header = header.ok_or_else(|| {
                ApiError::unauthorized("An Authorization: Bearer token is required.")
            })?;
            let token = header
                .strip_prefix("Bearer ")
                .or_else(|| header.strip_prefix("bearer "))
                .ok_or_else(|| {
                    ApiError::unauthorized("The Authorization header must be `Bearer <token>`.")
                })?;
            Ok(Self(auth.authenticate(token.trim()).await?))
        })
    }
}
