//! Job types and job statuses: the closed sets the queue, the API and the handlers share.

use crate::input::string_enum;

string_enum!(
    /// What a background job does. The job runtime matches on it exhaustively, so a type cannot
    /// exist without a handler.
    JobType {
        PlanGeneration => "plan_generation",
        Flashcards => "flashcards",
        Distractors => "distractors",
        SkillTree => "skill_tree",
    }
);

string_enum!(
    /// Where a job stands.
    JobStatus {
        Pending => "pending",
        Processing => "processing",
        Completed => "completed",
        Failed => "failed",
        Cancelled => "cancelled",
    }
);

impl JobStatus {
    /// Whether the job will not change any more (a `failed` job may still be retried, which
    /// creates a new job).
    #[must_use]
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_round_trip() {
        for t in JobType::ALL {
            assert_eq!(t.as_str().parse::<JobType>(), Ok(*t));
        }
        assert_eq!(
            "plan_generation".parse::<JobType>(),
            Ok(JobType::PlanGeneration)
        );
        assert!("planGeneration".parse::<JobType>().is_err());
    }

    #[test]
    fn only_finished_statuses_are_terminal() {
        let terminal: Vec<_> = JobStatus::ALL.iter().filter(|s| s.is_terminal()).collect();
        assert_eq!(
            terminal,
            [
                &JobStatus::Completed,
                &JobStatus::Failed,
                &JobStatus::Cancelled
            ]
        );
    }
}
