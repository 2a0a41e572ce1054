//! Spaced review of flashcards (issue #24): a card's memory state and its next due date, from
//! the FSRS-6 scheduler of the `fsrs` crate (open-spaced-repetition, the scheduler inside Anki)
//! with its default parameters. This module is a thin, pure layer over it: time is an argument,
//! the crate decides stability, difficulty and the raw interval; the rules here are only what the
//! crate leaves to its caller:
//!
//! - whole days: the interval is the crate's interval rounded, at least 1 day (the crate's own
//!   scheduling example does the same), at most [`MAX_INTERVAL_DAYS`]; `days_elapsed` is the
//!   whole days since the last review (floored);
//! - `reps` counts every review, `lapses` every `again` after the first review;
//! - times are cut to microseconds (what PostgreSQL keeps), so a stored state reads back equal.

use chrono::{DateTime, Duration, SubsecRound as _, Utc};
use fsrs::{FSRS, MemoryState, NextStates};

use crate::input::string_enum;

string_enum!(
    /// The learner's answer to a card.
    Rating {
        Again => "again",
        Hard => "hard",
        Good => "good",
        Easy => "easy",
    }
);

impl Rating {
    /// FSRS's number for the rating (1–4).
    #[must_use]
    pub const fn number(self) -> u32 {
        match self {
            Self::Again => 1,
            Self::Hard => 2,
            Self::Good => 3,
            Self::Easy => 4,
        }
    }
}

/// The desired retention when the learner has not chosen one.
pub const DEFAULT_RETENTION: f32 = 0.9;
/// The lowest desired retention a learner may choose (checked as written, before it becomes
/// the scheduler's `f32`).
pub const MIN_RETENTION: f64 = 0.7;
/// The highest desired retention a learner may choose.
pub const MAX_RETENTION: f64 = 0.97;
/// The longest interval given (100 years): beyond it the date means "never".
pub const MAX_INTERVAL_DAYS: u32 = 36_500;
/// The longest a client-chosen `review_id` may be.
pub const REVIEW_ID_MAX: usize = 100;

/// A desired retention in [`MIN_RETENTION`]–[`MAX_RETENTION`].
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Retention(f32);

impl Retention {
    /// The retention, when it is a number in range.
    #[must_use]
    pub fn new(value: f64) -> Option<Self> {
        // Checked as sent (the document's bounds), then the scheduler's f32.
        #[allow(clippy::cast_possible_truncation)]
        (MIN_RETENTION..=MAX_RETENTION)
            .contains(&value)
            .then_some(Self(value as f32))
    }

    /// A retention read back from storage as the scheduler's `f32`. The bounds were checked
    /// when it was written; as an `f32` they may lie just outside them (0.97 is 0.97000003), so
    /// it is clamped to the bounds' own `f32` images, never refused.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)]
    pub fn from_stored(value: f32) -> Self {
        if value.is_nan() {
            return Self::default();
        }
        Self(value.clamp(MIN_RETENTION as f32, MAX_RETENTION as f32))
    }

    /// The value.
    #[must_use]
    pub const fn get(self) -> f32 {
        self.0
    }
}

impl Default for Retention {
    fn default() -> Self {
        Self(DEFAULT_RETENTION)
    }
}

/// Whether a client-chosen review id is acceptable: 1–100 visible ASCII characters.
#[must_use]
pub fn valid_review_id(id: &str) -> bool {
    (1..=REVIEW_ID_MAX).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

/// A card's review state for one learner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CardMemory {
    /// FSRS stability (days until retrievability falls to 90 %).
    pub stability: f32,
    /// FSRS difficulty (1–10).
    pub difficulty: f32,
    /// When the card is next due.
    pub due_at: DateTime<Utc>,
    /// Reviews so far.
    pub reps: u32,
    /// `again` answers after the first review.
    pub lapses: u32,
    /// The last review.
    pub last_review_at: DateTime<Utc>,
}

/// What one rating gives: the due date and the interval in whole days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheduled {
    /// Due date.
    pub due_at: DateTime<Utc>,
    /// Days from the review to the due date.
    pub interval_days: u32,
}

/// What each rating gives from one state at one time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextDue {
    /// After `again`.
    pub again: Scheduled,
    /// After `hard`.
    pub hard: Scheduled,
    /// After `good`.
    pub good: Scheduled,
    /// After `easy`.
    pub easy: Scheduled,
}

impl NextDue {
    /// The outcome of `rating`.
    #[must_use]
    pub const fn of(&self, rating: Rating) -> Scheduled {
        match rating {
            Rating::Again => self.again,
            Rating::Hard => self.hard,
            Rating::Good => self.good,
            Rating::Easy => self.easy,
        }
    }
}

/// A review's result: the new state, and what each rating would have given from the state
/// before it (the choices the learner had).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reviewed {
    /// The state after the review.
    pub memory: CardMemory,
    /// Days from the review to the new due date.
    pub interval_days: u32,
    /// What each rating would have given.
    pub next: NextDue,
}

/// The scheduler refused a state (not finite, out of its range): a stored state was corrupted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the scheduler refused the card's state: {0}")]
pub struct ScheduleError(String);

/// The crate's interval in whole days: rounded, at least 1, at most [`MAX_INTERVAL_DAYS`].
#[must_use]
pub fn whole_days(interval: f32) -> u32 {
    if !interval.is_finite() {
        return MAX_INTERVAL_DAYS;
    }
    // In range after the clamp, so the cast is exact.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let days = interval.round().clamp(1.0, MAX_INTERVAL_DAYS as f32) as u32;
    days
}

