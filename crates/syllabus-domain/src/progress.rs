//! A learner's progress: each task's status, and how a plan's completion is measured.

use crate::input::string_enum;

string_enum!(
    /// How far the learner is with a task.
    TaskStatus {
        NotStarted => "not_started",
        InProgress => "in_progress",
        Completed => "completed",
    }
);

/// A plan's completion, 0–1: the share of its task minutes that are in completed tasks (a long
/// task weighs more than a short one); 0 when it has no tasks.
#[must_use]
pub fn completion(completed_minutes: u32, total_minutes: u32) -> f64 {
    if total_minutes == 0 {
        return 0.0;
    }
    f64::from(completed_minutes.min(total_minutes)) / f64::from(total_minutes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_completion_is_a_share_of_minutes() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>(), Ok(*s));
        }
        assert!("done".parse::<TaskStatus>().is_err());
        assert!(completion(0, 0).abs() < f64::EPSILON);
        assert!((completion(30, 120) - 0.25).abs() < f64::EPSILON);
        assert!((completion(120, 120) - 1.0).abs() < f64::EPSILON);
    }
}
