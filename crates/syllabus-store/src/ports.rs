//! The store as the rest of the workspace sees it: traits over plain records, implemented by
//! [`Database`](crate::Database). HTTP handlers and job handlers depend on these, never on diesel.

use std::future::Future;
use std::time::Duration;

use chrono::{DateTime, Utc};
use syllabus_domain::content::{Flashcard, SkillNode, SkillTree};
use syllabus_domain::plan::NormalizedModule;
use syllabus_domain::{
    FlashcardId, JobId, JobPayload, NormalizedPlan, PlanChanges, PlanId, TaskStatus, UserId,
};
use uuid::Uuid;

mod edits;
mod study;
mod usage;
mod webhooks;

pub use edits::EditStore;
pub use study::StudyStore;
pub use usage::UsageStore;
pub use webhooks::{DeliveryStore, WebhookStore};

use crate::error::StoreError;
use crate::records::{
    Actor, AttemptRecord, CardContext, ClaimedJob, ContentContext, FlashcardRecord,
    GenerationInput, Idempotency, JobEnd, JobFilter, JobRecord, Keyed, Lease, NewAttempt, NewPlan,
    Page, PageRequest, PlanDetail, PlanFilter, PlanRecord, PlanStreamState, ProgressRecord,
    ProviderCall, QueueStats, RateLimit, Regeneration, Retention, RetentionReport, RunTimes,
    ScheduleSource, SkillTreeRecord, TaskRecord,
};

/// Plans as their owner sees them. Every method acts for one user under row-level security:
/// another user's plan is [`StoreError::NotFound`].
pub trait PlanStore: Clone + Send + Sync + 'static {
    /// Creates a plan and its `plan_generation` job in one transaction, after checking the user's
    /// rate limit for plan generation in the same transaction.
    ///
    /// With an idempotency key (issue #23), the key is claimed first in the same transaction
    /// and the answer `idem` renders is stored with the plan: a key used before for the same
    /// request answers [`Keyed::Replay`] (nothing created, nothing counted).
    ///
    /// # Errors
    /// [`StoreError::RateLimited`] at the limit; [`StoreError::IdempotencyKeyInUse`],
    /// [`StoreError::IdempotencyKeyReused`]; the store's errors.
    fn create_plan(
        &self,
        actor: &Actor,
        plan: &NewPlan,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<(PlanDetail, JobRecord)>>,
    ) -> impl Future<Output = Result<Keyed<(PlanDetail, JobRecord)>, StoreError>> + Send;

    /// Creates a plan from a client's own modules and tasks (`origin` `manual`), already
    /// validated by the domain: no generation job, ready at once, not counted toward the rate
    /// limit (no model is called).
    ///
    /// # Errors
    /// The store's errors.
    /// With an idempotency key, as [`Self::create_plan`]'s.
    fn import_plan(
        &self,
        user: &UserId,
        plan: &NewPlan,
        content: &NormalizedPlan,
        idem: Option<Idempotency<PlanDetail>>,
    ) -> impl Future<Output = Result<Keyed<PlanDetail>, StoreError>> + Send;

    /// One plan with its modules and tasks in order.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn plan(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> impl Future<Output = Result<PlanDetail, StoreError>> + Send;

    /// The user's plans, newest first, without modules.
    ///
    /// # Errors
    /// The store's errors.
    fn plans(
        &self,
        user: &UserId,
        filter: PlanFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<PlanRecord>, StoreError>> + Send;

    /// Changes a plan's weekly hours, study days, dates and notes (issue #20) without
    /// regenerating it, and answers the plan as it is then. The dates after the change are
    /// checked against each other under the plan's row lock, so two changes at once cannot leave
    /// a deadline before the start.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::Invalid`] naming `deadline_date` when the
    /// deadline would fall before the start.
    fn update_plan(
        &self,
        user: &UserId,
        id: PlanId,
        changes: &PlanChanges,
    ) -> impl Future<Output = Result<PlanDetail, StoreError>> + Send;

    /// Deletes a plan and its content; its pending jobs are cancelled.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn delete_plan(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A page of a plan's attempts, newest first.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn attempts(
        &self,
        user: &UserId,
        id: PlanId,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<AttemptRecord>, StoreError>> + Send;

    /// Queues a new generation (SPEC §3 `regenerate`); at the cap records a `capped` attempt.
    /// A regeneration replaces the tasks: when any task has progress it goes ahead only with
    /// `discard_progress`, and then deletes that progress in the same transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] while a generation is queued or
    /// running, or when the plan has progress and `discard_progress` is false;
    /// [`StoreError::RateLimited`].
    fn regenerate(
        &self,
        actor: &Actor,
        id: PlanId,
        discard_progress: bool,
        max_attempts: u32,
        limit: RateLimit,
        idem: Option<Idempotency<JobRecord>>,
    ) -> impl Future<Output = Result<Keyed<Regeneration>, StoreError>> + Send;

    /// What the plan's event stream shows now: the plan, its numbered attempts and the previews
    /// of the attempt in flight, read in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn plan_stream(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> impl Future<Output = Result<PlanStreamState, StoreError>> + Send;
}

