//! The derived plan status and the attempt cap.
//!
//! A plan's status is never stored: it follows from whether modules exist and from its attempts.

use crate::classification::FailureClass;
use crate::input::string_enum;

string_enum!(
    /// Where a plan stands.
    PlanStatus {
        Pending => "pending",
        Ready => "ready",
        Failed => "failed",
    }
);

/// How one generation attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Modules were persisted.
    Success,
    /// Nothing was persisted.
    Failure(FailureClass),
}

impl AttemptOutcome {
    /// Whether this attempt counts toward the cap (capped records do not).
    #[must_use]
    pub const fn counts_toward_cap(self) -> bool {
        !matches!(self, Self::Failure(FailureClass::Capped))
    }
}

/// The attempt cap: at most [`AttemptCap::MAX`] non-capped attempts per plan, automatic and manual
/// together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AttemptCap;

impl AttemptCap {
    /// Attempts a plan may use.
    pub const MAX: u32 = 3;

    /// The number of the next attempt (1-based), or `None` when the cap is reached and the request
    /// must be recorded as a `capped` attempt without calling the provider.
    #[must_use]
    pub fn next_attempt(used: u32) -> Option<u32> {
        (used < Self::MAX).then_some(used + 1)
    }

    /// Attempts counting toward the cap.
    #[must_use]
    pub fn used(attempts: &[AttemptOutcome]) -> u32 {
        let n = attempts.iter().filter(|a| a.counts_toward_cap()).count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }
}

/// Derives a plan's status.
///
/// - `ready`: the plan has modules (a success persisted them);
/// - `failed`: no modules and [`AttemptCap::MAX`] non-capped attempts have failed;
/// - `pending`: otherwise.
#[must_use]
pub fn derive_plan_status(has_modules: bool, attempts: &[AttemptOutcome]) -> PlanStatus {
    let failed = attempts
        .iter()
        .filter(|a| matches!(a, AttemptOutcome::Failure(c) if *c != FailureClass::Capped))
        .count();
    plan_status_from_counts(has_modules, u32::try_from(failed).unwrap_or(u32::MAX))
}

/// [`derive_plan_status`] from counts, as a store reads them: whether modules exist and how many
/// non-capped attempts failed.
#[must_use]
pub const fn plan_status_from_counts(has_modules: bool, failed_attempts: u32) -> PlanStatus {
    if has_modules {
        PlanStatus::Ready
    } else if failed_attempts >= AttemptCap::MAX {
        PlanStatus::Failed
    } else {
        PlanStatus::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const FAIL: AttemptOutcome = AttemptOutcome::Failure(FailureClass::Timeout);
    const CAPPED: AttemptOutcome = AttemptOutcome::Failure(FailureClass::Capped);

    fn check(has_modules: bool, attempts: &[AttemptOutcome], expected: PlanStatus) {
        assert_eq!(
            derive_plan_status(has_modules, attempts),
            expected,
            "{attempts:?}"
        );
    }

    #[test]
    fn status_table() {
        check(false, &[], PlanStatus::Pending);
        check(false, &[FAIL], PlanStatus::Pending);
        check(false, &[FAIL, FAIL], PlanStatus::Pending);
        check(false, &[FAIL, FAIL, FAIL], PlanStatus::Failed);
        check(false, &[FAIL, FAIL, CAPPED, CAPPED], PlanStatus::Pending);
        check(false, &[FAIL, FAIL, FAIL, CAPPED], PlanStatus::Failed);
        check(true, &[AttemptOutcome::Success], PlanStatus::Ready);
        check(
            true,
            &[AttemptOutcome::Success, FAIL, FAIL],
            PlanStatus::Ready,
        );
    }

    #[test]
    fn the_cap_allows_three_attempts() {
        assert_eq!(AttemptCap::next_attempt(0), Some(1));
        assert_eq!(AttemptCap::next_attempt(2), Some(3));
        assert_eq!(AttemptCap::next_attempt(3), None);
        assert_eq!(
            AttemptCap::used(&[FAIL, CAPPED, AttemptOutcome::Success]),
            2
        );
    }

    fn outcome() -> impl Strategy<Value = AttemptOutcome> {
        prop_oneof![
            Just(AttemptOutcome::Success),
            prop::sample::select(FailureClass::ALL).prop_map(AttemptOutcome::Failure),
        ]
    }

    proptest! {
        #[test]
        fn status_matches_its_table_for_any_sequence(
            has_modules: bool,
            attempts in prop::collection::vec(outcome(), 0..8),
        ) {
            let failed = attempts.iter().filter(|a| matches!(a, AttemptOutcome::Failure(c) if *c != FailureClass::Capped)).count();
            let expected = if has_modules {
                PlanStatus::Ready
            } else if failed >= 3 {
                PlanStatus::Failed
            } else {
                PlanStatus::Pending
            };
            prop_assert_eq!(derive_plan_status(has_modules, &attempts), expected);
        }
    }
}
