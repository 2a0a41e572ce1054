//! The sliding-window rate limit: at most `limit` jobs per user per job type in any window of
//! `window` (exact, not clock hours).

use std::time::Duration;

use chrono::{DateTime, Utc};

/// Jobs allowed per user and type in one window, by default.
pub const DEFAULT_LIMIT: u32 = 20;
/// The window's length.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(3_600);

/// A sliding window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlidingWindow {
    limit: u32,
    window: Duration,
}

/// The window's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// One more job may start now.
    Allowed {
        /// Jobs left in the window after this one.
        remaining: u32,
    },
    /// The limit is reached.
    Limited {
        /// When one slot frees up.
        retry_after: Duration,
    },
}

impl Default for SlidingWindow {
    fn default() -> Self {
        Self::new(DEFAULT_LIMIT, DEFAULT_WINDOW)
    }
}

impl SlidingWindow {
    /// A window of `window` allowing `limit` jobs.
    #[must_use]
    pub const fn new(limit: u32, window: Duration) -> Self {
        Self { limit, window }
    }

    /// The limit.
    #[must_use]
    pub const fn limit(&self) -> u32 {
        self.limit
    }

    /// The window length.
    #[must_use]
    pub const fn window(&self) -> Duration {
        self.window
    }

    /// The earliest instant still inside the window ending at `now` (exclusive bound).
    #[must_use]
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let window = chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        now.checked_sub_signed(window)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// Decides whether one more job may start at `now`, given when earlier jobs of the same user
    /// and type started. Timestamps outside `(now − window, now]` are ignored; order does not
    /// matter.
    #[must_use]
    pub fn check(&self, now: DateTime<Utc>, started: &[DateTime<Utc>]) -> RateDecision {
        let start = self.window_start(now);
        let mut inside: Vec<DateTime<Utc>> = started
            .iter()
            .copied()
            .filter(|t| *t > start && *t <= now)
            .collect();
        let count = u32::try_from(inside.len()).unwrap_or(u32::MAX);
        if count < self.limit {
            return RateDecision::Allowed {
                remaining: self.limit - count - 1,
            };
        }
        if self.limit == 0 {
            return RateDecision::Limited {
                retry_after: self.window,
            };
        }
        // A slot frees up when enough of the oldest entries leave the window that fewer than
        // `limit` remain: the (count − limit + 1)-th oldest must leave.
        inside.sort_unstable();
        let index = usize::try_from(count - self.limit).unwrap_or(usize::MAX);
        let freeing = inside.get(index).copied().unwrap_or(now);
        let leaves_at =
            freeing + chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX);
        let retry_after = (leaves_at - now).to_std().unwrap_or(Duration::ZERO);
        RateDecision::Limited { retry_after }
    }
}

/// Whole seconds for a `Retry-After` header: rounded up, at least 1.
#[must_use]
pub fn retry_after_seconds(retry_after: Duration) -> u64 {
    let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
    secs.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn under_the_limit_is_allowed() {
        let w = SlidingWindow::new(3, DEFAULT_WINDOW);
        assert_eq!(w.check(at(0), &[]), RateDecision::Allowed { remaining: 2 });
        assert_eq!(
            w.check(at(10), &[at(0), at(5)]),
            RateDecision::Allowed { remaining: 0 }
        );
    }

    #[test]
    fn at_the_limit_the_oldest_entry_decides_the_wait() {
        let w = SlidingWindow::new(3, DEFAULT_WINDOW);
        let decision = w.check(at(100), &[at(40), at(0), at(90)]);
        assert_eq!(
            decision,
            RateDecision::Limited {
                retry_after: Duration::from_secs(3_500)
            }
        );
    }

    #[test]
    fn the_window_is_exact_not_clock_hours() {
        let w = SlidingWindow::new(1, DEFAULT_WINDOW);
        assert!(matches!(
            w.check(at(3_599), &[at(0)]),
            RateDecision::Limited { .. }
        ));
        assert!(matches!(
            w.check(at(3_600), &[at(0)]),
            RateDecision::Allowed { .. }
        ));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_millis(2_001)), 3);
        assert_eq!(retry_after_seconds(Duration::from_secs(7)), 7);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
    }

    proptest! {
        #[test]
        fn waiting_retry_after_always_frees_a_slot(
            offsets in prop::collection::vec(0i64..3_600, 0..40),
            limit in 1u32..25,
        ) {
            let w = SlidingWindow::new(limit, DEFAULT_WINDOW);
            let now = at(3_600);
            let started: Vec<_> = offsets.iter().map(|o| at(*o)).collect();
            match w.check(now, &started) {
                RateDecision::Allowed { .. } => prop_assert!(started.iter().filter(|t| **t > at(0)).count() < limit as usize),
                RateDecision::Limited { retry_after } => {
                    let later = now + chrono::Duration::from_std(retry_after).unwrap();
                    let allowed_then = matches!(w.check(later, &started), RateDecision::Allowed { .. });
                    prop_assert!(allowed_then);
                    // And not a second earlier.
                    let earlier = later - chrono::Duration::seconds(1);
                    let limited_before = matches!(w.check(earlier, &started), RateDecision::Limited { .. });
                    prop_assert!(limited_before);
                }
            }
        }
    }
}
