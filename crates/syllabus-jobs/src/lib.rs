#![doc = include_str!("../README.md")]

mod content;
mod generation;
mod runtime;

pub use runtime::{Context, Dispatch, JobHandlers, Runtime, RuntimeConfig, Shutdown};
