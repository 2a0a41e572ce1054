//! What the content handlers (`flashcards`, `distractors`, `skill_tree`) share: one provider call
//! per run, the result written with the job's completion in one transaction, a classified
//! failure retried with backoff up to the job's runs.

use syllabus_domain::JobStatus;
use syllabus_provider::{AttemptFacts, Failure};
use syllabus_store::records::{ClaimedJob, JobEnd, JobError};
use syllabus_store::{QueueStore, StoreError};

use crate::context::Context;

/// A completed job's end: its `result` plus the call's `usage` and `duration_ms`.
pub(super) fn completed(mut result: serde_json::Value, facts: &AttemptFacts) -> JobEnd {
    result["usage"] = serde_json::json!(facts.usage);
    result["duration_ms"] = serde_json::json!(facts.duration_ms);
    JobEnd::Completed { result }
}

/// Ends a run whose provider call failed: retried after the backoff while runs remain (and the
/// failure's class allows it), else failed.
pub(super) async fn fail<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    failure: &Failure,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore,
{
    tracing::warn!(class = failure.class.as_str(), detail = %failure.detail, "content generation failed");
    let error = JobError {
        message: failure.message.clone(),
        classification: failure.class,
    };
    let end = ctx.failure_end(
        job,
        error,
        failure.retry_after,
        true,
        failure.issues.clone(),
    );
    let call = ctx.call_record(&failure.facts, Some(failure.class));
    ctx.end_run_with(job, end, Some(call)).await
}
