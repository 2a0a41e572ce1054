#![doc = include_str!("../README.md")]

pub mod anki;
pub mod backoff;
pub mod breaker;
pub mod changes;
pub mod classification;
pub mod content;
pub mod edits;
pub mod fairness;
mod fields;
pub mod ids;
pub mod input;
pub mod issues;
pub mod jobs;
pub mod ordering;
pub mod plan;
pub mod progress;
pub mod provider_limits;
pub mod quality;
pub mod rate_limit;
pub mod regen;
pub mod review;
pub mod schedule;
pub mod secret;
pub mod sharing;
pub mod status;
pub mod study_days;
pub mod text;
pub mod usage;
pub mod webhooks;

pub use changes::{Patch, PlanChanges, RawPlanChanges};
pub use classification::{FailureClass, FailureFacts};
pub use edits::{ModuleChanges, NewModule, NewTask, TaskChanges};
pub use ids::{FlashcardId, JobId, ModuleId, PlanId, TaskId, UserId};
pub use input::{InputError, LearningStyle, PlanRequest, RawPlanRequest, SkillLevel, WeeklyHours};
pub use issues::{Issue, Issues, parse_json};
pub use jobs::{JobPayload, JobStatus, JobType};
pub use plan::{
    NormalizationReport, NormalizedModule, NormalizedPlan, NormalizedTask, validate_import,
    validate_plan,
};
pub use progress::TaskStatus;
pub use schedule::{
    DeadlineFit, Schedule, ScheduleOutcome, ScheduleRequest, ScheduleTask, Session, SessionPart,
    StudyDays, schedule,
};
pub use secret::Secret;
pub use sharing::{Origin, Visibility};
pub use status::{
    AttemptCap, AttemptOutcome, PlanStatus, derive_plan_status, plan_status_from_counts,
};
pub use text::{Sanitized, sanitize};
