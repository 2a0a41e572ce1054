#![doc = include_str!("../README.md")]

mod error;
mod migrate;
mod pool;
mod schema;
mod users;

pub use error::StoreError;
pub use migrate::{MIGRATIONS_LOCK_KEY, run_migrations};
pub use pool::{Database, PoolOptions};
