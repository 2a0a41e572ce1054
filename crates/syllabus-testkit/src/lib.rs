#![doc = include_str!("../README.md")]

mod cluster;
mod db;
pub mod fake_llm;

pub use cluster::PrivateCluster;
pub use db::{APP_ROLE, TestDb};
pub use fake_llm::{End, FakeLlm, Reply};
