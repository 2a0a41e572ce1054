//! The provider a process runs with: OpenAI-compatible when configured, otherwise one that fails
//! every call as `provider_error` naming the missing setting (the server still starts).

use syllabus_domain::content::{Flashcard, SkillTree};
use syllabus_domain::{FailureClass, Issues, NormalizedPlan, PlanRequest};

use crate::{
    AttemptFacts, DistractorsInput, Failure, FlashcardsInput, OpenAiProvider, Outcome, Provider,
    SkillTreeInput,
};

/// The message of every call made without a provider.
pub const NOT_CONFIGURED: &str =
    "No language model provider is configured: set OPENAI_API_KEY or OPENAI_BASE_URL.";

/// Either a real provider or the knowledge that none is configured.
#[derive(Debug)]
pub enum ConfiguredProvider {
    /// An OpenAI-compatible endpoint.
    OpenAi(OpenAiProvider),
    /// Neither `OPENAI_API_KEY` nor `OPENAI_BASE_URL` is set.
    NotConfigured {
        /// The model that would have been asked, for attempt records.
        model: String,
    },
}

impl ConfiguredProvider {
    fn missing(model: &str) -> Failure {
        Failure {
            class: FailureClass::ProviderError,
            message: NOT_CONFIGURED.to_owned(),
            detail: NOT_CONFIGURED.to_owned(),
            retry_after: None,
            issues: None,
            facts: AttemptFacts {
                provider: "none".to_owned(),
                model: model.to_owned(),
                duration_ms: 0,
                usage: None,
                timeout_extended: false,
                prompt_hash: String::new(),
            },
        }
    }
}

impl Provider for ConfiguredProvider {
    async fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
    ) -> Outcome<NormalizedPlan> {
        match self {
            Self::OpenAi(p) => p.learning_plan(request, reask).await,
            Self::NotConfigured { model } => Err(Self::missing(model)),
        }
    }

    async fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> Outcome<Vec<Flashcard>> {
        match self {
            Self::OpenAi(p) => p.flashcards(input, reask).await,
            Self::NotConfigured { model } => Err(Self::missing(model)),
        }
    }

    async fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> Outcome<[String; 3]> {
        match self {
            Self::OpenAi(p) => p.distractors(input, reask).await,
            Self::NotConfigured { model } => Err(Self::missing(model)),
        }
    }

    async fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
    ) -> Outcome<SkillTree> {
        match self {
            Self::OpenAi(p) => p.skill_tree(input, reask).await,
            Self::NotConfigured { model } => Err(Self::missing(model)),
        }
    }
}
