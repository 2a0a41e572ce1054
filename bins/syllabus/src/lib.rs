//! The Syllabus application as a library: [`app::Application`] wires the store, the provider,
//! the job runtime and the HTTP API once, from an [`app::Config`] made of each library's own
//! settings type. The `syllabus` binary fills that configuration from the environment
//! ([`config`]); the end-to-end tests fill it in code. Both run the same [`app::Application`].

pub mod app;
pub mod config;
pub mod telemetry;

pub use app::{Application, AuthConfig, Config, FallbackConfig, HttpConfig, WorkersConfig};
