//! What the store reads and writes, as plain data: no diesel type crosses this boundary. One
//! file per subject; every record is re-exported here, so callers name `records::X`.

mod content;
mod generation;
mod idempotency;
mod jobs;
mod limits;
mod paging;
mod plans;
mod regen;
mod study;
mod usage;
mod webhooks;

pub use content::{
    CardContext, ContentContext, FlashcardRecord, SkillNodeRecord, SkillPreviewRecord,
    SkillTreeRecord,
};
pub use generation::{AttemptRecord, GenerationInput, NewAttempt, Regeneration, TokenUsage};
pub use idempotency::{Idempotency, Keyed, KeyedRequest, Render, StoredResponse};
pub use jobs::{
    Actor, ClaimedJob, JobEnd, JobError, JobEvent, JobFilter, JobRecord, Lease, NewJob, QueueStats,
    RateLimit, RunTimes,
};
pub use limits::{Admission, Endpoint, ProviderStats, RouteRequest, Routed, WaitCause};
pub use paging::{Page, PageRequest};
pub use plans::{
    ModuleRecord, NewPlan, PlanDetail, PlanFilter, PlanRecord, PlanStreamState, PreviewRecord,
    ProgressRecord, ScheduleSource, TaskRecord,
};
pub use regen::{DraftRecord, ModuleJobInput, ModuleTarget};
pub use study::{
    DeckExport, DueCard, DueCursor, DuePage, DueRequest, NewReview, ReviewRecord, SettingsRecord,
};
pub use usage::{ProviderCall, Retention, RetentionReport, UsageCounter, UsageRows, UsageTotals};
pub use webhooks::{
    CreatedEndpoint, DeliveryEnd, DeliveryRecord, DeliveryTarget, Disabled, EndpointChanges,
    EndpointRecord, NewEndpoint, WebhookAttempt,
};
