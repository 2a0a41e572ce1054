//! The `plan_generation` handler: one attempt per run.
//!
//! Success writes the attempt row, the modules and tasks and the job's completion in ONE
//! transaction; a failure writes the classified attempt row and the job's retry or failure state
//! in one transaction, never content. Attempts stop at the plan's cap of 3.

use syllabus_domain::{AttemptCap, FailureClass, JobStatus, PlanId, PlanRequest};
use syllabus_provider::{AttemptFacts, Call, Failure, Provider};
use syllabus_store::records::{ClaimedJob, JobEnd, JobError, NewAttempt, TokenUsage};
use syllabus_store::{GenerationStore, LimiterStore, QueueStore, StoreError};

use crate::context::{Context, finish_with_retry};
use crate::gate::Gate;

/// `attempt` with the facts of the call that made it.
pub(super) fn with_facts(mut attempt: NewAttempt, facts: &AttemptFacts) -> NewAttempt {
    attempt.duration_ms = facts.duration_ms;
    attempt.timeout_extended = facts.timeout_extended;
    attempt.provider = Some(facts.provider.clone());
    attempt.model = Some(facts.model.clone());
    attempt.usage = facts.usage.map(|u| TokenUsage {
        prompt_tokens: u.prompt_tokens,
        completion_tokens: u.completion_tokens,
        total_tokens: u.total_tokens,
    });
    attempt.prompt_hash = (!facts.prompt_hash.is_empty()).then(|| facts.prompt_hash.clone());
    attempt
}

/// The attempt row and the run's end of a provider call that failed: retried after the backoff
/// when `may_retry` (and the class allows it), else failed. The re-ask's reasons go on the
/// attempt (`issues`), where the job's next run reads them, and on the job (`reask`), which a
/// manual retry's new job inherits.
pub(super) fn failed_call<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    base: NewAttempt,
    failure: &Failure,
    may_retry: bool,
) -> (NewAttempt, JobEnd) {
    let attempt = with_facts(
        NewAttempt {
            classification: Some(failure.class),
            error: Some(failure.message.clone()),
            issues: failure.issues.clone(),
            ..base
        },
        &failure.facts,
    );
    let error = JobError {
        message: failure.message.clone(),
        classification: failure.class,
    };
    let end = ctx.failure_end(
        job,
        error,
        failure.retry_after,
        may_retry,
        failure.issues.clone(),
    );
    (attempt, end)
}

/// A failed attempt that never reached the provider, with the sentence of its class.
fn failed_without_call(base: NewAttempt, class: FailureClass) -> (NewAttempt, JobEnd) {
    let error = JobError {
        message: class.user_message().to_owned(),
        classification: class,
    };
    (
        failed_attempt(base, &error),
        JobEnd::Failed { error, reask: None },
    )
}

/// The attempt row of a failure that `error` describes.
fn failed_attempt(base: NewAttempt, error: &JobError) -> NewAttempt {
    NewAttempt {
        classification: Some(error.classification),
        error: Some(error.message.clone()),
        ..base
    }
}

/// Ends a run that its handler could not end (a panic, an unexpected error, a job given up)
/// with `end`, which `error` describes, and records the failed attempt with it in the same
/// transaction, as every attempt must be: otherwise a plan whose job failed this way would show
/// `pending` for ever, with no attempt counting towards its cap. Returns whether it ended the
/// run; `false` (nothing written) when the plan is gone (the job's `plan_id` is nulled with it).
///
/// # Errors
/// The store's, after the retry window: [`StoreError::NotFound`] when the plan was deleted
/// meanwhile; another when the plan is at its cap (no attempt row may be written).
pub(crate) async fn end_interrupted<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    error: &JobError,
    end: JobEnd,
) -> Result<bool, StoreError>
where
    S: GenerationStore,
{
    let Some(plan) = job.plan_id else {
        return Ok(false);
    };
    let attempt = failed_attempt(NewAttempt::default(), error);
    finish_with_retry(|| {
        ctx.store.finish_generation(
            job.lease,
            &job.user,
            plan,
            attempt.clone(),
            None,
            end.clone(),
            None,
        )
    })
    .await
    .map(|_| true)
}

