//! The `module_regeneration` handler (issue #21): one provider call per run for one module of a
//! plan, its drafts shown on the plan's event stream as tasks complete; the attempt recorded
//! (naming the module, outside the plan's cap) with the job's end in one transaction, and on
//! success the module replaced in place. A validation failure is re-asked with its issues on the
//! job's next run. A module deleted meanwhile fails the job at once, saying so.

use syllabus_domain::{FailureClass, JobStatus, PlanRequest};
use syllabus_provider::{Call, ModuleInput, Provider};
use syllabus_store::records::{
    ClaimedJob, JobEnd, JobError, ModuleTarget, NewAttempt, ProviderCall,
};
use syllabus_store::{LimiterStore, ModuleJobStore, QueueStore, StoreError};
use uuid::Uuid;

use super::plan_generation::{failed_call, with_facts};
use crate::context::Context;
use crate::gate::Gate;

/// What the learner is told when the module went away before its regeneration was saved.
const MODULE_GONE: &str = "The module was deleted before its regeneration was saved.";

/// One provider call, each draft shown as it streams in. The drafts are written beside the
/// stream and all of them before this returns, so none lands after the run's end, which
/// deletes them.
async fn generate<S, P>(
    ctx: &Context<S, P>,
    provider: &P,
    job: &ClaimedJob,
    target: ModuleTarget,
    input: &ModuleInput,
    reask: Option<&syllabus_domain::Issues>,
) -> syllabus_provider::Outcome<syllabus_domain::NormalizedModule>
where
    S: ModuleJobStore,
    P: Provider,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let call = provider.learning_module(input, reask, Some(tx));
    let publish = async {
        // A draft's `seq` grows across the job's runs too (a re-ask or a rescue runs it again):
        // a stream shows a draft newer than the last it sent, so a later run's first draft
        // replaces a refused run's last one at once.
        let mut seq = job.attempts.saturating_mul(DRAFTS_PER_RUN);
        while let Some(draft) = rx.recv().await {
            seq += 1;
            let shown = ctx
                .store
                .publish_draft(job.lease, target, input.order, seq, &draft)
                .await;
            if let Err(e) = shown {
                // Best effort: the run goes on; its stream readers re-read at its end.
                tracing::warn!(error = %e, seq, "module draft not published");
            }
        }
    };
    let (outcome, ()) = tokio::join!(call, publish);
    outcome
}

/// Room for one run's drafts in `seq` (a draft per task streamed: at most 20 valid ones).
const DRAFTS_PER_RUN: u32 = 10_000;

