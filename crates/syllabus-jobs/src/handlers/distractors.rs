//! The `distractors` handler: three wrong answers for a card, saved with the job's completion in
//! one transaction (replacing what this job wrote before).

use syllabus_domain::{FlashcardId, JobStatus};
use syllabus_provider::{Call, DistractorsInput, Provider};
use syllabus_store::records::{ClaimedJob, JobEnd};
use syllabus_store::{ContentJobStore, LimiterStore, QueueStore, StoreError};

use super::content::{completed, fail};
use crate::context::Context;
use crate::gate::Gate;

/// Generates the card's distractors and ends the run with them saved.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    flashcard_id: FlashcardId,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + ContentJobStore + LimiterStore,
    P: Provider,
{
    let card = match ctx.store.card_context(&job.user, flashcard_id).await {
        Err(StoreError::NotFound) => {
            return ctx.end_run(job, JobEnd::Cancelled).await;
        }
        other => other?,
    };
    let input = DistractorsInput {
        topic: card.topic,
        question: card.question,
        answer: card.answer,
    };
    let reask = job.reask.as_ref();
    let gated = ctx.limited(job, Call::Distractors(&input, reask), |p| {
        p.distractors(&input, reask)
    });
    let outcome = match gated.await {
        Gate::Ran(outcome) => outcome,
        Gate::Waiting(status) => return status,
    };
    match outcome {
        Err(failure) => fail(ctx, job, &failure).await,
        Ok(generated) => {
            let end = completed(
                serde_json::json!({ "flashcard_id": flashcard_id.as_uuid(), "count": 3 }),
                &generated.facts,
            );
            let call = ctx.call_record(&generated.facts, None);
            ctx.finishing(|| {
                ctx.store.finish_distractors(
                    job.lease,
                    &job.user,
                    flashcard_id,
                    generated.output.clone(),
                    end.clone(),
                    Some(call.clone()),
                )
            })
            .await?;
            Ok(JobStatus::Completed)
        }
    }
}
