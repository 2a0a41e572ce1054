#![doc = include_str!("../README.md")]

mod batches;
mod error;
mod finisher;
mod finishes;
pub mod limits_port;
mod listen;
mod locks;
mod migrate;
mod pool;
pub mod ports;
mod previews;
mod publisher;
#[cfg(test)]
mod query_plans;
pub mod records;
pub mod regen_port;
mod rows;
mod schema;
mod scope;
mod sql;
mod stores;
mod users;

pub use error::StoreError;
pub use limits_port::LimiterStore;
pub use listen::{JOBS_CHANNEL, JobEvents, PREVIEWS_CHANNEL, PlanEvent, PlanEvents, Wakeups};
pub use migrate::{MIGRATIONS_LOCK_KEY, run_migrations};
pub use pool::{Database, PoolOptions};
pub use ports::{
    ContentJobStore, ContentStore, EditStore, GenerationStore, JobStore, PlanStore, ProgressStore,
    QueueStore, SharingStore, StudyStore, UsageStore,
};
pub use ports::{DeliveryStore, WebhookStore};
pub use records::Regeneration;
pub use regen_port::ModuleJobStore;
pub use sql::usage::RETENTION_LOCK as USAGE_RETENTION_LOCK_KEY;
