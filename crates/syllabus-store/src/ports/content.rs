//! [`ContentStore`] and [`ContentJobStore`]: flashcards, distractors and skill trees as their
//! owner sees them, and what their job handlers read and write.

use std::future::Future;

use syllabus_domain::content::{Flashcard, SkillNode, SkillTree};
use syllabus_domain::{FlashcardId, JobId, JobPayload, PlanId, UserId};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{
    Actor, CardContext, ContentContext, FlashcardRecord, Idempotency, JobEnd, JobRecord, Keyed,
    Lease, ProviderCall, RateLimit, SkillTreeRecord,
};

/// Flashcards, distractors and skill trees as their owner sees them, and their jobs.
pub trait ContentStore: Clone + Send + Sync + 'static {
    /// Queues a job for `payload` after checking, in the same transaction, that what it names is
    /// the user's and workable, and the user's rate limit for its type.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] (a plan, module or card that is not the user's);
    /// [`StoreError::InvalidState`] (flashcards for a plan without modules);
    /// [`StoreError::RateLimited`].
    fn enqueue(
        &self,
        actor: &Actor,
        payload: &JobPayload,
        priority: i16,
        max_attempts: u32,
        limit: RateLimit,
    ) -> impl Future<Output = Result<JobRecord, StoreError>> + Send;

    /// [`Self::enqueue`] with an idempotency key (issue #23): the key is claimed first in the
    /// same transaction and the answer `idem` renders is stored with the job; a key used before
    /// for the same request answers [`Keyed::Replay`] (nothing queued, nothing counted).
    ///
    /// # Errors
    /// As [`Self::enqueue`]; [`StoreError::IdempotencyKeyInUse`],
    /// [`StoreError::IdempotencyKeyReused`].
    fn enqueue_keyed(
        &self,
        actor: &Actor,
        payload: &JobPayload,
        priority: i16,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> impl Future<Output = Result<Keyed<JobRecord>, StoreError>> + Send;

    /// A new job with a failed job's type, payload and priority (not for `plan_generation`,
    /// whose retry is a regenerate).
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] unless the job failed;
    /// [`StoreError::RateLimited`].
    fn retry_job(
        &self,
        actor: &Actor,
        id: JobId,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> impl Future<Output = Result<Keyed<JobRecord>, StoreError>> + Send;

    /// A plan's deck, oldest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn flashcards(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<Vec<FlashcardRecord>, StoreError>> + Send;

    /// A plan's skill tree, if one was generated.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn skill_tree(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<Option<SkillTreeRecord>, StoreError>> + Send;
}

/// What the flashcards, distractors and skill-tree handlers read and write. Every finishing
/// write is fenced by the run's lease and replaces, never duplicates.
pub trait ContentJobStore: Clone + Send + Sync + 'static {
    /// The plan's topic and module titles (one module when `module` is given).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is gone.
    fn content_context(
        &self,
        user: &UserId,
        plan: PlanId,
        module: Option<Uuid>,
    ) -> impl Future<Output = Result<ContentContext, StoreError>> + Send;

    /// A card's question and answer with its plan's topic.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the card is gone.
    fn card_context(
        &self,
        user: &UserId,
        card: FlashcardId,
    ) -> impl Future<Output = Result<CardContext, StoreError>> + Send;

    /// Ends a flashcards run: replaces the cards this job wrote before (a retry or a rescue)
    /// with `cards`, in the transaction that completes the job.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`].
    #[expect(
        clippy::too_many_arguments,
        reason = "one finishing write: its lease, owner, subject, content, end and call"
    )]
    fn finish_flashcards(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        module: Option<Uuid>,
        cards: Vec<(FlashcardId, Flashcard)>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a distractors run: replaces the card's distractors.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`].
    fn finish_distractors(
        &self,
        lease: Lease,
        user: &UserId,
        card: FlashcardId,
        wrong: [String; 3],
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Ends a skill-tree run: replaces the plan's tree.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`].
    fn finish_skill_tree(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        tree: SkillTree,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Shows a top-level skill of the run's answer as it streams (issue #24), written only while
    /// the run holds `lease`; the first (`index` 0) replaces the plan's earlier streamed skills.
    ///
    /// # Errors
    /// The store's errors (the caller goes on: a preview is best effort).
    fn publish_skill(
        &self,
        lease: Lease,
        plan: PlanId,
        index: u32,
        skill: &SkillNode,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
