//! The OpenAI-compatible provider: requests built from async-openai's configuration, the
//! response read here.
//!
//! The body of a response is read by this module alone, never by async-openai's client: that
//! client logs the text of every event it cannot deserialize (`error` level) and of every 5xx
//! body (`warn`), and SPEC section 2 forbids model output in logs whatever the subscriber's
//! filter. It also ends its stream the same way on `[DONE]` and on a cut connection, which SPEC
//! section 1 tells apart.
//!
//! A call goes [`request`] (the body) → [`stream`] (sent and read under the deadline, events
//! parsed by [`chunk`], a plan's modules watched by [`watch`]) → [`classify`] (the outcome).

mod chunk;
mod classify;
mod request;
mod stream;
mod watch;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use syllabus_domain::content::{
    Flashcard, SkillTree, validate_distractors, validate_flashcards, validate_skill_tree,
};
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::provider_limits::token_estimate;
use syllabus_domain::quality::{self, ExampleTexts};
use syllabus_domain::regen::validate_regenerated_module;
use syllabus_domain::{Issues, NormalizedPlan, PlanRequest, validate_plan};
use tokio::time::Instant;

use self::request::{Bounded, RequestParts, Schemas};
use self::stream::Deadlines;
use self::watch::{ModuleWatch, SkillWatch, TaskWatch, Watch};
use crate::config::ProviderConfig;
use crate::failure::{AttemptFacts, Outcome};
use crate::port::{Call, DraftSender, PreviewSender, Provider, SkillSender};
use crate::prompt::{self, DistractorsInput, FlashcardsInput, ModuleInput, Prompt, SkillTreeInput};
use crate::schema;

/// A provider speaking the OpenAI chat-completions API with streaming.
#[derive(Debug, Clone)]
pub struct OpenAiProvider {
    config: ProviderConfig,
    /// What every call sends and records the same, built once from the configuration.
    request: Arc<RequestParts>,
    /// [`ProviderConfig::limit_key`], built once.
    limit_key: Arc<str>,
    http: reqwest::Client,
    schemas: Arc<Schemas>,
}

impl OpenAiProvider {
    /// Builds a provider. No connection is made until the first call.
    ///
    /// # Errors
    /// When the HTTP client cannot be built (TLS initialization).
    pub fn new(config: ProviderConfig) -> Result<Self, reqwest::Error> {
        // No total timeout: it would cut a healthy stream; the adaptive deadline wraps the reads.
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            request: Arc::new(RequestParts::new(&config)),
            limit_key: config.limit_key().into(),
            schemas: Arc::new(Schemas::new(&config)),
            config,
            http,
        })
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// Runs one streamed call and validates its text with `validate`.
    async fn call<T>(
        &self,
        prompt: Prompt,
        schema: &Bounded,
        modules: Option<Watch>,
        validate: impl FnOnce(&Value) -> Result<T, Issues>,
    ) -> Outcome<T> {
        let started = Instant::now();
        let mut facts = AttemptFacts {
            provider: self.request.provider.clone(),
            model: self.config.model.clone(),
            duration_ms: 0,
            usage: None,
            timeout_extended: false,
            first_module_ms: None,
            prompt_hash: prompt.hash(),
        };
        let body = self.request.body(&self.config.model, &prompt, schema);
        let deadlines = Deadlines::new(started, self.config.timeout, self.config.extended_timeout);
        let ending = stream::stream(
            self.request.post(&self.http, &body),
            deadlines,
            schema.max_answer_bytes(),
            modules,
            &mut facts,
        )
        .await;
        facts.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        classify::outcome(
            ending,
            prompt.schema_name,
            schema.max_tokens,
            facts,
            validate,
        )
    }
}

impl Provider for OpenAiProvider {
    fn limit_key(&self) -> &str {
        &self.limit_key
    }

    fn token_estimate(&self, call: Call<'_>) -> u64 {
        let estimate = |prompt: Prompt, schema: &Bounded| {
            let chars = prompt.messages().to_string().chars().count() + schema.schema_chars();
            token_estimate(chars, schema.max_tokens)
        };
        match call {
            Call::LearningPlan(request, reask) => {
                estimate(prompt::plan(request, reask), &self.schemas.learning_plan)
            }
            Call::LearningModule(input, reask) => {
                estimate(prompt::module(input, reask), &self.schemas.learning_module)
            }
            Call::Flashcards(input, reask) => {
                let wanted = input.max_cards;
                let schema = Bounded::new(&self.config, |p| schema::flashcards(p, wanted));
                estimate(prompt::flashcards(input, reask), &schema)
            }
            Call::Distractors(input, reask) => {
                estimate(prompt::distractors(input, reask), &self.schemas.distractors)
            }
            Call::SkillTree(input, reask) => {
                estimate(prompt::skill_tree(input, reask), &self.schemas.skill_tree)
            }
        }
    }

    async fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
        previews: Option<PreviewSender>,
    ) -> Outcome<NormalizedPlan> {
        // The degenerate-answer rules run after the schema's: a plan that passes both is stored,
        // one that fails either is a validation failure, re-asked with the issues.
        let example = prompt::plan_example_texts();
        self.call(
            prompt::plan(request, reask),
            &self.schemas.learning_plan,
            Some(Watch::Plan(ModuleWatch::new(previews))),
            |doc| {
                let plan = validate_plan(doc)?;
                quality::check_plan(doc, &plan, &example)?;
                Ok(plan)
            },
        )
        .await
    }

    async fn learning_module(
        &self,
        input: &ModuleInput,
        reask: Option<&Issues>,
        drafts: Option<DraftSender>,
    ) -> Outcome<NormalizedModule> {
        // A copy of the plan example's texts (the module example is one of its modules) is
        // refused, as for plans.
        let example = prompt::plan_example_texts();
        let order = input.order;
        let others = input.other_titles.clone();
        self.call(
            prompt::module(input, reask),
            &self.schemas.learning_module,
            Some(Watch::Module(TaskWatch::new(drafts))),
            |doc| validate_regenerated_module(doc, order, &others, &example),
        )
        .await
    }

    async fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> Outcome<Vec<Flashcard>> {
        let wanted = input.max_cards;
        let schema = Bounded::new(&self.config, |profile| schema::flashcards(profile, wanted));
        let example = ExampleTexts::from_json(&prompt::flashcards_example(&input.topic));
        self.call(prompt::flashcards(input, reask), &schema, None, |doc| {
            let cards = validate_flashcards(doc, wanted)?;
            quality::check_flashcards(&cards, &example)?;
            Ok(cards)
        })
        .await
    }

    async fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> Outcome<[String; 3]> {
        let example = ExampleTexts::from_json(&prompt::distractors_example());
        self.call(
            prompt::distractors(input, reask),
            &self.schemas.distractors,
            None,
            |doc| {
                let wrong = validate_distractors(doc, &input.answer)?;
                quality::check_distractors(&wrong, &input.question, &example)?;
                Ok(wrong)
            },
        )
        .await
    }

    async fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
        skills: Option<SkillSender>,
    ) -> Outcome<SkillTree> {
        let example = ExampleTexts::from_json(&prompt::skill_tree_example());
        let watch = skills.map(|tx| Watch::Skills(SkillWatch::new(tx, example.clone())));
        self.call(
            prompt::skill_tree(input, reask),
            &self.schemas.skill_tree,
            watch,
            |doc| {
                let tree = validate_skill_tree(doc)?;
                quality::check_skill_tree(&tree, &example)?;
                Ok(tree)
            },
        )
        .await
    }
}
