//! Time helpers of the runtime: a deadline that saturates instead of panicking, and the
//! backoff's jitter.

use std::time::Duration;

/// `now + d`, saturating at a year away instead of panicking on an absurd setting.
pub(crate) fn later(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d.min(Duration::from_secs(365 * 24 * 3_600)))
        .unwrap_or(now)
}

/// A uniform fraction in [0, 1) from the OS's randomness (via a v4 UUID's random bits).
pub(crate) fn jitter() -> f64 {
    let bits = uuid::Uuid::new_v4().as_u128() >> 75; // 53 random bits
    #[expect(
        clippy::cast_precision_loss,
        reason = "53 bits fit an f64 mantissa exactly"
    )]
    let fraction = bits as f64 / (1u64 << 53) as f64;
    fraction
}
