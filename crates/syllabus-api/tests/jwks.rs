//! JWKS verification against a local JWKS server over real HTTP: ES256 tokens signed with the
//! published key are accepted; unknown keys, other algorithms, wrong audiences and expired tokens
//! are refused.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;
use syllabus_api::{Authenticator, KeySource};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A throwaway P-256 key made for this test only (never used anywhere else).
/// PKCS#8 DER, hex-encoded.
const PRIVATE_KEY_HEX: &str = "308187020100301306072a8648ce3d020106082a8648ce3d030107046d306b020101042048f1899bb239a5c5fddfc0ef311d6224743f283aab34d956459093bb5ea440bba14403420004f3d0bf3224c5177e319a9c6a8dbdb549fd22ae5e503242e554b295da46b348a17c457dc5a6d665223150bfa2e6f84178657c33cd29e9d9a6538b2280449cf5e5";
const X: &str = "89C_MiTFF34xmpxqjb21Sf0irl5QMkLlVLKV2kazSKE";
const Y: &str = "fEV9xabWZSIxUL-i5vhBeGV8M80p6dmmU4sigESc9eU";

/// Serves the JWKS document on 127.0.0.1 and counts fetches.
async fn jwks_server() -> std::io::Result<(String, Arc<AtomicUsize>)> {
    scripted_jwks_server(|_| Serve::Keys).await
}

fn es256(kid: &str, claims: &serde_json::Value) -> Result<String, jsonwebtoken::errors::Error> {
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let der: Vec<u8> = (0..PRIVATE_KEY_HEX.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&PRIVATE_KEY_HEX[i..i + 2], 16).ok())
        .collect();
    encode(&header, claims, &EncodingKey::from_ec_der(&der))
}

#[tokio::test]
async fn es256_tokens_verify_against_a_local_jwks_server() -> TestResult {
    let (url, fetches) = jwks_server().await?;
    let auth = Authenticator::new(
        KeySource::Jwks(url),
        Some("https://issuer.test".into()),
        Some("syllabus".into()),
    );
    let exp = chrono::Utc::now().timestamp() + 600;
    let good = json!({"sub": "alice", "exp": exp, "iss": "https://issuer.test", "aud": "syllabus"});

    let user = auth
        .authenticate(&es256("k1", &good)?)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(user.as_str(), "alice");
    let again = auth
        .authenticate(&es256("k1", &good)?)
        .await
        .map_err(|e| e.to_string())?;
    assert_eq!(again.as_str(), "alice");
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "keys are cached");

    let unknown_kid = auth.authenticate(&es256("k2", &good)?).await;
    assert_eq!(unknown_kid.err().map(|e| e.code()), Some("UNAUTHORIZED"));
    let wrong_aud =
        json!({"sub": "alice", "exp": exp, "iss": "https://issuer.test", "aud": "other"});
    assert!(auth.authenticate(&es256("k1", &wrong_aud)?).await.is_err());
    let wrong_iss =
        json!({"sub": "alice", "exp": exp, "iss": "https://evil.test", "aud": "syllabus"});
    assert!(auth.authenticate(&es256("k1", &wrong_iss)?).await.is_err());
    let expired = json!({"sub": "alice", "exp": exp - 3_600, "iss": "https://issuer.test", "aud": "syllabus"});
    assert!(auth.authenticate(&es256("k1", &expired)?).await.is_err());
    // An HS256 token (signed with a guessable "secret") is refused by a JWKS verifier.
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some("k1".into());
    let hs = encode(
        &header,
        &good,
        &EncodingKey::from_secret(b"public-key-as-secret"),
    )?;
    assert!(auth.authenticate(&hs).await.is_err());
    Ok(())
}

#[tokio::test]
async fn hs256_tokens_need_the_right_secret_and_an_unexpired_exp() -> TestResult {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let auth = Authenticator::new(KeySource::Secret(secret.clone()), None, None);
    let exp = chrono::Utc::now().timestamp() + 600;
    let sign = |claims: &serde_json::Value, key: &[u8]| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(key),
        )
    };
    let ok = auth
        .authenticate(&sign(&json!({"sub": "bob", "exp": exp}), &secret)?)
        .await;
    assert_eq!(
        ok.map(|u| u.as_str().to_owned()).ok().as_deref(),
        Some("bob")
    );
    assert!(
        auth.authenticate(&sign(
            &json!({"sub": "bob", "exp": exp}),
            b"another-secret-another-secret-xx"
        )?)
        .await
        .is_err()
    );
    assert!(
        auth.authenticate(&sign(&json!({"sub": "bob"}), &secret)?)
            .await
            .is_err(),
        "exp is required"
    );
    assert!(
        auth.authenticate(&sign(&json!({"sub": "bob", "exp": exp - 3_600}), &secret)?)
            .await
            .is_err()
    );
    assert!(
        auth.authenticate(&sign(&json!({"sub": "", "exp": exp}), &secret)?)
            .await
            .is_err()
    );
    Ok(())
}

