//! Fair claiming between users (issue #22): one user's backlog must not hold another user's first
//! job behind all of it.
//!
//! Each job gets a virtual time when it is queued: `now`, or one [`FAIR_SPACING`] after the
//! newest virtual time among its user's pending jobs, whichever is later ([`fair_at`]). Workers
//! claim due jobs by priority, then by `max(run_at, fair_at)` ([`claim_key`]). Jobs queued at
//! about the same time are so claimed by their rank in their user's queue (every user's first,
//! then every user's second…), and a user who arrives `d` after another user's burst waits
//! behind at most `d / FAIR_SPACING + 1` of its jobs. The database computes both (a trigger and
//! a generated column of migration 000015) exactly as these functions do.

use std::time::Duration;

use chrono::{DateTime, Utc};

/// How far apart a user's queued jobs are in virtual time: an hour (the per-user rate window),
/// so that ranks, not arrival times, order the users' jobs queued within an hour of each other.
pub const FAIR_SPACING: Duration = Duration::from_secs(3_600);

/// A new job's virtual time, given the newest virtual time among its user's pending jobs.
#[must_use]
pub fn fair_at(now: DateTime<Utc>, newest_pending: Option<DateTime<Utc>>) -> DateTime<Utc> {
    let spacing = chrono::Duration::from_std(FAIR_SPACING).unwrap_or(chrono::Duration::MAX);
    newest_pending
        .and_then(|t| t.checked_add_signed(spacing))
        .map_or(now, |next| next.max(now))
}

/// What due jobs of one priority are claimed in order of (then by id): a job is never ahead of
/// its own due time, so jobs not yet due sort after those that are.
#[must_use]
pub fn claim_key(run_at: DateTime<Utc>, fair_at: DateTime<Utc>) -> DateTime<Utc> {
    run_at.max(fair_at)
}

/// Of the window, how much later a waiting job comes back per [`FAIR_SPACING`] of its lead.
const WAIT_STEP: f64 = 0.05;
/// Of the window, the most a lead delays a waiting job's return.
const WAIT_LEAD_CAP: f64 = 0.5;
/// Of the window, the most random delay on top (spreading waiters of equal rank).
const WAIT_JITTER: f64 = 0.01;

