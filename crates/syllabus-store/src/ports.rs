//! The store as the rest of the workspace sees it: traits over plain records, implemented by
//! [`Database`](crate::Database). HTTP handlers and job handlers depend on these, never on diesel.
//! One module an area; every trait is re-exported here, so callers name `ports::PlanStore`.

mod content;
mod edits;
mod generation;
mod jobs;
mod plans;
mod progress;
mod study;
mod usage;
mod webhooks;

pub use content::{ContentJobStore, ContentStore};
pub use edits::EditStore;
pub use generation::GenerationStore;
pub use jobs::{JobStore, QueueStore};
pub use plans::{PlanStore, SharingStore};
pub use progress::ProgressStore;
pub use study::StudyStore;
pub use usage::UsageStore;
pub use webhooks::{DeliveryStore, WebhookStore};
