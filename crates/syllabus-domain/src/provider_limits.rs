//! Shared provider limits (issue #22): at most `requests` calls and `tokens` tokens per sliding
//! window (60 s by default) for one provider, whatever process makes the calls; a provider's 429
//! pauses every call to it. The arithmetic only: the store keeps the window's reservations and
//! the pause in PostgreSQL and asks these functions.
//!
//! A call reserves one request and an estimate of its tokens ([`token_estimate`]: the prompt's
//! characters over [`CHARS_PER_TOKEN`] plus the call's output budget) before it starts; the
//! reservation is corrected to the usage the provider reported afterwards ([`corrected`]).
//! A reservation made at `at` counts in every window `(t − window, t]` with `t ≥ at`: it leaves
//! the window at exactly `at + window`.

use std::num::NonZeroU32;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::backoff::RETRY_AFTER_CAP;

/// The window's length by default (the settings are "per minute").
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(60);

/// Characters of prompt (messages and schema, as sent) counted as one token by the estimate: a
/// generous figure (English prose is about 4; JSON schemas tokenize worse), since an
/// over-estimate only holds capacity until the call's reported usage corrects it.
pub const CHARS_PER_TOKEN: usize = 3;

/// The furthest a waiter's place in line puts its next try ([`ProviderLimits::in_line`]).
pub const LINE_CAP: Duration = Duration::from_secs(3_600);

/// One provider's limits. `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProviderLimits {
    /// Calls per window (`LLM_REQUESTS_PER_MINUTE`).
    pub requests: Option<NonZeroU32>,
    /// Tokens (prompt and completion) per window (`LLM_TOKENS_PER_MINUTE`).
    pub tokens: Option<NonZeroU32>,
    /// The sliding window's length (`LLM_LIMIT_WINDOW_MS`, 60 s by default).
    pub window: Duration,
}

impl Default for ProviderLimits {
    fn default() -> Self {
        Self {
            requests: None,
            tokens: None,
            window: DEFAULT_WINDOW,
        }
    }
}

/// What the window holds: reservations made inside it and their tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowUse {
    /// Reservations (one per call).
    pub requests: u64,
    /// Their tokens (estimates, or the reported usage once corrected).
    pub tokens: u64,
}

/// One reservation in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    /// When it was made.
    pub at: DateTime<Utc>,
    /// Its tokens.
    pub tokens: u64,
}

impl ProviderLimits {
    /// Neither limit is set: no reservation is kept at all.
    #[must_use]
    pub fn is_unlimited(&self) -> bool {
        self.requests.is_none() && self.tokens.is_none()
    }

    /// The tokens a call of `tokens` reserves: never more than the whole window allows (a call
    /// larger than the limit still runs, alone in an otherwise empty window).
    #[must_use]
    pub fn reserved_tokens(&self, tokens: u64) -> u64 {
        match self.tokens {
            Some(limit) => tokens.min(u64::from(limit.get())),
            None => tokens,
        }
    }

    /// Whether one more call of `tokens` fits beside what the window holds.
    #[must_use]
    pub fn admits(&self, used: WindowUse, tokens: u64) -> bool {
        let requests_fit = self
            .requests
            .is_none_or(|limit| used.requests < u64::from(limit.get()));
        let tokens_fit = self.tokens.is_none_or(|limit| {
            used.tokens.saturating_add(self.reserved_tokens(tokens)) <= u64::from(limit.get())
        });
        requests_fit && tokens_fit
    }

    /// The earliest instant from `now` on at which a call of `tokens` fits, given the window's
    /// reservations (any order; those outside `(now − window, now]` are ignored): `now` when it
    /// fits already, else when enough of the oldest ones have left the window.
    #[must_use]
    pub fn free_at(&self, now: DateTime<Utc>, window: &[Reserved], tokens: u64) -> DateTime<Utc> {
        let start = self.window_start(now);
        let mut inside: Vec<Reserved> = window
            .iter()
            .copied()
            .filter(|r| r.at > start && r.at <= now)
            .collect();
        inside.sort_by_key(|r| r.at);
        let mut used = WindowUse {
            requests: u64::try_from(inside.len()).unwrap_or(u64::MAX),
            tokens: inside.iter().map(|r| r.tokens).fold(0, u64::saturating_add),
        };
        if self.admits(used, tokens) {
            return now;
        }
        for (i, r) in inside.iter().enumerate() {
            used.requests -= 1;
            used.tokens = used.tokens.saturating_sub(r.tokens);
            // Reservations made at the same instant leave together.
            if inside.get(i + 1).is_some_and(|next| next.at == r.at) {
                continue;
            }
            if self.admits(used, tokens) {
                return self.leaves_at(r.at).max(now);
            }
        }
        // Unreachable: an empty window admits any call (its tokens are capped at the limit).
        now
    }