/// Whole days from `last` to `now` (floored; 0 when `now` is earlier).
#[must_use]
pub fn days_elapsed(last: DateTime<Utc>, now: DateTime<Utc>) -> u32 {
    u32::try_from((now - last).num_days().max(0)).unwrap_or(u32::MAX)
}

/// `now` as stored: cut to microseconds.
#[must_use]
pub fn stored_time(now: DateTime<Utc>) -> DateTime<Utc> {
    now.trunc_subsecs(6)
}

/// The crate's four next states for a card at `now`.
///
/// # Errors
/// [`ScheduleError`] when the crate refuses the state.
pub fn next_states(
    prev: Option<&CardMemory>,
    now: DateTime<Utc>,
    retention: Retention,
) -> Result<NextStates, ScheduleError> {
    let fsrs = FSRS::new(&[]).map_err(|e| ScheduleError(e.to_string()))?;
    let memory = prev.map(|m| MemoryState {
        stability: m.stability,
        difficulty: m.difficulty,
    });
    let elapsed = prev.map_or(0, |m| days_elapsed(m.last_review_at, now));
    fsrs.next_states(memory, retention.get(), elapsed)
        .map_err(|e| ScheduleError(e.to_string()))
}

/// Reviews a card: `prev` is its state (`None` before its first review), `now` the review's
/// time.
///
/// # Errors
/// [`ScheduleError`] when the crate refuses the stored state.
pub fn schedule(
    prev: Option<&CardMemory>,
    rating: Rating,
    now: DateTime<Utc>,
    retention: Retention,
) -> Result<Reviewed, ScheduleError> {
    let now = stored_time(now);
    let states = next_states(prev, now, retention)?;
    let at = |s: &fsrs::ItemState| {
        let interval_days = whole_days(s.interval);
        Scheduled {
            due_at: now + Duration::days(i64::from(interval_days)),
            interval_days,
        }
    };
    let next = NextDue {
        again: at(&states.again),
        hard: at(&states.hard),
        good: at(&states.good),
        easy: at(&states.easy),
    };
    let chosen = match rating {
        Rating::Again => states.again,
        Rating::Hard => states.hard,
        Rating::Good => states.good,
        Rating::Easy => states.easy,
    };
    let outcome = next.of(rating);
    let lapse = u32::from(prev.is_some() && rating == Rating::Again);
    let memory = CardMemory {
        stability: chosen.memory.stability,
        difficulty: chosen.memory.difficulty,
        due_at: outcome.due_at,
        reps: prev.map_or(0, |m| m.reps).saturating_add(1),
        lapses: prev.map_or(0, |m| m.lapses).saturating_add(lapse),
        last_review_at: now,
    };
    Ok(Reviewed {
        memory,
        interval_days: outcome.interval_days,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap_or_default()
    }

    #[test]
    fn a_new_card_follows_the_crate_default_parameters() -> Result<(), ScheduleError> {
        let now = at("2026-12-05T10:00:00Z");
        let r = schedule(None, Rating::Good, now, Retention::default())?;
        // The crate's documented first answers: 0.212, 1.2931, 2.3065, 8.2956 days.
        assert_eq!(
            [
                r.next.again.interval_days,
                r.next.hard.interval_days,
                r.next.good.interval_days,
                r.next.easy.interval_days
            ],
            [1, 1, 2, 8]
        );
        assert_eq!(r.memory.due_at, at("2026-12-07T10:00:00Z"));
        assert_eq!((r.memory.reps, r.memory.lapses), (1, 0));
        assert!((r.memory.stability - 2.3065).abs() < 1e-3);
        Ok(())
    }

    #[test]
    fn again_on_a_new_card_is_not_a_lapse_but_later_it_is() -> Result<(), ScheduleError> {
        let now = at("2026-12-05T10:00:00Z");
        let first = schedule(None, Rating::Again, now, Retention::default())?;
        assert_eq!(first.memory.lapses, 0);
        let later = now + Duration::days(3);
        let second = schedule(
            Some(&first.memory),
            Rating::Again,
            later,
            Retention::default(),
        )?;
        assert_eq!((second.memory.reps, second.memory.lapses), (2, 1));
        Ok(())
    }

    #[test]
    fn retention_and_review_ids_are_bounded() {
        assert!(Retention::new(0.7).is_some());
        assert!(Retention::new(0.97).is_some());
        assert!(Retention::new(0.69).is_none());
        assert!(Retention::new(0.98).is_none());
        assert!(Retention::new(f64::NAN).is_none());
        assert!(valid_review_id("a-1"));
        assert!(!valid_review_id(""));
        assert!(!valid_review_id("a b"));
        assert!(!valid_review_id("é"));
        assert!(!valid_review_id(&"x".repeat(101)));
        assert!(valid_review_id(&"x".repeat(100)));
    }

    #[test]
    fn whole_days_round_and_clamp() {
        assert_eq!(whole_days(0.2), 1);
        assert_eq!(whole_days(2.5), 3);
        assert_eq!(whole_days(f32::INFINITY), MAX_INTERVAL_DAYS);
        assert_eq!(whole_days(1e9), MAX_INTERVAL_DAYS);
    }
}