/// The learner's progress through a plan's tasks (issue #20), as its owner sets and reads it.
pub trait ProgressStore: Clone + Send + Sync + 'static {
    /// Sets a task's progress: `completed_at` is set when it becomes `completed` (kept when it
    /// already was) and cleared otherwise. The plan's event streams are told at commit.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the task is not the user's; [`StoreError::InvalidState`]
    /// while a generation of its plan is queued or running (it replaces the tasks).
    fn set_task_progress(
        &self,
        user: &UserId,
        task: Uuid,
        status: TaskStatus,
    ) -> impl Future<Output = Result<TaskRecord, StoreError>> + Send;

    /// A plan's progress summary.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn plan_progress(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<ProgressRecord, StoreError>> + Send;

    /// What the plan's study schedule is computed from: its status, weekly hours, start and
    /// deadline dates and its tasks not completed, in plan order, read in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is not the user's.
    fn schedule_source(
        &self,
        user: &UserId,
        plan: PlanId,
    ) -> impl Future<Output = Result<ScheduleSource, StoreError>> + Send;
}

/// Jobs as their owner sees them, and the database's health.
pub trait JobStore: Clone + Send + Sync + 'static {
    /// One job.
    ///
    /// # Errors
    /// [`StoreError::NotFound`].
    fn job(
        &self,
        user: &UserId,
        id: JobId,
    ) -> impl Future<Output = Result<JobRecord, StoreError>> + Send;

    /// The user's jobs, newest first.
    ///
    /// # Errors
    /// The store's errors.
    fn jobs(
        &self,
        user: &UserId,
        filter: JobFilter,
        page: PageRequest,
    ) -> impl Future<Output = Result<Page<JobRecord>, StoreError>> + Send;

    /// Cancels a pending job.
    ///
    /// # Errors
    /// [`StoreError::NotFound`]; [`StoreError::InvalidState`] when it is not pending.
    fn cancel_job(
        &self,
        user: &UserId,
        id: JobId,
    ) -> impl Future<Output = Result<JobRecord, StoreError>> + Send;

    /// Checks that the database answers.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`].
    fn ping(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Queue depth and attempt counts, across users (for `/metrics`).
    ///
    /// # Errors
    /// The store's errors.
    fn queue_stats(&self) -> impl Future<Output = Result<QueueStats, StoreError>> + Send;

    /// Run times (first start → end) of the finished jobs still stored, bucketed.
    ///
    /// # Errors
    /// The store's errors.
    fn run_times(&self) -> impl Future<Output = Result<RunTimes, StoreError>> + Send;
}

