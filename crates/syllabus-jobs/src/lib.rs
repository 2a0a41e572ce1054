#![doc = include_str!("../README.md")]

mod clock;
mod context;
mod dispatch;
mod gate;
mod handlers;
mod leases;
mod run;
mod runtime;

pub use context::{Context, Fallback};
pub use dispatch::{Dispatch, JobHandlers};
pub use runtime::{Runtime, RuntimeConfig, Shutdown};