/// How much later than the instant provider capacity frees a job that waits for it comes back
/// (issue #22): by its lead in virtual time (`fair_at − now`), a twentieth of the window per
/// [`FAIR_SPACING`], at most half the window; plus up to a hundredth of the window at random
/// (`jitter` in `[0, 1]`). Waiters so come back in fair order (a user's first job before
/// another's backlog) and not all at the same instant.
#[must_use]
pub fn wait_offset(
    now: DateTime<Utc>,
    fair_at: DateTime<Utc>,
    window: Duration,
    jitter: f64,
) -> Duration {
    let lead_ms = (fair_at - now).num_milliseconds().max(0);
    #[expect(
        clippy::cast_precision_loss,
        reason = "a lead in milliseconds is far below 2^53"
    )]
    let spacings = lead_ms as f64 / FAIR_SPACING.as_millis() as f64;
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 1.0)
    } else {
        0.0
    };
    let fraction = (spacings * WAIT_STEP).min(WAIT_LEAD_CAP) + WAIT_JITTER * jitter;
    window.mul_f64(fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(s: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000 + s, 0).unwrap()
    }

    /// Queues `jobs` (arrival second, user) in order and returns each job's virtual time.
    fn queue(jobs: &[(i64, usize)]) -> Vec<DateTime<Utc>> {
        let mut newest: std::collections::HashMap<usize, DateTime<Utc>> = Default::default();
        jobs.iter()
            .map(|&(at, user)| {
                let f = fair_at(t(at), newest.get(&user).copied());
                newest.insert(user, f);
                f
            })
            .collect()
    }

    #[test]
    fn a_users_first_job_is_due_now_and_the_next_ones_an_hour_apart() {
        assert_eq!(fair_at(t(5), None), t(5));
        assert_eq!(fair_at(t(5), Some(t(0))), t(3_600));
        assert_eq!(
            fair_at(t(7_200), Some(t(0))),
            t(7_200),
            "an old pending job ages"
        );
        assert_eq!(claim_key(t(10), t(3)), t(10));
        assert_eq!(claim_key(t(1), t(3)), t(3));
    }

    #[test]
    fn a_late_user_starts_before_an_earlier_users_backlog() {
        // 500 jobs of user 0 at once, then user 1's first job 30 s later.
        let mut jobs: Vec<(i64, usize)> = (0..500).map(|_| (0, 0)).collect();
        jobs.push((30, 1));
        let keys = queue(&jobs);
        let late = keys[500];
        let ahead = keys[..500].iter().filter(|k| **k <= late).count();
        assert_eq!(ahead, 1, "only the backlog's first job is ahead");
    }

    #[test]
    fn a_waiting_users_first_job_comes_back_before_a_backlogs_next() {
        let w = Duration::from_secs(60);
        assert_eq!(wait_offset(t(0), t(0), w, 0.0), Duration::ZERO);
        assert_eq!(wait_offset(t(0), t(-50), w, 0.0), Duration::ZERO);
        assert_eq!(wait_offset(t(0), t(3_600), w, 0.0), Duration::from_secs(3));
        assert_eq!(
            wait_offset(t(0), t(3_600 * 100), w, 0.0),
            Duration::from_secs(30)
        );
        assert_eq!(wait_offset(t(0), t(0), w, 1.0), Duration::from_millis(600));
        assert_eq!(wait_offset(t(0), t(0), w, f64::NAN), Duration::ZERO);
    }

    proptest! {
        /// A job with a smaller lead never comes back later than one a whole rank behind it,
        /// whatever their jitter; and no job waits more than about half a window extra.
        #[test]
        fn waiters_come_back_in_rank_order(
            lead in 0i64..40_000,
            j1 in 0.0f64..=1.0,
            j2 in 0.0f64..=1.0,
            window_ms in 100u64..120_000,
        ) {
            let w = Duration::from_millis(window_ms);
            let first = wait_offset(t(0), t(lead), w, j1);
            let behind = wait_offset(t(0), t(lead + 3_600), w, j2);
            if lead + 3_600 <= 36_000 {
                prop_assert!(first <= behind, "{first:?} > {behind:?}");
            }
            prop_assert!(first <= w.mul_f64(0.51));
        }

        /// Users who queue within one spacing of each other are claimed by rank: a job of rank r
        /// (its user's r-th) is never after a job of rank r + 1, whoever queued first.
        #[test]
        fn bursts_within_the_spacing_are_claimed_by_rank(
            jobs in proptest::collection::vec((0i64..3_000, 0usize..5), 1..60),
        ) {
            let mut jobs = jobs;
            jobs.sort_by_key(|j| j.0);
            let keys = queue(&jobs);
            let mut rank = std::collections::HashMap::new();
            let ranks: Vec<u32> = jobs.iter().map(|&(_, u)| {
                let r = rank.entry(u).or_insert(0u32);
                *r += 1;
                *r
            }).collect();
            for i in 0..jobs.len() {
                for j in 0..jobs.len() {
                    if ranks[i] < ranks[j] {
                        prop_assert!(keys[i] < keys[j], "rank {} at {} after rank {} at {}", ranks[i], keys[i], ranks[j], keys[j]);
                    }
                }
            }
        }

        /// Within a user, jobs keep their queue order; a user arriving `d` after another's burst
        /// waits behind at most `d / spacing + 1` of its jobs.
        #[test]
        fn a_late_user_waits_behind_a_bounded_part_of_a_backlog(
            burst in 1usize..300,
            late_s in 0i64..20_000,
        ) {
            let mut jobs: Vec<(i64, usize)> = (0..burst).map(|_| (0, 0)).collect();
            jobs.push((late_s, 1));
            let keys = queue(&jobs);
            prop_assert!(keys[..burst].windows(2).all(|w| w[0] < w[1]));
            let ahead = keys[..burst].iter().filter(|k| **k <= keys[burst]).count();
            let bound = usize::try_from(late_s / 3_600).unwrap() + 1;
            prop_assert!(ahead <= bound, "{ahead} ahead, bound {bound}");
        }
    }
}
