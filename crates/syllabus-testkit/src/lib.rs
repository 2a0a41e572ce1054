#![doc = include_str!("../README.md")]

mod db;
pub mod fake_llm;

pub use db::{APP_ROLE, TestDb};
pub use fake_llm::{End, FakeLlm, Reply};
