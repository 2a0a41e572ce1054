//! The `skill_tree` handler: a plan's skill tree, saved with the job's completion in one
//! transaction (replacing the previous tree). Each top-level skill is shown on the plan's event
//! stream as it streams in (issue #24); a failed run's skills stay shown.

use syllabus_domain::Issues;
use syllabus_domain::content::SkillTree;
use syllabus_domain::{JobStatus, PlanId};
use syllabus_provider::{Call, Outcome, Provider, SkillTreeInput};
use syllabus_store::records::{ClaimedJob, JobEnd};
use syllabus_store::{ContentJobStore, LimiterStore, QueueStore, StoreError};

use super::content::{completed, fail};
use crate::context::Context;
use crate::gate::Gate;

/// Generates the plan's tree and ends the run with it saved.
pub(crate) async fn run<S, P>(
    ctx: &Context<S, P>,
    job: &ClaimedJob,
    plan_id: PlanId,
) -> Result<JobStatus, StoreError>
where
    S: QueueStore + ContentJobStore + LimiterStore,
    P: Provider,
{
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
    let reask = job.reask.as_ref();
    let gated = ctx.limited(job, Call::SkillTree(&input, reask), |p| {
        generate(ctx, p, job, plan_id, &input, reask)
    });
    let outcome = match gated.await {
        Gate::Ran(outcome) => outcome,
        Gate::Waiting(status) => return status,
    };
    match outcome {
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
            let call = ctx.call_record(&generated.facts, None);
            ctx.finishing(|| {
                ctx.store.finish_skill_tree(
                    job.lease,
                    &job.user,
                    plan_id,
                    tree.clone(),
                    end.clone(),
                    Some(call.clone()),
                )
            })
            .await?;
            Ok(JobStatus::Completed)
        }
    }
}

/// One provider call, each top-level skill shown as it streams in. The skills are written beside
/// the stream and all of them before this returns, so none lands after the run's end.
async fn generate<S, P>(
    ctx: &Context<S, P>,
    provider: &P,
    job: &ClaimedJob,
    plan_id: PlanId,
    input: &SkillTreeInput,
    reask: Option<&Issues>,
) -> Outcome<SkillTree>
where
    S: ContentJobStore,
    P: Provider,
{
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let call = provider.skill_tree(input, reask, Some(tx));
    let publish = async {
        while let Some(preview) = rx.recv().await {
            let index = u32::try_from(preview.index).unwrap_or(u32::MAX);
            let shown = ctx
                .store
                .publish_skill(job.lease, plan_id, index, &preview.skill)
                .await;
            if let Err(e) = shown {
                // Best effort: the run goes on; the tree is saved whole at its end.
                tracing::warn!(error = %e, index, "skill preview not published");
            }
        }
    };
    let (outcome, ()) = tokio::join!(call, publish);
    outcome
}
