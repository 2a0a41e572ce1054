//! Minting HS256 tokens that the [`Authenticator`](super::Authenticator) accepts with the same
//! secret and settings: the `token` command and development sign-in share [`mint`].

use std::time::Duration;

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde::Serialize;
use syllabus_domain::UserId;

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

/// A token [`mint`] made. `Debug` leaves the token out.
#[derive(Clone)]
pub struct Minted {
    /// The compact JWT.
    pub token: String,
    /// Its `exp`.
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Minted")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
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
/// when the key has them: what [`Authenticator`](super::Authenticator) accepts with the same
/// secret and settings.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unrepresentable_expiry_is_an_error_not_a_panic() {
        let key = SigningKey {
            secret: b"0123456789abcdef0123456789abcdef",
            issuer: None,
            audience: None,
        };
        let alice = UserId::parse("alice").unwrap();
        let err = mint(&key, &alice, Duration::from_secs(u64::MAX), Utc::now()).unwrap_err();
        assert!(matches!(err, MintError::TtlTooLong));
    }
}
