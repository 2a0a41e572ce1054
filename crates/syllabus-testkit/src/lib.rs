#![doc = include_str!("../README.md")]

#[cfg(feature = "postgres")]
mod cluster;
#[cfg(feature = "postgres")]
mod db;
pub mod fake_llm;

#[cfg(feature = "postgres")]
pub use cluster::PrivateCluster;
#[cfg(feature = "postgres")]
pub use db::{APP_ROLE, TestDb, migrate};
pub use fake_llm::{End, FakeLlm, Reply};
