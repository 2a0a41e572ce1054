//! The [`Authenticator`]: a token's header, signature and claims checked against its
//! [`KeySource`] (a secret, or the JWKS cache), and development sign-in's minting switch.

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use syllabus_domain::UserId;

use super::jwks::Jwks;
use super::mint::{DEV_TOKEN_TTL, MintError, Minted, SigningKey, mint};
use crate::problem::ApiError;

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

/// Verifies bearer tokens.
pub struct Authenticator {
    source: KeySource,
    issuer: Option<String>,
    audience: Option<String>,
    jwks: Jwks,
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
            jwks: Jwks::new(),
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
        self.jwks = self
            .jwks
            .with_intervals(after_success, after_failure, max_age);
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
                self.jwks.key(url, &kid).await?
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