#[tokio::test]
async fn a_configured_issuer_and_audience_must_be_present_and_nbf_is_checked() -> TestResult {
    let secret = b"0123456789abcdef0123456789abcdef".to_vec();
    let auth = Authenticator::new(
        KeySource::Secret(secret.clone()),
        Some("https://issuer.test".into()),
        Some("syllabus".into()),
    );
    let now = chrono::Utc::now().timestamp();
    let exp = now + 600;
    let sign = |claims: &serde_json::Value| {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(&secret),
        )
    };
    let right = json!({"sub": "bob", "exp": exp, "iss": "https://issuer.test", "aud": "syllabus"});
    assert!(auth.authenticate(&sign(&right)?).await.is_ok(), "right");
    for (claims, why) in [
        (
            json!({"sub": "bob", "exp": exp, "aud": "syllabus"}),
            "no iss",
        ),
        (
            json!({"sub": "bob", "exp": exp, "iss": "https://issuer.test"}),
            "no aud",
        ),
        (json!({"sub": "bob", "exp": exp}), "neither"),
        (
            json!({"sub": "bob", "exp": exp, "iss": "https://evil.test", "aud": "syllabus"}),
            "wrong iss",
        ),
        (
            json!({"sub": "bob", "exp": exp, "iss": "https://issuer.test", "aud": "syllabus", "nbf": now + 3_600}),
            "not yet valid",
        ),
    ] {
        let res = auth.authenticate(&sign(&claims)?).await;
        assert_eq!(res.err().map(|e| e.code()), Some("UNAUTHORIZED"), "{why}");
    }
    Ok(())
}

/// What the scripted JWKS server does on its n-th fetch (0-based).
#[derive(Debug, Clone, Copy)]
enum Serve {
    Keys,
    /// Accept, read the request, and answer nothing for a minute.
    Hang,
    /// 503 with an empty body.
    Down,
}

/// A JWKS server whose answer to each fetch is `plan(n)`; counts fetches.
async fn scripted_jwks_server(
    plan: fn(usize) -> Serve,
) -> std::io::Result<(String, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/.well-known/jwks.json", listener.local_addr()?);
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&fetches);
    let body = json!({"keys": [{"kty": "EC", "crv": "P-256", "x": X, "y": Y, "kid": "k1", "alg": "ES256", "use": "sig"}]}).to_string();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let body = body.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let (status, body) = match plan(n) {
                    Serve::Keys => ("200 OK", body),
                    Serve::Down => ("503 Service Unavailable", String::new()),
                    Serve::Hang => {
                        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
                        return;
                    }
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = sock.write_all(head.as_bytes()).await;
                let _ = sock.write_all(body.as_bytes()).await;
            });
        }
    });
    Ok((url, fetches))
}

fn claims() -> serde_json::Value {
    json!({"sub": "alice", "exp": chrono::Utc::now().timestamp() + 600})
}

