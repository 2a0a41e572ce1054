//! Properties of spaced review (issue #24) over random rating sequences and review times.

use chrono::{DateTime, Duration, Utc};
use proptest::prelude::*;
use syllabus_domain::review::{CardMemory, Rating, Retention, schedule};

fn rating() -> impl Strategy<Value = Rating> {
    prop::sample::select(Rating::ALL.to_vec())
}

/// A sequence of reviews: each a rating and the minutes after the previous review (up to
/// 400 days, 0 included: several reviews on one day).
fn reviews() -> impl Strategy<Value = Vec<(Rating, i64)>> {
    prop::collection::vec((rating(), 0_i64..576_000), 1..12)
}

fn retention() -> impl Strategy<Value = f64> {
    0.7_f64..=0.97
}

fn start() -> DateTime<Utc> {
    "2026-01-01T08:00:00.123456Z".parse().unwrap_or_default()
}

/// Replays `seq` and hands each review's state before, time and result to `check`.
fn replay(
    seq: &[(Rating, i64)],
    retention: Retention,
    mut check: impl FnMut(
        Option<&CardMemory>,
        DateTime<Utc>,
        Rating,
        &syllabus_domain::review::Reviewed,
    ),
) {
    let mut now = start();
    let mut state: Option<CardMemory> = None;
    for &(r, minutes) in seq {
        now += Duration::minutes(minutes);
        let Ok(done) = schedule(state.as_ref(), r, now, retention) else {
            panic!("the scheduler refused its own state {state:?}");
        };
        check(state.as_ref(), now, r, &done);
        state = Some(done.memory);
    }
}

proptest! {
    #[test]
    fn the_card_is_due_after_the_review(seq in reviews(), ret in retention()) {
        let ret = Retention::new(ret).unwrap_or_default();
        replay(&seq, ret, |_, now, _, done| {
            assert!(done.memory.due_at > now);
            assert_eq!(done.memory.last_review_at, syllabus_domain::review::stored_time(now));
            for r in Rating::ALL {
                assert!(done.next.of(*r).due_at > now);
            }
        });
    }

    #[test]
    fn intervals_never_decrease_from_again_to_easy(seq in reviews(), ret in retention()) {
        let ret = Retention::new(ret).unwrap_or_default();
        replay(&seq, ret, |_, _, r, done| {
            let n = done.next;
            assert!(n.again.interval_days <= n.hard.interval_days, "{n:?}");
            assert!(n.hard.interval_days <= n.good.interval_days, "{n:?}");
            assert!(n.good.interval_days <= n.easy.interval_days, "{n:?}");
            assert_eq!(n.of(r).due_at, done.memory.due_at);
            assert_eq!(n.of(r).interval_days, done.interval_days);
        });
    }

    #[test]
    fn reps_count_reviews_and_lapses_count_again_after_the_first(seq in reviews()) {
        let mut expected_lapses = 0;
        let mut reviews = 0;
        replay(&seq, Retention::default(), |before, _, r, done| {
            reviews += 1;
            if before.is_some() && r == Rating::Again {
                expected_lapses += 1;
            }
            assert_eq!(done.memory.reps, reviews);
            assert_eq!(done.memory.lapses, expected_lapses);
        });
    }

    #[test]
    fn higher_retention_never_gives_longer_intervals(
        seq in reviews(),
        low in 0.7_f64..=0.97,
        high in 0.7_f64..=0.97,
    ) {
        let (low, high) = if low <= high { (low, high) } else { (high, low) };
        let (low, high) = (
            Retention::new(low).unwrap_or_default(),
            Retention::new(high).unwrap_or_default(),
        );
        // The same history (states from the low retention's replay), answered at both.
        replay(&seq, low, |before, now, _, _| {
            let (Ok(a), Ok(b)) = (
                schedule(before, Rating::Good, now, low),
                schedule(before, Rating::Good, now, high),
            ) else {
                panic!("refused");
            };
            for r in Rating::ALL {
                assert!(b.next.of(*r).interval_days <= a.next.of(*r).interval_days);
            }
        });
    }
}

proptest! {
    // A retention read back from its `real` column is the one written, bounds included (0.97
    // as an f32 lies above 0.97: checking the bounds again would lose it).
    #[test]
    fn a_stored_retention_reads_back_as_written(value in 0.7_f64..=0.97) {
        let Some(written) = Retention::new(value) else {
            panic!("{value} is in range");
        };
        prop_assert_eq!(Retention::from_stored(written.get()), written);
    }
}

#[test]
fn the_bounds_read_back_as_themselves() {
    for bound in [0.7, 0.97] {
        let written = Retention::new(bound).unwrap_or_default();
        assert_ne!(written, Retention::default());
        assert_eq!(Retention::from_stored(written.get()), written);
    }
    assert_eq!(Retention::from_stored(f32::NAN), Retention::default());
}
