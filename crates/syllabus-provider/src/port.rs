//! The port the jobs crate calls: the [`Provider`] trait, and the module previews a plan's call
//! streams while it runs.

use std::future::Future;

use syllabus_domain::content::{Flashcard, SkillNode, SkillTree};
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::regen::ModuleDraft;
use syllabus_domain::{Issues, NormalizedPlan, PlanRequest};

use crate::failure::Outcome;
use crate::prompt::{DistractorsInput, FlashcardsInput, ModuleInput, SkillTreeInput};

/// A module of a plan's answer as it streams: complete and valid by the domain's rules, with
/// its efforts normalized. A preview only: the attempt may still fail (a later module breaks a
/// rule, the deadline passes) and nothing is stored until it succeeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModulePreview {
    /// 0-based position in the answer.
    pub index: usize,
    /// The module (its `order` is `index + 1`).
    pub module: NormalizedModule,
}

/// Where [`Provider::learning_plan`] sends its [`ModulePreview`]s, in order, as each module
/// completes (unbounded: a plan has at most 24 modules).
pub type PreviewSender = tokio::sync::mpsc::UnboundedSender<ModulePreview>;

/// A top-level skill of a skill-tree answer as it streams (issue #24): complete and valid by
/// the domain's rules (with its children), distinct from the skills before it. A preview only:
/// the answer may still fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkillPreview {
    /// 0-based position among the tree's roots.
    pub index: usize,
    /// The skill (its `path` is `index + 1`).
    pub skill: SkillNode,
}

/// Where [`Provider::skill_tree`] sends its [`SkillPreview`]s, in order (at most 8 per call).
pub type SkillSender = tokio::sync::mpsc::UnboundedSender<SkillPreview>;

/// Where [`Provider::learning_module`] sends the module's drafts, in order, each time a task has
/// streamed in complete and valid (at most 20 per call).
pub type DraftSender = tokio::sync::mpsc::UnboundedSender<ModuleDraft>;

/// One call a run is about to make, for its token estimate (issue #22: the shared limits reserve
/// it before the call).
#[derive(Debug, Clone, Copy)]
pub enum Call<'a> {
    /// [`Provider::learning_plan`].
    LearningPlan(&'a PlanRequest, Option<&'a Issues>),
    /// [`Provider::learning_module`].
    LearningModule(&'a ModuleInput, Option<&'a Issues>),
    /// [`Provider::flashcards`].
    Flashcards(&'a FlashcardsInput, Option<&'a Issues>),
    /// [`Provider::distractors`].
    Distractors(&'a DistractorsInput, Option<&'a Issues>),
    /// [`Provider::skill_tree`].
    SkillTree(&'a SkillTreeInput, Option<&'a Issues>),
}

/// A language model that generates Syllabus content.
///
/// Each call makes at most one provider request and never retries; `reask` carries the issues of
/// the previous attempt's `validation` failure so the model is told exactly what to fix (paths
/// and messages, never its earlier output).
///
/// The trait uses `impl Future` returns: it is meant to be used generically
/// (`JobContext<P: Provider>`), which keeps calls free of boxing.
pub trait Provider: Send + Sync + 'static {
    /// The key its shared limits and pause are kept under (the same endpoint and model in every
    /// process share them).
    fn limit_key(&self) -> &str;

    /// The tokens `call` may take, reserved before it: its prompt as sent (messages and
    /// schema) plus its output budget
    /// ([`token_estimate`](syllabus_domain::provider_limits::token_estimate)).
    fn token_estimate(&self, call: Call<'_>) -> u64;

    /// Generates a learning plan for a sanitized request; with `previews`, each module is sent
    /// there as soon as it has streamed in complete and valid (none after an invalid one).
    ///
    /// # Errors
    /// A [`Failure`](crate::Failure) classified as `timeout`, `rate_limit`, `validation` or
    /// `provider_error`.
    fn learning_plan(
        &self,
        request: &PlanRequest,
        reask: Option<&Issues>,
        previews: Option<PreviewSender>,
    ) -> impl Future<Output = Outcome<NormalizedPlan>> + Send;

    /// Generates one module anew in place of a plan's module (issue #21), validated by the rules
    /// of a plan's module, the degenerate-answer rules and a title none of the plan's other
    /// modules has; with `drafts`, the module so far is sent there each time a task completes.
    ///
    /// # Errors
    /// As [`Provider::learning_plan`].
    fn learning_module(
        &self,
        input: &ModuleInput,
        reask: Option<&Issues>,
        drafts: Option<DraftSender>,
    ) -> impl Future<Output = Outcome<NormalizedModule>> + Send;

    /// Generates question/answer cards; extra cards beyond `max_cards` are dropped.
    ///
    /// # Errors
    /// As [`Provider::learning_plan`].
    fn flashcards(
        &self,
        input: &FlashcardsInput,
        reask: Option<&Issues>,
    ) -> impl Future<Output = Outcome<Vec<Flashcard>>> + Send;

    /// Generates exactly three distinct wrong answers for a card.
    ///
    /// # Errors
    /// As [`Provider::learning_plan`].
    fn distractors(
        &self,
        input: &DistractorsInput,
        reask: Option<&Issues>,
    ) -> impl Future<Output = Outcome<[String; 3]>> + Send;

    /// Generates a skill tree of depth at most 3; with `skills`, each top-level skill is sent
    /// as soon as it has streamed in complete and valid (none after an invalid one).
    ///
    /// # Errors
    /// As [`Provider::learning_plan`].
    fn skill_tree(
        &self,
        input: &SkillTreeInput,
        reask: Option<&Issues>,
        skills: Option<SkillSender>,
    ) -> impl Future<Output = Outcome<SkillTree>> + Send;
}
