#![doc = include_str!("../README.md")]

mod config;
mod endpoint;
mod failure;
mod openai;
mod port;
mod prompt;
pub mod scan;
pub mod schema;
pub mod webhook;

pub use config::{
    DEFAULT_BASE_URL, DEFAULT_EXTENDED_TIMEOUT, DEFAULT_MODEL, DEFAULT_TIMEOUT, ProviderConfig,
};
pub use failure::{AttemptFacts, Failure, Generated, Outcome, Usage};
pub use openai::OpenAiProvider;
pub use port::{
    Call, DraftSender, ModulePreview, PreviewSender, Provider, SkillPreview, SkillSender,
};
pub use prompt::{
    DistractorsInput, FlashcardsInput, ModuleInput, SkillTreeInput, plan_example_texts,
};