/// The queue as the job runtime drives it.
pub trait QueueStore: Clone + Send + Sync + 'static {
    /// Claims the next due job (highest priority, then oldest due) with a fresh lease.
    ///
    /// # Errors
    /// The store's errors.
    fn claim(
        &self,
        worker: &str,
    ) -> impl Future<Output = Result<Option<ClaimedJob>, StoreError>> + Send {
        async move { Ok(self.claim_many(worker, 1).await?.into_iter().next()) }
    }

    /// Claims up to `limit` due jobs in one statement, in claim order (highest priority, then
    /// fairly between users: `syllabus_domain::fairness::claim_key`, every user's first job before
    /// anyone's second; then id), each with its own fresh lease; rows other workers hold are
    /// skipped.
    ///
    /// # Errors
    /// The store's errors.
    fn claim_many(
        &self,
        worker: &str,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<ClaimedJob>, StoreError>> + Send;

    /// Records in ONE statement that the runs holding `leases` are alive; returns the leases
    /// that were lost (their job was rescued, released or ended meanwhile), in no given order.
    /// An error (the database unreachable) says nothing about any lease.
    ///
    /// # Errors
    /// The store's errors.
    fn heartbeat_many(
        &self,
        leases: &[Lease],
    ) -> impl Future<Output = Result<Vec<Lease>, StoreError>> + Send;

    /// Returns a run's job to `pending` without spending an attempt (graceful shutdown).
    ///
    /// # Errors
    /// The store's errors.
    fn release(&self, lease: Lease) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Returns a run's job to `pending` due at `at`, without spending an attempt: the run found
    /// no provider capacity (issue #22) and waits for it holding neither a lease nor a
    /// connection, as a waiter for `provider` (whose corrections may make it due sooner).
    /// Returns whether the lease was still held.
    ///
    /// # Errors
    /// The store's errors.
    fn defer(
        &self,
        lease: Lease,
        at: DateTime<Utc>,
        provider: &str,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Returns the jobs of all `leases` still held to `pending` in ONE statement, without
    /// spending their runs (a process shutting down gives back every run it could not finish);
    /// returns how many were given back (a lease already lost or ended changes nothing).
    ///
    /// # Errors
    /// The store's errors.
    fn release_many(
        &self,
        leases: &[Lease],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Rescues `processing` jobs whose heartbeat is older than `stale_after` back to `pending`,
    /// without counting the run that stopped (it recorded nothing) but adding 1 to the job's
    /// `rescues` (the job runtime gives a job up after 3); returns how many.
    ///
    /// # Errors
    /// The store's errors.
    fn rescue_stale(
        &self,
        stale_after: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// When the next pending job is due.
    ///
    /// # Errors
    /// The store's errors.
    fn next_run_at(&self)
    -> impl Future<Output = Result<Option<DateTime<Utc>>, StoreError>> + Send;

    /// Deletes completed and cancelled jobs older than `completed`, failed ones older than
    /// `failed`, in small batches (no long locks); returns how many.
    ///
    /// # Errors
    /// The store's errors.
    fn prune(
        &self,
        completed: Duration,
        failed: Duration,
    ) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// One retention pass (issue #22), in short batches, by one process at a time (an
    /// advisory lock per batch; a pass that finds it taken stops): provider calls older than
    /// `retention.calls_days` folded into daily aggregates (whole user-days) and deleted;
    /// module-regeneration attempts as old deleted; aggregates older than
    /// `retention.aggregates_days` deleted; expired rate-limit rows and the previews and
    /// drafts of ended runs deleted.
    ///
    /// # Errors
    /// The store's errors.
    fn retain_usage(
        &self,
        retention: Retention,
    ) -> impl Future<Output = Result<RetentionReport, StoreError>> + Send;

    /// Ends a run that writes nothing else, fenced by its lease.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`].
    fn finish(
        &self,
        lease: Lease,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// What the plan-generation handler reads and writes.
pub trait GenerationStore: Clone + Send + Sync + 'static {
    /// A run starts: reads the plan's request and what the next attempt needs, and deletes the
    /// previews a stopped run of the plan left (released, rescued), in one transaction.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is gone.
    fn read_input_clear_previews(
        &self,
        user: &UserId,
        id: PlanId,
    ) -> impl Future<Output = Result<GenerationInput, StoreError>> + Send;

    /// Finishes a generation run in ONE transaction: the job's state (fenced by the lease), the
    /// attempt row and, on success, the plan's modules and tasks replacing earlier ones.
    ///
    /// # Errors
    /// [`StoreError::LeaseLost`] (nothing is written); the store's errors.
    #[expect(
        clippy::too_many_arguments,
        reason = "one finishing write: its lease, owner, subject, content, end and call"
    )]
    fn finish_generation(
        &self,
        lease: Lease,
        user: &UserId,
        plan: PlanId,
        attempt: NewAttempt,
        content: Option<NormalizedPlan>,
        end: JobEnd,
        call: Option<ProviderCall>,
    ) -> impl Future<Output = Result<AttemptRecord, StoreError>> + Send;

    /// Shows a module of attempt `attempt_number` that has streamed in complete and valid, for
    /// the owner of `lease`'s job, while the run still holds `lease` (else nothing is written).
    /// Returns once it is committed: a NOTIFY then reaches the plan's event streams. The process
    /// writes the previews of all its runs in batches (one statement for what is queued). The
    /// previews of an attempt are deleted when [`GenerationStore::finish_generation`] records it.
    ///
    /// # Errors
    /// The store's errors (a preview is best effort: the caller logs and goes on).
    fn publish_preview(
        &self,
        lease: Lease,
        plan: PlanId,
        attempt_number: u32,
        index: usize,
        module: &NormalizedModule,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

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

/// Public plans and copies of plans (issue #21).
pub trait SharingStore: Clone + Send + Sync + 'static {
    /// A public plan with its modules and tasks, read in the public scope of row-level security
    /// (no user: no progress, no attempt).
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when no public plan has this id (a private plan is not found,
    /// exactly like a missing one).
    fn public_plan(
        &self,
        id: PlanId,
    ) -> impl Future<Output = Result<PlanDetail, StoreError>> + Send;

    /// Copies a plan the user may read (their own, or a public one) into a new private plan of
    /// theirs: `origin` `template`, `forked_from` the source, its modules and tasks with new ids,
    /// no progress and no attempts. Another user's notes, dates and study days are not copied.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] when the plan is neither theirs nor public;
    /// [`StoreError::InvalidState`] when it has no modules yet.
    fn fork_plan(
        &self,
        user: &UserId,
        id: PlanId,
        idem: Option<Idempotency<PlanDetail>>,
    ) -> impl Future<Output = Result<Keyed<PlanDetail>, StoreError>> + Send;
}