/// Regenerates the module and ends the run with its record.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    module: Uuid,
    instruction: Option<String>,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + ModuleJobStore + LimiterStore,
    P: Provider,
{
    // The plan is the job's `plan_id`, nulled with the plan.
    let Some(plan) = job.plan_id else {
        return ctx.end_run(job, JobEnd::Cancelled).await;
    };
    let target = ModuleTarget { plan, module };
    let input = match ctx.store.module_input(job.lease, &job.user, target).await {
        Ok(Some(input)) => input,
        Ok(None) => return module_gone(ctx, job, target, NewAttempt::default(), None).await,
        Err(StoreError::NotFound) => return ctx.end_run(job, JobEnd::Cancelled).await,
        Err(e) => return Err(e),
    };
    let base = NewAttempt {
        topic_truncated: input.topic_truncated,
        notes_truncated: input.notes_truncated,
        ..NewAttempt::default()
    };
    let request = match PlanRequest::parse(&input.request) {
        Ok(r) => r,
        Err(e) => {
            // Stored requests were validated on the way in; this is a bug, not the model's.
            tracing::error!(error = %e, "stored plan request no longer validates");
            let error = JobError {
                message: FailureClass::ProviderError.user_message().to_owned(),
                classification: FailureClass::ProviderError,
            };
            let attempt = NewAttempt {
                classification: Some(error.classification),
                error: Some(error.message.clone()),
                ..base
            };
            return finish(
                ctx,
                job,
                target,
                attempt,
                None,
                JobEnd::Failed { error, reask: None },
                None,
            )
            .await;
        }
    };
    let call = ModuleInput {
        request,
        order: input.order,
        title: input.title,
        description: input.description,
        other_titles: input.other_titles,
        instruction,
    };
    // The reasons of this job's last refused answer, else (a manual retry's first run) those of
    // the failed job it retries.
    let reask = input.reask.as_ref().or(job.reask.as_ref());
    let gated = ctx.limited(job, Call::LearningModule(&call, reask), |p| {
        generate(ctx, p, job, target, &call, reask)
    });
    let outcome = match gated.await {
        Gate::Ran(outcome) => outcome,
        Gate::Waiting(status) => return status,
    };
    let (attempt, content, end, call) = match outcome {
        Ok(generated) => {
            let call = ctx.call_record(&generated.facts, None);
            let m = generated.output;
            let tasks_count = u32::try_from(m.tasks.len()).unwrap_or(u32::MAX);
            let tasks_clamped =
                u32::try_from(m.tasks.iter().filter(|t| t.clamped).count()).unwrap_or(0);
            let attempt = with_facts(
                NewAttempt {
                    modules_count: 1,
                    tasks_count,
                    modules_clamped: u32::from(m.clamped),
                    tasks_clamped,
                    effort_normalized: m.clamped || tasks_clamped > 0,
                    ..base
                },
                &generated.facts,
            );
            let result = serde_json::json!({ "module_id": module, "tasks_count": tasks_count });
            (attempt, Some(m), JobEnd::Completed { result }, call)
        }
        Err(failure) => {
            tracing::warn!(
                class = failure.class.as_str(),
                detail = %failure.detail,
                "module regeneration failed"
            );
            let (attempt, end) = failed_call(ctx, job, base, &failure, true);
            let call = ctx.call_record(&failure.facts, Some(failure.class));
            (attempt, None, end, call)
        }
    };
    let finished = finish(
        ctx,
        job,
        target,
        attempt.clone(),
        content,
        end,
        Some(call.clone()),
    )
    .await;
    match finished {
        // Deleted (or replaced by a plan's regeneration) since the run read it: the write
        // rolled back; the job fails at once, the call's attempt recorded with the reason.
        Err(StoreError::ModuleReplaced) => module_gone(ctx, job, target, attempt, Some(call)).await,
        other => other,
    }
}

/// Ends a run its handler could not end (a panic, an unexpected error, a job given up) with
/// `end`, which `error` describes, recording the failed attempt and deleting the run's draft in
/// the same transaction. `false` (nothing written) when the plan is gone.
///
/// # Errors
/// The store's, after the retry window.
pub(crate) async fn end_interrupted<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    module: Uuid,
    error: &JobError,
    end: JobEnd,
) -> Result<bool, StoreError>
where
    S: ModuleJobStore,
{
    let Some(plan) = job.plan_id else {
        return Ok(false);
    };
    let attempt = NewAttempt {
        classification: Some(error.classification),
        error: Some(error.message.clone()),
        ..NewAttempt::default()
    };
    crate::context::finish_with_retry(|| {
        ctx.store.finish_module(
            job.lease,
            &job.user,
            ModuleTarget { plan, module },
            attempt.clone(),
            None,
            end.clone(),
            None,
        )
    })
    .await
    .map(|()| true)
}

/// The run's end, fenced by its lease, with its attempt, (on success) the module and the
/// provider call it made (the ledger's row).
async fn finish<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    target: ModuleTarget,
    attempt: NewAttempt,
    content: Option<syllabus_domain::NormalizedModule>,
    end: JobEnd,
    call: Option<ProviderCall>,
) -> Result<JobStatus, StoreError>
where
    S: ModuleJobStore,
{
    let status = end.status();
    ctx.finishing(|| {
        ctx.store.finish_module(
            job.lease,
            &job.user,
            target,
            attempt.clone(),
            content.clone(),
            end.clone(),
            call.clone(),
        )
    })
    .await?;
    Ok(status)
}

/// Fails the job without retry: the module is gone. `attempt` (the call's facts, if a call was
/// made) is recorded as that failure.
async fn module_gone<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    target: ModuleTarget,
    attempt: NewAttempt,
    call: Option<ProviderCall>,
) -> Result<JobStatus, StoreError>
where
    S: ModuleJobStore,
{
    tracing::info!("the module to regenerate is gone");
    let error = JobError {
        message: MODULE_GONE.to_owned(),
        classification: FailureClass::ProviderError,
    };
    let attempt = NewAttempt {
        classification: Some(error.classification),
        error: Some(error.message.clone()),
        issues: None,
        ..attempt
    };
    finish(
        ctx,
        job,
        target,
        attempt,
        None,
        JobEnd::Failed { error, reask: None },
        call,
    )
    .await
}
