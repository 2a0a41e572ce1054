#![doc = include_str!("../README.md")]

mod generation;
mod runtime;

pub use runtime::{Runtime, RuntimeConfig, Shutdown};
