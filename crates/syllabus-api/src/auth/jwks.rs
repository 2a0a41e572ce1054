//! The cache of JWKS keys. Keys are fetched on first use and refreshed when they are 10 min old
//! (in the background: the request that notices goes on with the cached key) or a token names an
//! unknown `kid`. No lock is held across a fetch, only one fetch runs at a time, and fetches are
//! throttled after a success (30 s) and after a failure (5 s): a token with a cached key never
//! waits for a fetch, and a JWKS outage or a flood of unknown `kid`s costs one fetch per
//! interval, not one per request. A request whose `kid` is unknown while a fetch runs waits for
//! that fetch; when the keys cannot be had it is a 401 at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey};
use tokio::sync::watch;

use crate::problem::ApiError;

/// Shortest time between two fetches after a successful one.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(30);
/// Shortest time between two fetches after a failed one.
const JWKS_RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);
/// Keys older than this are refreshed (and used meanwhile).
const JWKS_MAX_AGE: Duration = Duration::from_secs(600);

type Keys = HashMap<String, (DecodingKey, Algorithm)>;

/// The keys of a JWKS URL, fetched and refreshed as the module says.
pub(super) struct Jwks {
    http: reqwest::Client,
    cache: Arc<std::sync::Mutex<JwksCache>>,
    intervals: JwksIntervals,
}

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

/// Refetch throttling, in [`Jwks::with_intervals`].
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

impl Jwks {
    /// An empty cache with the default intervals (30 s after a success, 5 s after a failure,
    /// keys refreshed at 10 min).
    pub(super) fn new() -> Self {
        Self {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            cache: Arc::new(std::sync::Mutex::new(JwksCache {
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
        }
    }

    /// Other refetch intervals than the defaults.
    pub(super) fn with_intervals(
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

    /// The key named `kid` at `url`, fetching the keys when the module says so.
    ///
    /// # Errors
    /// 401 when no key of that name can be had.
    pub(super) async fn key(
        &self,
        url: &str,
        kid: &str,
    ) -> Result<(DecodingKey, Algorithm), ApiError> {
        let unknown = || ApiError::unauthorized("The token's signing key is unknown.");
        let mut waited = false;
        loop {
            let step = self.step(kid, waited);
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
    fn step(&self, kid: &str, waited: bool) -> Step {
        let mut cache = lock(&self.cache);
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
            cache: Arc::clone(&self.cache),
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
