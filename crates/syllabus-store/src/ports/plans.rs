//! [`PlanStore`] and [`SharingStore`]: plans as their owner sees them, public plans and copies
//! of plans.

use std::future::Future;

use syllabus_domain::{NormalizedPlan, PlanChanges, PlanId, UserId};

use crate::error::StoreError;
use crate::records::{
    Actor, AttemptRecord, Idempotency, JobRecord, Keyed, NewPlan, Page, PageRequest, PlanDetail,
    PlanFilter, PlanRecord, PlanStreamState, RateLimit, Regeneration,
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
