//! Which handler runs a claimed job: the job's payload parsed once into the domain's typed
//! [`JobPayload`], then ONE exhaustive `match` (a new job type does not compile until it has a
//! handler); and the per-type hook that ends a run its handler could not end. The [`Dispatch`]
//! seam lets a benchmark run the real runtime around a handler that does nothing.

use syllabus_domain::{JobPayload, JobStatus, JobType};
use syllabus_provider::Provider;
use syllabus_store::records::{ClaimedJob, JobEnd, JobError};
use syllabus_store::{
    ContentJobStore, DeliveryStore, GenerationStore, LimiterStore, ModuleJobStore, QueueStore,
    StoreError,
};

use crate::context::Context;
use crate::handlers::{
    distractors, flashcards, module_regeneration, plan_generation, skill_tree, webhook_delivery,
};

/// What runs a claimed job. Production uses [`JobHandlers`]; the seam exists so that a
/// benchmark can run the real runtime (claims, leases, heartbeats, drain) around a handler that
/// does nothing but end the run.
pub trait Dispatch<S, P>: Send + Sync + 'static {
    /// Runs `job` and ends its run (fenced by its lease); returns the job's new status.
    fn run(
        &self,
        ctx: &Context<S, P>,
        job: &ClaimedJob,
    ) -> impl Future<Output = Result<JobStatus, StoreError>> + Send;

    /// Ends a run that [`Self::run`] did not end (it panicked or returned an unexpected error,
    /// or the job was given up before it ran) with `end`, which `error` describes, together
    /// with whatever the job's type records of such an end. Returns whether it ended the run;
    /// when it did not, the runtime writes `end` alone. By default nothing is recorded.
    ///
    /// # Errors
    /// The store's: on [`StoreError::NotFound`] the runtime cancels the job, on a transient
    /// error it releases it, on another it writes `end` alone.
    fn end_unfinished(
        &self,
        _ctx: &Context<S, P>,
        _job: &ClaimedJob,
        _error: &JobError,
        _end: JobEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        async { Ok(false) }
    }
}

/// The handlers of every job type: parse the payload, then one exhaustive `match`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JobHandlers;

impl<S, P> Dispatch<S, P> for JobHandlers
where
    S: QueueStore
        + GenerationStore
        + ContentJobStore
        + ModuleJobStore
        + LimiterStore
        + DeliveryStore,
    P: Provider,
{
    fn run(
        &self,
        ctx: &Context<S, P>,
        job: &ClaimedJob,
    ) -> impl Future<Output = Result<JobStatus, StoreError>> + Send {
        run(ctx, job)
    }

    fn end_unfinished(
        &self,
        ctx: &Context<S, P>,
        job: &ClaimedJob,
        error: &JobError,
        end: JobEnd,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        end_unfinished(ctx, job, error, end)
    }
}

/// Runs the handler of the job's payload.
async fn run<S, P>(ctx: &Context<S, P>, job: &ClaimedJob) -> Result<JobStatus, StoreError>
where
    S: QueueStore
        + GenerationStore
        + ContentJobStore
        + ModuleJobStore
        + LimiterStore
        + DeliveryStore,
    P: Provider,
{
    let payload = match JobPayload::parse(job.job_type, &job.payload) {
        Ok(p) => p,
        Err(issues) => {
            // Payloads are validated when accepted: a stored one that no longer parses is a bug.
            tracing::error!(%issues, "stored job payload does not validate");
            let end = JobEnd::Failed {
                error: JobError {
                    message: "The job's payload is invalid.".to_owned(),
                    classification: syllabus_domain::FailureClass::Validation,
                },
                reask: None,
            };
            return ctx.end_run(job, end).await;
        }
    };
    match payload {
        // Its plan is the job's `plan_id` column (nulled when the plan is deleted).
        JobPayload::PlanGeneration { plan_id: _ } => plan_generation::run(ctx, job).await,
        JobPayload::Flashcards {
            plan_id,
            module_id,
            max_cards,
        } => flashcards::run(ctx, job, plan_id, module_id, max_cards).await,
        JobPayload::Distractors { flashcard_id } => distractors::run(ctx, job, flashcard_id).await,
        JobPayload::SkillTree { plan_id } => skill_tree::run(ctx, job, plan_id).await,
        // Its plan is the job's `plan_id` column, as for a plan generation.
        JobPayload::ModuleRegeneration {
            plan_id: _,
            module_id,
            instruction,
        } => module_regeneration::run(ctx, job, module_id, instruction).await,
        // Issue #23: no provider, no gate.
        JobPayload::WebhookDelivery { delivery_id } => {
            webhook_delivery::run(ctx, job, delivery_id).await
        }
    }
}

/// The hook of the job's type for a run its handler could not end: a plan generation records
/// the failed attempt with the job's end (every attempt counts towards the plan's cap); the
/// module regeneration likewise (outside the cap), and deletes its draft; the content jobs
/// record nothing beside the job's state.
async fn end_unfinished<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    error: &JobError,
    end: JobEnd,
) -> Result<bool, StoreError>
where
    S: GenerationStore + ModuleJobStore + DeliveryStore,
{
    match job.job_type {
        JobType::PlanGeneration => plan_generation::end_interrupted(ctx, job, error, end).await,
        // Its failed attempt is recorded and its draft deleted with the job's end.
        JobType::ModuleRegeneration => match JobPayload::parse(job.job_type, &job.payload) {
            Ok(JobPayload::ModuleRegeneration { module_id, .. }) => {
                module_regeneration::end_interrupted(ctx, job, module_id, error, end).await
            }
            _ => Ok(false),
        },
        // The delivery ends with its job (given up after rescues: failed; interrupted: due again
        // when the job is), so it never stays `pending` behind an ended job.
        JobType::WebhookDelivery => match JobPayload::parse(job.job_type, &job.payload) {
            Ok(JobPayload::WebhookDelivery { delivery_id }) => {
                webhook_delivery::end_interrupted(ctx, job, delivery_id, end).await
            }
            _ => Ok(false),
        },
        JobType::Flashcards | JobType::Distractors | JobType::SkillTree => Ok(false),
    }
}