/// Waits (up to a minute, polling) until the server has seen `n` fetches.
async fn until_fetches(fetches: &AtomicUsize, n: usize) -> TestResult {
    for _ in 0..6_000 {
        if fetches.load(Ordering::SeqCst) >= n {
            return Ok(());
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    Err(format!("never saw {n} fetches").into())
}

#[tokio::test]
async fn a_slow_jwks_fetch_never_delays_tokens_with_a_cached_key() -> TestResult {
    let (url, fetches) =
        scripted_jwks_server(|n| if n == 0 { Serve::Keys } else { Serve::Hang }).await?;
    let long = std::time::Duration::from_secs(3_600);
    // Unknown kids may refetch at once: the second fetch hangs (the client gives up after 5 s).
    let auth = Arc::new(
        Authenticator::new(KeySource::Jwks(url), None, None).with_jwks_intervals(
            std::time::Duration::ZERO,
            std::time::Duration::ZERO,
            long,
        ),
    );
    let k1 = es256("k1", &claims())?;
    auth.authenticate(&k1).await.map_err(|e| e.to_string())?;

    let slow = {
        let auth = Arc::clone(&auth);
        let token = es256("k-unknown", &claims())?;
        tokio::spawn(async move { auth.authenticate(&token).await.is_ok() })
    };
    until_fetches(&fetches, 2).await?;
    for _ in 0..10 {
        let user = auth.authenticate(&k1).await.map_err(|e| e.to_string())?;
        assert_eq!(user.as_str(), "alice");
    }
    assert!(
        !slow.is_finished(),
        "the cached key answered while the fetch was still hanging"
    );

    // A request cancelled mid-fetch does not leave fetching blocked: the next unknown kid
    // fetches again.
    slow.abort();
    let _ = slow.await;
    let again = {
        let auth = Arc::clone(&auth);
        let token = es256("k-other", &claims())?;
        tokio::spawn(async move { auth.authenticate(&token).await.is_ok() })
    };
    until_fetches(&fetches, 3).await?;
    again.abort();
    assert!(auth.authenticate(&k1).await.is_ok());
    Ok(())
}

#[tokio::test]
async fn a_flood_of_unknown_kids_costs_at_most_one_fetch() -> TestResult {
    let (url, fetches) = scripted_jwks_server(|_| Serve::Keys).await?;
    let auth = Arc::new(Authenticator::new(KeySource::Jwks(url), None, None));
    let mut flood = tokio::task::JoinSet::new();
    for i in 0..50 {
        let auth = Arc::clone(&auth);
        let token = es256(&format!("unknown-{i}-{}", uuid_like(i)), &claims())?;
        flood.spawn(async move { auth.authenticate(&token).await.err().map(|e| e.code()) });
    }
    while let Some(code) = flood.join_next().await {
        assert_eq!(code?, Some("UNAUTHORIZED"));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1, "one fetch for the flood");
    assert!(auth.authenticate(&es256("k1", &claims())?).await.is_ok());
    for i in 0..50 {
        let token = es256(&format!("later-{i}"), &claims())?;
        assert!(auth.authenticate(&token).await.is_err());
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "unknown kids right after a fetch are throttled"
    );
    Ok(())
}

fn uuid_like(i: u64) -> String {
    format!("{:016x}", i.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

#[tokio::test]
async fn a_jwks_outage_is_not_retried_on_every_request() -> TestResult {
    let (url, fetches) = scripted_jwks_server(|_| Serve::Down).await?;
    let long = std::time::Duration::from_secs(3_600);
    let auth = Arc::new(
        Authenticator::new(KeySource::Jwks(url), None, None).with_jwks_intervals(long, long, long),
    );
    let k1 = es256("k1", &claims())?;
    let mut burst = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let auth = Arc::clone(&auth);
        let token = k1.clone();
        burst.spawn(async move { auth.authenticate(&token).await.err().map(|e| e.code()) });
    }
    while let Some(code) = burst.join_next().await {
        assert_eq!(code?, Some("UNAUTHORIZED"));
    }
    for _ in 0..20 {
        assert!(auth.authenticate(&k1).await.is_err());
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    Ok(())
}

#[tokio::test]
async fn after_a_failed_fetch_the_keys_are_fetched_again_once_the_interval_passed() -> TestResult {
    let (url, fetches) =
        scripted_jwks_server(|n| if n == 0 { Serve::Down } else { Serve::Keys }).await?;
    let auth = Authenticator::new(KeySource::Jwks(url), None, None).with_jwks_intervals(
        std::time::Duration::from_secs(3_600),
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(3_600),
    );
    let k1 = es256("k1", &claims())?;
    assert!(
        auth.authenticate(&k1).await.is_err(),
        "the JWKS server is down"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(auth.authenticate(&k1).await.is_ok(), "fetched again");
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    Ok(())
}

#[tokio::test]
async fn a_stale_but_known_key_is_used_while_it_refreshes_in_the_background() -> TestResult {
    let (url, fetches) =
        scripted_jwks_server(|n| if n == 0 { Serve::Keys } else { Serve::Hang }).await?;
    // Keys are stale after 100 ms; refreshing them hangs (the client gives up after 5 s).
    let auth = Authenticator::new(KeySource::Jwks(url), None, None).with_jwks_intervals(
        std::time::Duration::ZERO,
        std::time::Duration::ZERO,
        std::time::Duration::from_millis(100),
    );
    let k1 = es256("k1", &claims())?;
    auth.authenticate(&k1).await.map_err(|e| e.to_string())?;
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    // Before, the request that found the keys stale ran the refresh itself and waited for it.
    let user = tokio::time::timeout(std::time::Duration::from_secs(2), auth.authenticate(&k1))
        .await
        .map_err(|_| "a request with a known key waited for the refresh")?
        .map_err(|e| e.to_string())?;
    assert_eq!(user.as_str(), "alice");
    until_fetches(&fetches, 2).await?;
    Ok(())
}
