#![doc = include_str!("../README.md")]

mod db;

pub use db::{APP_ROLE, TestDb};
