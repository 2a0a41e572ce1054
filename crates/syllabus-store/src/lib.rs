#![doc = include_str!("../README.md")]

mod content;
mod error;
mod jobs;
mod listen;
mod locks;
mod migrate;
mod plans;
mod pool;
pub mod ports;
mod previews;
#[cfg(test)]
mod query_plans;
pub mod records;
mod schema;
mod users;

pub use error::StoreError;
pub use listen::{JOBS_CHANNEL, JobEvents, PREVIEWS_CHANNEL, PlanEvent, PlanEvents, Wakeups};
pub use migrate::{MIGRATIONS_LOCK_KEY, run_migrations};
pub use plans::Regeneration;
pub use pool::{Database, PoolOptions};
pub use ports::{ContentJobStore, ContentStore, GenerationStore, JobStore, PlanStore, QueueStore};
