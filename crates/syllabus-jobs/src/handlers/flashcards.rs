//! The `flashcards` handler: up to `max_cards` cards for a plan (or one of its modules), saved
//! with the job's completion in one transaction; a run whose module a regeneration replaced
//! meanwhile ends cancelled, saying why.

use syllabus_domain::{FlashcardId, JobStatus, PlanId};
use syllabus_provider::{Call, FlashcardsInput, Provider};
use syllabus_store::records::{ClaimedJob, JobEnd};
use syllabus_store::{ContentJobStore, LimiterStore, QueueStore, StoreError};
use uuid::Uuid;

use super::content::{completed, fail};
use crate::context::{Context, module_replaced};
use crate::gate::Gate;

/// Generates the cards and ends the run with them saved.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    plan_id: PlanId,
    module_id: Option<Uuid>,
    max_cards: u32,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + ContentJobStore + LimiterStore,
    P: Provider,
{
    let context = match ctx
        .store
        .content_context(&job.user, plan_id, module_id)
        .await
    {
        Err(StoreError::NotFound) => {
            return ctx.end_run(job, JobEnd::Cancelled).await;
        }
        other => other?,
    };
    if context.module_titles.is_empty() {
        return ctx.end_run(job, JobEnd::Cancelled).await;
    }
    let input = FlashcardsInput {
        topic: context.topic,
        module_titles: context.module_titles,
        max_cards,
    };
    let reask = job.reask.as_ref();
    let gated = ctx.limited(job, Call::Flashcards(&input, reask), |p| {
        p.flashcards(&input, reask)
    });
    let outcome = match gated.await {
        Gate::Ran(outcome) => outcome,
        Gate::Waiting(status) => return status,
    };
    match outcome {
        Err(failure) => fail(ctx, job, &failure).await,
        Ok(generated) => {
            let cards: Vec<(FlashcardId, _)> = generated
                .output
                .into_iter()
                .map(|c| (FlashcardId::new(), c))
                .collect();
            let ids: Vec<_> = cards.iter().map(|(id, _)| id.as_uuid()).collect();
            let end = completed(
                serde_json::json!({ "flashcard_ids": ids, "count": ids.len() }),
                &generated.facts,
            );
            let call = ctx.call_record(&generated.facts, None);
            let saved = ctx
                .finishing(|| {
                    ctx.store.finish_flashcards(
                        job.lease,
                        &job.user,
                        plan_id,
                        module_id,
                        cards.clone(),
                        end.clone(),
                        Some(call.clone()),
                    )
                })
                .await;
            match saved {
                Ok(()) => Ok(JobStatus::Completed),
                // A regeneration replaced the module since the context was read: the
                // transaction rolled back, the job ends cancelled saying why.
                Err(StoreError::ModuleReplaced) => {
                    tracing::info!("the module was replaced before the cards were saved");
                    ctx.end_run_with(job, module_replaced(), Some(call)).await
                }
                Err(e) => Err(e),
            }
        }
    }
}
