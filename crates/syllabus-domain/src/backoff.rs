//! The job backoff schedule.
//!
//! After failed attempt `n` (1-based) a job waits `base · 2^(n−1)` plus up to 25 % jitter.
//! A provider's `Retry-After` that is longer wins, capped at 60 s.
//! Jitter is passed in as a fraction in `[0, 1]` so that callers choose the randomness and tests
//! can pin it.

use std::time::Duration;

/// Largest extra delay from jitter, as a fraction of the exponential delay.
pub const JITTER_FRACTION: f64 = 0.25;
/// Longest `Retry-After` honoured.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(60);
/// Exponents above this stop growing the delay (2^16 · base is already hours for a 1 s base).
const MAX_EXPONENT: u32 = 16;

/// A backoff schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
}

impl Backoff {
    /// A schedule with the given base delay (`JOB_BACKOFF_BASE_MS`, 1 s by default).
    #[must_use]
    pub const fn new(base: Duration) -> Self {
        Self { base }
    }

    /// The exponential delay after failed attempt `n` without jitter.
    #[must_use]
    pub fn exponential(&self, failed_attempt: u32) -> Duration {
        let exponent = failed_attempt.saturating_sub(1).min(MAX_EXPONENT);
        self.base.saturating_mul(1u32 << exponent)
    }

    /// The delay before the next try after failed attempt `n`.
    ///
    /// `jitter` is clamped to `[0, 1]` and scales the 25 % jitter range; `retry_after` is the
    /// provider's hint, honoured when longer, up to 60 s.
    #[must_use]
    pub fn delay(
        &self,
        failed_attempt: u32,
        jitter: f64,
        retry_after: Option<Duration>,
    ) -> Duration {
        let exp = self.exponential(failed_attempt);
        let jitter = if jitter.is_finite() {
            jitter.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let with_jitter = exp.saturating_add(exp.mul_f64(JITTER_FRACTION * jitter));
        match retry_after.map(|r| r.min(RETRY_AFTER_CAP)) {
            Some(hint) if hint > with_jitter => hint,
            _ => with_jitter,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn delays_double_from_the_base() {
        let b = Backoff::new(SECOND);
        assert_eq!(b.delay(1, 0.0, None), SECOND);
        assert_eq!(b.delay(2, 0.0, None), 2 * SECOND);
        assert_eq!(b.delay(3, 0.0, None), 4 * SECOND);
    }

    #[test]
    fn full_jitter_adds_a_quarter() {
        let b = Backoff::new(SECOND);
        assert_eq!(b.delay(3, 1.0, None), Duration::from_secs(5));
        assert_eq!(b.delay(1, 0.5, None), Duration::from_millis(1_125));
    }

    #[test]
    fn a_longer_retry_after_wins_up_to_sixty_seconds() {
        let b = Backoff::new(SECOND);
        assert_eq!(
            b.delay(1, 0.0, Some(Duration::from_secs(5))),
            Duration::from_secs(5)
        );
        assert_eq!(
            b.delay(3, 0.0, Some(Duration::from_secs(2))),
            Duration::from_secs(4)
        );
        assert_eq!(
            b.delay(1, 0.0, Some(Duration::from_secs(3_600))),
            RETRY_AFTER_CAP
        );
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        let b = Backoff::new(SECOND);
        assert_eq!(b.delay(u32::MAX, 1.0, None), b.delay(17, 1.0, None));
    }

    proptest! {
        #[test]
        fn delay_stays_within_the_jitter_band(n in 1u32..12, jitter in 0.0f64..=1.0, base_ms in 1u64..5_000) {
            let b = Backoff::new(Duration::from_millis(base_ms));
            let exp = b.exponential(n);
            let d = b.delay(n, jitter, None);
            prop_assert!(d >= exp);
            prop_assert!(d <= exp + exp.mul_f64(0.25) + Duration::from_nanos(1));
        }
    }
}