/// One provider call, with each module shown as a preview as soon as it has streamed in complete
/// and valid. The previews are written beside the stream (a slow write never delays the call)
/// and all of them before this returns, so none lands after the attempt's record, which deletes
/// them.
async fn generate<S, P>(
    ctx: &Context<S, P>,
    provider: &P,
    job: &ClaimedJob,
    plan: PlanId,
    request: &PlanRequest,
    input: &syllabus_store::records::GenerationInput,
) -> syllabus_provider::Outcome<syllabus_domain::NormalizedPlan>
where
    S: GenerationStore,
    P: Provider,
{
    let attempt_number = input.attempts_used + 1;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let call = provider.learning_plan(request, input.reask.as_ref(), Some(tx));
    let publish = async {
        while let Some(preview) = rx.recv().await {
            let shown = ctx
                .store
                .publish_preview(
                    job.lease,
                    plan,
                    attempt_number,
                    preview.index,
                    &preview.module,
                )
                .await;
            if let Err(e) = shown {
                // Best effort: the attempt goes on; its stream readers re-read at its end.
                tracing::warn!(error = %e, index = preview.index, "module preview not published");
            }
        }
    };
    let (outcome, ()) = tokio::join!(call, publish);
    outcome
}

/// Runs one attempt at the job's plan and ends the run with its record.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + GenerationStore + LimiterStore,
    P: Provider,
{
    // The plan is the job's `plan_id`, not the payload's: the column is nulled with the plan.
    let Some(plan) = job.plan_id else {
        // The plan was deleted after the job was claimed or queued.
        return ctx.end_run(job, JobEnd::Cancelled).await;
    };
    let input = match ctx.store.read_input_clear_previews(&job.user, plan).await {
        Ok(input) => input,
        Err(StoreError::NotFound) => return ctx.end_run(job, JobEnd::Cancelled).await,
        Err(e) => return Err(e),
    };
    let base = NewAttempt {
        topic_truncated: input.topic_truncated,
        notes_truncated: input.notes_truncated,
        ..NewAttempt::default()
    };

    let (attempt, content, end, call) = if AttemptCap::next_attempt(input.attempts_used).is_none() {
        let (attempt, end) = failed_without_call(base, FailureClass::Capped);
        (attempt, None, end, None)
    } else {
        match PlanRequest::parse(&input.request) {
            Err(e) => {
                // Stored requests were validated on the way in; this is a bug, not the model's fault.
                tracing::error!(error = %e, "stored plan request no longer validates");
                let (attempt, end) = failed_without_call(base, FailureClass::ProviderError);
                (attempt, None, end, None)
            }
            Ok(request) => match ctx
                .limited(
                    job,
                    Call::LearningPlan(&request, input.reask.as_ref()),
                    |p| generate(ctx, p, job, plan, &request, &input),
                )
                .await
            {
                // No capacity: the job waits, no attempt recorded or spent.
                Gate::Waiting(status) => return status,
                Gate::Ran(outcome) => match outcome {
                    Ok(generated) => {
                        let call = ctx.call_record(&generated.facts, None);
                        let report = generated.output.report;
                        let attempt = with_facts(
                            NewAttempt {
                                modules_count: report.modules_count,
                                tasks_count: report.tasks_count,
                                effort_normalized: report.effort_normalized,
                                modules_clamped: report.modules_clamped,
                                tasks_clamped: report.tasks_clamped,
                                ..base
                            },
                            &generated.facts,
                        );
                        let result = serde_json::json!({
                            "plan_id": plan.as_uuid(),
                            "modules_count": report.modules_count,
                            "tasks_count": report.tasks_count,
                        });
                        (
                            attempt,
                            Some(generated.output),
                            JobEnd::Completed { result },
                            Some(call),
                        )
                    }
                    Err(failure) => {
                        tracing::warn!(
                            class = failure.class.as_str(),
                            detail = %failure.detail,
                            "generation attempt failed"
                        );
                        // This attempt is number used + 1; another is allowed only below the cap.
                        let below_cap = input.attempts_used + 1 < AttemptCap::MAX;
                        let (attempt, end) = failed_call(ctx, job, base, &failure, below_cap);
                        let call = ctx.call_record(&failure.facts, Some(failure.class));
                        (attempt, None, end, Some(call))
                    }
                },
            },
        }
    };
    let status = end.status();
    ctx.finishing(|| {
        ctx.store.finish_generation(
            job.lease,
            &job.user,
            plan,
            attempt.clone(),
            content.clone(),
            end.clone(),
            call.clone(),
        )
    })
    .await?;
    Ok(status)
}
