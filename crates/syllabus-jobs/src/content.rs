//! The `flashcards`, `distractors` and `skill_tree` handlers: one provider call per run, the
//! result written with the job's completion in one transaction (replacing what this job or the
//! previous tree wrote), a classified failure retried with backoff up to the job's runs.

use syllabus_domain::{FlashcardId, JobPayload, JobStatus};
use syllabus_provider::{
    AttemptFacts, DistractorsInput, Failure, FlashcardsInput, Provider, SkillTreeInput,
};
use syllabus_store::records::{ClaimedJob, JobEnd, JobError};
use syllabus_store::{ContentJobStore, GenerationStore, QueueStore, StoreError};

use crate::runtime::{Context, module_replaced};

/// A completed job's end: its `result` plus the call's `usage` and `duration_ms`.
fn completed(mut result: serde_json::Value, facts: &AttemptFacts) -> JobEnd {
    result["usage"] = serde_json::json!(facts.usage);
    result["duration_ms"] = serde_json::json!(facts.duration_ms);
    JobEnd::Completed { result }
}

async fn fail<S, P>(
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
    let end = ctx.failure_end(job, error, failure.retry_after, true);
    ctx.end_run(job, end).await
}

pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + GenerationStore + ContentJobStore,
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
            };
            return ctx.end_run(job, end).await;
        }
    };
    match payload {
        JobPayload::PlanGeneration { .. } => crate::generation::run(ctx, job).await,
        JobPayload::Flashcards {
            plan_id,
            module_id,
            max_cards,
        } => {
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
            match ctx.provider.flashcards(&input, None).await {
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
                    let saved = ctx
                        .finishing(|| {
                            ctx.store.finish_flashcards(
                                job.lease,
                                &job.user,
                                plan_id,
                                module_id,
                                cards.clone(),
                                end.clone(),
                            )
                        })
                        .await;
                    match saved {
                        Ok(()) => Ok(JobStatus::Completed),
                        // A regeneration replaced the module since the context was read: the
                        // transaction rolled back, the job ends cancelled saying why.
                        Err(StoreError::ModuleReplaced) => {
                            tracing::info!("the module was replaced before the cards were saved");
                            ctx.end_run(job, module_replaced()).await
                        }
                        Err(e) => Err(e),
                    }
                }
            }
        }
        JobPayload::Distractors { flashcard_id } => {
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
            match ctx.provider.distractors(&input, None).await {
                Err(failure) => fail(ctx, job, &failure).await,
                Ok(generated) => {
                    let end = completed(
                        serde_json::json!({ "flashcard_id": flashcard_id.as_uuid(), "count": 3 }),
                        &generated.facts,
                    );
                    ctx.finishing(|| {
                        ctx.store.finish_distractors(
                            job.lease,
                            &job.user,
                            flashcard_id,
                            generated.output.clone(),
                            end.clone(),
                        )
                    })
                    .await?;
                    Ok(JobStatus::Completed)
                }
            }
        }
        JobPayload::SkillTree { plan_id } => {
            let context = match ctx.store.content_context(&job.user, plan_id, None).await {
                Err(StoreError::NotFound) => {
                    return ctx.end_run(job, JobEnd::Cancelled).await;
                }
                other => other?,
            };
            let input = SkillTreeInput {
                topic: context.topic,
                module_titles: context.module_titles,
            };
            match ctx.provider.skill_tree(&input, None).await {
                Err(failure) => fail(ctx, job, &failure).await,
                Ok(generated) => {
                    let tree = generated.output;
                    let end = completed(
                        serde_json::json!({
                            "plan_id": plan_id.as_uuid(),
                            "node_count": tree.node_count,
                            "depth": tree.depth,
                        }),
                        &generated.facts,
                    );
                    ctx.finishing(|| {
                        ctx.store.finish_skill_tree(
                            job.lease,
                            &job.user,
                            plan_id,
                            tree.clone(),
                            end.clone(),
                        )
                    })
                    .await?;
                    Ok(JobStatus::Completed)
                }
            }
        }
    }
}