    /// The fleet's pace under the limits: at most one call of `typical_tokens` per this long (the
    /// window per request, or the window's share of the token limit such a call takes, whichever
    /// is longer); zero without a limit.
    #[must_use]
    pub fn pace(&self, typical_tokens: u64) -> Duration {
        let per_request = self
            .requests
            .map_or(Duration::ZERO, |r| self.window / r.get());
        let per_tokens = self.tokens.map_or(Duration::ZERO, |t| {
            #[expect(
                clippy::cast_precision_loss,
                reason = "token counts far below 2^53; a pace need not be exact to the nanosecond"
            )]
            let share = self.reserved_tokens(typical_tokens) as f64 / f64::from(t.get());
            self.window.mul_f64(share)
        });
        per_request.max(per_tokens)
    }

    /// When a job that finds no capacity tries again, with `ahead` other jobs already waiting
    /// for the same provider, `head_taken` when one of them already comes back by the time the
    /// window has room plus one pace. The first waiter takes the head: it comes back at
    /// `free_at` (when the window has room for it), so that capacity freed by calls leaving the
    /// window is taken at once. Any other waiter comes back one [`pace`](Self::pace) per job
    /// ahead of it later than now (at most [`LINE_CAP`]), never before `free_at`: a crowd of
    /// waiters so comes back spread at the rate the limits admit it, not all at `free_at` to be
    /// refused again but one. (A correction that frees capacity early also wakes the first
    /// waiter in fair order, whatever its place here.)
    #[must_use]
    pub fn in_line(
        &self,
        now: DateTime<Utc>,
        free_at: DateTime<Utc>,
        ahead: u64,
        head_taken: bool,
        typical_tokens: u64,
    ) -> DateTime<Utc> {
        if !head_taken {
            return free_at;
        }
        let line = self
            .pace(typical_tokens)
            .saturating_mul(u32::try_from(ahead).unwrap_or(u32::MAX))
            .min(LINE_CAP);
        let back = chrono::Duration::from_std(line)
            .ok()
            .and_then(|d| now.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        free_at.max(back)
    }

    /// The earliest instant still inside the window ending at `now` (exclusive bound).
    #[must_use]
    pub fn window_start(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_signed(self.window_chrono())
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// When a reservation made at `at` leaves the window.
    #[must_use]
    pub fn leaves_at(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        at.checked_add_signed(self.window_chrono())
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    fn window_chrono(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.window).unwrap_or(chrono::Duration::MAX)
    }
}

/// A call's token estimate: its prompt (`prompt_chars`: messages and schema as sent) at
/// [`CHARS_PER_TOKEN`], rounded up, plus its output budget (`max_tokens`).
#[must_use]
pub fn token_estimate(prompt_chars: usize, max_tokens: u32) -> u64 {
    let prompt = u64::try_from(prompt_chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u64::MAX);
    prompt.saturating_add(u64::from(max_tokens))
}

/// The tokens a reservation keeps once its call is over: the usage the provider reported (up or
/// down from the estimate), else the estimate.
#[must_use]
pub fn corrected(estimate: u64, reported: Option<u64>) -> u64 {
    reported.unwrap_or(estimate)
}

/// Until when a provider's 429 pauses every call to it: `Retry-After` (capped at 60 s, as a
/// job's backoff caps it), else `fallback` (the backoff's delay), from `now`; never earlier than
/// a pause already running.
#[must_use]
pub fn pause_until(
    now: DateTime<Utc>,
    current: Option<DateTime<Utc>>,
    retry_after: Option<Duration>,
    fallback: Duration,
) -> DateTime<Utc> {
    let wait = retry_after.unwrap_or(fallback).min(RETRY_AFTER_CAP);
    let until = chrono::Duration::from_std(wait)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or(now);
    current.map_or(until, |c| c.max(until))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(requests: u32, tokens: u32) -> ProviderLimits {
        ProviderLimits {
            requests: NonZeroU32::new(requests),
            tokens: NonZeroU32::new(tokens),
            window: Duration::from_secs(60),
        }
    }

    fn t(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
    }

    fn at(ms: i64, tokens: u64) -> Reserved {
        Reserved { at: t(ms), tokens }
    }

    #[test]
    fn a_reservation_fits_up_to_the_limits_and_not_beyond() {
        let l = limits(3, 1_000);
        let used = |requests, tokens| WindowUse { requests, tokens };
        assert!(
            l.admits(used(2, 500), 500),
            "the last request and the last token fit"
        );
        assert!(!l.admits(used(3, 0), 1), "a fourth request does not");
        assert!(!l.admits(used(0, 600), 401), "a token over does not");
        assert!(ProviderLimits::default().admits(used(u64::MAX, u64::MAX), u64::MAX));
        assert!(ProviderLimits::default().is_unlimited());
        assert!(!limits(0, 10).is_unlimited());
    }

    #[test]
    fn a_call_larger_than_the_token_limit_runs_alone_in_an_empty_window() {
        let l = limits(0, 1_000);
        assert_eq!(l.reserved_tokens(5_000), 1_000);
        assert!(l.admits(WindowUse::default(), 5_000));
        assert!(!l.admits(
            WindowUse {
                requests: 1,
                tokens: 1
            },
            5_000
        ));
    }

    #[test]
    fn the_window_rolls_over_when_its_oldest_reservations_leave() {
        let l = limits(2, 0);
        let window = [at(0, 10), at(10_000, 10)];
        // Full at 59.999 s; at 60 s exactly the first one has left.
        assert_eq!(l.free_at(t(59_999), &window, 1), t(60_000));
        assert_eq!(l.free_at(t(60_000), &window, 1), t(60_000));
        // Reservations at the same instant leave together.
        let l = limits(2, 0);
        assert_eq!(
            l.free_at(t(20_000), &[at(5_000, 1), at(5_000, 1), at(6_000, 1)], 1),
            t(65_000)
        );
    }

    #[test]
    fn tokens_free_when_enough_of_them_have_left() {
        let l = limits(0, 1_000);
        let window = [at(0, 300), at(1_000, 300), at(2_000, 300)];
        // 900 used: 100 fit now, 400 once the first left, 700 once two left.
        assert_eq!(l.free_at(t(5_000), &window, 100), t(5_000));
        assert_eq!(l.free_at(t(5_000), &window, 400), t(60_000));
        assert_eq!(l.free_at(t(5_000), &window, 700), t(61_000));
        assert_eq!(
            l.free_at(t(5_000), &window, 9_999),
            t(62_000),
            "capped: alone"
        );
    }

    #[test]
    fn the_correction_goes_up_and_down_and_keeps_the_estimate_without_usage() {
        assert_eq!(corrected(1_000, Some(400)), 400);
        assert_eq!(corrected(1_000, Some(1_500)), 1_500);
        assert_eq!(corrected(1_000, None), 1_000);
        assert_eq!(token_estimate(10, 100), 104);
        assert_eq!(token_estimate(0, 0), 0);
    }

    #[test]
    fn a_pause_takes_retry_after_capped_else_the_fallback_and_never_shortens() {
        let s = Duration::from_secs;
        assert_eq!(pause_until(t(0), None, Some(s(5)), s(1)), t(5_000));
        assert_eq!(pause_until(t(0), None, Some(s(600)), s(1)), t(60_000));
        assert_eq!(pause_until(t(0), None, None, s(2)), t(2_000));
        assert_eq!(
            pause_until(t(0), Some(t(9_000)), Some(s(5)), s(1)),
            t(9_000)
        );
        assert_eq!(
            pause_until(t(0), Some(t(1_000)), Some(s(5)), s(1)),
            t(5_000)
        );
    }

    proptest! {
        /// `free_at` is the earliest instant the call fits: it fits then (the window as it is
        /// then), and one millisecond earlier it did not (unless that is before `now`).
        #[test]
        fn free_at_is_the_earliest_instant_the_call_fits(
            requests in 0u32..6,
            tokens in 0u32..2_000,
            ages in proptest::collection::vec((0i64..60_000, 0u64..800), 0..12),
            want in 0u64..3_000,
        ) {
            let l = limits(requests, tokens);
            let now = t(60_000);
            let window: Vec<Reserved> = ages.iter().map(|&(age, tk)| at(60_000 - age, tk)).collect();
            let use_at = |when: DateTime<Utc>| {
                let start = l.window_start(when);
                let inside: Vec<&Reserved> = window.iter().filter(|r| r.at > start && r.at <= when).collect();
                WindowUse {
                    requests: inside.len() as u64,
                    tokens: inside.iter().map(|r| r.tokens).sum(),
                }
            };
            let free = l.free_at(now, &window, want);
            prop_assert!(free >= now);
            prop_assert!(free <= l.leaves_at(now), "within one window");
            prop_assert!(l.admits(use_at(free), want), "fits at {free}");
            let before = free - chrono::Duration::milliseconds(1);
            if before >= now {
                prop_assert!(!l.admits(use_at(before), want), "already fit at {before}");
            }
        }

        /// The reserved tokens never exceed the limit, so a full window only ever holds what its
        /// limits allow: admitting call after call never goes over either limit.
        #[test]
        fn admitted_calls_never_exceed_either_limit(
            requests in 1u32..10,
            tokens in 1u32..5_000,
            calls in proptest::collection::vec(0u64..3_000, 0..40),
        ) {
            let l = limits(requests, tokens);
            let mut used = WindowUse::default();
            for want in calls {
                if l.admits(used, want) {
                    used.requests += 1;
                    used.tokens += l.reserved_tokens(want);
                }
            }
            prop_assert!(used.requests <= u64::from(requests));
            prop_assert!(used.tokens <= u64::from(tokens));
        }

        /// Waiters in line come back no earlier than the window has room, one pace apart, in
        /// the order they lined up; a window's worth of paces admits no more calls of the
        /// typical size than the limits allow.
        #[test]
        fn waiters_in_line_come_back_one_pace_apart_at_the_limits_rate(
            requests in 1u32..100,
            tokens in 1u32..100_000,
            typical in 1u64..10_000,
            ahead in 0u64..2_000,
            free_ms in 0i64..60_000,
        ) {
            let l = limits(requests, tokens);
            let now = t(0);
            let free = t(free_ms);
            let back = l.in_line(now, free, ahead, true, typical);
            prop_assert!(back >= free);
            prop_assert!(l.in_line(now, free, ahead + 1, true, typical) >= back);
            prop_assert_eq!(l.in_line(now, free, 0, true, typical), free);
            prop_assert_eq!(l.in_line(now, free, ahead, false, typical), free, "the head");
            let pace = l.pace(typical);
            let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
            let line = pace.saturating_mul(u32::try_from(ahead).unwrap_or(u32::MAX)).min(LINE_CAP);
            prop_assert!((back - now).num_milliseconds() >= ms(line) - 1);
            // At one call per pace, a window holds at most the limits' calls.
            let per_window = l.window.as_secs_f64() / pace.as_secs_f64();
            prop_assert!(per_window <= f64::from(requests) * 1.000_001);
            let tokens_per_window = per_window * l.reserved_tokens(typical) as f64;
            prop_assert!(tokens_per_window <= f64::from(tokens) * 1.000_001);
        }
    }

    #[test]
    fn a_crowd_of_waiters_is_spread_at_the_pace_of_the_tighter_limit() {
        // 60 requests a minute: one a second; 18,000 tokens a minute of 1,500-token calls:
        // one each 5 s. The tokens are the tighter.
        let l = limits(60, 18_000);
        assert_eq!(l.pace(1_500), Duration::from_secs(5));
        assert_eq!(l.pace(100), Duration::from_secs(1));
        assert_eq!(l.in_line(t(0), t(2_000), 0, true, 1_500), t(2_000));
        assert_eq!(l.in_line(t(0), t(2_000), 3, true, 1_500), t(15_000));
        assert_eq!(
            l.in_line(t(0), t(2_000), 3, false, 1_500),
            t(2_000),
            "nobody comes back when the window frees: this one does"
        );
        assert_eq!(
            l.in_line(t(0), t(0), 1_000_000, true, 1_500),
            t(3_600_000),
            "capped"
        );
        assert_eq!(ProviderLimits::default().pace(1_500), Duration::ZERO);
    }
}
