//! `syllabus token`: mint an HS256 token with the configured secret, for development and for
//! operators who front Syllabus without an identity provider.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use syllabus_api::auth::{MintError, SigningKey};
use syllabus_domain::UserId;

use syllabus::config::SigningConfig;

/// Mints a token for `sub`, valid for `ttl` from `now`, carrying `iss`/`aud` when configured,
/// with the function development sign-in uses ([`syllabus_api::auth::mint`]).
pub fn mint(
    cfg: &SigningConfig,
    sub: &str,
    ttl: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<String> {
    if sub.trim().is_empty() {
        anyhow::bail!("--sub must not be empty");
    }
    let user = UserId::parse(sub).with_context(|| {
        format!(
            "--sub is invalid: a user id is at most {} bytes without control characters",
            UserId::MAX_LEN
        )
    })?;
    let key = SigningKey {
        secret: cfg.jwt_secret.expose().as_bytes(),
        issuer: cfg.issuer.as_deref(),
        audience: cfg.audience.as_deref(),
    };
    match syllabus_api::auth::mint(&key, &user, ttl, now) {
        Ok(minted) => Ok(minted.token),
        Err(MintError::TtlTooLong) => anyhow::bail!("--ttl is too long"),
        Err(e) => Err(e).context("cannot sign the token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};

    #[test]
    fn a_minted_token_verifies_with_the_secret_and_carries_the_claims() {
        let cfg = SigningConfig {
            jwt_secret: "0123456789abcdef0123456789abcdef".into(),
            issuer: Some("syllabus".into()),
            audience: Some("api".into()),
        };
        let token = mint(&cfg, "alice", Duration::from_secs(3_600), Utc::now()).unwrap();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&["syllabus"]);
        validation.set_audience(&["api"]);
        let data = decode::<serde_json::Value>(
            &token,
            &DecodingKey::from_secret(cfg.jwt_secret.expose().as_bytes()),
            &validation,
        )
        .unwrap();
        assert_eq!(data.claims["sub"], "alice");
        let lifetime = data.claims["exp"].as_i64().unwrap() - data.claims["iat"].as_i64().unwrap();
        assert_eq!(lifetime, 3_600);
        let wrong = DecodingKey::from_secret(b"another secret of thirty-two bytes!!");
        assert!(decode::<serde_json::Value>(&token, &wrong, &validation).is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let cfg = SigningConfig {
            jwt_secret: "0123456789abcdef0123456789abcdef".into(),
            issuer: None,
            audience: None,
        };
        let token = mint(
            &cfg,
            "bob",
            Duration::from_secs(60),
            Utc::now() - chrono::Duration::hours(2),
        )
        .unwrap();
        let validation = Validation::new(Algorithm::HS256);
        assert!(
            decode::<serde_json::Value>(
                &token,
                &DecodingKey::from_secret(cfg.jwt_secret.expose().as_bytes()),
                &validation
            )
            .is_err()
        );
    }
}
